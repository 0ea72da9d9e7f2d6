using MobileBert.Reporting;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.Reporting;

public class LinePlotTests
{
    static readonly (byte, byte, byte) BoundaryGrey = (110, 110, 110), TickInk = (60, 60, 60), Black = (0, 0, 0);

    /// <summary>A small distillation-like log: three stages ending at steps 100, 200 and 300, a row every 10 steps.</summary>
    static MetricsLog StagedLog()
    {
        var log = new MetricsLog();
        for (int step = 10; step <= 300; step += 10)
        {
            int stage = (step - 1) / 100;
            var row = new Dictionary<string, double> { ["stage"] = stage, ["loss"] = 3.0 / (1 + step / 50.0) + stage };
            if (step % 50 == 0) row["eval_loss"] = 2.5 - step / 300.0;
            log.Add(step, row);
        }
        return log;
    }

    static (byte, byte, byte) Pixel(PlotImage img, int x, int y)
    {
        int i = (y * img.Width + x) * 3;
        return (img.Rgb[i], img.Rgb[i + 1], img.Rgb[i + 2]);
    }

    static int CountInRow(PlotImage img, int y0, int y1, int x0, int x1, (byte, byte, byte) c)
    {
        int n = 0;
        for (int y = y0; y <= y1; y++) for (int x = x0; x <= x1; x++) if (Pixel(img, x, y) == c) n++;
        return n;
    }

    /// <summary>Every segment of every polyline, sampled densely and widened by the 2-pixel line width, stays outside the box.</summary>
    static void AssertNoLineInside(PanelLayout lay)
    {
        var box = lay.Legend.Inflate(1);
        foreach (var line in lay.Polylines)
        {
            if (line.Count == 1) Assert.False(box.Inflate(1).Contains(line[0].X, line[0].Y), $"dot {line[0]} under the legend {lay.Legend}");
            for (int k = 1; k < line.Count; k++)
                for (int t = 0; t <= 64; t++)
                {
                    int x = (int)Math.Round(line[k - 1].X + (line[k].X - line[k - 1].X) * t / 64.0);
                    int y = (int)Math.Round(line[k - 1].Y + (line[k].Y - line[k - 1].Y) * t / 64.0);
                    Assert.False(box.Contains(x, y), $"line point ({x}, {y}) under the legend {lay.Legend}");
                }
        }
        foreach (int x in lay.BoundaryX)
            Assert.False(x >= box.Left && x <= box.Right && box.Bottom >= lay.Plot.Top, $"boundary at x={x} under the legend");
    }

    [Fact]
    public void StageMarksStartAtTheLastStepOfThePreviousStage()
    {
        var log = StagedLog();
        Assert.Equal([new StageMark(0, "layer 0"), new StageMark(100, "layer 1"), new StageMark(200, "pd")],
            log.StageMarks(["layer 0", "layer 1", "pd"]));
        Assert.Equal([new StageMark(0), new StageMark(100), new StageMark(200)], log.StageMarks());
        // Rows without the column are passed over; an index without a name gets a generic one.
        var gaps = new MetricsLog();
        gaps.Add(5, new Dictionary<string, double> { ["stage"] = 0 });
        gaps.Add(6, new Dictionary<string, double> { ["loss"] = 1 });
        gaps.Add(7, new Dictionary<string, double> { ["stage"] = 4 });
        Assert.Equal([new StageMark(0, "a"), new StageMark(5, "stage 4")], gaps.StageMarks(["a"]));
        Assert.Empty(new MetricsLog().StageMarks());
    }

