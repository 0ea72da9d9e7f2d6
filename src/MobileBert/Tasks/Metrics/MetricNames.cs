using MobileBert.Tasks.Classification;

namespace MobileBert.Tasks.Metrics;

/// <summary>Metric names used in task definitions (<c>TaskDefinition.Metrics</c>) and in <see cref="MetricResult.Values"/> (HF
/// <c>glue_compute_metrics</c>
/// names).</summary>
public static class MetricNames
{
    public const string Accuracy = "acc";
    public const string F1 = "f1";
    /// <summary>(acc + f1) / 2 — the GLUE score of MRPC and QQP.</summary>
    public const string AccuracyAndF1 = "acc_and_f1";
    public const string MacroF1 = "macro_f1";
    public const string Matthews = "mcc";
    public const string Pearson = "pearson";
    public const string Spearman = "spearmanr";
    /// <summary>(pearson + spearmanr) / 2 — the GLUE score of STS-B.</summary>
    public const string Correlation = "corr";
    public const string MeanSquaredError = "mse";
    /// <summary>Accuracy on MNLI matched.</summary>
    public const string MnliMatchedAccuracy = "mnli/acc";
    /// <summary>Accuracy on MNLI mismatched.</summary>
    public const string MnliMismatchedAccuracy = "mnli-mm/acc";

    /// <summary>Every name <see cref="TaskMetrics"/> can compute.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Accuracy, F1, AccuracyAndF1, MacroF1, Matthews, Pearson, Spearman, Correlation, MeanSquaredError, MnliMatchedAccuracy,
        MnliMismatchedAccuracy];

    internal static bool IsRegression(string name) => name is Pearson or Spearman or Correlation or MeanSquaredError;
}

/// <summary>Metric values by name, and which of them drives model selection.</summary>
public sealed record MetricResult(IReadOnlyDictionary<string, double> Values, string MainMetric)
{
    /// <summary>Value of <see cref="MainMetric"/> (may be NaN for a correlation on constant predictions; treat as worst).</summary>
    public double Main => Values[MainMetric];

    public override string ToString() =>
        string.Join(", ", Values.Select(kv => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value:0.####}")));
}
