using MobileBert.Text;

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
    /// <summary>Most tokens per input, [CLS] and [SEP] included.</summary>
    int MaxSeqLength { get; }
    WordPieceTokenizer Tokenizer { get; }

    /// <summary>Classifies the inputs (results in input order). Without <paramref name="truncate"/> an input longer than
    /// <see cref="MaxSeqLength"/> throws <see cref="Batching.InputTooLongException"/>; a full queue throws
    /// <see cref="Batching.ServerBusyException"/>.</summary>
    Task<IReadOnlyList<Classification>> ClassifyAsync(IReadOnlyList<ClassifierInput> inputs, bool truncate = false, CancellationToken cancellationToken = default);

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
    Task<IReadOnlyList<Answer>> AnswerAsync(string context, string question, int topK = 5, bool truncate = false, CancellationToken cancellationToken = default);
}
