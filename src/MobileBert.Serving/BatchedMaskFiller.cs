using MobileBert.Serving.Batching;
using MobileBert.Text;

namespace MobileBert.Serving;

/// <summary><see cref="IMaskFiller"/> over one <see cref="MaskFiller"/>. Requests queue like every model's (bounded queue,
/// dropped when the client leaves, drained at shutdown); the fill-mask API runs one text per engine pass.</summary>
public sealed class BatchedMaskFiller : IMaskFiller, IBatchedModel
{
    internal sealed record Item(string Text, int TopK, PendingRequest<IReadOnlyList<IReadOnlyList<MaskPrediction>>> Request,
        CancellationToken Cancellation) : IBatchItem
    {
        public int Length => Text.Length;
        public void Fail(Exception error) => Request.Fail(error);
    }

    readonly MaskFiller _filler;

    public BatchedMaskFiller(string name, MaskFiller filler, BatchingSettings settings)
    {
        Name = name; _filler = filler;
        Batcher = ServingMetrics.NewBatcher<Item>(name, settings, Run);
    }

    public string Name { get; }
    public int MaxSeqLength => _filler.MaxSeqLength;
    public WordPieceTokenizer Tokenizer => _filler.Tokenizer;
    public bool IsQuantized => _filler.IsQuantized;
    internal DynamicBatcher<Item> Batcher { get; }
    public BatcherStats Stats => Batcher.Stats;
    public int QueueDepth => Batcher.QueueDepth;
    public Task StopAsync() => Batcher.StopAsync();
    /// <summary>Stops the batcher (waiting inputs fail, the running batch finishes), then releases the engine.</summary>
    public void Dispose() { Batcher.Dispose(); _filler.Dispose(); }

    public async Task<IReadOnlyList<IReadOnlyList<MaskPrediction>>> FillAsync(string text, int topK = 5, bool truncate = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        var full = Tokenizer.Encode(text, null, int.MaxValue);
        if (full.Length > MaxSeqLength && !truncate) throw new InputTooLongException(0, "text", full.Length, MaxSeqLength);
        if (!full.InputIds.Take(MaxSeqLength).Contains(Tokenizer.MaskId))
            throw new ArgumentException($"text: no {MaskFiller.MaskToken} " +
                $"token{(full.Length > MaxSeqLength ? $" within the first {MaxSeqLength} tokens" : "")}.");
        var request = new PendingRequest<IReadOnlyList<IReadOnlyList<MaskPrediction>>>(1);
        cancellationToken.ThrowIfCancellationRequested();
        Batcher.Enqueue([new Item(text, topK, request, cancellationToken)]);
        return (await request.Task.WaitAsync(cancellationToken).ConfigureAwait(false))[0];
    }

    void Run(IReadOnlyList<Item> batch)
    {
        foreach (var item in batch)
        {
            try { item.Request.Set(0, _filler.Fill(item.Text, item.TopK)); }
            catch (ArgumentException e) { item.Request.Fail(e); }
        }
    }
}
