using System.Buffers.Binary;
using System.IO.Compression;
using MobileBert.Reporting;
using Xunit;

namespace MobileBert.Tests.Reporting;

public class PngTests
{
    /// <summary>Decodes our own PNGs (filter 0 only) and checks every chunk CRC, so the encoder cannot silently drift.</summary>
    static (int W, int H, byte[] Rgb) Decode(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int pos = 8, w = 0, h = 0; var idat = new MemoryStream();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.Equal(Crc32Reference(png.AsSpan(pos + 4, len + 4)), crc);
            if (type == "IHDR") { w = BinaryPrimitives.ReadInt32BigEndian(data); h = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]); Assert.Equal(2, data[9]); }
            if (type == "IDAT") idat.Write(data);
            pos += 12 + len;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream(); z.CopyTo(raw);
        var bytes = raw.ToArray();
        Assert.Equal(h * (1 + w * 3), bytes.Length);
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) { Assert.Equal(0, bytes[y * (1 + w * 3)]); Array.Copy(bytes, y * (1 + w * 3) + 1, rgb, y * w * 3, w * 3); }
        return (w, h, rgb);
    }

    static uint Crc32Reference(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) { crc ^= b; for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1; }
        return ~crc;
    }

    [Fact]
    public void EncodesPixelsExactly()
    {
        var rgb = new byte[3 * 2 * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 13);
        var (w, h, back) = Decode(PngWriter.Encode(rgb, 3, 2));
        Assert.Equal(3, w); Assert.Equal(2, h); Assert.Equal(rgb, back);
    }

    [Fact]
    public void PlotDrawsSeriesAndSkipsNonFinitePoints()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "curve.png");
        double[] x = [0, 1, 2, 3, 4];
        LinePlot.Save(path, "Loss", [("loss", [new PlotSeries("train", x, [5, 4, double.NaN, 2, 1])])], width: 400, panelHeight: 200);
        var (w, h, rgb) = Decode(File.ReadAllBytes(path));
        Assert.Equal(400, w); Assert.Equal(230, h);
        int colored = 0;   // pixels in the first palette colour (31,119,180) = the series line
        for (int i = 0; i < rgb.Length; i += 3) if (rgb[i] == 31 && rgb[i + 1] == 119 && rgb[i + 2] == 180) colored++;
        Assert.InRange(colored, 100, 5000);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp-*"));
    }
}
