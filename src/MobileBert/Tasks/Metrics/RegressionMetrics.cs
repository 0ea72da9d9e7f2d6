namespace MobileBert.Tasks.Metrics;

/// <summary>
/// Regression / correlation metrics as SciPy defines them (<c>scipy.stats.pearsonr</c>, <c>spearmanr</c>), computed in double.
/// </summary>
/// <remarks>
/// Zero variance: when either input is constant the correlation is undefined and SciPy returns <c>NaN</c> (with a
/// <c>ConstantInputWarning</c>); these methods return <see cref="double.NaN"/> too. Callers selecting a model on a
/// correlation should treat NaN as the worst score. Fewer than two points throw (SciPy raises <c>ValueError</c>).
/// </remarks>
public static class RegressionMetrics
{
    /// <summary>Pearson's r: <c>Σ(x−x̄)(y−ȳ) / (‖x−x̄‖·‖y−ȳ‖)</c>, clipped to [−1, 1]; NaN when either input is constant.</summary>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        CheckPair(x, y);
        int n = x.Count;
        if (IsConstant(x) || IsConstant(y)) return double.NaN;
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
        mx /= n; my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
        }
        double r = sxy / (Math.Sqrt(sxx) * Math.Sqrt(syy));
        return Math.Clamp(r, -1.0, 1.0);
    }

    /// <summary>Spearman's ρ: Pearson's r of the average ranks (ties share the mean of the ranks they span, SciPy
    /// <c>rankdata(method="average")</c>).</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        CheckPair(x, y);
        return Pearson(AverageRanks(x), AverageRanks(y));
    }

    /// <summary>1-based ranks; tied values get the average of the ranks they occupy (SciPy <c>rankdata(method="average")</c>).</summary>
    public static double[] AverageRanks(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = values.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(values[i])) throw new ArgumentException($"Value {i} is NaN; ranks are undefined.", nameof(values));
            order[i] = i;
        }
        Array.Sort(order, (a, b) => values[a].CompareTo(values[b]));
        var ranks = new double[n];
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && values[order[end]] == values[order[start]]) end++;
            double rank = (start + 1 + end) / 2.0; // mean of ranks start+1 .. end
            for (int k = start; k < end; k++) ranks[order[k]] = rank;
            start = end;
        }
        return ranks;
    }

    /// <summary>Mean squared error (sklearn <c>mean_squared_error</c>).</summary>
    public static double MeanSquaredError(IReadOnlyList<double> predictions, IReadOnlyList<double> labels)
    {
        ClassificationMetrics.Check(predictions, labels);
        double sum = 0;
        for (int i = 0; i < labels.Count; i++) { double d = predictions[i] - labels[i]; sum += d * d; }
        return sum / labels.Count;
    }

    private static bool IsConstant(IReadOnlyList<double> v)
    {
        for (int i = 1; i < v.Count; i++) if (v[i] != v[0]) return false;
        return true;
    }

    private static void CheckPair(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"Inputs differ in length: {x.Count} and {y.Count}.", nameof(y));
        if (x.Count < 2) throw new ArgumentException("A correlation needs at least two points.", nameof(x));
        for (int i = 0; i < x.Count; i++)
            if (!double.IsFinite(x[i]) || !double.IsFinite(y[i]))
                throw new ArgumentException($"Point {i} is not finite ({x[i]}, {y[i]}).", nameof(x));
    }
}
