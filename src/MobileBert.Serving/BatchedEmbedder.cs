using MobileBert.Serving.Batching;
using MobileBert.Text;

namespace MobileBert.Serving;

/// <summary><see cref="IEmbedder"/> over one <see cref="TextEmbedder"/>: texts are tokenized on the caller's thread and run
/// in the model's dynamic batches (one engine, reused buffers, no padding computed).</summary>
public sealed class BatchedEmbedder : IEmbedder, IBatchedModel
{
    internal sealed record Item(EncodedInput Input, PendingRequest<float[]> Request, int Index, CancellationToken Cancellation) : IBatchItem
    {
        public int Length => Input.Length;
        public void Fail(Exception error) => Request.Fail(error);
    }

    readonly TextEmbedder _embedder;

    public BatchedEmbedder(string name, TextEmbedder embedder, BatchingSettings settings)
    {
        Name = name; _embedder = embedder;
        Batcher = ServingMetrics.NewBatcher<Item>(name, settings, Run);
    }

    public string Name { get; }
    public int Dimension => _embedder.Dimension;
    public Pooling Pooling => _embedder.Pooling;
    public bool Normalize => _embedder.Normalize;
    public int MaxSeqLength => _embedder.MaxSeqLength;
    public WordPieceTokenizer Tokenizer => _embedder.Tokenizer;
    public bool IsQuantized => _embedder.IsQuantized;
    public IReadOnlyDictionary<string, string> Prompts => _embedder.Prompts;
    internal DynamicBatcher<Item> Batcher { get; }
    public BatcherStats Stats => Batcher.Stats;
    public int QueueDepth => Batcher.QueueDepth;
    public Task StopAsync() => Batcher.StopAsync();
    /// <summary>Stops the batcher (waiting inputs fail, the running batch finishes), then releases the engine.</summary>
    public void Dispose() { Batcher.Dispose(); _embedder.Dispose(); }

    public async Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<string> texts, bool truncate = false, string? promptName = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) return [];
        var request = new PendingRequest<float[]>(texts.Count);
        var items = new Item[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(texts[i], $"texts[{i}]");
            var encoded = _embedder.Encode(texts[i], out bool cut, promptName);
            if (cut && !truncate) throw new InputTooLongException(i, $"texts[{i}]", _embedder.TokenCount(texts[i], promptName), MaxSeqLength);
            items[i] = new Item(encoded, request, i, cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        Batcher.Enqueue(items);
        return await request.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    void Run(IReadOnlyList<Item> batch)
    {
        var vectors = _embedder.Embed(batch.Select(b => b.Input).ToArray());
        for (int i = 0; i < batch.Count; i++) batch[i].Request.Set(batch[i].Index, vectors[i]);
    }
}
