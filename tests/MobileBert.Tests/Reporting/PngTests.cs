using MobileBert.Reporting;
using Xunit;

namespace MobileBert.Tests.Reporting;

public class PngTests
{
    [Fact]
    public void EncodesPixelsExactly()
    {
        var rgb = new byte[3 * 2 * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 13);
        var (w, h, back) = PngDecoder.Decode(PngWriter.Encode(rgb, 3, 2));
        Assert.Equal(3, w); Assert.Equal(2, h); Assert.Equal(rgb, back);
    }

    [Fact]
    public void PlotDrawsSeriesAndSkipsNonFinitePoints()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "curve.png");
        double[] x = [0, 1, 2, 3, 4];
        LinePlot.Save(path, "Loss", [("loss", [new PlotSeries("train", x, [5, 4, double.NaN, 2, 1])])], width: 400, panelHeight: 200);
        var (w, h, rgb) = PngDecoder.Decode(File.ReadAllBytes(path));
        Assert.Equal(400, w); Assert.InRange(h, 201, 260);   // the title, then one 200-pixel panel
        int colored = 0;   // pixels in the first palette colour (31,119,180) = the series line
        for (int i = 0; i < rgb.Length; i += 3) if (rgb[i] == 31 && rgb[i + 1] == 119 && rgb[i + 2] == 180) colored++;
        Assert.InRange(colored, 100, 5000);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp-*"));
    }
}
