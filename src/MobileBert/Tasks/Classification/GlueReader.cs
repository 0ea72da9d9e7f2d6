using System.Text;

namespace MobileBert.Tasks.Classification;

/// <summary>Split of a GLUE task. For MNLI, <see cref="Dev"/>/<see cref="Test"/> mean the matched files for
/// <see cref="GlueTasks.Mnli"/> and the mismatched files for <see cref="GlueTasks.MnliMismatched"/>.</summary>
public enum GlueSplit
{
    Train,
    Dev,
    Test,
}

/// <summary>Options of <see cref="GlueReader"/>.</summary>
public sealed class GlueReadOptions
{
    /// <summary>
    /// Skip rows with the wrong number of columns (they are listed in <see cref="TaskDataset.Skipped"/> with their line)
    /// instead of throwing. Default false: the first malformed row throws a <see cref="DataFormatException"/>.
    /// </summary>
    public bool SkipBadRows { get; init; }
}

/// <summary>
/// Reads the official GLUE TSV files (as written by <c>download_glue_data.py</c>) of all GLUE tasks.
/// </summary>
/// <remarks>
/// <para>GLUE TSVs are not CSV-quoted: fields are split on tabs only and quote characters are ordinary text (Python
/// <c>csv.reader(delimiter="\t", quotechar=None)</c>, as HF's <c>DataProcessor._read_tsv</c>). Lines may end in
/// <c>\n</c>, <c>\r\n</c> or <c>\r</c>; a UTF-8 byte-order mark is ignored; empty lines are skipped and reported.</para>
/// <para>Every row must have exactly as many tab-separated fields as the header (CoLA train/dev: 4); otherwise a
/// <see cref="DataFormatException"/> names file, line and the first missing or extra column, unless
/// <see cref="GlueReadOptions.SkipBadRows"/>.</para>
/// <para>Layouts (columns are found by header name, so extra columns such as MNLI's label1..label5 are allowed):</para>
/// <list type="table">
/// <item><term>CoLA</term><description>train/dev: no header, 4 columns (source, label, original label mark, sentence); test: header
/// <c>index	sentence</c> (<c>id</c> accepted for the index).</description></item>
/// <item><term>SST-2</term><description><c>sentence	label</c>; test <c>index	sentence</c>.</description></item>
/// <item><term>MRPC</term><description><c>Quality	#1 ID	#2 ID	#1 String	#2 String</c>; test <c>index	#1 ID	#2 ID	#1 String	#2
/// String</c>.</description></item>
/// <item><term>STS-B</term><description><c>index genre filename year old_index source1 source2 sentence1 sentence2 score</c>; test without
/// <c>score</c>.</description></item>
/// <item><term>QQP</term><description><c>id qid1 qid2 question1 question2 is_duplicate</c>; test <c>id question1 question2</c>.</description></item>
/// <item><term>MNLI</term><description><c>index promptID pairID genre sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse
/// sentence1 sentence2</c> then <c>label1 gold_label</c> (train) or <c>label1..label5 gold_label</c> (dev); test stops after <c>sentence2</c>. Files
/// train.tsv, dev_matched.tsv, dev_mismatched.tsv, test_matched.tsv, test_mismatched.tsv.</description></item>
/// <item><term>QNLI</term><description><c>index question sentence label</c>; test without label.</description></item>
/// <item><term>RTE, WNLI</term><description><c>index sentence1 sentence2 label</c>; test without label.</description></item>
/// <item><term>AX</term><description>test only (AX.tsv or diagnostic.tsv): <c>index sentence1 sentence2</c>.</description></item>
/// </list>
/// <para>Example ids are the file's index column (<c>index</c>, or <c>id</c> for QQP) when it has one, else the 0-based
/// row number. Labels are validated against the task's labels (unknown → <see cref="DataFormatException"/>).</para>
/// </remarks>
public static class GlueReader
{
    private sealed record Layout(string[]? FixedColumns, string Text, string? Pair, string? Label, string[] IndexNames);

    /// <summary>Loads one split from a task directory (e.g. <c>glue_data/MNLI</c>; MNLI-mm uses the MNLI directory).</summary>
    /// <exception cref="FileNotFoundException">The split's file is not in <paramref name="taskDirectory"/>.</exception>
    /// <exception cref="DataFormatException">A malformed row, header or label.</exception>
    public static TaskDataset Load(TaskDefinition task, string taskDirectory, GlueSplit split, GlueReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(taskDirectory);
        var candidates = FileNames(task, split).Select(f => Path.Combine(taskDirectory, f)).ToArray();
        string? path = candidates.FirstOrDefault(File.Exists);
        if (path is null)
            throw new FileNotFoundException($"GLUE {task.Name} {split} file not found: looked " +
                $"for {string.Join(", ", candidates.Select(c => $"'{c}'"))}.", candidates[0]);
        return ReadFile(task, path, labelled: split != GlueSplit.Test, options);
    }

