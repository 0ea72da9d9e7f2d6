using System.Security.Cryptography;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Text;
using MobileBert.Training;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>One training batch and how to score the model's output on it.</summary>
public sealed record TrainBatch(ModelInput Input, int Size, Func<ModelOutput, TrainLoss> Loss);

/// <summary>A batch loss with its output gradients; <see cref="Correct"/> counts right training predictions (classification, else -1).</summary>
public sealed record TrainLoss(double Value, OutputGradients Gradients, int Correct);

/// <summary>
/// The data side of a fine-tuning run: a sequence task (GLUE / user CSV/JSONL, classification or regression) or SQuAD.
/// Create with <see cref="Sequence"/> or <see cref="Squad"/>; <see cref="FineTuningRun"/> featurizes it with the model's tokenizer.
/// </summary>
public abstract class FineTuneTask
{
    public static FineTuneTask Sequence(SequenceTaskData data) => new SequenceFineTuneTask(data);
    public static FineTuneTask Squad(SquadDataset train, SquadDataset? dev, bool v2) => new SquadFineTuneTask(train, dev, v2);

    /// <summary>The task.json content for this task at <paramref name="options"/>' sequence length.</summary>
    public abstract TaskInfo Info(FineTuneOptions options);
    /// <summary>Encodes train and dev; returns lines describing the data (counts, skipped rows, truncation).</summary>
    public abstract IReadOnlyList<string> Prepare(WordPieceTokenizer tokenizer, FineTuneOptions options);
    public abstract int TrainCount { get; }
    public abstract bool HasDev { get; }
    /// <summary>Example/feature indices of each batch of an epoch: a pure function of (seed, epoch).</summary>
    public abstract List<int[]> EpochBatches(int epoch, int batchSize, long seed, bool groupByLength);
    public abstract TrainBatch MakeBatch(int[] indices);
    public abstract EvalMetrics Evaluate(MobileBertModel model, int batchSize);
    /// <summary>SHA-256 of the encoded training and dev data (resume check).</summary>
    public abstract string DataHash();
    /// <summary>Label counts of the training set (classification; null otherwise), after <see cref="Prepare"/>.</summary>
    public virtual ClassBalance? TrainBalance => null;
    /// <summary>The encoded training features (the teacher's inputs), after <see cref="Prepare"/>.</summary>
    public abstract IReadOnlyList<TokenSequence> TrainInputs();
    /// <summary>Class weights and distillation targets of the training loss (set by <see cref="FineTuningRun"/>).</summary>
    public TrainingObjective Objective { get; set; } = new();

    internal static int EpochSeed(long seed, int epoch) =>
        (int)((((ulong)seed * 0x9E3779B97F4A7C15UL) ^ (((ulong)epoch + 0x632BE59BD9B4E019UL) * 0xBF58476D1CE4E5B9UL)) >> 33);

    protected static string Hash(IEnumerable<int[]> rows)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var r in rows)
        {
            h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.AsSpan()));
            h.AppendData(BitConverter.GetBytes(-1));
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }
}

sealed class SequenceFineTuneTask(SequenceTaskData data) : FineTuneTask
{
    FeaturizedDataset? _train, _dev;

    public override TaskInfo Info(FineTuneOptions o) => TaskInfo.FromDefinition(data.TaskName, data.Definition, o.Seq);
    public override int TrainCount => data.Train.Count;
    public override bool HasDev => data.Dev is { Count: > 0 };

