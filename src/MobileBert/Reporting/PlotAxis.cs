using System.Globalization;

namespace MobileBert.Reporting;

/// <summary>
/// One axis of a panel: the range it shows (in log10 units when <see cref="Log"/>) and round tick values with their
/// labels (1, 2, 5 × 10^k steps; on a log axis decades, with 2 and 5 or 3 between them over spans of few decades).
/// </summary>
internal sealed class PlotAxis
{
    public double Min { get; }
    public double Max { get; }
    public bool Log { get; }
    public IReadOnlyList<(double Value, string Label)> Ticks { get; }

    PlotAxis(double min, double max, bool log, int tickCount)
    {
        Min = min; Max = max; Log = log;
        Ticks = log ? LogTicks(min, max, tickCount) : LinearTicks(min, max, tickCount);
    }

    /// <summary>Position of data value <paramref name="v"/> along the axis: 0 at <see cref="Min"/>, 1 at <see cref="Max"/>.</summary>
    public double Fraction(double v) => ((Log ? Math.Log10(v) : v) - Min) / (Max - Min);

    /// <summary>A step axis: from 0 (or the smallest x when negative) to the largest x.</summary>
    public static PlotAxis ForX(IReadOnlyList<double> xs, int tickCount)
    {
        double lo = xs.Count > 0 ? Math.Min(0, xs.Min()) : 0, hi = xs.Count > 0 ? xs.Max() : 1;
        if (hi <= lo) hi = lo + 1;
        return new PlotAxis(lo, hi, false, tickCount);
    }

    /// <summary>A value axis over the finite <paramref name="ys"/> with 5 % head room; log as <paramref name="scale"/> asks.</summary>
    public static PlotAxis ForY(IReadOnlyList<double> ys, YScale scale, int tickCount)
    {
        bool log = UsesLog(ys, scale);
        var t = ys.Where(v => !log || v > 0).Select(v => log ? Math.Log10(v) : v).ToList();
        double lo = t.Count > 0 ? t.Min() : 0, hi = t.Count > 0 ? t.Max() : 1;
        if (hi <= lo) { hi = lo + 0.5; lo -= 0.5; }
        double pad = (hi - lo) * 0.05;
        bool nonNegative = !log && lo >= 0;
        lo -= pad; hi += pad;
        if (nonNegative && lo < 0) lo = 0;
        return new PlotAxis(lo, hi, log, tickCount);
    }

    /// <summary>Whether a panel with these finite values gets a log axis under <paramref name="scale"/>.</summary>
    public static bool UsesLog(IReadOnlyList<double> ys, YScale scale) => scale switch
    {
        YScale.Log => ys.Any(v => v > 0),
        YScale.Auto => ys.Count > 0 && ys.All(v => v > 0) && ys.Max() / ys.Min() >= 100,
        _ => false,
    };

    static List<(double, string)> LinearTicks(double lo, double hi, int count)
    {
        double raw = (hi - lo) / Math.Max(2, count), mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), f = raw / mag;
        double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
        var ticks = new List<(double, string)>();
        for (long k = (long)Math.Ceiling(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
            ticks.Add((k * step, FormatLinear(k * step, step)));
        return ticks;
    }

    static List<(double, string)> LogTicks(double lo, double hi, int count)
    {
        double[] multiples = hi - lo < 2.5 ? [1, 2, 5] : hi - lo < 5 ? [1, 3] : [1];
        var ticks = new List<(double, string)>();
        for (int d = (int)Math.Floor(lo); d <= (int)Math.Ceiling(hi); d++)
            foreach (double m in multiples)
            {
                double v = m * Math.Pow(10, d), t = Math.Log10(v);
                if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks.Add((t, FormatLog(v)));
            }
        if (ticks.Count >= 2) return ticks;
        // Less than a decade: round values in data units, placed at their log positions.
        return [.. LinearTicks(Math.Pow(10, lo), Math.Pow(10, hi), count).Where(t => t.Item1 > 0).Select(t => (Math.Log10(t.Item1), t.Item2))];
    }

    /// <summary>A tick label with as many decimals as the tick step needs; 12.5k / 1.5M for large values.</summary>
    internal static string FormatLinear(double v, double step)
    {
        var inv = CultureInfo.InvariantCulture;
        double a = Math.Abs(v);
        if (a < step * 1e-9) return "0";
        if (a >= 1e4 && step >= 1)
        {
            (double unit, string suffix) = a >= 1e6 ? (1e6, "M") : (1e3, "k");
            return (v / unit).ToString("F" + Decimals(step / unit), inv) + suffix;
        }
        int decimals = Decimals(step);
        return decimals > 4 ? v.ToString("0.###e0", inv) : v.ToString("F" + decimals, inv);
    }

    static string FormatLog(double v)
    {
        var inv = CultureInfo.InvariantCulture;
        if (v >= 1e6) return (v / 1e6).ToString("G3", inv) + "M";
        if (v >= 1e4) return (v / 1e3).ToString("G3", inv) + "k";
        return v < 1e-3 ? v.ToString("0.#e0", inv) : v.ToString("G3", inv);
    }

    static int Decimals(double step) => Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
}
