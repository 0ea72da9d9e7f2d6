using MobileBert.Serving.Batching;
using MobileBert.Text;
using MobileBert.Model;

namespace MobileBert.Serving;

/// <summary>One text (or text pair) to classify.</summary>
public readonly record struct ClassifierInput(string Text, string? TextPair = null);

/// <summary>
/// A served text classifier (injectable; the named analogue of ML.NET's PredictionEnginePool): every call's inputs
/// join the model's dynamic batches, so concurrent callers share engine runs. Thread-safe.
/// </summary>
public interface IClassifier
{
    string Name { get; }
    /// <summary>Labels by id; empty for regression.</summary>
    IReadOnlyList<string> Labels { get; }
    bool IsRegression { get; }
    /// <summary>Labels are independent (a multi-label model): each has its own probability, which need not sum to 1.</summary>
    bool IsMultiLabel { get; }
    /// <summary>Most tokens per input, [CLS] and [SEP] included.</summary>
    int MaxSeqLength { get; }
    WordPieceTokenizer Tokenizer { get; }

    /// <summary>Classifies the inputs (results in input order). Without <paramref name="truncate"/> an input longer than
    /// <see cref="MaxSeqLength"/> throws <see cref="Batching.InputTooLongException"/>; a full queue throws
    /// <see cref="Batching.ServerBusyException"/>.</summary>
    Task<IReadOnlyList<Classification>> ClassifyAsync(IReadOnlyList<ClassifierInput> inputs, bool truncate = false,
        CancellationToken cancellationToken = default);

    /// <summary>Classifies one text (pair), cutting it to <see cref="MaxSeqLength"/> if needed.</summary>
    async Task<Classification> ClassifyAsync(string text, string? textPair = null, CancellationToken cancellationToken = default) =>
        (await ClassifyAsync([new ClassifierInput(text, textPair)], truncate: true, cancellationToken))[0];
}

/// <summary>A served extractive question answerer (injectable); concurrent questions share engine batches. Thread-safe.</summary>
public interface IQuestionAnswerer
{
    string Name { get; }
    /// <summary>SQuAD v2 model: "no answer" is one of the candidates.</summary>
    bool CanAnswerNothing { get; }
    /// <summary>Tokens per window; longer contexts are read in overlapping windows.</summary>
    int MaxSeqLength { get; }
    /// <summary>Most question tokens.</summary>
    int MaxQueryLength { get; }
    WordPieceTokenizer Tokenizer { get; }

    /// <summary>The best answers, best first (at most <paramref name="topK"/>). Without <paramref name="truncate"/> a question
    /// longer than <see cref="MaxQueryLength"/> throws <see cref="Batching.InputTooLongException"/>.</summary>
    Task<IReadOnlyList<Answer>> AnswerAsync(string context, string question, int topK = 5, bool truncate = false,
        CancellationToken cancellationToken = default);
}

/// <summary>A served sentence embedder (injectable); concurrent callers share engine batches. Thread-safe.</summary>
public interface IEmbedder
{
    string Name { get; }
    /// <summary>Length of every vector (hidden_size).</summary>
    int Dimension { get; }
    Pooling Pooling { get; }
    /// <summary>Vectors have unit length (a dot product is the cosine similarity).</summary>
    bool Normalize { get; }
    int MaxSeqLength { get; }
    WordPieceTokenizer Tokenizer { get; }

    /// <summary>The model folder's named prompts (e.g. "query" → the text put before a query); empty when it has none.</summary>
    IReadOnlyDictionary<string, string> Prompts { get; }

    /// <summary>One vector per text, in input order, each text after prompt <paramref name="promptName"/> (null: the folder's
    /// default prompt, if any; an unknown name throws <see cref="ArgumentException"/>). Without <paramref name="truncate"/> a
    /// text longer than <see cref="MaxSeqLength"/> (prompt included) throws <see cref="InputTooLongException"/>.</summary>
    Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<string> texts, bool truncate = false, string? promptName = null,
        CancellationToken cancellationToken = default);
}

/// <summary>A served fill-mask model (injectable): the most probable tokens for each [MASK]. Thread-safe.</summary>
public interface IMaskFiller
{
    string Name { get; }
    int MaxSeqLength { get; }
    WordPieceTokenizer Tokenizer { get; }

    /// <summary>For each [MASK] of <paramref name="text"/> (in order) its <paramref name="topK"/> most probable tokens.</summary>
    Task<IReadOnlyList<IReadOnlyList<MaskPrediction>>> FillAsync(string text, int topK = 5, bool truncate = false,
        CancellationToken cancellationToken = default);
}

/// <summary>What the server needs of every served model: its batcher's state, shutdown, and its tokenizer.</summary>
public interface IBatchedModel : IDisposable
{
    string Name { get; }
    WordPieceTokenizer Tokenizer { get; }
    /// <summary>Most tokens per input.</summary>
    int MaxSeqLength { get; }
    /// <summary>The engine runs int8 weights (a folder written by `mobilebert quantize`).</summary>
    bool IsQuantized { get; }
    BatcherStats Stats { get; }
    /// <summary>Inputs waiting for a batch.</summary>
    int QueueDepth { get; }
    /// <summary>Refuses new inputs and completes once every accepted one has run.</summary>
    Task StopAsync();
}