    public override IReadOnlyList<string> Prepare(WordPieceTokenizer tokenizer, FineTuneOptions o)
    {
        var f = new Featurizer(tokenizer, o.Seq);
        _train = f.Featurize(data.Train);
        _dev = data.Dev is null ? null : f.Featurize(data.Dev);
        if (_train.Count == 0) throw new InvalidDataException($"{data.Train.Source}: no training examples.");
        if (!data.Train.IsLabelled) throw new InvalidDataException($"{data.Train.Source}: training data must be labelled.");
        var lines = new List<string> { $"task {data.Definition}" };
        foreach (var (name, ds, fd) in new[] { ("train", data.Train, _train), ("dev", data.Dev, _dev) })
        {
            if (ds is null || fd is null) continue;
            lines.Add($"{name}: {ds.Count} examples from {ds.Source}, longest {fd.LongestLength} tokens, {fd.TruncatedCount} truncated to {o.Seq}");
            var sk = TaskData.DescribeSkipped(ds.Source, ds.Skipped);
            if (sk.Length > 0) lines.Add(sk);
            if (TaskData.DescribeReplaced(ds.Source, ds.Replaced) is { } rp) lines.Add(rp);
        }
        return lines;
    }

    public override List<int[]> EpochBatches(int epoch, int batchSize, long seed, bool groupByLength) =>
        TaskBatcher.Order(_train!, batchSize, new BatchingOptions { Shuffle = true, Seed = EpochSeed(seed, epoch), BucketByLength = groupByLength });

    public override TrainBatch MakeBatch(int[] indices)
    {
        var b = TaskBatcher.MakeBatch(_train!, indices);
        var task = data.Definition;
        return new TrainBatch(b.Input, b.Size, output =>
        {
            var logits = output.SequenceClassificationLogits!;
            var d = new float[logits.Length];
            if (task.Kind == TaskKind.Regression)
                return new TrainLoss(Objective.Regression(logits, b.Targets!, b.ExampleIndices, d),
                    new OutputGradients { SequenceClassificationLogits = d }, -1);
            int k = task.NumLabels, correct = 0;
            for (int r = 0; r < b.Size; r++)
                if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.AsSpan(r * k, k)) == b.LabelIds![r]) correct++;
            double loss = Objective.Classification(logits, b.LabelIds!, b.ExampleIndices, k, d);
            return new TrainLoss(loss, new OutputGradients { SequenceClassificationLogits = d }, correct);
        });
    }

    public override EvalMetrics Evaluate(MobileBertModel model, int batchSize) => SequenceEvaluator.Evaluate(model, _dev!, batchSize).Metrics;

    public override string DataHash() => Hash(Rows(_train!).Concat(_dev is null ? [] : Rows(_dev)));

    public override ClassBalance? TrainBalance => data.Definition.Kind == TaskKind.Regression
        ? null : ClassBalance.Of(_train!.Features.Select(f => f.LabelId!.Value), data.Definition.NumLabels);

    public override IReadOnlyList<TokenSequence> TrainInputs() => _train!.Features.Select(f => new TokenSequence(f.Input.InputIds,
        f.Input.TokenTypeIds)).ToArray();

    static IEnumerable<int[]> Rows(FeaturizedDataset d) => d.Features.Select(f => f.Input.InputIds.Concat(f.Input.TokenTypeIds)
        .Append(f.LabelId ?? -1).Append(BitConverter.SingleToInt32Bits(f.Target ?? float.NaN)).ToArray());
}

sealed class SquadFineTuneTask(SquadDataset train, SquadDataset? dev, bool v2) : FineTuneTask
{
    QaFeatureSet? _train, _dev;
    QaBatcher? _batcher;
    int _padId;
    SquadSettings _settings = new();

    public override TaskInfo Info(FineTuneOptions o) => TaskInfo.ForSquad(v2, o.Seq, o.Squad);
    public override int TrainCount => _train?.Features.Count ?? train.Examples.Count;
    public override bool HasDev => dev is { Examples.Count: > 0 };

