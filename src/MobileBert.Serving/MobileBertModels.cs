using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using MobileBert.Serving.Batching;

namespace MobileBert.Serving;

/// <summary>
/// The served models by name (the pool behind the injected <see cref="IClassifier"/> / <see cref="IQuestionAnswerer"/>):
/// loaded when the host starts (a folder that cannot be loaded stops the start, naming it), each with its own
/// dynamic batcher; on shutdown every accepted input runs before the batchers stop.
/// </summary>
public sealed class MobileBertModels : IDisposable
{
    readonly MobileBertServingOptions _options;
    Dictionary<string, ServedModel> _byName = new(StringComparer.OrdinalIgnoreCase);
    volatile bool _ready;

    public MobileBertModels(IOptions<MobileBertServingOptions> options) => _options = options.Value;

    public MobileBertServingOptions Options => _options;
    /// <summary>Loaded and accepting requests (false before start and once shutdown began).</summary>
    public bool IsReady => _ready;
    public IReadOnlyCollection<ServedModel> All => _byName.Values;

    /// <summary>Loads every registered model (idempotent). Throws <see cref="ModelLoadException"/> naming the first that fails.</summary>
    public void Load()
    {
        if (_byName.Count > 0) return;
        _options.Validate();
        var settings = new BatchingSettings(_options.MaxBatch, _options.MaxWait, _options.MaxQueue);
        var predictor = new PredictorOptions { Threads = _options.Threads, BatchSize = _options.MaxBatch };
        var loaded = new Dictionary<string, ServedModel>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, dir, registered) in _options.Models)
        {
            try
            {
                if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException("the folder does not exist.");
                var task = ServedModel.DetectTask(dir);
                if (registered is { } r && (r == ModelTask.QuestionAnswering) != (task == ModelTask.QuestionAnswering))
                    throw new ArgumentException($"registered as {ServedModel.TaskName(r)}, but the folder holds a {ServedModel.TaskName(task)} model.");
                loaded[name] = task == ModelTask.QuestionAnswering
                    ? new ServedModel(name, dir, task, null, new BatchedQuestionAnswerer(name, QuestionAnswerer.Load(dir, predictor), settings))
                    : new ServedModel(name, dir, task, new BatchedClassifier(name, TextClassifier.Load(dir, predictor), settings), null);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                foreach (var m in loaded.Values) _ = Stop(m);
                throw new ModelLoadException($"model '{name}' ({dir}): {e.Message}", e);
            }
        }
        _byName = loaded;
        _ready = true;
    }

    public bool TryGet(string name, [NotNullWhen(true)] out ServedModel? model) => _byName.TryGetValue(name, out model);

    /// <summary>The classifier named <paramref name="name"/>.</summary>
    public IClassifier GetClassifier(string name) =>
        Get(name).Classifier ?? throw new InvalidOperationException($"model '{name}' is a question-answering model, not a classifier.");

    /// <summary>The question answerer named <paramref name="name"/>.</summary>
    public IQuestionAnswerer GetQuestionAnswerer(string name) =>
        Get(name).QuestionAnswerer ?? throw new InvalidOperationException($"model '{name}' is a classifier, not a question answerer.");

    ServedModel Get(string name)
    {
        if (_byName.Count == 0) throw new InvalidOperationException("the models are loaded when the host starts; it has not started.");
        return TryGet(name, out var m) ? m
            : throw new InvalidOperationException($"no model named '{name}' (served: {string.Join(", ", _byName.Keys)}).");
    }

    /// <summary>Marks the server not ready (readiness probes fail from now on; requests are still served).</summary>
    public void BeginShutdown() => _ready = false;

    /// <summary>Refuses new inputs and waits until every accepted one has run.</summary>
    public Task DrainAsync()
    {
        _ready = false;
        return Task.WhenAll(_byName.Values.Select(Stop));
    }

    static Task Stop(ServedModel m) => m.Classifier?.Batcher.StopAsync() ?? m.QuestionAnswerer!.Batcher.StopAsync();

    public void Dispose()
    {
        foreach (var m in _byName.Values) { m.Classifier?.Classifier.Dispose(); m.QuestionAnswerer?.Answerer.Dispose(); }
    }
}
