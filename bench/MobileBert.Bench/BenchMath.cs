namespace MobileBert.Bench;

/// <summary>Summary statistics shared by the benchmarks' reports.</summary>
internal static class BenchMath
{
    /// <summary>The median (the mean of the two middle values for an even count; NaN for no values).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
