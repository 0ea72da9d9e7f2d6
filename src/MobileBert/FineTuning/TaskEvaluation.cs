using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>Result of <see cref="TaskEvaluation.Run"/>: metrics and the files written.</summary>
public sealed record TaskEvaluationResult(TaskInfo Task, EvalMetrics Metrics, int Examples, IReadOnlyList<string> Files, IReadOnlyList<string> Notes);

/// <summary>Evaluates a fine-tuned model folder on a labelled file of its task (what `mobilebert evaluate` runs).</summary>
public static class TaskEvaluation
{
    public const string MetricsFile = "metrics.json";
    static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Sequence tasks: metrics.json + predictions.jsonl (one line per example: id, line, predicted label with its
    /// probability and every label's probability, gold; regression: score, gold) — at <paramref name="predictionsPath"/>
    /// when given. SQuAD: metrics.json (official evaluate-v1.1/v2.0 output) + predictions.json + nbest_predictions.json
    /// (+ null_odds.json for v2).
    /// </summary>
    public static TaskEvaluationResult Run(string modelDir, string dataPath, string outDir, TaskDataOptions? dataOptions = null, int batchSize = 64,
        int threads = 0, string? task = null, string? predictionsPath = null)
    {
        var info = TaskInfo.Load(modelDir);
        if (task is not null && TaskData.Normalize(task) != info.Task)
            throw new SettingException($"Task {task} does not match the model's task '{info.Task}' ({Path.Combine(modelDir, TaskInfo.FileName)}).",
                "Task");
        var model = ModelFolder.Load(modelDir);
        if (threads > 0) model.Threads = threads;
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(modelDir, ModelFolder.VocabFile));
        Directory.CreateDirectory(outDir);
        var files = new List<string>(); var notes = new List<string>();
        EvalMetrics metrics; int n;
        if (info.Kind == TaskInfoKind.QuestionAnswering)
        {
            if (predictionsPath is not null)
                throw new SettingException($"PredictionsPath {predictionsPath}: a question-answering evaluation writes predictions.json and " +
                    $"nbest_predictions.json (with probabilities) to OutputDir.", "PredictionsPath", "OutputDir");
            var s = info.Squad!;
            var data = TaskData.LoadSquad(dataPath, s.VersionTwoWithNegative, dataOptions?.SkipBadRows ?? false);
            var features = new QaFeaturizer(tokenizer, new QaFeatureOptions { MaxSeqLength = info.MaxSeqLength, DocStride = s.DocStride,
                MaxQueryLength = s.MaxQueryLength }).CreateFeatures(data.Examples);
            var predictions = QaEvaluator.Predict(model, features, tokenizer.PadId, s, batchSize);
            metrics = QaEvaluator.Score(data, predictions, s.VersionTwoWithNegative);
            files.AddRange(predictions.WriteAll(outDir));
            n = data.Examples.Count;
            if (TaskData.DescribeReplaced(dataPath, data.Replaced) is { } rp) notes.Add(rp);
            if (data.SkippedAnswers.Count + data.SkippedQuestions.Count > 0)
                notes.Add($"{dataPath}: skipped {data.SkippedAnswers.Count} answer(s), {data.SkippedQuestions.Count} question(s)");
        }
        else
        {
            var data = TaskData.LoadForTask(info, dataPath, dataOptions);
            if (data.Skipped.Count > 0) notes.Add(TaskData.DescribeSkipped(dataPath, data.Skipped));
            if (TaskData.DescribeReplaced(dataPath, data.Replaced) is { } rp) notes.Add(rp);
            var feats = new Featurizer(tokenizer, info.MaxSeqLength).Featurize(data);
            if (feats.TruncatedCount > 0) notes.Add($"{feats.TruncatedCount} of {data.Count} examples truncated to {info.MaxSeqLength} tokens");
            var (m, logits) = SequenceEvaluator.Evaluate(model, feats, batchSize);
            metrics = m; n = data.Count;
            var def = data.Task;
            var sb = new StringBuilder();
            for (int i = 0; i < data.Count; i++)
            {
                var ex = data.Examples[i];
                var o = new JsonObject { ["id"] = ex.Id, ["line"] = ex.Line };
                if (def.Kind == TaskKind.Regression) { o["score"] = logits[i]; o["gold"] = ex.Target; }
                else
                {
                    int k = def.NumLabels, pred = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.AsSpan(i * k, k));
                    var p = SequenceEvaluator.Softmax(logits.AsSpan(i * k, k), k);
                    var probs = new JsonObject();
                    for (int j = 0; j < k; j++) probs[def.IdToLabel(j)] = p[j];
                    o["label"] = def.IdToLabel(pred); o["probability"] = p[pred]; o["probabilities"] = probs;
                    o["gold"] = ex.LabelId is int g ? def.IdToLabel(g) : null;
                }
                sb.Append(o.ToJsonString(Compact)).Append('\n');
            }
            string path = predictionsPath ?? Path.Combine(outDir, "predictions.jsonl");
            if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent) Directory.CreateDirectory(parent);
            File.WriteAllText(path, sb.ToString(), new UTF8Encoding(false));
            files.Add(path);
        }
        var json = new JsonObject { ["task"] = info.Task, ["data"] = Path.GetFullPath(dataPath), ["examples"] = n,
            ["main_metric"] = metrics.MainMetric };
        var values = new JsonObject();
        foreach (var (k, v) in metrics.Values) values[k] = double.IsFinite(v) ? v : null;
        json["metrics"] = values;
        string mp = Path.Combine(outDir, MetricsFile);
        File.WriteAllText(mp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        files.Insert(0, mp);
        return new TaskEvaluationResult(info, metrics, n, files, notes);
    }
}
