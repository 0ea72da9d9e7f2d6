using System.Globalization;
using System.Text;

namespace MobileBert.Tasks.Classification;

/// <summary>
/// Writes test-set predictions in the GLUE server's submission format: a header line <c>index	prediction</c>, then one
/// <c>index	prediction</c> line per test example (LF line endings, UTF-8 without BOM), in a file named as the server
/// expects (<see cref="TaskDefinition.SubmissionFileName"/>: CoLA.tsv, SST-2.tsv, MRPC.tsv, STS-B.tsv, QQP.tsv,
/// MNLI-m.tsv, MNLI-mm.tsv, QNLI.tsv, RTE.tsv, WNLI.tsv, AX.tsv).
/// </summary>
/// <remarks>
/// Classification predictions are written as the task's label strings: "0"/"1" for CoLA, SST-2, MRPC, QQP, WNLI;
/// "entailment"/"not_entailment" for QNLI and RTE; "contradiction"/"entailment"/"neutral" for MNLI and AX. STS-B
/// scores are clipped to [0, 5] and written with three decimals (invariant culture). The server pairs
/// predictions with examples by the index column, which comes from the test file's index (or QQP id) column.
/// </remarks>
public static class GlueSubmission
{
    /// <summary>The header line.</summary>
    public const string Header = "index\tprediction";

    /// <summary>Writes class predictions (label ids) for the examples of a GLUE test set; returns the file path.</summary>
    public static string Write(string directory, TaskDataset testSet, IReadOnlyList<int> predictedLabelIds)
    {
        ArgumentNullException.ThrowIfNull(testSet);
        return Write(directory, testSet.Task, testSet.Examples.Select(e => e.Id).ToArray(), predictedLabelIds);
    }

    /// <summary>Writes regression predictions (STS-B) for the examples of a GLUE test set; returns the file path.</summary>
    public static string Write(string directory, TaskDataset testSet, IReadOnlyList<float> predictedScores)
    {
        ArgumentNullException.ThrowIfNull(testSet);
        return Write(directory, testSet.Task, testSet.Examples.Select(e => e.Id).ToArray(), predictedScores);
    }

    /// <summary>Writes class predictions with explicit indices; returns the file path.</summary>
    public static string Write(string directory, TaskDefinition task, IReadOnlyList<string> indices, IReadOnlyList<int> predictedLabelIds) =>
        WriteFile(directory, task, Format(task, indices, predictedLabelIds));

    /// <summary>Writes regression predictions with explicit indices; returns the file path.</summary>
    public static string Write(string directory, TaskDefinition task, IReadOnlyList<string> indices, IReadOnlyList<float> predictedScores) =>
        WriteFile(directory, task, Format(task, indices, predictedScores));

    /// <summary>The file content for class predictions.</summary>
    public static string Format(TaskDefinition task, IReadOnlyList<string> indices, IReadOnlyList<int> predictedLabelIds)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Kind != TaskKind.SingleLabelClassification) throw new ArgumentException(
            $"Task '{task.Name}' is a regression task; pass scores.", nameof(task));
        return Build(indices, predictedLabelIds, task.IdToLabel);
    }

    /// <summary>The file content for regression predictions.</summary>
    public static string Format(TaskDefinition task, IReadOnlyList<string> indices, IReadOnlyList<float> predictedScores)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Kind != TaskKind.Regression) throw new ArgumentException($"Task '{task.Name}' is a classification task; pass label ids.",
            nameof(task));
        return Build(indices, predictedScores, v => float.IsFinite(v)
            ? Math.Clamp(v, 0f, 5f).ToString("0.000", CultureInfo.InvariantCulture)
            : throw new ArgumentException($"Prediction {v} is not finite."));
    }

    private static string Build<T>(IReadOnlyList<string> indices, IReadOnlyList<T> predictions, Func<T, string> format)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(predictions);
        if (indices.Count != predictions.Count) throw new ArgumentException(
            $"{indices.Count} indices but {predictions.Count} predictions.", nameof(predictions));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var sb = new StringBuilder(Header).Append('\n');
        for (int i = 0; i < indices.Count; i++)
        {
            string idx = indices[i];
            if (string.IsNullOrEmpty(idx) || idx.Contains('\t') || idx.Contains('\n')) throw new ArgumentException(
                $"Index {i} ('{idx}') is empty or contains a tab/newline.", nameof(indices));
            if (!seen.Add(idx)) throw new ArgumentException($"Duplicate index '{idx}'.", nameof(indices));
            sb.Append(idx).Append('\t').Append(format(predictions[i])).Append('\n');
        }
        return sb.ToString();
    }

    private static string WriteFile(string directory, TaskDefinition task, string content)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string name = task.SubmissionFileName ?? throw new ArgumentException(
            $"Task '{task.Name}' is not a GLUE task (no submission file name).", nameof(task));
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }
}
