using System.Globalization;

namespace MobileBert.Reporting;

/// <summary>One named series of (x, y) points.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// Renders line charts (training curves) to PNG without any graphics dependency: axes with numeric ticks, one or more
/// panels stacked vertically, a legend per panel. Non-finite points are skipped.
/// </summary>
public static class LinePlot
{
    static readonly (byte R, byte G, byte B)[] Palette =
        [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127)];

    /// <summary>Writes a PNG with one panel per (title, series) entry.</summary>
    public static void Save(string path, string title, IReadOnlyList<(string Title, IReadOnlyList<PlotSeries> Series)> panels, int width = 900, int panelHeight = 300, bool logY = false)
    {
        if (panels.Count == 0) throw new ArgumentException("LinePlot: nothing to draw.");
        int height = 30 + panels.Count * panelHeight;
        var img = new Canvas(width, height);
        img.Text(10, 10, title, (0, 0, 0), 2);
        for (int p = 0; p < panels.Count; p++)
            DrawPanel(img, 0, 30 + p * panelHeight, width, panelHeight, panels[p].Title, panels[p].Series, logY);
        PngWriter.Write(path, img.Pixels, width, height);
    }

    static void DrawPanel(Canvas img, int ox, int oy, int w, int h, string title, IReadOnlyList<PlotSeries> series, bool logY)
    {
        int left = ox + 70, right = ox + w - 20, top = oy + 25, bottom = oy + h - 35;
        img.Text(left, oy + 8, title, (0, 0, 0), 1);
        var pts = series.SelectMany(s => s.X.Zip(s.Y)).Where(t => double.IsFinite(t.First) && double.IsFinite(t.Second) && (!logY || t.Second > 0)).ToList();
        double Ty(double v) => logY ? Math.Log10(v) : v;
        double xmin = pts.Count > 0 ? pts.Min(t => t.First) : 0, xmax = pts.Count > 0 ? pts.Max(t => t.First) : 1;
        double ymin = pts.Count > 0 ? pts.Min(t => Ty(t.Second)) : 0, ymax = pts.Count > 0 ? pts.Max(t => Ty(t.Second)) : 1;
        if (xmax <= xmin) xmax = xmin + 1;
        if (ymax <= ymin) { ymax = ymin + 0.5; ymin -= 0.5; }
        double pad = (ymax - ymin) * 0.05; ymin -= pad; ymax += pad;
        int X(double x) => left + (int)Math.Round((x - xmin) / (xmax - xmin) * (right - left));
        int Y(double y) => bottom - (int)Math.Round((Ty(y) - ymin) / (ymax - ymin) * (bottom - top));
        // Axes and ticks.
        img.Line(left, bottom, right, bottom, (0, 0, 0)); img.Line(left, top, left, bottom, (0, 0, 0));
        foreach (double xv in NiceTicks(xmin, xmax))
        {
            int xp = left + (int)Math.Round((xv - xmin) / (xmax - xmin) * (right - left));
            img.Line(xp, bottom, xp, bottom + 4, (0, 0, 0));
            string xs = Format(xv);
            img.Text(xp - xs.Length * 3, bottom + 8, xs, (60, 60, 60), 1);
        }
        foreach (double yv in NiceTicks(ymin, ymax))
        {
            int yp = bottom - (int)Math.Round((yv - ymin) / (ymax - ymin) * (bottom - top));
            img.Line(left - 4, yp, left, yp, (0, 0, 0));
            img.Line(left + 1, yp, right, yp, (230, 230, 230));
            string ys = Format(logY ? Math.Pow(10, yv) : yv);
            img.Text(left - 8 - ys.Length * 6, yp - 3, ys, (60, 60, 60), 1);
        }
        // Series and legend.
        for (int s = 0; s < series.Count; s++)
        {
            var c = Palette[s % Palette.Length];
            (int X, int Y)? prev = null;
            for (int i = 0; i < Math.Min(series[s].X.Count, series[s].Y.Count); i++)
            {
                double x = series[s].X[i], y = series[s].Y[i];
                if (!double.IsFinite(x) || !double.IsFinite(y) || (logY && y <= 0)) { prev = null; continue; }
                var cur = (X(x), Y(y));
                if (prev is { } pv) img.Line(pv.X, pv.Y, cur.Item1, cur.Item2, c); else img.Dot(cur.Item1, cur.Item2, c);
                prev = cur;
            }
            int ly = top + 4 + s * 12;
            img.Line(right - 150, ly + 3, right - 135, ly + 3, c);
            img.Text(right - 130, ly, series[s].Name, (0, 0, 0), 1);
        }
    }

    /// <summary>About five round tick values (1, 2, 5 × 10^k steps) inside [lo, hi].</summary>
    static IEnumerable<double> NiceTicks(double lo, double hi)
    {
        double raw = (hi - lo) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), f = raw / mag;
        double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
        for (double v = Math.Ceiling(lo / step) * step; v <= hi + step * 1e-9; v += step) yield return Math.Abs(v) < step * 1e-9 ? 0 : v;
    }

    static string Format(double v)
    {
        double a = Math.Abs(v);
        if (a != 0 && (a >= 1e5 || a < 1e-3)) return v.ToString("0.0E0", CultureInfo.InvariantCulture);
        return a >= 100 ? v.ToString("0", CultureInfo.InvariantCulture) : a >= 1 ? v.ToString("0.##", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);
    }

    sealed class Canvas(int width, int height)
    {
        public byte[] Pixels { get; } = Enumerable.Repeat((byte)255, width * height * 3).ToArray();

        public void Set(int x, int y, (byte R, byte G, byte B) c)
        {
            if ((uint)x >= (uint)width || (uint)y >= (uint)height) return;
            int i = (y * width + x) * 3;
            Pixels[i] = c.R; Pixels[i + 1] = c.G; Pixels[i + 2] = c.B;
        }

        public void Dot(int x, int y, (byte, byte, byte) c) { for (int dy = -1; dy <= 1; dy++) for (int dx = -1; dx <= 1; dx++) Set(x + dx, y + dy, c); }

        public void Line(int x0, int y0, int x1, int y1, (byte, byte, byte) c)
        {
            int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
            while (true)
            {
                Set(x0, y0, c);
                if (x0 == x1 && y0 == y1) break;
                int e2 = 2 * err;
                if (e2 >= dy) { err += dy; x0 += sx; }
                if (e2 <= dx) { err += dx; y0 += sy; }
            }
        }

        public void Text(int x, int y, string s, (byte, byte, byte) c, int scale)
        {
            foreach (char ch in s)
            {
                var g = BitmapFont.Glyph(ch);
                if (g is not null)
                    for (int r = 0; r < BitmapFont.Height; r++)
                        for (int col = 0; col < BitmapFont.Width; col++)
                            if ((g[r] >> (BitmapFont.Width - 1 - col) & 1) != 0)
                                for (int sy = 0; sy < scale; sy++) for (int sx = 0; sx < scale; sx++) Set(x + col * scale + sx, y + r * scale + sy, c);
                x += (BitmapFont.Width + 1) * scale;
            }
        }
    }
}