    /// <summary>File name(s) of a split, in the order <see cref="Load"/> looks for them.</summary>
    public static IReadOnlyList<string> FileNames(TaskDefinition task, GlueSplit split)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task == GlueTasks.Ax)
            return split == GlueSplit.Test ? ["AX.tsv", "diagnostic.tsv"] : throw new ArgumentException(
                "AX (the GLUE diagnostic) only has a test split.", nameof(split));
        bool mnli = task == GlueTasks.Mnli, mm = task == GlueTasks.MnliMismatched;
        return split switch
        {
            GlueSplit.Train => ["train.tsv"],
            GlueSplit.Dev => [mnli ? "dev_matched.tsv" : mm ? "dev_mismatched.tsv" : "dev.tsv"],
            GlueSplit.Test => [mnli ? "test_matched.tsv" : mm ? "test_mismatched.tsv" : "test.tsv"],
            _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
        };
    }

    /// <summary>Reads a GLUE file of <paramref name="task"/>; <paramref name="labelled"/> is false for test files (no label, index column
    /// required).</summary>
    public static TaskDataset ReadFile(TaskDefinition task, string path, bool labelled, GlueReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(path);
        var raw = ReadRaw(task, path, labelled, options ?? new GlueReadOptions());
        return TaskDataset.FromRaw(task, raw, options?.SkipBadRows ?? false);
    }

    private static Layout GetLayout(TaskDefinition task, bool labelled)
    {
        string[] index = ["index"];
        Layout L(string text, string? pair, string label) => new(null, text, pair, labelled ? label : null, index);
        return task.Name switch
        {
            "CoLA" => labelled
                ? new Layout(["source", "label", "original_label", "sentence"], "sentence", null, "label", [])
                : new Layout(null, "sentence", null, null, ["index", "id"]),
            "SST-2" => L("sentence", null, "label"),
            "MRPC" => L("#1 String", "#2 String", "Quality"),
            "STS-B" => L("sentence1", "sentence2", "score"),
            "QQP" => new Layout(null, "question1", "question2", labelled ? "is_duplicate" : null, ["id"]),
            "MNLI" or "MNLI-mm" => L("sentence1", "sentence2", "gold_label"),
            "AX" => labelled ? throw new ArgumentException("AX (the GLUE diagnostic) only has an unlabelled test file.")
                : L("sentence1", "sentence2", "label"),
            "QNLI" => L("question", "sentence", "label"),
            "RTE" or "WNLI" => L("sentence1", "sentence2", "label"),
            _ => throw new ArgumentException($"'{task.Name}' is not a GLUE task; read user data with UserDataReader.", nameof(task)),
        };
    }

    private static RawDataset ReadRaw(TaskDefinition task, string path, bool labelled, GlueReadOptions options)
    {
        var layout = GetLayout(task, labelled);
        var rows = new List<RawExample>();
        var skipped = new List<SkippedRow>();
        string[]? columns = layout.FixedColumns;
        int textIdx = -1, pairIdx = -1, labelIdx = -1, indexIdx = -1;

        void Resolve(int headerLine)
        {
            int Find(string name, bool required)
            {
                int i = Array.IndexOf(columns!, name);
                if (i < 0 && required)
                    throw new DataFormatException(path, headerLine, 0, name,
                        $"the {task.Name} {(labelled ? "train/dev" : "test")} header has no column '{name}' " +
                        $"(found: {string.Join(", ", columns!.Select(c => $"'{c}'"))}); is this the right file?");
                return i;
            }
            textIdx = Find(layout.Text, true);
            if (layout.Pair is not null) pairIdx = Find(layout.Pair, true);
            if (layout.Label is not null) labelIdx = Find(layout.Label, true);
            foreach (string n in layout.IndexNames) if ((indexIdx = Find(n, false)) >= 0) break;
            if (!labelled && indexIdx < 0)
                throw new DataFormatException(path, headerLine, 0, layout.IndexNames[0],
                    $"the {task.Name} test header has no index column ('{string.Join("' or '", layout.IndexNames)}').");
        }

        if (columns is not null) Resolve(0);

        var sanitizer = new MobileBert.Text.TextSanitizer();
        foreach (var (lineNo, line) in MobileBert.Text.LineReader.ReadFile(path, sanitizer))
        {
            if (line.Length == 0) { skipped.Add(new SkippedRow(lineNo, "empty line")); continue; }
            string[] fields = line.Split('\t');
            if (columns is null)
            {
                columns = fields.Select(f => f.Trim()).ToArray();
                Resolve(lineNo);
                continue;
            }
            if (fields.Length != columns.Length)
            {
                int col = Math.Min(fields.Length, columns.Length) + 1;
                string detail = fields.Length < columns.Length
                    ? $"expected {columns.Length} tab-separated columns, found {fields.Length} (column {col} '{columns[col - 1]}' is missing)."
                    : $"expected {columns.Length} tab-separated columns, found {fields.Length} (unexpected column {col}).";
                if (!options.SkipBadRows) throw new DataFormatException(path, lineNo, col, null, detail);
                skipped.Add(new SkippedRow(lineNo, detail));
                continue;
            }
            string id = indexIdx >= 0 ? fields[indexIdx] : rows.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            rows.Add(new RawExample(id, fields[textIdx], pairIdx >= 0 ? fields[pairIdx] : null, labelIdx >= 0 ? fields[labelIdx] : null, lineNo));
        }

        if (columns is null) throw new DataFormatException(path, 1, 0, null, $"the {task.Name} file is empty (no header line).");
        return new RawDataset(path, rows, skipped, layout.Text, layout.Pair, layout.Label, labelIdx + 1) { Replaced = sanitizer.Replaced };
    }

}
