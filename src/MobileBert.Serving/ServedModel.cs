using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Serving.Batching;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert.Serving;

/// <summary>One loaded model: its name, task, folder, config and the batched predictor that serves it.</summary>
public sealed class ServedModel
{
    internal ServedModel(ModelRegistration registration, ModelTask task, MobileBertConfig config, IBatchedModel predictor)
    {
        Name = registration.Name; Directory = registration.Directory; Task = task; Config = config; Predictor = predictor;
    }

    public string Name { get; }
    public string Directory { get; }
    public ModelTask Task { get; }
    /// <summary>config.json of the folder.</summary>
    public MobileBertConfig Config { get; }
    public IBatchedModel Predictor { get; }
    public BatchedClassifier? Classifier => Predictor as BatchedClassifier;
    public BatchedQuestionAnswerer? QuestionAnswerer => Predictor as BatchedQuestionAnswerer;
    public BatchedEmbedder? Embedder => Predictor as BatchedEmbedder;
    public BatchedMaskFiller? MaskFiller => Predictor as BatchedMaskFiller;
    public WordPieceTokenizer Tokenizer => Predictor.Tokenizer;
    public int MaxSeqLength => Predictor.MaxSeqLength;
    /// <summary>Whether the engine runs int8 weights (a folder written by `mobilebert quantize`).</summary>
    public bool IsQuantized => Predictor.IsQuantized;
    public BatcherStats Stats => Predictor.Stats;

    /// <summary>Loads the registration's folder as the predictor of its task (registered, else <see cref="DetectTask"/>).</summary>
    internal static ServedModel Load(ModelRegistration r, BatchingSettings settings, PredictorOptions predictor)
    {
        if (!System.IO.Directory.Exists(r.Directory)) throw new DirectoryNotFoundException("the folder does not exist.");
        var detected = DetectTask(r.Directory);
        var task = r.Task switch
        {
            null => detected,
            ModelTask.Classification when detected == ModelTask.Regression => detected,
            ModelTask.Classification or ModelTask.QuestionAnswering when r.Task != detected =>
                throw new ArgumentException($"registered as {TaskName(r.Task.Value)}, but the folder holds a {TaskName(detected)} model."),
            _ => r.Task.Value,   // any backbone embeds; fill-mask checks for the MLM head when it loads
        };
        var config = ConfigJson.Load(Path.Combine(r.Directory, "config.json"));
        IBatchedModel model = task switch
        {
            ModelTask.QuestionAnswering => new BatchedQuestionAnswerer(r.Name, MobileBert.QuestionAnswerer.Load(r.Directory, predictor), settings),
            ModelTask.Embedding => new BatchedEmbedder(r.Name, TextEmbedder.Load(r.Directory,
                new EmbedderOptions { Pooling = r.Pooling, Normalize = r.Normalize, Predictor = predictor }), settings),
            ModelTask.FillMask => new BatchedMaskFiller(r.Name, MobileBert.MaskFiller.Load(r.Directory, predictor), settings),
            _ => new BatchedClassifier(r.Name, TextClassifier.Load(r.Directory, predictor), settings),
        };
        return new ServedModel(r, task, config, model);
    }

    /// <summary>The task a folder serves: task.json's kind, else config.json's architectures (…ForQuestionAnswering,
    /// …ForSequenceClassification, …ForMaskedLM / …ForPreTraining → fill-mask), else embedding (a bare backbone).</summary>
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
        var architectures = config?["architectures"] is JsonArray a ? a.Select(x => x?.GetValue<string>() ?? "").ToArray() : [];
        bool Has(string suffix) => architectures.Any(x => x.EndsWith(suffix, StringComparison.Ordinal));
        if (Has("ForQuestionAnswering")) return ModelTask.QuestionAnswering;
        if (Has("ForSequenceClassification"))
            return config?["problem_type"]?.GetValue<string>() == "regression" ? ModelTask.Regression : ModelTask.Classification;
        if (Has("ForMaskedLM") || Has("ForPreTraining")) return ModelTask.FillMask;
        return ModelTask.Embedding;
    }

    /// <summary>Task name in the API: classification, regression, question-answering, embedding, fill-mask.</summary>
    public static string TaskName(ModelTask task) => task switch
    {
        ModelTask.QuestionAnswering => "question-answering",
        ModelTask.Regression => "regression",
        ModelTask.Embedding => "embedding",
        ModelTask.FillMask => "fill-mask",
        _ => "classification",
    };

    /// <summary>The endpoint that serves a task: classify, qa, embed, fill-mask.</summary>
    public static string EndpointOf(ModelTask task) => task switch
    {
        ModelTask.QuestionAnswering => "qa",
        ModelTask.Embedding => "embed",
        ModelTask.FillMask => "fill-mask",
        _ => "classify",
    };
}

/// <summary>A model folder could not be served; the message names the model, its folder and the reason.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : MobileBertException(message, inner);
