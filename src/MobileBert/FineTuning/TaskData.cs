using MobileBert.Tasks.Classification;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>How task files are read (the CLI's --text-column/--pair-column/--label-column/--regression/--skip-bad-rows).</summary>
public sealed record TaskDataOptions
{
    public string? TextColumn { get; init; }
    public string? PairColumn { get; init; }
    public string? LabelColumn { get; init; }
    public string? IdColumn { get; init; }
    /// <summary>Name of a generic task (default: the training file's name, or its folder's when the file is train.*).</summary>
    public string? TaskName { get; init; }
    /// <summary>Generic tasks: the label is a real-valued score (MSE loss, correlation metrics).</summary>
    public bool Regression { get; init; }
    /// <summary>Skip (and count, and report) malformed rows instead of stopping at the first one.</summary>
    public bool SkipBadRows { get; init; }
}

/// <summary>Training (and dev) data of a sequence task, with the task definition.</summary>
public sealed record SequenceTaskData(string TaskName, TaskDefinition Definition, TaskDataset Train, TaskDataset? Dev);

/// <summary>Reads task files for fine-tuning and evaluation: GLUE TSVs, generic CSV/TSV/JSONL/JSON, SQuAD JSON.</summary>
public static class TaskData
{
    /// <summary>Every task name the CLI accepts.</summary>
    public static IReadOnlyList<string> TaskNames { get; } = ["sst2", "cola", "mrpc", "stsb", "qqp", "mnli", "mnli-mm", "qnli", "rte", "wnli",
        "squad1", "squad2", "csv", "jsonl"];

    public static string Normalize(string task)
    {
        string t = task.Trim().ToLowerInvariant();
        if (!TaskNames.Contains(t) && !TaskInfo.IsGeneric(t))
            throw new SettingException($"Task '{task}' is not one of {string.Join(", ", TaskNames)}.", "Task");
        return t;
    }

    /// <summary>Train (+ dev) of a GLUE or generic task. Generic classification labels are inferred from the training file (sorted).</summary>
    public static SequenceTaskData LoadSequenceTask(string task, string trainPath, string? devPath, TaskDataOptions? o = null)
    {
        o ??= new TaskDataOptions();
        task = Normalize(task);
        if (TaskInfo.IsSquad(task)) throw new ArgumentException($"'{task}' is a question-answering task.");
        if (TaskInfo.IsGlue(task))
        {
            var def = GlueTasks.Get(task);
            var ro = new GlueReadOptions { SkipBadRows = o.SkipBadRows };
            return new SequenceTaskData(task, def, GlueReader.ReadFile(def, trainPath, labelled: true, ro),
                devPath is null ? null : GlueReader.ReadFile(def, devPath, labelled: true, ro));
        }
        var rawTrain = UserDataReader.Read(trainPath, UserOptions(task, trainPath, o, labelled: true));
        string name = o.TaskName ?? Path.GetFileNameWithoutExtension(trainPath);
        if (o.TaskName is null && name.Equals("train", StringComparison.OrdinalIgnoreCase))
            name = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(trainPath))) is { Length: > 0 } parent ? parent : name;
        var d = o.Regression
            ? TaskDefinition.Regression(name, rawTrain.TextColumn, rawTrain.TextPairColumn, rawTrain.LabelColumn ?? "label")
            : TaskDefinition.InferClassification(name, rawTrain);
        var train = TaskDataset.FromRaw(d, rawTrain, o.SkipBadRows);
        var dev = devPath is null ? null : TaskDataset.FromRaw(d, UserDataReader.Read(devPath, UserOptions(task, devPath, o, labelled: true)),
            o.SkipBadRows);
        return new SequenceTaskData(task, d, train, dev);
    }

    /// <summary>A labelled (or, with <paramref name="labelled"/> false, unlabelled) file of a saved task, read with the task's columns.</summary>
    public static TaskDataset LoadForTask(TaskInfo info, string path, TaskDataOptions? o = null, bool labelled = true)
    {
        o ??= new TaskDataOptions();
        var def = info.ToDefinition();
        if (TaskInfo.IsGlue(info.Task)) return GlueReader.ReadFile(def, path, labelled, new GlueReadOptions { SkipBadRows = o.SkipBadRows });
        o = o with { TextColumn = o.TextColumn ?? info.TextColumn, PairColumn = o.PairColumn ?? info.PairColumn,
            LabelColumn = o.LabelColumn ?? info.LabelColumn };
        return TaskDataset.FromRaw(def, UserDataReader.Read(path, UserOptions(info.Task, path, o, labelled)), o.SkipBadRows);
    }

    static UserDataOptions UserOptions(string task, string path, TaskDataOptions o, bool labelled)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        var format = ext switch
        {
            ".csv" => UserDataFormat.Csv, ".tsv" or ".tab" => UserDataFormat.Tsv, ".json" => UserDataFormat.JsonArray,
            ".jsonl" or ".ndjson" => UserDataFormat.JsonLines,
            _ => task is "jsonl" or "json" ? UserDataFormat.JsonLines : task == "tsv" ? UserDataFormat.Tsv : UserDataFormat.Csv,
        };
        return new UserDataOptions
        {
            Format = format, Text = o.TextColumn ?? "text", TextPair = o.PairColumn is null ? (ColumnRef?)null : (ColumnRef)o.PairColumn,
            Label = labelled ? (ColumnRef)(o.LabelColumn ?? "label") : (ColumnRef?)null,
            Id = o.IdColumn is null ? (ColumnRef?)null : (ColumnRef)o.IdColumn, SkipBadRows = o.SkipBadRows,
        };
    }

    /// <summary>Reads a SQuAD file (v1.1 or v2.0). Unanswerable questions in a v1 task are an error naming the question.</summary>
    public static SquadDataset LoadSquad(string path, bool v2, bool skipBadRows = false)
    {
        var data = SquadReader.Read(path, new SquadReadOptions { SkipInconsistentAnswers = skipBadRows });
        if (!v2 && data.HasImpossible)
        {
            var e = data.Examples.First(x => !x.HasAnswer);
            throw new InvalidDataException($"{path}: question '{e.Id}' ({e.JsonPath}) has no answer; use the squad2 task for SQuAD v2.0 data.");
        }
        return data;
    }

    /// <summary>"SOURCE: N invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s) replaced with U+FFFD" (null when none).</summary>
    public static string? DescribeReplaced(string source, long replaced) => replaced == 0 ? null
        : $"{source}: {replaced} invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s) replaced with U+FFFD";

    /// <summary>One line describing the rows a reader skipped (empty text, missing label, malformed with --skip-bad-rows); "" when none.</summary>
    public static string DescribeSkipped(string source, IReadOnlyList<SkippedRow> skipped)
    {
        if (skipped.Count == 0) return "";
        var first = string.Join("; ", skipped.Take(3).Select(s => $"{s.Where}: {s.Reason}"));
        return $"{source}: {skipped.Count} row(s) skipped ({first}{(skipped.Count > 3 ? "; …" : "")})";
    }
}
