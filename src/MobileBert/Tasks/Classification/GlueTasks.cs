using MobileBert.Tasks.Metrics;

namespace MobileBert.Tasks.Classification;

/// <summary>
/// The GLUE tasks with the labels, metrics and submission file names of the GLUE benchmark (labels and metrics as in
/// HF <c>glue_processors</c> / <c>glue_compute_metrics</c>).
/// </summary>
/// <remarks>
/// Main metrics are the GLUE leaderboard score of each task: MCC (CoLA), accuracy (SST-2, QNLI, RTE, WNLI, MNLI),
/// mean of accuracy and F1 (MRPC, QQP), mean of Pearson and Spearman (STS-B). <see cref="MnliMismatched"/> is MNLI
/// evaluated on the mismatched dev/test sets; <see cref="Ax"/> is the diagnostic set (test only, MNLI labels, scored by MCC).
/// </remarks>
public static class GlueTasks
{
    private static readonly string[] Binary = ["0", "1"];
    private static readonly string[] Nli3 = ["contradiction", "entailment", "neutral"];
    private static readonly string[] Nli2 = ["entailment", "not_entailment"];

    public static TaskDefinition CoLA { get; } = Cls("CoLA", Binary, "sentence", null, [MetricNames.Matthews], MetricNames.Matthews, "CoLA.tsv");
    public static TaskDefinition Sst2 { get; } = Cls("SST-2", Binary, "sentence", null, [MetricNames.Accuracy], MetricNames.Accuracy, "SST-2.tsv");
    public static TaskDefinition Mrpc { get; } = Cls("MRPC", Binary, "sentence1", "sentence2",
        [MetricNames.Accuracy, MetricNames.F1, MetricNames.AccuracyAndF1], MetricNames.AccuracyAndF1, "MRPC.tsv");
    public static TaskDefinition StsB { get; } = new("STS-B", TaskKind.Regression, null, "sentence1", "sentence2", "label",
        [MetricNames.Pearson, MetricNames.Spearman, MetricNames.Correlation], MetricNames.Correlation) { SubmissionFileName = "STS-B.tsv" };
    public static TaskDefinition Qqp { get; } = Cls("QQP", Binary, "question1", "question2",
        [MetricNames.Accuracy, MetricNames.F1, MetricNames.AccuracyAndF1], MetricNames.AccuracyAndF1, "QQP.tsv");
    public static TaskDefinition Mnli { get; } = Cls("MNLI", Nli3, "premise", "hypothesis", [MetricNames.MnliMatchedAccuracy],
        MetricNames.MnliMatchedAccuracy, "MNLI-m.tsv");
    public static TaskDefinition MnliMismatched { get; } = Cls("MNLI-mm", Nli3, "premise", "hypothesis", [MetricNames.MnliMismatchedAccuracy],
        MetricNames.MnliMismatchedAccuracy, "MNLI-mm.tsv");
    public static TaskDefinition Qnli { get; } = Cls("QNLI", Nli2, "question", "sentence", [MetricNames.Accuracy], MetricNames.Accuracy, "QNLI.tsv");
    public static TaskDefinition Rte { get; } = Cls("RTE", Nli2, "sentence1", "sentence2", [MetricNames.Accuracy], MetricNames.Accuracy, "RTE.tsv");
    public static TaskDefinition Wnli { get; } = Cls("WNLI", Binary, "sentence1", "sentence2", [MetricNames.Accuracy], MetricNames.Accuracy,
        "WNLI.tsv");
    public static TaskDefinition Ax { get; } = Cls("AX", Nli3, "premise", "hypothesis", [MetricNames.Matthews], MetricNames.Matthews, "AX.tsv");

    /// <summary>All GLUE tasks (the nine tasks, MNLI-mm and AX), in leaderboard order.</summary>
    public static IReadOnlyList<TaskDefinition> All { get; } = [CoLA, Sst2, Mrpc, StsB, Qqp, Mnli, MnliMismatched, Qnli, Rte, Wnli, Ax];

    /// <summary>
    /// A GLUE task by name, case-insensitive, with or without the hyphen ("sst2", "SST-2", "sts-b", "mnli-mm", "mnli_mismatched", "diagnostic").
    /// </summary>
    /// <exception cref="KeyNotFoundException">Not a GLUE task.</exception>
    public static TaskDefinition Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = new string(name.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();
        return key switch
        {
            "cola" => CoLA,
            "sst2" or "sst" => Sst2,
            "mrpc" => Mrpc,
            "stsb" or "sts" => StsB,
            "qqp" => Qqp,
            "mnli" or "mnlim" or "mnlimatched" => Mnli,
            "mnlimm" or "mnlimismatched" => MnliMismatched,
            "qnli" => Qnli,
            "rte" => Rte,
            "wnli" => Wnli,
            "ax" or "diagnostic" => Ax,
            _ => throw new KeyNotFoundException($"'{name}' is not a GLUE task ({string.Join(", ", All.Select(t => t.Name))})."),
        };
    }

    private static TaskDefinition Cls(string name, string[] labels, string text, string? pair, string[] metrics, string main, string file) =>
        new(name, TaskKind.SingleLabelClassification, labels, text, pair, "label", metrics, main) { SubmissionFileName = file };
}
