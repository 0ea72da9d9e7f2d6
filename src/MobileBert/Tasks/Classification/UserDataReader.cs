using System.Globalization;
using System.Text;
using System.Text.Json;
using MobileBert.Text;

namespace MobileBert.Tasks.Classification;

/// <summary>File format of user data.</summary>
public enum UserDataFormat
{
    /// <summary>From the extension: .csv, .tsv/.tab, .jsonl/.ndjson, .json.</summary>
    Auto,
    Csv,
    Tsv,
    /// <summary>One JSON object per line.</summary>
    JsonLines,
    /// <summary>A JSON array of objects.</summary>
    JsonArray,
}

/// <summary>A column chosen by header name or by 0-based position (positions are for delimited files only).</summary>
public readonly record struct ColumnRef
{
    private ColumnRef(string? name, int index) { Name = name; Index = index; }

    /// <summary>Column name (header or JSON field), or null when chosen by position.</summary>
    public string? Name { get; }

    /// <summary>0-based column position when <see cref="Name"/> is null.</summary>
    public int Index { get; }

    public static ColumnRef ByName(string name) => new(name ?? throw new ArgumentNullException(nameof(name)), -1);

    public static ColumnRef ByIndex(int index) =>
        index >= 0 ? new(null, index) : throw new ArgumentOutOfRangeException(nameof(index), index, "Column positions are 0-based and non-negative.");

    public static implicit operator ColumnRef(string name) => ByName(name);
    public static implicit operator ColumnRef(int index) => ByIndex(index);

    public override string ToString() => Name ?? $"#{Index}";
}

/// <summary>How <see cref="UserDataReader"/> reads a file.</summary>
public sealed class UserDataOptions
{
    public UserDataFormat Format { get; init; } = UserDataFormat.Auto;

    /// <summary>Field delimiter; default ',' for CSV and '\t' for TSV.</summary>
    public char? Delimiter { get; init; }

    /// <summary>Quote character for delimited files (RFC 4180; default '"'). Null disables quoting (plain split, as GLUE TSVs).</summary>
    public char? Quote { get; init; } = '"';

    /// <summary>Whether the first record of a delimited file is a header (default true). Without a header, choose columns by position.</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>First text column (default "text").</summary>
    public ColumnRef Text { get; init; } = "text";

    /// <summary>Second text column for sentence pairs; null for single sentences.</summary>
    public ColumnRef? TextPair { get; init; }

    /// <summary>Label column (default "label"); null for unlabelled data (e.g. a test set).</summary>
    public ColumnRef? Label { get; init; } = "label";

    /// <summary>Optional id column; without it ids are the 0-based row numbers of kept rows.</summary>
    public ColumnRef? Id { get; init; }

    /// <summary>Skip malformed records (wrong field count, non-object JSON entries, bad JSON lines) and list them in
    /// <see cref="RawDataset.Skipped"/> instead of throwing.</summary>
    public bool SkipBadRows { get; init; }
}