    [Fact]
    public void MetricsLogPlotWritesAValidPngWithDashedLinesAtTheStageBoundaries()
    {
        var log = StagedLog();
        string[] names = ["layer 0", "layer 1", "pd"];
        (string, string[])[] panels = [("Loss", ["loss", "eval_loss"]), ("Not logged", ["nothing"])];
        var path = Path.Combine(TestPaths.NewTempDir(), "curves.png");
        log.Plot(path, "student (MobileBERT, 3 layers) — knowledge transfer", panels, new PlotOptions { Subtitle = "progressive" }, names);

        var (w, h, rgb) = PngDecoder.Decode(File.ReadAllBytes(path));
        var loss = log.Series("loss", out var lossSteps);
        var evalLoss = log.Series("eval_loss", out var evalSteps);
        var img = LinePlot.Render("student (MobileBERT, 3 layers) — knowledge transfer",
            [("Loss", [new PlotSeries("loss", lossSteps, loss), new PlotSeries("eval_loss", evalSteps, evalLoss)])],
            new PlotOptions { Subtitle = "progressive", Stages = log.StageMarks(names) });
        Assert.Equal((img.Width, img.Height), (w, h));
        Assert.Equal(img.Rgb, rgb);                                    // the file is exactly this rendering: one panel, the marks passed

        var lay = Assert.Single(img.Panels);
        Assert.Equal(0, lay.XMin); Assert.Equal(300, lay.XMax);
        int Px(double step) => lay.Plot.Left + (int)Math.Round((step - lay.XMin) / (lay.XMax - lay.XMin) * (lay.Plot.Right - lay.Plot.Left));
        Assert.Equal([Px(100), Px(200)], lay.BoundaryX);              // no line at step 0, the axis itself
        foreach (int bx in lay.BoundaryX)
        {
            int grey = CountInRow(img, lay.Plot.Top, lay.Plot.Bottom, bx, bx, BoundaryGrey);
            Assert.InRange(grey, lay.Plot.Height * 4 / 10, lay.Plot.Height * 7 / 10);   // dashed: 5 on, 4 off (minus crossings)
        }
        Assert.Equal(0, CountInRow(img, lay.Plot.Top, lay.Plot.Bottom, Px(150), Px(150), BoundaryGrey));
        // The stage names sit in the strip above the plot area, in the boundary grey, once per stage.
        Assert.True(CountInRow(img, lay.Plot.Top - 14, lay.Plot.Top - 4, Px(0), Px(100), BoundaryGrey) > 20);
        Assert.True(CountInRow(img, lay.Plot.Top - 14, lay.Plot.Top - 4, Px(200), Px(300), BoundaryGrey) > 5);
        AssertNoLineInside(lay);
    }

    [Fact]
    public void EveryPanelHasTickLabelsAndTheStepLabel()
    {
        double[] x = [0, 100, 200, 300];
        var img = LinePlot.Render("Pre-training",
            [("Loss", [new PlotSeries("loss", x, [4, 3, 2, 1])]), ("Accuracy", [new PlotSeries("acc", x, [.1, .2, .3, .4])])]);
        Assert.Equal(2, img.Panels.Count);
        foreach (var lay in img.Panels)
        {
            int tickRow = lay.Plot.Bottom + 7, labelRow = tickRow + 12;
            Assert.True(CountInRow(img, tickRow, tickRow + 7, lay.Plot.Left - 10, lay.Plot.Right + 10, TickInk) > 40, "x tick labels");
            Assert.True(CountInRow(img, lay.Plot.Top, lay.Plot.Bottom, 0, lay.Plot.Left - 6, TickInk) > 40, "y tick labels");
            int mid = (lay.Plot.Left + lay.Plot.Right) / 2;
            Assert.InRange(CountInRow(img, labelRow, labelRow + 9, mid - 15, mid + 15, Black), 20, 200);   // "step"
            Assert.Equal(lay.Plot.Left, img.Panels[0].Plot.Left);                                          // shared x axis
            Assert.Equal(lay.Plot.Right, img.Panels[0].Plot.Right);
        }
        Assert.True(CountInRow(img, 12, 25, 12, 200, Black) > 50, "the title");
    }

    [Fact]
    public void LegendTakesAFreeCornerInsideThePlot()
    {
        // A rising line fills the bottom-left and top-right corners; a flat line runs along the top edge on the left half.
        double[] x = [.. Enumerable.Range(0, 50).Select(i => (double)i)];
        var rising = new PlotSeries("rising", x, [.. x.Select(v => v)]);
        var flat = new PlotSeries("flat", [0, 20], [49, 49]);
        var lay = Assert.Single(LinePlot.Render("t", [("p", [rising, flat])]).Panels);
        Assert.False(lay.LegendOutside);
        Assert.True(lay.Plot.Contains(lay.Legend.Left, lay.Legend.Top) && lay.Plot.Contains(lay.Legend.Right, lay.Legend.Bottom));
        Assert.True(lay.Legend.Left > (lay.Plot.Left + lay.Plot.Right) / 2 && lay.Legend.Top > (lay.Plot.Top + lay.Plot.Bottom) / 2,
            $"expected the bottom-right corner, got {lay.Legend}");
        AssertNoLineInside(lay);
    }

    [Fact]
    public void LegendMovesRightOfThePlotWhenNoCornerIsFree()
    {
        // A fast zig-zag between the lowest and highest value covers all four corners of the first panel.
        double[] x = [.. Enumerable.Range(0, 200).Select(i => (double)i)];
        var zigzag = new PlotSeries("zigzag", x, [.. x.Select(v => v % 2)]);
        var calm = new PlotSeries("calm", [0, 199], [1, 2]);
        var img = LinePlot.Render("t", [("busy", [zigzag]), ("calm", [calm])]);
        Assert.All(img.Panels, lay =>
        {
            Assert.True(lay.LegendOutside);
            Assert.True(lay.Legend.Left > lay.Plot.Right && lay.Legend.Right < img.Width);
            AssertNoLineInside(lay);
        });
        Assert.Equal(img.Panels[0].Plot, img.Panels[1].Plot with { Top = img.Panels[0].Plot.Top, Bottom = img.Panels[0].Plot.Bottom });
    }

