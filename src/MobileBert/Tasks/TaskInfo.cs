using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.Metrics;

namespace MobileBert.Tasks;

/// <summary>What a fine-tuned model folder does.</summary>
public enum TaskInfoKind { Classification, Regression, QuestionAnswering }

/// <summary>SQuAD settings saved with a question-answering model (HF run_qa.py arguments).</summary>
public sealed record SquadSettings
{
    public bool VersionTwoWithNegative { get; init; }
    public int DocStride { get; init; } = 128;
    public int MaxQueryLength { get; init; } = 64;
    public int MaxAnswerLength { get; init; } = 30;
    public int NBestSize { get; init; } = 20;
    /// <summary>v2: predict "" when null score − best non-null score exceeds this.</summary>
    public double NullScoreDiffThreshold { get; init; }
}

/// <summary>
/// <c>task.json</c> in a fine-tuned model folder: the task definition (name, kind, labels, columns, metrics) and the
/// input settings (max sequence length, SQuAD stride…) prediction must use. The label map is also in config.json
/// (<c>id2label</c>, <c>problem_type</c>) so HuggingFace can read the folder too.
/// </summary>
public sealed record TaskInfo
{
    public const string FileName = "task.json";

    /// <summary>CLI task name: sst2, cola, …, csv, jsonl, squad1, squad2.</summary>
    public required string Task { get; init; }
    /// <summary>Task definition name (GLUE spelling for GLUE tasks).</summary>
    public required string Name { get; init; }
    public required TaskInfoKind Kind { get; init; }
    /// <summary>Ordered labels (classification); empty otherwise.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>Binary classification: the label whose F1 the "f1" metric reports (the minority class of a user task's
    /// training labels, else label id 1); null otherwise.</summary>
    public string? PositiveLabel { get; init; }
    public string TextColumn { get; init; } = "text";
    public string? PairColumn { get; init; }
    public string LabelColumn { get; init; } = "label";
    public IReadOnlyList<string> Metrics { get; init; } = [];
    public required string MainMetric { get; init; }
    public int MaxSeqLength { get; init; } = 128;
    public SquadSettings? Squad { get; init; }

    public bool IsPair => PairColumn is not null;

    public static bool IsGlue(string task) =>
        task.ToLowerInvariant() is "sst2" or "cola" or "mrpc" or "stsb" or "qqp" or "mnli" or "mnli-mm" or "qnli" or "rte" or "wnli";
    public static bool IsSquad(string task) => task.ToLowerInvariant() is "squad1" or "squad2";
    public static bool IsGeneric(string task) => task.ToLowerInvariant() is "csv" or "jsonl" or "tsv" or "json";

    public static TaskInfo FromDefinition(string task, TaskDefinition def, int maxSeqLength) => new()
    {
        Task = task.ToLowerInvariant(), Name = def.Name,
        Kind = def.Kind == TaskKind.Regression ? TaskInfoKind.Regression : TaskInfoKind.Classification,
        Labels = def.Labels, PositiveLabel = def.Kind != TaskKind.Regression && def.Labels.Count == 2 ? def.Labels[def.PositiveLabelId] : null,
            TextColumn = def.TextColumn, PairColumn = def.TextPairColumn, LabelColumn = def.LabelColumn,
        Metrics = def.Metrics, MainMetric = def.MainMetric, MaxSeqLength = maxSeqLength,
    };

    public static TaskInfo ForSquad(bool v2, int maxSeqLength, SquadSettings settings) => new()
    {
        Task = v2 ? "squad2" : "squad1", Name = v2 ? "SQuAD v2.0" : "SQuAD v1.1", Kind = TaskInfoKind.QuestionAnswering,
        Metrics = v2 ? ["exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1"] : ["exact_match", "f1"],
        MainMetric = "f1", MaxSeqLength = maxSeqLength, Squad = settings with { VersionTwoWithNegative = v2 },
    };

    /// <summary>The task definition (GLUE tasks: the official one; user tasks: rebuilt from the saved labels/columns/metrics).</summary>
    public TaskDefinition ToDefinition()
    {
        if (Kind == TaskInfoKind.QuestionAnswering) throw new InvalidOperationException($"Task '{Task}' is question answering, not a sequence task.");
        if (IsGlue(Task)) return GlueTasks.Get(Task);
        return Kind == TaskInfoKind.Regression
            ? TaskDefinition.Regression(Name, TextColumn, PairColumn, LabelColumn, Metrics.Count > 0 ? Metrics : null, MainMetric)
            : TaskDefinition.Classification(Name, Labels, TextColumn, PairColumn, LabelColumn, Metrics.Count > 0 ? Metrics : null, MainMetric,
                PositiveLabelId);
    }

