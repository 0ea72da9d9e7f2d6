using MobileBert.Tasks.Classification;

namespace MobileBert.Tasks.Metrics;

/// <summary>Metric names used in <see cref="TaskDefinition.Metrics"/> and in <see cref="MetricResult.Values"/> (HF <c>glue_compute_metrics</c>
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

/// <summary>Computes a task's official metrics (<see cref="TaskDefinition.Metrics"/>).</summary>
public static class TaskMetrics
{
    /// <summary>Metrics of a classification task from predicted and gold label ids.</summary>
    /// <exception cref="ArgumentException">The task is a regression task, lengths differ, or the lists are empty.</exception>
    public static MetricResult Compute(TaskDefinition task, IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Kind != TaskKind.SingleLabelClassification)
            throw new ArgumentException($"Task '{task.Name}' is a regression task; pass float predictions.", nameof(task));
        ClassificationMetrics.Check(predictions, labels);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string name in task.Metrics)
        {
            values[name] = name switch
            {
                MetricNames.Accuracy or MetricNames.MnliMatchedAccuracy or MetricNames.MnliMismatchedAccuracy =>
                    ClassificationMetrics.Accuracy(predictions, labels),
                MetricNames.F1 => ClassificationMetrics.F1(predictions, labels, task.PositiveLabelId),
                MetricNames.AccuracyAndF1 => (ClassificationMetrics.Accuracy(predictions, labels) + ClassificationMetrics.F1(predictions, labels,
                    task.PositiveLabelId)) / 2,
                MetricNames.MacroF1 => ClassificationMetrics.MacroF1(predictions, labels),
                MetricNames.Matthews => ClassificationMetrics.MatthewsCorrelation(predictions, labels),
                _ => throw new ArgumentException($"Metric '{name}' of task '{task.Name}' is not a classification metric.", nameof(task)),
            };
        }
        return new MetricResult(values, task.MainMetric);
    }

    /// <summary>Metrics of a regression task from predicted and gold scores.</summary>
    /// <exception cref="ArgumentException">The task is a classification task, lengths differ, or fewer than two points.</exception>
    public static MetricResult Compute(TaskDefinition task, IReadOnlyList<double> predictions, IReadOnlyList<double> labels)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Kind != TaskKind.Regression)
            throw new ArgumentException($"Task '{task.Name}' is a classification task; pass label ids.", nameof(task));
        ClassificationMetrics.Check(predictions, labels);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string name in task.Metrics)
        {
            values[name] = name switch
            {
                MetricNames.Pearson => RegressionMetrics.Pearson(predictions, labels),
                MetricNames.Spearman => RegressionMetrics.Spearman(predictions, labels),
                MetricNames.Correlation => (RegressionMetrics.Pearson(predictions, labels) + RegressionMetrics.Spearman(predictions, labels)) / 2,
                MetricNames.MeanSquaredError => RegressionMetrics.MeanSquaredError(predictions, labels),
                _ => throw new ArgumentException($"Metric '{name}' of task '{task.Name}' is not a regression metric.", nameof(task)),
            };
        }
        return new MetricResult(values, task.MainMetric);
    }

    /// <summary>Regression metrics from float predictions (e.g. the model's single logit) and float targets.</summary>
    public static MetricResult Compute(TaskDefinition task, IReadOnlyList<float> predictions, IReadOnlyList<float> labels) =>
        Compute(task, predictions.Select(v => (double)v).ToArray(), labels.Select(v => (double)v).ToArray());

    /// <summary>Metrics from raw model logits, row-major <c>[n, task.NumLabels]</c> (argmax for classification; the single column for
    /// regression).</summary>
    public static MetricResult FromLogits(TaskDefinition task, ReadOnlySpan<float> logits, IReadOnlyList<int>? labelIds = null,
        IReadOnlyList<float>? targets = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Kind == TaskKind.Regression)
        {
            ArgumentNullException.ThrowIfNull(targets);
            return Compute(task, logits.ToArray(), targets);
        }
        ArgumentNullException.ThrowIfNull(labelIds);
        return Compute(task, ClassificationMetrics.Argmax(logits, task.NumLabels), labelIds);
    }
}
