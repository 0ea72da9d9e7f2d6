using System.Buffers.Binary;
using System.IO.Compression;
using Xunit;

namespace MobileBert.Tests.Reporting;

/// <summary>An independent PNG reader for the tests (8-bit RGB, filter 0, as PngWriter writes).</summary>
internal static class PngDecoder
{
    /// <summary>Decodes our own PNGs (filter 0 only) and checks every chunk CRC, so the encoder cannot silently drift.</summary>
    public static (int W, int H, byte[] Rgb) Decode(byte[] png)
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
            if (type == "IHDR")
            {
                w = BinaryPrimitives.ReadInt32BigEndian(data); h = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]); Assert.Equal(2, data[9]);
            }
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
}
