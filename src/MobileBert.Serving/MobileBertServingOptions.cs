using System.Text.RegularExpressions;

namespace MobileBert.Serving;

/// <summary>What a served model folder does (from task.json, else from config.json's architectures).</summary>
public enum ModelTask { Classification, Regression, QuestionAnswering, Embedding, FillMask }

/// <summary>One model to serve: its name in URLs, its folder, the task it was registered for (null: from the folder) and,
/// for an embedder, its pooling and normalisation (null: the folder's sentence-transformers settings, else mean and raw).</summary>
public sealed record ModelRegistration(string Name, string Directory, ModelTask? Task, Pooling? Pooling = null, bool? Normalize = null);

/// <summary>Request limits of the HTTP endpoints; each breach is a 4xx problem naming the field.</summary>
public sealed class ServingLimits
{
    /// <summary>Largest request body in bytes (413 beyond).</summary>
    public int MaxBodyBytes { get; set; } = 1 << 20;
    /// <summary>Most texts in one classify request.</summary>
    public int MaxTextsPerRequest { get; set; } = 256;
    /// <summary>Most characters (UTF-16) in one text, question or context.</summary>
    public int MaxCharsPerText { get; set; } = 20_000;
    /// <summary>Most answers one QA request may ask for (top_k).</summary>
    public int MaxTopK { get; set; } = 20;
}

/// <summary>
/// Settings of <see cref="ServiceCollectionExtensions.AddMobileBert(Microsoft.Extensions.DependencyInjection.IServiceCollection,
/// Action{MobileBertServingOptions})"/>:
/// the models (names are fixed once the host starts) and how requests are batched onto each model's engine.
/// </summary>
public sealed partial class MobileBertServingOptions
{
    readonly List<ModelRegistration> _models = [];

    /// <summary>The registered models, in registration order.</summary>
    public IReadOnlyList<ModelRegistration> Models => _models;
    /// <summary>Most inputs (texts, QA questions) in one engine batch; 1 turns batching off.</summary>
    public int MaxBatch { get; set; } = 32;
    /// <summary>How long the first waiting input may wait for others to join its batch.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(5);
    /// <summary>Most inputs waiting per model; a request that does not fit is refused (503, Retry-After).</summary>
    public int MaxQueue { get; set; } = 1024;
    /// <summary>Kernel threads of each model's engine.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;
    /// <summary>int8 GEMM kernel of quantized model folders (<see cref="MobileBert.Inference.InferenceOptions.Int8Kernel"/>).</summary>
    public MobileBert.Kernels.Int8Path Int8Kernel { get; set; }
    /// <summary>Bearer key required on /v1/* (null: no authentication).</summary>
    public string? ApiKey { get; set; }
    public ServingLimits Limits { get; } = new();

    /// <summary>Serves a sequence-classification (or regression) model folder under <paramref name="name"/>.</summary>
    public MobileBertServingOptions AddClassifier(string name, string directory) => Add(name, directory, ModelTask.Classification);

    /// <summary>Serves an extractive question-answering model folder under <paramref name="name"/>.</summary>
    public MobileBertServingOptions AddQuestionAnswerer(string name, string directory) => Add(name, directory, ModelTask.QuestionAnswering);

    /// <summary>Serves any model folder's backbone as a sentence embedder: mean or [CLS] pooling, unit length or raw (null:
    /// what a sentence-transformers folder says, else mean pooling and raw vectors).</summary>
    public MobileBertServingOptions AddEmbedder(string name, string directory, Pooling? pooling = null, bool? normalize = null) =>
        Add(name, directory, ModelTask.Embedding, pooling, normalize);

    /// <summary>Serves a model folder with a masked-LM head for fill-mask.</summary>
    public MobileBertServingOptions AddMaskFiller(string name, string directory) => Add(name, directory, ModelTask.FillMask);

    /// <summary>Serves a model folder whose task is read from the folder: task.json, else config.json's architectures
    /// (…ForQuestionAnswering, …ForSequenceClassification, …ForMaskedLM / …ForPreTraining: fill-mask, a bare backbone: embedding).</summary>
    public MobileBertServingOptions AddModel(string name, string directory) => Add(name, directory, null);

    MobileBertServingOptions Add(string name, string directory, ModelTask? task, Pooling? pooling = null, bool? normalize = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(directory);
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"model name '{name}': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        if (_models.Any(m => m.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
            throw new ArgumentException($"model name '{name}' is registered twice.");
        _models.Add(new ModelRegistration(name, directory, task, pooling, normalize));
        return this;
    }

    /// <summary>Checks the settings; the message names the setting.</summary>
    public void Validate()
    {
        if (_models.Count == 0) throw new ArgumentException("no model to serve: register at least one (--model NAME=DIR).");
        if (MaxBatch < 1) throw new ArgumentException($"max batch must be positive, got {MaxBatch}.");
        if (MaxWait < TimeSpan.Zero) throw new ArgumentException($"max wait must not be negative, got {MaxWait.TotalMilliseconds} ms.");
        if (MaxQueue < 1) throw new ArgumentException($"max queue must be positive, got {MaxQueue}.");
        if (Threads < 1) throw new ArgumentException($"threads must be positive, got {Threads}.");
        if (Limits.MaxBodyBytes < 1 || Limits.MaxTextsPerRequest < 1 || Limits.MaxCharsPerText < 1 || Limits.MaxTopK < 1)
            throw new ArgumentException("request limits must be positive.");
        if (Limits.MaxTextsPerRequest > MaxQueue)
            throw new ArgumentException($"max queue ({MaxQueue}) must hold one full request ({Limits.MaxTextsPerRequest} texts).");
        if (ApiKey is { Length: 0 }) throw new ArgumentException("the API key is empty.");
        MobileBert.Kernels.Int8Gemm.RequireSupported(Int8Kernel);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
