using MobileBert.Tasks.Classification;
using MobileBert.Tasks.Metrics;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>
/// Which dev metric picks the best checkpoint (<c>--select-by</c>). Any metric the task's evaluation reports can be
/// named (sequence tasks also "loss"; "accuracy" means "acc", SQuAD v1.1's "exact" "exact_match"). The default: for a
/// user (csv/jsonl) classification task whose training labels have a minority class (<see cref="ClassBalance.IsImbalanced"/>),
/// the F1 of that class (binary) or macro-F1 (more classes) — accuracy would keep an all-majority model; otherwise the
/// task's official metric (GLUE: MCC for CoLA, Pearson/Spearman for STS-B, …; SQuAD F1).
/// </summary>
public sealed record ModelSelection(string Metric, bool HigherIsBetter, string Reason)
{
    /// <summary>Resolves <paramref name="requested"/> (null: the default) against the metrics <paramref name="info"/>'s evaluation reports.</summary>
    public static ModelSelection Resolve(string? requested, TaskInfo info, ClassBalance? balance)
    {
        // Sequence evaluations also report the dev loss; SQuAD's official evaluation does not.
        var available = (info.Kind == TaskInfoKind.QuestionAnswering ? info.Metrics : info.Metrics.Append("loss")).Distinct().ToList();
        if (requested is not null)
        {
            string m = requested.Trim().ToLowerInvariant() switch { "accuracy" => MetricNames.Accuracy,
                "exact" when available.Contains("exact_match") => "exact_match", var x => x };
            if (!available.Contains(m))
                throw new SettingException($"SelectBy {requested}: task '{info.Task}' reports {string.Join(", ", available)}.", "SelectBy");
            return new ModelSelection(m, !LowerIsBetter(m), "as asked");
        }
        if (TaskInfo.IsGeneric(info.Task) && info.Kind == TaskInfoKind.Classification && balance is { IsImbalanced: true } b)
        {
            string minority = info.Labels[b.Smallest];
            string why = $"minority class '{minority}' is {b.Share(b.Smallest):P1} of the training labels";
            if (info.Labels.Count == 2 && available.Contains(MetricNames.F1) && info.PositiveLabelId == b.Smallest)
                return new ModelSelection(MetricNames.F1, true, $"F1 of '{minority}': {why}");
            if (available.Contains(MetricNames.MacroF1)) return new ModelSelection(MetricNames.MacroF1, true, $"macro-F1: {why}");
        }
        return new ModelSelection(info.MainMetric, !LowerIsBetter(info.MainMetric), "the task's official metric");
    }

    static bool LowerIsBetter(string metric) => metric is MetricNames.MeanSquaredError or "loss";

    /// <summary>Whether <paramref name="candidate"/> beats <paramref name="incumbent"/> (NaN never wins; anything beats NaN).</summary>
    public bool Better(double candidate, double incumbent)
    {
        if (double.IsNaN(candidate)) return false;
        if (double.IsNaN(incumbent)) return true;
        return HigherIsBetter ? candidate > incumbent : candidate < incumbent;
    }

    public override string ToString() => $"{Metric} ({Reason})";
}
