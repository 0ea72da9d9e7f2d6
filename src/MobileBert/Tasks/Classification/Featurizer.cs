using MobileBert.Model;
using MobileBert.Text;

namespace MobileBert.Tasks.Classification;

/// <summary>One encoded example; <see cref="ExampleIndex"/> is its position in the <see cref="TaskDataset"/>.</summary>
public sealed record TaskFeature(int ExampleIndex, string Id, EncodedInput Input, int? LabelId, float? Target, bool Truncated);

/// <summary>Encoded examples of one split, 1:1 with <see cref="TaskDataset.Examples"/>.</summary>
public sealed class FeaturizedDataset
{
    internal FeaturizedDataset(TaskDataset data, IReadOnlyList<TaskFeature> features, int maxSequenceLength, int padId)
    {
        Data = data; Features = features; MaxSequenceLength = maxSequenceLength; PadId = padId;
        TruncatedCount = features.Count(f => f.Truncated);
    }

    public TaskDataset Data { get; }
    public TaskDefinition Task => Data.Task;
    public IReadOnlyList<TaskFeature> Features { get; }
    public int Count => Features.Count;

    /// <summary>The maximum sequence length used (including special tokens).</summary>
    public int MaxSequenceLength { get; }

    /// <summary>Id of <c>[PAD]</c> used when batching.</summary>
    public int PadId { get; }

    /// <summary>Number of examples that were longer than <see cref="MaxSequenceLength"/> and were truncated.</summary>
    public int TruncatedCount { get; }

    /// <summary>Length of the longest encoded example.</summary>
    public int LongestLength => Features.Count == 0 ? 0 : Features.Max(f => f.Input.Length);
}

/// <summary>Encodes task examples with a <see cref="WordPieceTokenizer"/> (<c>[CLS] A [SEP]</c> / <c>[CLS] A [SEP] B [SEP]</c>).</summary>
public sealed class Featurizer
{
    private readonly WordPieceTokenizer _tokenizer;

    /// <param name="maxSequenceLength">Maximum tokens per example including special tokens (GLUE fine-tuning commonly uses 128).</param>
    /// <param name="truncation">How to shorten long inputs; longest-first (HF default) for pairs.</param>
    public Featurizer(WordPieceTokenizer tokenizer, int maxSequenceLength = 128, TruncationStrategy truncation = TruncationStrategy.LongestFirst)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        if (maxSequenceLength < 3) throw new ArgumentOutOfRangeException(nameof(maxSequenceLength), maxSequenceLength,
            "Must leave room for [CLS] and two [SEP].");
        MaxSequenceLength = maxSequenceLength;
        Truncation = truncation;
    }

    public int MaxSequenceLength { get; }
    public TruncationStrategy Truncation { get; }

    /// <summary>Encodes every example; <see cref="FeaturizedDataset.TruncatedCount"/> reports how many were cut.</summary>
    public FeaturizedDataset Featurize(TaskDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var features = new TaskFeature[data.Count];
        for (int i = 0; i < data.Count; i++)
        {
            var ex = data.Examples[i];
            var input = Encode(ex.Text, ex.TextPair, out bool truncated);
            features[i] = new TaskFeature(i, ex.Id, input, ex.LabelId, ex.Target, truncated);
        }
        return new FeaturizedDataset(data, features, MaxSequenceLength, _tokenizer.PadId);
    }

    /// <summary>Encodes one text (pair); <paramref name="truncated"/> tells whether it was longer than the limit.</summary>
    public EncodedInput Encode(string text, string? textPair, out bool truncated)
    {
        var full = _tokenizer.Encode(text, textPair, int.MaxValue, Truncation);
        truncated = full.Length > MaxSequenceLength;
        return truncated ? _tokenizer.Encode(text, textPair, MaxSequenceLength, Truncation) : full;
    }
}

/// <summary>A padded model batch with its gold labels. Row <c>i</c> is feature <c>ExampleIndices[i]</c>.</summary>
/// <param name="LabelIds">Gold label ids (classification, all rows labelled), else null.</param>
/// <param name="Targets">Gold scores (regression, all rows labelled), else null.</param>
public sealed record TaskBatch(ModelInput Input, int[] ExampleIndices, int[]? LabelIds, float[]? Targets)
{
    public int Size => ExampleIndices.Length;
}