    /// <summary>Label id of <see cref="PositiveLabel"/> (1 when none is saved).</summary>
    public int PositiveLabelId => PositiveLabel is null ? 1 : Labels.ToList().IndexOf(PositiveLabel) is var i and >= 0 ? i
        : throw new InvalidDataException($"{FileName}: positive_label '{PositiveLabel}' is not one of the labels ({string.Join(", ", Labels)}).");

    /// <summary>"single_label_classification", "regression" or null (QA) — HF's config problem_type.</summary>
    public string? ProblemType => Kind switch
    {
        TaskInfoKind.Classification => "single_label_classification", TaskInfoKind.Regression => "regression", _ => null,
    };

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["task"] = Task, ["name"] = Name,
            ["kind"] = Kind switch
            {
                TaskInfoKind.Classification => "classification", TaskInfoKind.Regression => "regression", _ => "question_answering",
            },
            ["labels"] = new JsonArray(Labels.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray()),
            ["positive_label"] = PositiveLabel,
            ["text_column"] = TextColumn, ["pair_column"] = PairColumn, ["label_column"] = LabelColumn,
            ["metrics"] = new JsonArray(Metrics.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray()),
            ["main_metric"] = MainMetric, ["max_seq_length"] = MaxSeqLength,
        };
        if (Squad is { } s)
            o["squad"] = new JsonObject
            {
                ["version_2_with_negative"] = s.VersionTwoWithNegative, ["doc_stride"] = s.DocStride, ["max_query_length"] = s.MaxQueryLength,
                ["max_answer_length"] = s.MaxAnswerLength, ["n_best_size"] = s.NBestSize, ["null_score_diff_threshold"] = s.NullScoreDiffThreshold,
            };
        return o;
    }

    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, FileName), tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(tmp, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads DIR/task.json. Missing or malformed fields are an <see cref="InvalidDataException"/> naming the file and field.</summary>
    public static TaskInfo Load(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model folder does not exist.");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{dir}: not a fine-tuned model folder: it has no {FileName} (the task, labels and columns that " +
                "`mobilebert finetune` writes).", path);
        JsonObject o;
        var sanitizer = new MobileBert.Text.TextSanitizer();
        InvalidDataException Bad(string what) => new($"{path}: {what}");
        try { o = JsonNode.Parse(sanitizer.CleanJson(sanitizer.ReadAllText(path)))?.AsObject() ?? throw Bad("not a JSON object."); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { throw Bad($"invalid JSON: {e.Message}"); }
        string Str(string key) => o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad($"field '{key}' must be a string.");
        string? OptStr(string key) => o[key] is null ? null : Str(key);
        int Int(JsonObject obj, string key, int dflt) => obj[key] is null ? dflt
            : obj[key] is JsonValue v && v.TryGetValue(out int i) ? i : throw Bad($"field '{key}' must be an integer.");
        IReadOnlyList<string> List(string key) => o[key] is null ? [] : o[key] is JsonArray a
            ? a.Select(x => x is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad($"'{key}' must be an array of strings.")).ToArray()
            : throw Bad($"field '{key}' must be an array.");
        var kind = Str("kind") switch
        {
            "classification" => TaskInfoKind.Classification, "regression" => TaskInfoKind.Regression,
            "question_answering" => TaskInfoKind.QuestionAnswering,
            var k => throw Bad($"field 'kind' is '{k}'; expected classification, regression or question_answering."),
        };
        SquadSettings? squad = null;
        if (o["squad"] is JsonObject s)
            squad = new SquadSettings
            {
                VersionTwoWithNegative = s["version_2_with_negative"]?.GetValue<bool>() ?? false, DocStride = Int(s, "doc_stride", 128),
                MaxQueryLength = Int(s, "max_query_length", 64), MaxAnswerLength = Int(s, "max_answer_length", 30),
                NBestSize = Int(s, "n_best_size", 20), NullScoreDiffThreshold = s["null_score_diff_threshold"]?.GetValue<double>() ?? 0,
            };
        if (kind == TaskInfoKind.QuestionAnswering && squad is null) throw Bad("a question_answering task needs a 'squad' object.");
        return new TaskInfo
        {
            Task = Str("task"), Name = Str("name"), Kind = kind, Labels = List("labels"), PositiveLabel = OptStr("positive_label"),
                TextColumn = OptStr("text_column") ?? "text", PairColumn = OptStr("pair_column"),
            LabelColumn = OptStr("label_column") ?? "label", Metrics = List("metrics"), MainMetric = Str("main_metric"),
            MaxSeqLength = Int(o, "max_seq_length", 128), Squad = squad,
        };
    }
}
