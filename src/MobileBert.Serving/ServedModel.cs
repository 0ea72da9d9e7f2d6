using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Text;

namespace MobileBert.Serving;

/// <summary>One loaded model: its name, task, folder and the batched predictor that serves it.</summary>
public sealed class ServedModel
{
    internal ServedModel(string name, string directory, ModelTask task, BatchedClassifier? classifier, BatchedQuestionAnswerer? answerer)
    {
        Name = name; Directory = directory; Task = task; Classifier = classifier; QuestionAnswerer = answerer;
    }

    public string Name { get; }
    public string Directory { get; }
    public ModelTask Task { get; }
    public BatchedClassifier? Classifier { get; }
    public BatchedQuestionAnswerer? QuestionAnswerer { get; }
    public MobileBertModel Model => Classifier?.Classifier.Model ?? QuestionAnswerer!.Answerer.Model;
    public WordPieceTokenizer Tokenizer => Classifier?.Tokenizer ?? QuestionAnswerer!.Tokenizer;
    public int MaxSeqLength => Classifier?.MaxSeqLength ?? QuestionAnswerer!.MaxSeqLength;
    /// <summary>Whether the engine runs int8 weights (a folder written by `mobilebert quantize`).</summary>
    public bool IsQuantized => Classifier?.Classifier.IsQuantized ?? false;

    /// <summary>The task a folder serves: task.json's kind, else config.json's architectures (…ForQuestionAnswering), else classification.</summary>
    public static ModelTask DetectTask(string directory)
    {
        if (File.Exists(Path.Combine(directory, TaskInfo.FileName)))
            return TaskInfo.Load(directory).Kind switch
            {
                TaskInfoKind.QuestionAnswering => ModelTask.QuestionAnswering,
                TaskInfoKind.Regression => ModelTask.Regression,
                _ => ModelTask.Classification,
            };
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{configPath}: missing (not a model folder).", configPath);
        var config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject;
        bool qa = config?["architectures"] is JsonArray a && a.Any(x => x?.GetValue<string>().EndsWith("ForQuestionAnswering", StringComparison.Ordinal) == true);
        if (qa) return ModelTask.QuestionAnswering;
        return config?["problem_type"]?.GetValue<string>() == "regression" ? ModelTask.Regression : ModelTask.Classification;
    }

    /// <summary>Task name in the API: classification, regression, question-answering.</summary>
    public static string TaskName(ModelTask task) => task switch
    {
        ModelTask.QuestionAnswering => "question-answering",
        ModelTask.Regression => "regression",
        _ => "classification",
    };
}

/// <summary>A model folder could not be served; the message names the model, its folder and the reason.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