/// <summary>Options of <see cref="TaskBatcher.Batches"/>.</summary>
public sealed class BatchingOptions
{
    /// <summary>Shuffle examples (training). The order is a pure function of <see cref="Seed"/>.</summary>
    public bool Shuffle { get; init; }

    public int Seed { get; init; }

    /// <summary>
    /// Group examples of similar length to reduce padding: examples are cut into windows of
    /// <see cref="BucketWindowBatches"/> batches, each window sorted by length (after shuffling when
    /// <see cref="Shuffle"/>), and the batch order is shuffled again when <see cref="Shuffle"/>.
    /// </summary>
    public bool BucketByLength { get; init; }

    /// <summary>Window size of length bucketing, in batches (default 50).</summary>
    public int BucketWindowBatches { get; init; } = 50;

    /// <summary>Pad every batch to this length (e.g. the max sequence length) instead of its longest row.</summary>
    public int? PadToLength { get; init; }

    /// <summary>Drop a final smaller batch (training).</summary>
    public bool DropLast { get; init; }
}

/// <summary>Cuts featurized data into padded batches (<see cref="Batching.Pad"/>).</summary>
public static class TaskBatcher
{
    /// <summary>Batches in order (or shuffled / length-bucketed per <paramref name="options"/>). Every example appears once (unless <see
    /// cref="BatchingOptions.DropLast"/>).</summary>
    public static IEnumerable<TaskBatch> Batches(FeaturizedDataset data, int batchSize, BatchingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Must be positive.");
        options ??= new BatchingOptions();
        if (options.BucketWindowBatches <= 0) throw new ArgumentException("BucketWindowBatches must be positive.", nameof(options));
        var batches = Order(data, batchSize, options);
        return batches.Select(idx => MakeBatch(data, idx, options.PadToLength));
    }

    /// <summary>Example indices of each batch, in batch order.</summary>
    public static List<int[]> Order(FeaturizedDataset data, int batchSize, BatchingOptions options)
    {
        int n = data.Count;
        var order = Enumerable.Range(0, n).ToArray();
        var rng = new Random(options.Seed);
        if (options.Shuffle) rng.Shuffle(order);
        if (options.BucketByLength)
        {
            int window = batchSize * options.BucketWindowBatches;
            for (int s = 0; s < n; s += window)
            {
                int len = Math.Min(window, n - s);
                var seg = order.AsSpan(s, len).ToArray().OrderBy(i => data.Features[i].Input.Length).ToArray(); // stable
                seg.CopyTo(order, s);
            }
        }
        var batches = new List<int[]>();
        for (int s = 0; s < n; s += batchSize)
        {
            int len = Math.Min(batchSize, n - s);
            if (len < batchSize && options.DropLast) break;
            batches.Add(order[s..(s + len)]);
        }
        if (options.Shuffle && options.BucketByLength)
        {
            var arr = batches.ToArray();
            rng.Shuffle(arr);
            batches = [.. arr];
        }
        return batches;
    }

    /// <summary>One padded batch of the given example indices.</summary>
    public static TaskBatch MakeBatch(FeaturizedDataset data, int[] exampleIndices, int? padToLength = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(exampleIndices);
        var feats = exampleIndices.Select(i => data.Features[i]).ToArray();
        var input = Batching.Pad(feats.Select(f => f.Input).ToArray(), data.PadId, padToLength);
        int[]? labels = null; float[]? targets = null;
        if (data.Task.Kind == TaskKind.SingleLabelClassification && feats.All(f => f.LabelId is not null))
            labels = feats.Select(f => f.LabelId!.Value).ToArray();
        if (data.Task.Kind == TaskKind.Regression && feats.All(f => f.Target is not null))
            targets = feats.Select(f => f.Target!.Value).ToArray();
        return new TaskBatch(input, exampleIndices, labels, targets);
    }
}
