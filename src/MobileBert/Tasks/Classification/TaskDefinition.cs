using System.Globalization;
using MobileBert.Tasks.Metrics;

namespace MobileBert.Tasks.Classification;

/// <summary>What a sequence-level task predicts.</summary>
public enum TaskKind
{
    /// <summary>One label out of <see cref="TaskDefinition.Labels"/> per example (cross-entropy over <c>NumLabels</c> logits).</summary>
    SingleLabelClassification,

    /// <summary>One real-valued score per example (one logit, mean-squared error), e.g. STS-B.</summary>
    Regression,
}

/// <summary>Order of a label set inferred from training data.</summary>
public enum LabelOrder
{
    /// <summary>
    /// Sorted (the default, as HF <c>run_glue</c> does for user files): numerically when every label is an integer
    /// ("2" before "10"), otherwise by ordinal string comparison. Independent of row order, so shuffling the train file
    /// does not change label ids.
    /// </summary>
    Sorted,

    /// <summary>In the order labels first appear in the training data.</summary>
    FirstSeen,
}

/// <summary>
/// A sequence classification or regression task: its labels (id = position in <see cref="Labels"/>), its input
/// columns, and its official metrics. Immutable.
/// </summary>
public sealed class TaskDefinition
{
    private readonly Dictionary<string, int> _labelIds;

    /// <param name="name">Task name (GLUE tasks use the GLUE spelling, e.g. "SST-2").</param>
    /// <param name="kind">Classification or regression.</param>
    /// <param name="labels">Ordered label strings for classification (at least two, distinct); ignored (empty) for regression.</param>
    /// <param name="textColumn">Name of the first text column in the task's data.</param>
    /// <param name="textPairColumn">Name of the second text column for sentence-pair tasks, else null.</param>
    /// <param name="labelColumn">Name of the label column.</param>
    /// <param name="metrics">Metric names (<see cref="MetricNames"/>) reported by <see cref="TaskMetrics.Compute(TaskDefinition, IReadOnlyList{int},
    /// IReadOnlyList{int})"/>.</param>
    /// <param name="mainMetric">The metric used for model selection; must be one of <paramref name="metrics"/>.</param>
    public TaskDefinition(string name, TaskKind kind, IEnumerable<string>? labels, string textColumn, string? textPairColumn,
        string labelColumn, IEnumerable<string> metrics, string mainMetric)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrEmpty(textColumn);
        ArgumentException.ThrowIfNullOrEmpty(labelColumn);
        ArgumentNullException.ThrowIfNull(metrics);
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown task kind.");
        Name = name;
        Kind = kind;
        TextColumn = textColumn;
        TextPairColumn = textPairColumn;
        LabelColumn = labelColumn;
        Metrics = metrics.ToArray();
        MainMetric = mainMetric;
        if (Metrics.Count == 0) throw new ArgumentException("A task needs at least one metric.", nameof(metrics));
        foreach (string m in Metrics)
        {
            if (!MetricNames.All.Contains(m)) throw new ArgumentException($"Unknown metric '{m}' (known: {string.Join(", ", MetricNames.All)}).",
                nameof(metrics));
            if (MetricNames.IsRegression(m) != (kind == TaskKind.Regression))
                throw new ArgumentException($"Metric '{m}' does not fit a {kind} task.", nameof(metrics));
        }
        if (!Metrics.Contains(mainMetric)) throw new ArgumentException($"Main metric '{mainMetric}' is not one of the task's metrics.",
            nameof(mainMetric));

