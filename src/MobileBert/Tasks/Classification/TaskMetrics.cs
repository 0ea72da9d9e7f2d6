using MobileBert.Tasks.Metrics;

namespace MobileBert.Tasks.Classification;

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