/// <summary>
/// Reads user data for classification / regression from CSV, TSV, JSON Lines or a JSON array.
/// </summary>
/// <remarks>
/// <para>Rows whose text (or text pair) is empty or missing, or — when a label column is configured — whose label is
/// null, missing or empty, are not returned; each is listed in <see cref="RawDataset.Skipped"/> with its line and the
/// reason. Nothing is dropped silently.</para>
/// <para>JSON values are converted to strings: strings as-is, numbers by their JSON text (so <c>"class": 1</c> is label
/// "1"), booleans as "true"/"false". Objects and arrays as values are errors. Line numbers in JSON arrays are the
/// lines where each entry starts.</para>
/// <para>Typical use: read train, infer the task with <see cref="TaskDefinition.InferClassification"/> (or build one),
/// then <see cref="TaskDataset.FromRaw"/> train and dev; an unknown dev label is a <see cref="DataFormatException"/>.</para>
/// </remarks>
public static class UserDataReader
{
    /// <summary>Reads a file into raw rows (labels as written).</summary>
    /// <exception cref="DataFormatException">Malformed content, naming file, line and column.</exception>
    /// <exception cref="ArgumentException">Bad options (e.g. an unknown column name, a position used with JSON).</exception>
    public static RawDataset Read(string path, UserDataOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new UserDataOptions();
        if (!File.Exists(path)) throw new FileNotFoundException($"Data file not found: '{path}'.", path);
        var format = options.Format == UserDataFormat.Auto ? FormatFromExtension(path) : options.Format;
        var sanitizer = new TextSanitizer();
        var raw = format switch
        {
            UserDataFormat.Csv => ReadDelimited(path, options, options.Delimiter ?? ',', sanitizer),
            UserDataFormat.Tsv => ReadDelimited(path, options, options.Delimiter ?? '\t', sanitizer),
            UserDataFormat.JsonLines => ReadJsonLines(path, options, sanitizer),
            UserDataFormat.JsonArray => ReadJsonArray(path, options, sanitizer),
            _ => throw new ArgumentOutOfRangeException(nameof(options), format, "Unknown format."),
        };
        return raw with { Replaced = sanitizer.Replaced };
    }

    /// <summary>Reads a file and resolves its labels against <paramref name="task"/> (columns from <paramref name="options"/>).</summary>
    public static TaskDataset Load(TaskDefinition task, string path, UserDataOptions? options = null) =>
        TaskDataset.FromRaw(task, Read(path, options), options?.SkipBadRows ?? false);

    /// <summary>
    /// Reads a training file (and optionally a dev file) of a classification task whose labels are inferred from the
    /// training file in <paramref name="order"/>. Dev labels not seen in training throw <see cref="DataFormatException"/>.
    /// </summary>
    public static (TaskDefinition Task, TaskDataset Train, TaskDataset? Dev) LoadClassification(string name, string trainPath, string? devPath = null,
        UserDataOptions? options = null, LabelOrder order = LabelOrder.Sorted)
    {
        var rawTrain = Read(trainPath, options);
        if (!rawTrain.HasLabels) throw new ArgumentException("Inferring a label set needs a label column.", nameof(options));
        var task = TaskDefinition.InferClassification(name, rawTrain, order);
        return (task, TaskDataset.FromRaw(task, rawTrain, options?.SkipBadRows ?? false),
            devPath is null ? null : TaskDataset.FromRaw(task, Read(devPath, options), options?.SkipBadRows ?? false));
    }

    /// <summary>Reads train (and dev) of a regression task; labels must be numbers.</summary>
    public static (TaskDefinition Task, TaskDataset Train, TaskDataset? Dev) LoadRegression(string name, string trainPath, string? devPath = null,
        UserDataOptions? options = null)
    {
        var rawTrain = Read(trainPath, options);
        if (!rawTrain.HasLabels) throw new ArgumentException("A regression training file needs a label column.", nameof(options));
        var task = TaskDefinition.Regression(name, rawTrain.TextColumn, rawTrain.TextPairColumn, rawTrain.LabelColumn!);
        return (task, TaskDataset.FromRaw(task, rawTrain, options?.SkipBadRows ?? false),
            devPath is null ? null : TaskDataset.FromRaw(task, Read(devPath, options), options?.SkipBadRows ?? false));
    }