        _labelIds = new Dictionary<string, int>(StringComparer.Ordinal);
        if (kind == TaskKind.SingleLabelClassification)
        {
            ArgumentNullException.ThrowIfNull(labels);
            Labels = labels.ToArray();
            if (Labels.Count < 2) throw new ArgumentException($"Classification task '{name}' needs at least two labels; got {Labels.Count}.",
                nameof(labels));
            for (int i = 0; i < Labels.Count; i++)
            {
                if (Labels[i] is null) throw new ArgumentException("Labels may not be null.", nameof(labels));
                if (!_labelIds.TryAdd(Labels[i], i)) throw new ArgumentException($"Duplicate label '{Labels[i]}'.", nameof(labels));
            }
        }
        else
        {
            Labels = [];
        }
    }

    /// <summary>Task name.</summary>
    public string Name { get; }

    /// <summary>Classification or regression.</summary>
    public TaskKind Kind { get; }

    /// <summary>Ordered label strings; a label's id is its index. Empty for regression. Save these with a fine-tuned model.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Number of model outputs: the label count, or 1 for regression.</summary>
    public int NumLabels => Kind == TaskKind.Regression ? 1 : Labels.Count;

    /// <summary>First text column name.</summary>
    public string TextColumn { get; }

    /// <summary>Second text column name for sentence-pair tasks.</summary>
    public string? TextPairColumn { get; }

    /// <summary>Label column name.</summary>
    public string LabelColumn { get; }

    /// <summary>Whether examples are sentence pairs (<c>[CLS] A [SEP] B [SEP]</c>).</summary>
    public bool IsSentencePair => TextPairColumn is not null;

    /// <summary>Official metric names (<see cref="MetricNames"/>).</summary>
    public IReadOnlyList<string> Metrics { get; }

    /// <summary>Metric used for model selection (higher is better, except <see cref="MetricNames.MeanSquaredError"/>).</summary>
    public string MainMetric { get; }

    /// <summary>
    /// The class whose F1 the <see cref="MetricNames.F1"/> metric reports (sklearn's <c>pos_label</c>): label id 1 (GLUE),
    /// or for a binary user task the minority class of its training labels (<see cref="InferClassification"/>).
    /// </summary>
    public int PositiveLabelId
    {
        get => _positiveLabelId;
        init
        {
            if (Kind == TaskKind.SingleLabelClassification && (uint)value >= (uint)Labels.Count)
                throw new ArgumentOutOfRangeException(nameof(PositiveLabelId), value, $"Task '{Name}' has {Labels.Count} labels.");
            _positiveLabelId = value;
        }
    }
    private readonly int _positiveLabelId = 1;

    /// <summary>File name of this task's predictions in a GLUE server submission (e.g. "MNLI-m.tsv"); null for non-GLUE tasks.</summary>
    public string? SubmissionFileName { get; init; }

    /// <summary>Id of a label string, or false if the task has no such label.</summary>
    public bool TryGetLabelId(string label, out int id) => _labelIds.TryGetValue(label, out id);

    /// <summary>Id of a label string.</summary>
    /// <exception cref="KeyNotFoundException">Unknown label (message lists the task's labels).</exception>
    public int LabelToId(string label) =>
        _labelIds.TryGetValue(label, out int id) ? id
            : throw new KeyNotFoundException($"Label '{label}' is not a label of task '{Name}' ({string.Join(", ", Labels.Select(l => $"'{l}'"))}).");

    /// <summary>Label string of an id.</summary>
    public string IdToLabel(int id) =>
        (uint)id < (uint)Labels.Count ? Labels[id] : throw new ArgumentOutOfRangeException(
        nameof(id), id, $"Task '{Name}' has {Labels.Count} labels.");

    public override string ToString() =>
        $"{Name} ({Kind}{(Kind == TaskKind.Regression ? "" : ": " + string.Join("/", Labels))}{(IsSentencePair ? ", pair" : "")}; main " +
        $"metric {MainMetric})";

    /// <summary>
    /// A user classification task. Default metrics: accuracy, macro-F1 and MCC, plus binary F1 (of
    /// <paramref name="positiveLabelId"/>, default label id 1) when there are exactly two labels; main metric accuracy.
    /// </summary>
    public static TaskDefinition Classification(string name, IEnumerable<string> labels, string textColumn = "text",
        string? textPairColumn = null, string labelColumn = "label", IEnumerable<string>? metrics = null, string? mainMetric = null,
            int positiveLabelId = 1)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var list = labels.ToArray();
        metrics ??= list.Length == 2
            ? [MetricNames.Accuracy, MetricNames.F1, MetricNames.MacroF1, MetricNames.Matthews]
            : [MetricNames.Accuracy, MetricNames.MacroF1, MetricNames.Matthews];
        return new TaskDefinition(name, TaskKind.SingleLabelClassification, list, textColumn, textPairColumn, labelColumn, metrics,
            mainMetric ?? MetricNames.Accuracy)
        {
            PositiveLabelId = list.Length == 2 ? positiveLabelId : 1 % list.Length,
        };
    }

    /// <summary>A user regression task. Default metrics: Pearson, Spearman, their mean ("corr", the main metric) and MSE.</summary>
    public static TaskDefinition Regression(string name, string textColumn = "text", string? textPairColumn = null,
        string labelColumn = "label", IEnumerable<string>? metrics = null, string? mainMetric = null) =>
        new(name, TaskKind.Regression, null, textColumn, textPairColumn, labelColumn,
            metrics ?? [MetricNames.Pearson, MetricNames.Spearman, MetricNames.Correlation, MetricNames.MeanSquaredError],
            mainMetric ?? MetricNames.Correlation);

    /// <summary>
    /// A classification task whose labels are the distinct labels of <paramref name="train"/> (rows without a label are
    /// ignored), in <paramref name="order"/> (default <see cref="LabelOrder.Sorted"/>). A binary task whose training labels
    /// have a minority class (<see cref="ClassBalance.IsImbalanced"/>) reports the F1 of that class; otherwise of label id 1.
    /// </summary>
    /// <exception cref="InvalidDataException">The training data has fewer than two distinct labels.</exception>
    public static TaskDefinition InferClassification(string name, RawDataset train, LabelOrder order = LabelOrder.Sorted,
        IEnumerable<string>? metrics = null, string? mainMetric = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        var labels = InferLabels(train.Rows.Select(r => r.Label).OfType<string>(), order);
        if (labels.Count < 2)
            throw new InvalidDataException($"'{train.Source}' has {labels.Count} distinct label(s) ({string.Join(", ", labels)}); classification " +
                $"needs at least two.");
        var ids = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        var balance = ClassBalance.Of(train.Rows.Select(r => r.Label).OfType<string>().Select(l => ids[l]), labels.Count);
        int positive = labels.Count == 2 && balance.IsImbalanced ? balance.Smallest : 1;
        return Classification(name, labels, train.TextColumn, train.TextPairColumn, train.LabelColumn ?? "label", metrics, mainMetric, positive);
    }

    /// <summary>Distinct labels in the given order (see <see cref="LabelOrder"/>).</summary>
    public static IReadOnlyList<string> InferLabels(IEnumerable<string> labels, LabelOrder order = LabelOrder.Sorted)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var seen = new List<string>();
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (string l in labels) if (set.Add(l)) seen.Add(l);
        if (order == LabelOrder.FirstSeen) return seen;
        if (seen.All(l => long.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
            return seen.OrderBy(l => long.Parse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ToArray();
        return seen.OrderBy(l => l, StringComparer.Ordinal).ToArray();
    }
}
