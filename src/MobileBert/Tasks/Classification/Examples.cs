using System.Globalization;

namespace MobileBert.Tasks.Classification;

/// <summary>
/// A malformed data file: the message starts with <c>file:line:column</c> (1-based; column = field number, or the JSON
/// field name for JSON input) so editors can jump to it.
/// </summary>
public sealed class DataFormatException : MobileBertException
{
    public DataFormatException(string file, int line, int column, string? columnName, string detail)
        : base(Format(file, line, column, columnName, detail))
    {
        File = file; Line = line; Column = column; ColumnName = columnName; Detail = detail;
    }

    /// <summary>Path of the file.</summary>
    public string File { get; }

    /// <summary>1-based line (for multi-line quoted CSV records, the line the record starts on).</summary>
    public int Line { get; }

    /// <summary>1-based column (field) number; 0 when not applicable (JSON, or a whole-line problem).</summary>
    public int Column { get; }

    /// <summary>Column name, when known.</summary>
    public string? ColumnName { get; }

    /// <summary>The message without the location prefix.</summary>
    public string Detail { get; }

    private static string Format(string file, int line, int column, string? name, string detail)
    {
        string loc = column > 0 ? $"{file}:{line}:{column}" : $"{file}:{line}";
        string col = name is null ? "" : column > 0 ? $" (column '{name}')" : $" (field '{name}')";
        return $"{loc}{col}: {detail}";
    }
}

/// <summary>A row that was read but not used, and why (empty text, missing label, malformed row with <c>SkipBadRows</c>, ...).</summary>
public sealed record SkippedRow(int Line, string Reason)
{
    /// <summary>1-based position in a JSON array file (whose entries often all sit on line 1); null for line-based files.</summary>
    public int? Entry { get; init; }

    /// <summary>Where the row is: "line 3", or "line 1, array entry 1001".</summary>
    public string Where => Entry is int e ? $"line {Line}, array entry {e}" : $"line {Line}";
}

/// <summary>One row of a data file before labels are resolved: texts and the label exactly as written (null when the file has no labels).</summary>
/// <param name="Id">The row's id (GLUE index column, a configured id column, or a 0-based running number).</param>
/// <param name="Line">1-based line the row starts on.</param>
public sealed record RawExample(string Id, string Text, string? TextPair, string? Label, int Line);

/// <summary>Rows read from one file, with the rows that were skipped and the column names used.</summary>
/// <param name="Source">The file path.</param>
/// <param name="LabelColumnNumber">1-based field number of the label column (0 for JSON or when unknown), for error messages.</param>
public sealed record RawDataset(
    string Source,
    IReadOnlyList<RawExample> Rows,
    IReadOnlyList<SkippedRow> Skipped,
    string TextColumn,
    string? TextPairColumn,
    string? LabelColumn,
    int LabelColumnNumber)
{
    /// <summary>Whether rows carry labels.</summary>
    public bool HasLabels => LabelColumn is not null;

    /// <summary>Invalid UTF-8 sequences and unpaired surrogates replaced with U+FFFD while reading (<see
    /// cref="MobileBert.Text.TextSanitizer"/>).</summary>
    public long Replaced { get; init; }
}

/// <summary>A task example with its label resolved: <see cref="LabelId"/> for classification, <see cref="Target"/> for regression, both null when
/// unlabelled (test sets).</summary>
public sealed record TaskExample(string Id, string Text, string? TextPair, int? LabelId, float? Target, int Line)
{
    /// <summary>Whether the example has a gold label or score.</summary>
    public bool HasLabel => LabelId is not null || Target is not null;
}

/// <summary>Examples of one split of a task.</summary>
public sealed class TaskDataset
{
    public TaskDataset(TaskDefinition task, IReadOnlyList<TaskExample> examples, string source, IReadOnlyList<SkippedRow> skipped)
    {
        Task = task ?? throw new ArgumentNullException(nameof(task));
        Examples = examples ?? throw new ArgumentNullException(nameof(examples));
        Source = source;
        Skipped = skipped ?? [];
    }