    public override IReadOnlyList<string> Prepare(WordPieceTokenizer tokenizer, FineTuneOptions o)
    {
        var f = new QaFeaturizer(tokenizer, new QaFeatureOptions { MaxSeqLength = o.Seq, DocStride = o.Squad.DocStride,
            MaxQueryLength = o.Squad.MaxQueryLength });
        _settings = o.Squad with { VersionTwoWithNegative = v2 };
        _train = f.CreateFeatures(train.Examples);
        _dev = dev is null ? null : f.CreateFeatures(dev.Examples);
        _padId = tokenizer.PadId;
        _batcher = new QaBatcher(_train, _padId);
        if (_train.Features.Count == 0) throw new InvalidDataException($"{train.Source}: no training questions.");
        var lines = new List<string> { $"task SQuAD {(v2 ? "v2.0" : "v1.1")}: window {o.Seq}, doc stride {o.Squad.DocStride}, max query " +
            $"{o.Squad.MaxQueryLength}" };
        foreach (var (name, ds, fs) in new[] { ("train", train, _train), ("dev", dev, _dev) })
        {
            if (ds is null || fs is null) continue;
            lines.Add($"{name}: {ds.Examples.Count} questions ({ds.Examples.Count(e => !e.HasAnswer)} unanswerable) → {fs.Features.Count} " +
                $"features, from {ds.Source}");
            if (TaskData.DescribeReplaced(ds.Source, ds.Replaced) is { } rp) lines.Add(rp);
            if (ds.SkippedAnswers.Count + ds.SkippedQuestions.Count > 0)
                lines.Add($"{ds.Source}: skipped {ds.SkippedAnswers.Count} inconsistent answer(s) and {ds.SkippedQuestions.Count} question(s) " +
                    $"(first: {ds.SkippedAnswers.Concat(ds.SkippedQuestions).First().JsonPath}: " +
                    $"{ds.SkippedAnswers.Concat(ds.SkippedQuestions).First().Message})");
        }
        return lines;
    }

    public override List<int[]> EpochBatches(int epoch, int batchSize, long seed, bool groupByLength)
    {
        int n = _train!.Features.Count;
        var order = Enumerable.Range(0, n).ToArray();
        var rng = new Random(EpochSeed(seed, epoch));
        rng.Shuffle(order);
        var batches = new List<int[]>();
        if (groupByLength)
        {
            int window = batchSize * 50;
            for (int s = 0; s < n; s += window)
            {
                var seg = order.AsSpan(s, Math.Min(window, n - s)).ToArray().OrderBy(i => _train.Features[i].Length).ToArray();
                seg.CopyTo(order, s);
            }
        }
        for (int s = 0; s < n; s += batchSize) batches.Add(order[s..Math.Min(n, s + batchSize)]);
        if (groupByLength) { var arr = batches.ToArray(); rng.Shuffle(arr); batches = [.. arr]; }
        return batches;
    }

    public override TrainBatch MakeBatch(int[] indices)
    {
        var b = _batcher!.MakeBatch(indices);
        int rows = b.Input.Batch, seq = b.Input.Seq;
        return new TrainBatch(b.Input, rows, output =>
        {
            var ds = new float[rows * seq]; var de = new float[rows * seq];
            double ls = Objective.Classification(output.QaStartLogits!, b.StartPositions, b.FeatureIndices, seq, ds, scale: 0.5f);
            double le = Objective.Classification(output.QaEndLogits!, b.EndPositions, b.FeatureIndices, seq, de, scale: 0.5f, end: true);
            return new TrainLoss((ls + le) / 2, new OutputGradients { QaStartLogits = ds, QaEndLogits = de }, -1);
        });
    }

    public override EvalMetrics Evaluate(MobileBertModel model, int batchSize)
    {
        var predictions = QaEvaluator.Predict(model, _dev!, _padId, _settings, batchSize);
        return QaEvaluator.Score(dev!, predictions, v2);
    }

    public override string DataHash() => Hash(Rows(_train!).Concat(_dev is null ? [] : Rows(_dev)));

    public override IReadOnlyList<TokenSequence> TrainInputs() => _train!.Features.Select(f => new TokenSequence(f.Input.InputIds,
        f.Input.TokenTypeIds)).ToArray();

    static IEnumerable<int[]> Rows(QaFeatureSet d) => d.Features.Select(f =>
        f.Input.InputIds.Concat(f.Input.TokenTypeIds).Append(f.StartPosition).Append(f.EndPosition).ToArray());
}