    [Fact]
    public void MissingAndNonFiniteValuesAreGapsNotZeros()
    {
        var log = new MetricsLog();
        log.Add(1, new Dictionary<string, double> { ["loss"] = 5 });
        log.Add(2, new Dictionary<string, double> { ["loss"] = 4 });
        log.Add(3, new Dictionary<string, double> { ["other"] = 7 });   // no loss this row: left out, not 0
        log.Add(4, new Dictionary<string, double> { ["loss"] = double.NaN });
        log.Add(5, new Dictionary<string, double> { ["loss"] = 2 });
        log.Add(6, new Dictionary<string, double> { ["loss"] = 1 });
        var y = log.Series("loss", out var x);
        var lay = Assert.Single(LinePlot.Render("t", [("loss", [new PlotSeries("loss", x, y)])]).Panels);
        Assert.Equal([2, 2], lay.Polylines.Select(p => p.Count));     // broken at the NaN, nothing at step 3
        int yOf1 = lay.Polylines[1][1].Y;
        Assert.All(lay.Polylines.SelectMany(p => p), v => Assert.True(v.Y <= yOf1));   // nothing drawn below the smallest value
        Assert.True(yOf1 < lay.Plot.Bottom - 3);
    }

    [Fact]
    public void AutoScaleIsLogarithmicForLossesSpanningDecades()
    {
        double[] x = [0, 1, 2, 3];
        PanelLayout Lay(double[] y, YScale s) => LinePlot.Render("t", [("p", [new PlotSeries("s", x, y)])], new PlotOptions { YScale = s }).Panels[0];
        Assert.True(Lay([10, 1, 0.1, 0.01], YScale.Auto).LogY);
        Assert.False(Lay([10, 6, 4, 3], YScale.Auto).LogY);
        Assert.False(Lay([10, 1, 0, 0.01], YScale.Auto).LogY);     // a zero cannot go on a log axis
        Assert.False(Lay([10, 1, 0.1, 0.01], YScale.Linear).LogY);
        var log = Lay([10, 1, 0, 0.01], YScale.Log);
        Assert.True(log.LogY);
        Assert.Equal([2, 1], log.Polylines.Select(p => p.Count));   // the zero is skipped
        // Equal ratios are equal distances on a log axis.
        var even = Lay([10, 1, 0.1, 0.01], YScale.Auto).Polylines[0];
        Assert.InRange(even[1].Y - even[0].Y - (even[3].Y - even[2].Y), -1, 1);
        var ticks = PlotAxis.ForY([10, 1, 0.1, 0.01], YScale.Log, 5).Ticks;      // 3.3 decades with the head room: 1 and 3 × 10^k
        Assert.Equal(["0.01", "0.03", "0.1", "0.3", "1", "3", "10"], ticks.Select(t => t.Label));
        Assert.All(ticks, t => Assert.Equal(Math.Log10(double.Parse(t.Label, System.Globalization.CultureInfo.InvariantCulture)), t.Value, 1e-12));
    }

    [Theory]
    [InlineData(12500, 500, "12.5k")]
    [InlineData(0.35, 0.05, "0.35")]
    [InlineData(0.0123, 0.0001, "0.0123")]
    [InlineData(2000, 500, "2000")]
    [InlineData(1e-12, 0.5, "0")]
    public void TickLabelsHaveTheDecimalsTheStepNeeds(double value, double step, string expected) =>
        Assert.Equal(expected, PlotAxis.FormatLinear(value, step));

    [Fact]
    public void TitlesKeepEveryCharacterAndWrapWhenLong()
    {
        var unknown = BitmapFont.Glyph('?');
        Assert.All("student (MobileBERT, 6 layers, hidden 384) — knowledge transfer".Where(c => c != ' '),
            c => Assert.NotSame(unknown, BitmapFont.Glyph(c)));
        Assert.Same(unknown, BitmapFont.Glyph('€'));                // a missing glyph shows as '?', never as nothing
        PlotSeries[] s = [new("s", [0, 1], [0, 1])];
        var shortTitle = LinePlot.Render("short", [("p", s)]);
        var longTitle = LinePlot.Render(string.Join(' ', Enumerable.Repeat("knowledge transfer", 4)), [("p", s)]);
        Assert.Equal(shortTitle.Height + 20, longTitle.Height);     // one more 20-pixel title line
        Assert.Equal(0, CountInRow(longTitle, 0, longTitle.Panels[0].Plot.Top - 30, longTitle.Width - 11, longTitle.Width - 1, Black));
    }
}
