namespace MobileBert.Reporting;

/// <summary>One named series of (x, y) points.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// Renders line charts (training curves) to PNG without any graphics dependency: a title (and optional subtitle), then
/// one panel per entry stacked vertically over a shared x axis. Every panel has x and y tick labels, the x-axis label,
/// dashed lines at stage boundaries (names in a strip above the plot area) and a legend that never covers data: in the
/// first plot-area corner free of lines, dots and boundaries, or, when some panel has no free corner, in a column right
/// of every plot area. Non-finite points (and values ≤ 0 on a log axis) are skipped and break the line.
/// </summary>
public static class LinePlot
{
    static readonly (byte R, byte G, byte B)[] Palette =
        [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127)];
    static readonly (byte, byte, byte) Black = (0, 0, 0), Ink = (60, 60, 60), Grid = (232, 232, 232), Boundary = (110, 110, 110);
    const int Margin = 12, Gap = 6, Swatch = 18, Pad = 5, RowHeight = BitmapFont.LineHeight + 2, MaxLegendName = 180;

    /// <summary>Writes a PNG with one panel per (title, series) entry.</summary>
    public static void Save(string path, string title, IReadOnlyList<(string Title, IReadOnlyList<PlotSeries> Series)> panels,
        PlotOptions? options = null) => Render(title, panels, options).Save(path);

    /// <summary>Writes a PNG with one panel per entry at the given size, linear or log10 y axes.</summary>
    public static void Save(string path, string title, IReadOnlyList<(string Title, IReadOnlyList<PlotSeries> Series)> panels,
        int width, int panelHeight = 300, bool logY = false) =>
        Save(path, title, panels, new PlotOptions { Width = width, PanelHeight = panelHeight, YScale = logY ? YScale.Log : YScale.Linear });

    /// <summary>Draws the plot in memory; <see cref="PlotImage.Panels"/> tells where each part went.</summary>
    public static PlotImage Render(string title, IReadOnlyList<(string Title, IReadOnlyList<PlotSeries> Series)> panels, PlotOptions? options = null)
    {
        var o = options ?? new PlotOptions();
        if (panels.Count == 0) throw new ArgumentException("LinePlot: nothing to draw.");
        if (o.Width < 300 || o.PanelHeight < 140)
            throw new ArgumentException($"LinePlot: {o.Width}×{o.PanelHeight} is too small (width ≥ 300, panel height ≥ 140).");
        var stages = (o.Stages ?? []).Where(s => double.IsFinite(s.Start)).OrderBy(s => s.Start).ToList();
        bool stageStrip = stages.Any(s => s.Name is not null);

        var titleLines = Wrap(title, o.Width - 2 * Margin, 2);
        var subtitleLines = o.Subtitle is null ? [] : Wrap(o.Subtitle, o.Width - 2 * Margin, 1);
        int header = Margin + titleLines.Count * 2 * BitmapFont.LineHeight + subtitleLines.Count * BitmapFont.LineHeight + Gap;
        int height = header + panels.Count * o.PanelHeight;

        // Shared x axis; one y axis per panel; the left margin fits the widest y tick label of any panel.
        var xs = panels.SelectMany(p => p.Series).SelectMany(s => Points(s, log: false)).Select(t => t.X).ToList();
        var xAxis = PlotAxis.ForX(xs, Math.Clamp(o.Width / 110, 3, 10));
        int plotHeight = o.PanelHeight - (Gap + RowHeight + (stageStrip ? RowHeight : 0) + 4) - (6 + 2 * RowHeight + Gap);
        var yAxes = panels.Select(p => YAxisOf(p.Series, o.YScale, plotHeight)).ToList();
        int tickWidth = yAxes.SelectMany(a => a.Ticks).Select(t => BitmapFont.TextWidth(t.Label)).DefaultIfEmpty(0).Max();
        int left = Margin + tickWidth + 8;
        var legendSizes = panels.Select(p => LegendSize(p.Series)).ToList();

        // Legends inside a free corner of every panel if each has one, else in a column right of all plot areas.
        var sheet = new Sheet(o.Width, height, header, o.PanelHeight, stageStrip, left);
        var layouts = Layout(panels, stages, xAxis, yAxes, legendSizes, sheet, o.Width - Margin, outside: false)
                      ?? Layout(panels, stages, xAxis, yAxes, legendSizes, sheet, o.Width - Margin - legendSizes.Max(s => s.W) - Gap, outside: true)!;

        var img = new Canvas(o.Width, height);
        int y = Margin;
        foreach (var line in titleLines) { img.Text(Margin, y, line, Black, 2); y += 2 * BitmapFont.LineHeight; }
        foreach (var line in subtitleLines) { img.Text(Margin, y, line, Ink); y += BitmapFont.LineHeight; }
        for (int p = 0; p < panels.Count; p++)
            DrawPanel(img, panels[p], layouts[p], stages, xAxis, yAxes[p], o.XLabel, header + p * o.PanelHeight, stageStrip);
        return new PlotImage(o.Width, height, img.Pixels, layouts);
    }

    static PlotAxis YAxisOf(IReadOnlyList<PlotSeries> series, YScale scale, int plotHeight)
    {
        var ys = series.SelectMany(s => Points(s, log: false)).Select(t => t.Y).ToList();
        return PlotAxis.ForY(ys, scale, Math.Clamp(plotHeight / 40, 3, 8));
    }

    /// <summary>Image size, heading height, panel height, whether panels have a stage-name strip, and the plot areas' left edge.</summary>
    readonly record struct Sheet(int Width, int Height, int Header, int PanelHeight, bool StageStrip, int Left);

    /// <summary>Places every panel's plot area (right edge <paramref name="right"/>) and legend; null when a legend inside
    /// the plot area would cover data.</summary>
    static List<PanelLayout>? Layout(IReadOnlyList<(string Title, IReadOnlyList<PlotSeries> Series)> panels, List<StageMark> stages,
        PlotAxis xAxis, List<PlotAxis> yAxes, List<(int W, int H)> legendSizes, Sheet sheet, int right, bool outside)
    {
        var layouts = new List<PanelLayout>();
        var scratch = outside ? null : new Canvas(sheet.Width, sheet.Height);
        int left = sheet.Left;
        for (int p = 0; p < panels.Count; p++)
        {
            int oy = sheet.Header + p * sheet.PanelHeight;
            int top = oy + Gap + RowHeight + (sheet.StageStrip ? RowHeight : 0) + 4, bottom = oy + sheet.PanelHeight - (6 + 2 * RowHeight + Gap);
            var plot = new PixelRect(left, top, right, bottom);
            var yAxis = yAxes[p];
            int X(double x) => left + (int)Math.Round(xAxis.Fraction(x) * (right - left));
            int Y(double v) => bottom - (int)Math.Round(yAxis.Fraction(v) * (bottom - top));
            var boundaries = stages.Where(s => s.Start > xAxis.Min && s.Start < xAxis.Max).Select(s => X(s.Start)).ToList();
            var polylines = new List<IReadOnlyList<(int X, int Y)>>();
            foreach (var s in panels[p].Series)
                foreach (var run in Runs(s, yAxis.Log)) polylines.Add([.. run.Select(t => (X(t.X), Y(t.Y)))]);
            var (lw, lh) = legendSizes[p];
            PixelRect legend;
            if (outside) legend = new PixelRect(right + Gap, top, right + Gap + lw - 1, top + lh - 1);
            else
            {
                DrawData(scratch!, polylines, PolylineSeries(panels[p].Series, yAxis.Log), boundaries, top, bottom);
                PixelRect? free = Corners(plot, lw, lh).Cast<PixelRect?>().FirstOrDefault(c => !scratch!.AnyInk(c!.Value.Inflate(3)));
                if (free is null) return null;
                legend = free.Value;
            }
            layouts.Add(new PanelLayout(plot, legend, outside, xAxis.Min, xAxis.Max, yAxis.Log, boundaries, polylines));
        }
        return layouts;
    }

    /// <summary>Legend positions inside the plot area, most preferred first: top right, top left, bottom right, bottom left.</summary>
    static IEnumerable<PixelRect> Corners(PixelRect plot, int w, int h)
    {
        int l = plot.Left + 8, r = plot.Right - 6 - w + 1, t = plot.Top + 6, b = plot.Bottom - 8 - h + 1;
        foreach (var (x, y) in new[] { (r, t), (l, t), (r, b), (l, b) }) yield return new PixelRect(x, y, x + w - 1, y + h - 1);
    }

    static void DrawPanel(Canvas img, (string Title, IReadOnlyList<PlotSeries> Series) panel, PanelLayout lay, List<StageMark> stages,
        PlotAxis xAxis, PlotAxis yAxis, string xLabel, int oy, bool stageStrip)
    {
        var plot = lay.Plot;
        img.Text(plot.Left, oy + Gap, panel.Title, Black, bold: true);
        int X(double x) => plot.Left + (int)Math.Round(xAxis.Fraction(x) * (plot.Right - plot.Left));
        if (stageStrip) DrawStageNames(img, stages, xAxis, plot, oy + Gap + RowHeight, X);
        foreach (var (v, label) in yAxis.Ticks)
        {
            int yp = plot.Bottom - (int)Math.Round((v - yAxis.Min) / (yAxis.Max - yAxis.Min) * (plot.Bottom - plot.Top));
            img.Line(plot.Left + 1, yp, plot.Right, yp, Grid);
            img.Line(plot.Left - 4, yp, plot.Left, yp, Black);
            img.Text(plot.Left - 7 - BitmapFont.TextWidth(label), yp - BitmapFont.Height / 2, label, Ink);
        }
        foreach (var (v, label) in xAxis.Ticks)
        {
            int xp = X(v);
            img.Line(xp, plot.Bottom, xp, plot.Bottom + 4, Black);
            int w = BitmapFont.TextWidth(label);
            img.Text(Math.Clamp(xp - w / 2, 0, img.Width - w), plot.Bottom + 7, label, Ink);
        }
        img.Text((plot.Left + plot.Right - BitmapFont.TextWidth(xLabel)) / 2, plot.Bottom + 7 + RowHeight, xLabel, Black);
        DrawData(img, lay.Polylines, PolylineSeries(panel.Series, lay.LogY), lay.BoundaryX, plot.Top, plot.Bottom);
        img.Line(plot.Left, plot.Bottom, plot.Right, plot.Bottom, Black);
        img.Line(plot.Left, plot.Top, plot.Left, plot.Bottom, Black);
        if (lay.Polylines.Count == 0) img.Text(plot.Left + 10, plot.Top + 10, "no data", Ink);
        DrawLegend(img, panel.Series, lay.Legend);
    }

    static void DrawData(Canvas img, IReadOnlyList<IReadOnlyList<(int X, int Y)>> polylines, List<int> seriesOf, IReadOnlyList<int> boundaries,
        int top, int bottom)
    {
        foreach (int x in boundaries) img.DashedVLine(x, top, bottom, Boundary);
        for (int i = 0; i < polylines.Count; i++)
        {
            var c = Palette[seriesOf[i] % Palette.Length];
            var line = polylines[i];
            if (line.Count == 1) img.Dot(line[0].X, line[0].Y, c);
            for (int k = 1; k < line.Count; k++) img.Line(line[k - 1].X, line[k - 1].Y, line[k].X, line[k].Y, c, thick: 2);
        }
    }

    /// <summary>Stage names between consecutive boundaries, shortened with '…' to the room they have, left out when there is none.</summary>
    static void DrawStageNames(Canvas img, List<StageMark> stages, PlotAxis xAxis, PixelRect plot, int y, Func<double, int> X)
    {
        for (int i = 0; i < stages.Count; i++)
        {
            if (stages[i].Name is not { } name) continue;
            double from = Math.Max(stages[i].Start, xAxis.Min), to = i + 1 < stages.Count ? Math.Min(stages[i + 1].Start, xAxis.Max) : xAxis.Max;
            if (to <= from) continue;
            string shown = Fit(name, X(to) - X(from) - 6);
            if (shown.Length > 0) img.Text(X(from) + 3, y, shown, Boundary);
        }
    }

    static void DrawLegend(Canvas img, IReadOnlyList<PlotSeries> series, PixelRect box)
    {
        if (series.Count == 0) return;
        img.Fill(box, (255, 255, 255));
        img.Frame(box, (200, 200, 200));
        for (int s = 0; s < series.Count; s++)
        {
            int y = box.Top + Pad + s * RowHeight;
            var c = Palette[s % Palette.Length];
            img.Line(box.Left + Pad, y + 3, box.Left + Pad + Swatch - 1, y + 3, c, thick: 2);
            img.Text(box.Left + Pad + Swatch + Gap, y, Fit(series[s].Name, MaxLegendName), Black);
        }
    }

    static (int W, int H) LegendSize(IReadOnlyList<PlotSeries> series) =>
        (2 * Pad + Swatch + Gap + series.Select(s => BitmapFont.TextWidth(Fit(s.Name, MaxLegendName))).DefaultIfEmpty(0).Max(),
         2 * Pad + series.Count * RowHeight - 2);

    /// <summary>The series index of each polyline <see cref="Runs"/> yields, in the same order.</summary>
    static List<int> PolylineSeries(IReadOnlyList<PlotSeries> series, bool log) =>
        [.. series.SelectMany((s, i) => Runs(s, log).Select(_ => i))];

    /// <summary>The drawable points of a series (both coordinates finite; y &gt; 0 on a log axis).</summary>
    static IEnumerable<(double X, double Y)> Points(PlotSeries s, bool log) => Runs(s, log).SelectMany(r => r);

    /// <summary>Maximal runs of consecutive drawable points: a skipped point breaks the line.</summary>
    static IEnumerable<List<(double X, double Y)>> Runs(PlotSeries s, bool log)
    {
        var run = new List<(double X, double Y)>();
        for (int i = 0; i < Math.Min(s.X.Count, s.Y.Count); i++)
        {
            double x = s.X[i], y = s.Y[i];
            if (double.IsFinite(x) && double.IsFinite(y) && (!log || y > 0)) { run.Add((x, y)); continue; }
            if (run.Count > 0) { yield return run; run = []; }
        }
        if (run.Count > 0) yield return run;
    }

    /// <summary><paramref name="s"/>, cut and ended with '…' when wider than <paramref name="pixels"/>; empty when not even two
    /// characters fit.</summary>
    static string Fit(string s, int pixels)
    {
        if (BitmapFont.TextWidth(s) <= pixels) return s;
        int chars = (pixels + 1) / BitmapFont.Advance - 1;
        return chars < 2 ? "" : s[..chars] + "…";
    }

    /// <summary>Word-wraps <paramref name="text"/> into lines at most <paramref name="pixels"/> wide at <paramref name="scale"/>.</summary>
    static List<string> Wrap(string text, int pixels, int scale)
    {
        int max = Math.Max(1, (pixels / scale + 1) / BitmapFont.Advance);
        var lines = new List<string>();
        var current = "";
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            for (var w = word; w.Length > 0;)
            {
                string candidate = current.Length == 0 ? w : current + " " + w;
                if (candidate.Length <= max) { current = candidate; w = ""; }
                else if (current.Length > 0) { lines.Add(current); current = ""; }
                else { lines.Add(w[..max]); w = w[max..]; }
            }
        }
        if (current.Length > 0 || lines.Count == 0) lines.Add(current);
        return lines;
    }
}