    private static UserDataFormat FormatFromExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => UserDataFormat.Csv,
        ".tsv" or ".tab" => UserDataFormat.Tsv,
        ".jsonl" or ".ndjson" => UserDataFormat.JsonLines,
        ".json" => UserDataFormat.JsonArray,
        var ext => throw new ArgumentException($"Cannot tell the format of '{path}' from its extension '{ext}'; set UserDataOptions.Format."),
    };

    // ---------------------------------------------------------------- delimited

    private static RawDataset ReadDelimited(string path, UserDataOptions o, char delimiter, TextSanitizer sanitizer)
    {
        using var reader = sanitizer.Reader(path);
        var parser = new DelimitedParser(reader, path, delimiter, o.Quote);
        var rows = new List<RawExample>();
        var skipped = new List<SkippedRow>();
        string[]? header = null;
        int width = -1;
        int textIdx = -1, pairIdx = -1, labelIdx = -1, idIdx = -1;

        void Resolve(int line)
        {
            int Find(ColumnRef c, string role)
            {
                if (c.Name is not null)
                {
                    if (header is null) throw new ArgumentException($"The {role} column is chosen by name ('{c.Name}') but HasHeader is false; use " +
                        $"a 0-based position.");
                    int i = Array.IndexOf(header, c.Name);
                    if (i < 0) throw new DataFormatException(path, line, 0, c.Name,
                        $"the header has no {role} column '{c.Name}' (found: {string.Join(", ", header.Select(h => $"'{h}'"))}).");
                    return i;
                }
                if (c.Index >= width) throw new DataFormatException(path, line, 0, null,
                    $"the {role} column position {c.Index} is beyond the {width} columns of the first record.");
                return c.Index;
            }
            textIdx = Find(o.Text, "text");
            if (o.TextPair is ColumnRef p) pairIdx = Find(p, "text-pair");
            if (o.Label is ColumnRef l) labelIdx = Find(l, "label");
            if (o.Id is ColumnRef i) idIdx = Find(i, "id");
        }

        while (parser.Next() is { } record)
        {
            var (line, fields) = record;
            if (fields.Count == 1 && fields[0].Length == 0 && width != 1)
            {
                skipped.Add(new SkippedRow(line, "empty line"));
                continue;
            }
            if (width < 0)
            {
                width = fields.Count;
                if (o.HasHeader) { header = fields.Select(f => f.Trim()).ToArray(); Resolve(line); continue; }
                Resolve(line);
            }
            if (fields.Count != width)
            {
                int col = Math.Min(fields.Count, width) + 1;
                string detail = $"expected {width} fields, found {fields.Count} ("
                    + (fields.Count < width ? $"field {col} is missing)." : $"unexpected field {col}).");
                if (!o.SkipBadRows) throw new DataFormatException(path, line, col, null, detail);
                skipped.Add(new SkippedRow(line, detail));
                continue;
            }
            AddRow(rows, skipped, line, fields[textIdx], pairIdx >= 0 ? fields[pairIdx] : null, pairIdx >= 0,
                labelIdx >= 0 ? fields[labelIdx] : null, labelIdx >= 0, idIdx >= 0 ? fields[idIdx] : null);
        }
        if (width < 0) throw new DataFormatException(path, 1, 0, null, "the file is empty.");

        string Name(ColumnRef c, int idx) => c.Name ?? (header is not null ? header[idx] : $"#{idx}");
        return new RawDataset(path, rows, skipped, Name(o.Text, textIdx), o.TextPair is ColumnRef tp ? Name(tp, pairIdx) : null,
            o.Label is ColumnRef lc ? Name(lc, labelIdx) : null, labelIdx + 1);
    }

    private static void AddRow(List<RawExample> rows, List<SkippedRow> skipped, int line, string? text, string? pair, bool wantPair,
        string? label, bool wantLabel, string? id)
    {
        if (string.IsNullOrWhiteSpace(text)) { skipped.Add(new SkippedRow(line, text is null ? "missing text" : "empty text")); return; }
        if (wantPair && string.IsNullOrWhiteSpace(pair)) { skipped.Add(new SkippedRow(line, pair is null ? "missing text pair" : "empty text pair"));
            return; }
        if (wantLabel && string.IsNullOrWhiteSpace(label)) { skipped.Add(new SkippedRow(
            line, label is null ? "missing or null label" : "empty label")); return; }
        rows.Add(new RawExample(id ?? rows.Count.ToString(CultureInfo.InvariantCulture), text, wantPair ? pair : null,
            wantLabel ? label!.Trim() : null, line));
    }

    // ---------------------------------------------------------------- JSON

    private static string FieldName(ColumnRef c, string role) =>
        c.Name ?? throw new ArgumentException($"JSON fields are chosen by name; the {role} column is a position ({c.Index}).");

    private static RawDataset ReadJsonLines(string path, UserDataOptions o, TextSanitizer sanitizer)
    {
        var rows = new List<RawExample>();
        var skipped = new List<SkippedRow>();
        foreach (var (line, text) in LineReader.ReadFile(path, sanitizer))
        {
            if (string.IsNullOrWhiteSpace(text)) { skipped.Add(new SkippedRow(line, "empty line")); continue; }
            JsonDocument doc;
            try { doc = sanitizer.ParseJson(text); }
            catch (JsonException ex)
            {
                string detail = $"invalid JSON: {JsonKinds.Problem(ex)}";
                if (!o.SkipBadRows) throw new DataFormatException(path, line, 0, null, detail);
                skipped.Add(new SkippedRow(line, detail));
                continue;
            }
            using (doc) AddJsonRow(path, o, rows, skipped, line, doc.RootElement);
        }
        return JsonResult(path, o, rows, skipped);
    }

    private static RawDataset ReadJsonArray(string path, UserDataOptions o, TextSanitizer sanitizer)
    {
        // Decoded and re-encoded with the U+FFFD policy: the JSON reader then never meets invalid UTF-8 or lone surrogates.
        byte[] bytes = Encoding.UTF8.GetBytes(sanitizer.CleanJson(sanitizer.ReadAllText(path)));
        var memory = bytes.AsMemory();
        var span = memory.Span;
        var rows = new List<RawExample>();
        var skipped = new List<SkippedRow>();
        var reader = new Utf8JsonReader(span, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        int line = 1; long counted = 0;
        int LineAt(long offset)
        {
            line += memory.Span[(int)counted..(int)offset].Count((byte)'\n');
            counted = offset;
            return line;
        }
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                throw new DataFormatException(path, LineAt(reader.TokenStartIndex), 0, null,
                    "expected a JSON array of objects (use .jsonl / UserDataFormat.JsonLines for one object per line).");
            int entry = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int entryLine = LineAt(reader.TokenStartIndex);
                entry++;
                using var doc = JsonDocument.ParseValue(ref reader);
                int before = skipped.Count;
                AddJsonRow(path, o, rows, skipped, entryLine, doc.RootElement);
                if (skipped.Count > before) skipped[^1] = skipped[^1] with { Entry = entry };
            }
        }
        catch (JsonException ex)
        {
            throw new DataFormatException(path, (int)(ex.LineNumber ?? 0) + 1, 0, null, $"invalid JSON: {JsonKinds.Problem(ex)}");
        }
        return JsonResult(path, o, rows, skipped);
    }

    private static RawDataset JsonResult(string path, UserDataOptions o, List<RawExample> rows, List<SkippedRow> skipped) =>
        new(path, rows, skipped, FieldName(o.Text, "text"), o.TextPair is ColumnRef p ? FieldName(p, "text-pair") : null,
            o.Label is ColumnRef l ? FieldName(l, "label") : null, 0);

    private static void AddJsonRow(string path, UserDataOptions o, List<RawExample> rows, List<SkippedRow> skipped, int line, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            string detail = $"expected a JSON object, found {e.ValueKind}.";
            if (!o.SkipBadRows) throw new DataFormatException(path, line, 0, null, detail);
            skipped.Add(new SkippedRow(line, detail));
            return;
        }
        string? Get(ColumnRef? c, string role)
        {
            if (c is not ColumnRef col) return null;
            string name = FieldName(col, role);
            if (!e.TryGetProperty(name, out var v)) return null;
            return v.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number => v.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => throw new DataFormatException(path, line, 0, name, $"the {role} value is a JSON {v.ValueKind}, not a string, number or " +
                    $"boolean."),
            };
        }
        AddRow(rows, skipped, line, Get(o.Text, "text"), Get(o.TextPair, "text-pair"), o.TextPair is not null,
            Get(o.Label, "label"), o.Label is not null, Get(o.Id, "id"));
    }
}
