using MobileBert.Model;
using MobileBert.Text;

namespace MobileBert.Tasks.QuestionAnswering;

/// <summary>A padded batch of QA features.</summary>
/// <param name="Input">Model input <c>[B, S]</c> (right-padded with <c>[PAD]</c>, mask 0, token type 0).</param>
/// <param name="StartPositions">Per row, the start-token label (0 = <c>[CLS]</c>: answer not in the window / unanswerable).</param>
/// <param name="EndPositions">Per row, the end-token label (inclusive).</param>
/// <param name="FeatureIndices">Per row, the index of the feature in <see cref="QaFeatureSet.Features"/> (evaluation bookkeeping).</param>
public sealed record QaBatch(ModelInput Input, int[] StartPositions, int[] EndPositions, int[] FeatureIndices);

/// <summary>Options of <see cref="QaBatcher"/>.</summary>
public sealed record QaBatcherOptions
{
    /// <summary>Features per batch (the last batch may be smaller unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Shuffle the feature order each epoch (training). The order is a function of <see cref="Seed"/> and the epoch number.</summary>
    public bool Shuffle { get; init; }

    /// <summary>Seed of the shuffle.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Drop a final incomplete batch.</summary>
    public bool DropLast { get; init; }

    /// <summary>Pad every batch to this length (HF <c>padding="max_length"</c>); null pads to the longest feature of each batch.</summary>
    public int? PadToLength { get; init; }
}

/// <summary>Iterates <see cref="QaBatch"/>es over a <see cref="QaFeatureSet"/> for training (labels) and evaluation (feature indices).</summary>
public sealed class QaBatcher
{
    private readonly QaFeatureSet _features;
    private readonly int _padId;

    public QaBatcher(QaFeatureSet features, int padId, QaBatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        _features = features;
        _padId = padId;
        Options = options ?? new QaBatcherOptions();
        if (Options.BatchSize < 1) throw new ArgumentException($"BatchSize must be positive, got {Options.BatchSize}.", nameof(options));
        if (Options.PadToLength is int p && p < features.MaxLength)
            throw new ArgumentException($"PadToLength {p} is shorter than the longest feature ({features.MaxLength} tokens).", nameof(options));
    }

    public QaBatcherOptions Options { get; }

    /// <summary>Number of batches per epoch.</summary>
    public int BatchCount => Options.DropLast ? _features.Features.Count / Options.BatchSize
        : (_features.Features.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>The feature order of an epoch (identity without <see cref="QaBatcherOptions.Shuffle"/>).</summary>
    public int[] Order(int epoch = 0)
    {
        int[] order = Enumerable.Range(0, _features.Features.Count).ToArray();
        // deterministic across processes (HashCode is randomised per process)
        if (Options.Shuffle) new Random(unchecked((int)((uint)Options.Seed * 2654435761u ^ (uint)epoch * 40503u))).Shuffle(order);
        return order;
    }

    /// <summary>The batches of one epoch.</summary>
    public IEnumerable<QaBatch> Batches(int epoch = 0)
    {
        int[] order = Order(epoch);
        int n = BatchCount;
        for (int b = 0; b < n; b++)
        {
            int start = b * Options.BatchSize;
            int count = Math.Min(Options.BatchSize, order.Length - start);
            yield return MakeBatch(order.AsSpan(start, count).ToArray());
        }
    }

    /// <summary>One batch of the given features, in that order.</summary>
    public QaBatch MakeBatch(int[] featureIndices)
    {
        ArgumentNullException.ThrowIfNull(featureIndices);
        var inputs = new EncodedInput[featureIndices.Length];
        var starts = new int[featureIndices.Length];
        var ends = new int[featureIndices.Length];
        for (int i = 0; i < featureIndices.Length; i++)
        {
            QaFeature f = _features.Features[featureIndices[i]];
            inputs[i] = f.Input;
            starts[i] = f.StartPosition;
            ends[i] = f.EndPosition;
        }

        ModelInput input = Batching.Pad(inputs, _padId, Options.PadToLength);
        return new QaBatch(input, starts, ends, featureIndices);
    }
}
