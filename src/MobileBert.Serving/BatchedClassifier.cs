using MobileBert.Serving.Batching;
using MobileBert.Text;

namespace MobileBert.Serving;

/// <summary><see cref="IClassifier"/> over one <see cref="TextClassifier"/>: inputs are tokenized on the caller's thread,
/// then run in the model's dynamic batches (one engine, reused buffers, no padding computed).</summary>
public sealed class BatchedClassifier : IClassifier, IBatchedModel
{
    internal sealed record Item(EncodedInput Input, PendingRequest<Classification> Request, int Index, CancellationToken Cancellation) : IBatchItem
    {
        public int Length => Input.Length;
        public void Fail(Exception error) => Request.Fail(error);
    }

    readonly TextClassifier _classifier;

    public BatchedClassifier(string name, TextClassifier classifier, BatchingSettings settings)
    {
        Name = name; _classifier = classifier;
        Batcher = ServingMetrics.NewBatcher<Item>(name, settings, Run);
    }

    public string Name { get; }
    public IReadOnlyList<string> Labels => _classifier.Labels;
    public bool IsRegression => _classifier.IsRegression;
    public bool IsMultiLabel => _classifier.IsMultiLabel;
    public int MaxSeqLength => _classifier.MaxSeqLength;
    public WordPieceTokenizer Tokenizer => _classifier.Tokenizer;
    /// <summary>The classifier this runs (its engine is used by the batching thread only).</summary>
    public TextClassifier Classifier => _classifier;
    internal DynamicBatcher<Item> Batcher { get; }
    public BatcherStats Stats => Batcher.Stats;
    public int QueueDepth => Batcher.QueueDepth;
    public bool IsQuantized => _classifier.IsQuantized;
    public Task StopAsync() => Batcher.StopAsync();
    /// <summary>Stops the batcher (waiting inputs fail, the running batch finishes), then releases the engine.</summary>
    public void Dispose() { Batcher.Dispose(); _classifier.Dispose(); }

    public async Task<IReadOnlyList<Classification>> ClassifyAsync(IReadOnlyList<ClassifierInput> inputs, bool truncate = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) return [];
        var request = new PendingRequest<Classification>(inputs.Count);
        var items = new Item[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            var (text, pair) = inputs[i];
            ArgumentNullException.ThrowIfNull(text, $"inputs[{i}].Text");
            var encoded = _classifier.Encode(text, pair, out bool cut);
            if (cut && !truncate)
                throw new InputTooLongException(i, $"texts[{i}]", _classifier.Tokenizer.Encode(text, pair, int.MaxValue).Length, MaxSeqLength);
            items[i] = new Item(encoded, request, i, cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        Batcher.Enqueue(items);
        return await request.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    void Run(IReadOnlyList<Item> batch)
    {
        var results = _classifier.Classify(batch.Select(b => b.Input).ToArray());
        for (int i = 0; i < batch.Count; i++) batch[i].Request.Set(batch[i].Index, results[i]);
    }
}
