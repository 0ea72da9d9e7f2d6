using MobileBert.Serving.Batching;
using MobileBert.Text;

namespace MobileBert.Serving;

/// <summary><see cref="IQuestionAnswerer"/> over one <see cref="QuestionAnswerer"/>: concurrent questions are answered in
/// the model's dynamic batches (all their context windows in one engine run), grouped by context length.</summary>
public sealed class BatchedQuestionAnswerer : IQuestionAnswerer, IBatchedModel
{
    internal sealed record Item(string Context, string Question, int TopK, PendingRequest<IReadOnlyList<Answer>> Request,
        CancellationToken Cancellation) : IBatchItem
    {
        public int Length => Context.Length;
        public void Fail(Exception error) => Request.Fail(error);
    }

    readonly QuestionAnswerer _answerer;

    public BatchedQuestionAnswerer(string name, QuestionAnswerer answerer, BatchingSettings settings)
    {
        Name = name; _answerer = answerer;
        Batcher = ServingMetrics.NewBatcher<Item>(name, settings, Run);
    }

    public string Name { get; }
    public bool CanAnswerNothing => _answerer.Settings.VersionTwoWithNegative;
    public int MaxSeqLength => _answerer.MaxSeqLength;
    public int MaxQueryLength => _answerer.Settings.MaxQueryLength;
    public WordPieceTokenizer Tokenizer => _answerer.Tokenizer;
    public QuestionAnswerer Answerer => _answerer;
    internal DynamicBatcher<Item> Batcher { get; }
    public BatcherStats Stats => Batcher.Stats;
    public int QueueDepth => Batcher.QueueDepth;
    public bool IsQuantized => _answerer.IsQuantized;
    public Task StopAsync() => Batcher.StopAsync();
    /// <summary>Stops the batcher (waiting inputs fail, the running batch finishes), then releases the engine.</summary>
    public void Dispose() { Batcher.Dispose(); _answerer.Dispose(); }

    public async Task<IReadOnlyList<Answer>> AnswerAsync(string context, string question, int topK = 5, bool truncate = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(question);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        int questionTokens = _answerer.Tokenizer.Tokenize(question).Count;
        if (questionTokens > MaxQueryLength && !truncate) throw new InputTooLongException(0, "question", questionTokens, MaxQueryLength);
        var request = new PendingRequest<IReadOnlyList<Answer>>(1);
        cancellationToken.ThrowIfCancellationRequested();
        Batcher.Enqueue([new Item(context, question, topK, request, cancellationToken)]);
        return (await request.Task.WaitAsync(cancellationToken).ConfigureAwait(false))[0];
    }

    void Run(IReadOnlyList<Item> batch)
    {
        var answers = _answerer.Answer(batch.Select(b => (b.Context, b.Question)).ToArray(), batch.Max(b => b.TopK));
        for (int i = 0; i < batch.Count; i++) batch[i].Request.Set(0, answers[i].Take(batch[i].TopK).ToArray());
    }
}
