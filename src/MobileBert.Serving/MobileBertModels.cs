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
        var predictor = new PredictorOptions { Threads = _options.Threads, BatchSize = _options.MaxBatch, Int8Kernel = _options.Int8Kernel };
        var loaded = new Dictionary<string, ServedModel>(StringComparer.OrdinalIgnoreCase);
        foreach (var registration in _options.Models)
        {
            try { loaded[registration.Name] = ServedModel.Load(registration, settings, predictor); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                foreach (var m in loaded.Values) m.Predictor.Dispose();
                throw new ModelLoadException($"model '{registration.Name}' ({registration.Directory}): {e.Message}", e);
            }
        }
        _byName = loaded;
        _ready = true;
    }

    public bool TryGet(string name, [NotNullWhen(true)] out ServedModel? model) => _byName.TryGetValue(name, out model);

    /// <summary>The classifier named <paramref name="name"/>.</summary>
    public IClassifier GetClassifier(string name) => Get(name).Classifier ?? throw WrongTask(name, "a classifier");

    /// <summary>The question answerer named <paramref name="name"/>.</summary>
    public IQuestionAnswerer GetQuestionAnswerer(string name) => Get(name).QuestionAnswerer ?? throw WrongTask(name, "a question answerer");

    /// <summary>The embedder named <paramref name="name"/>.</summary>
    public IEmbedder GetEmbedder(string name) => Get(name).Embedder ?? throw WrongTask(name, "an embedder");

    /// <summary>The fill-mask model named <paramref name="name"/>.</summary>
    public IMaskFiller GetMaskFiller(string name) => Get(name).MaskFiller ?? throw WrongTask(name, "a fill-mask model");

    InvalidOperationException WrongTask(string name, string wanted) =>
        new($"model '{name}' is a {ServedModel.TaskName(Get(name).Task)} model, not {wanted}.");

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
        return Task.WhenAll(_byName.Values.Select(m => m.Predictor.StopAsync()));
    }

    public void Dispose()
    {
        foreach (var m in _byName.Values) m.Predictor.Dispose();
    }
}