    public TaskDefinition Task { get; }
    public IReadOnlyList<TaskExample> Examples { get; }
    public int Count => Examples.Count;

    /// <summary>File the examples came from.</summary>
    public string Source { get; }

    /// <summary>Rows read but not used (never dropped silently).</summary>
    public IReadOnlyList<SkippedRow> Skipped { get; }

    /// <summary>Invalid UTF-8 sequences and unpaired surrogates replaced with U+FFFD while reading.</summary>
    public long Replaced { get; init; }

    /// <summary>Whether every example is labelled (false for GLUE test sets).</summary>
    public bool IsLabelled => Examples.Count > 0 && Examples.All(e => e.HasLabel);

    /// <summary>Gold label ids (classification).</summary>
    /// <exception cref="InvalidOperationException">Regression task or an unlabelled example.</exception>
    public int[] LabelIds() => Examples.Select(e => e.LabelId ?? throw new InvalidOperationException(
        $"Example '{e.Id}' of '{Source}' has no label id.")).ToArray();

    /// <summary>Gold scores (regression).</summary>
    public float[] Targets() => Examples.Select(e => e.Target ?? throw new InvalidOperationException(
        $"Example '{e.Id}' of '{Source}' has no target.")).ToArray();

    /// <summary>
    /// Resolves raw labels against <paramref name="task"/>: classification labels must be in <see cref="TaskDefinition.Labels"/>
    /// (exact, ordinal match); regression labels must parse as finite invariant-culture numbers. Rows without a label
    /// stay unlabelled. With <paramref name="skipBadRows"/> a row with an unknown label or a bad score is listed in
    /// <see cref="Skipped"/> (with its line and the reason) instead of throwing.
    /// </summary>
    /// <exception cref="DataFormatException">An unknown label or a non-numeric score, naming file, line and column.</exception>
    /// <exception cref="ArgumentException">The data's pair-ness does not match the task.</exception>
    public static TaskDataset FromRaw(TaskDefinition task, RawDataset raw, bool skipBadRows = false)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(raw);
        if ((raw.TextPairColumn is not null) != task.IsSentencePair)
            throw new ArgumentException(task.IsSentencePair
                ? $"Task '{task.Name}' is a sentence-pair task but '{raw.Source}' was read without a text-pair column."
                : $"Task '{task.Name}' is a single-sentence task but '{raw.Source}' was read with a text-pair column ('{raw.TextPairColumn}').");
        var examples = new List<TaskExample>(raw.Rows.Count);
        var skipped = new List<SkippedRow>(raw.Skipped);
        foreach (var r in raw.Rows)
        {
            int? id = null; float? target = null;
            string? problem = null;
            if (r.Label is not null)
            {
                if (task.Kind == TaskKind.SingleLabelClassification)
                {
                    if (task.TryGetLabelId(r.Label, out int lid)) id = lid;
                    else problem = $"unknown label '{r.Label}'; task '{task.Name}' has " +
                    $"labels {string.Join(", ", task.Labels.Select(l => $"'{l}'"))}.";
                }
                else if (double.TryParse(r.Label.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
                && double.IsFinite(v)) target = (float)v;
                else problem = $"regression label '{r.Label}' is not a finite number.";
            }
            if (problem is not null)
            {
                if (!skipBadRows) throw new DataFormatException(raw.Source, r.Line, raw.LabelColumnNumber, raw.LabelColumn, problem);
                skipped.Add(new SkippedRow(r.Line, problem));
                continue;
            }
            examples.Add(new TaskExample(r.Id, r.Text, r.TextPair, id, target, r.Line));
        }
        return new TaskDataset(task, examples, raw.Source, skipped) { Replaced = raw.Replaced };
    }
}
