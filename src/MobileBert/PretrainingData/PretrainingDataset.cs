using MobileBert.Model;

namespace MobileBert.PretrainingData;

/// <summary>A padded batch of pre-training examples, row-major [B, S].</summary>
public sealed class PretrainingBatch
{
    public required ModelInput Input { get; init; }
    /// <summary>[B·S]: original id at masked positions, −100 elsewhere (HF convention).</summary>
    public required int[] MlmLabels { get; init; }
    /// <summary>[B]: 0 = B is the actual next segment, 1 = random.</summary>
    public required int[] NextSentenceLabels { get; init; }
    /// <summary>[B]: dataset index of each row.</summary>
    public required int[] ExampleIndices { get; init; }
    /// <summary>Epoch the batch belongs to (for iterator batches).</summary>
    public int Epoch { get; init; }

    public int Batch => Input.Batch;
    public int Seq => Input.Seq;
    public int[] InputIds => Input.InputIds;
    public int[] AttentionMask => Input.AttentionMask;
    public int[] TokenTypeIds => Input.TokenTypeIds;
}

/// <summary>
/// The examples of one split, memory-mapped from its shards: random access by index without loading the data.
/// Thread-safe for reads.
/// </summary>
public sealed class PretrainingDataset : IDisposable
{
    private readonly PretrainingShardReader[] _shards;
    private readonly int[] _starts; // first global index of each shard, plus Count

    private PretrainingDataset(PretrainingShardReader[] shards, int padId, PretrainingManifest? manifest)
    {
        _shards = shards;
        PadId = padId;
        Manifest = manifest;
        _starts = new int[shards.Length + 1];
        long total = 0;
        for (int i = 0; i < shards.Length; i++)
        {
            _starts[i] = (int)total;
            total += shards[i].Count;
            if (total > int.MaxValue) throw new InvalidDataException("More than 2^31−1 examples in one split.");
            if (i > 0 && (shards[i].MaxSeqLength != shards[0].MaxSeqLength || shards[i].VocabSize != shards[0].VocabSize))
                throw new InvalidDataException($"Shard '{shards[i].Path}' has a different sequence length or vocabulary than '{shards[0].Path}'.");
        }
        _starts[^1] = (int)total;
        Count = (int)total;
        MaxSeqLength = shards.Length > 0 ? shards[0].MaxSeqLength : manifest?.MaxSeqLength ?? 0;
        VocabSize = shards.Length > 0 ? shards[0].VocabSize : manifest?.VocabSize ?? 0;
    }

    /// <summary>Opens a split (<c>"train"</c> or <c>"heldout"</c>) of a shard folder written by <see cref="PretrainingDataBuilder.Build"/>.</summary>
    /// <exception cref="FileNotFoundException">No manifest.</exception>
    /// <exception cref="InvalidDataException">Corrupt manifest or shard, or shard sizes that differ from the manifest.</exception>
    /// <exception cref="KeyNotFoundException">The manifest has no such split.</exception>
    public static PretrainingDataset Open(string directory, string split = PretrainingManifest.TrainSplit)
    {
        string path = Path.Combine(directory, PretrainingManifest.FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No pre-training manifest in '{directory}'.", path);
        PretrainingManifest m = PretrainingManifest.Load(path);
        if (!m.Splits.TryGetValue(split, out SplitInfo? info))
            throw new KeyNotFoundException($"Manifest '{path}' has no split '{split}' (it has: {string.Join(", ", m.Splits.Keys)}).");
        var readers = new List<PretrainingShardReader>();
        try
        {
            foreach (ShardInfo s in info.Shards)
            {
                string file = Path.Combine(directory, s.File);
                if (!File.Exists(file)) throw new InvalidDataException($"Shard '{file}' listed in '{path}' is missing.");
                if (new FileInfo(file).Length != s.Bytes) throw new InvalidDataException(
                    $"Shard '{file}' has {new FileInfo(file).Length} bytes; the manifest says {s.Bytes}.");
                var r = PretrainingShardReader.Open(file);
                readers.Add(r);
                if (r.Count != s.Examples) throw new InvalidDataException($"Shard '{file}' has {r.Count} examples; the manifest says {s.Examples}.");
            }
            return new PretrainingDataset(readers.ToArray(), m.PadId, m);
        }
        catch
        {
            foreach (var r in readers) r.Dispose();
            throw;
        }
    }

    /// <summary>Opens shard files directly (in the given order).</summary>
    public static PretrainingDataset OpenShards(IEnumerable<string> shardPaths, int padId = 0)
    {
        var readers = new List<PretrainingShardReader>();
        try
        {
            foreach (string p in shardPaths) readers.Add(PretrainingShardReader.Open(p));
            return new PretrainingDataset(readers.ToArray(), padId, null);
        }
        catch
        {
            foreach (var r in readers) r.Dispose();
            throw;
        }
    }

    public PretrainingManifest? Manifest { get; }
    public int Count { get; }
    public int MaxSeqLength { get; }
    public int VocabSize { get; }
    public int PadId { get; }

    private (PretrainingShardReader Shard, int Local) Locate(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The dataset has {Count} examples.");
        int s = Array.BinarySearch(_starts, index);
        if (s < 0) s = ~s - 1;
        while (s + 1 < _starts.Length - 1 && _starts[s + 1] == index) s++; // skip empty shards
        return (_shards[s], index - _starts[s]);
    }

    /// <summary>Example <paramref name="index"/> (decoded from the mapped file).</summary>
    public PretrainingExample this[int index]
    {
        get
        {
            (PretrainingShardReader shard, int local) = Locate(index);
            return shard.Read(local);
        }
    }

    /// <summary>A batch of the given examples, padded to <see cref="MaxSeqLength"/>.</summary>
    public PretrainingBatch GetBatch(ReadOnlySpan<int> indices, int epoch = 0)
    {
        int b = indices.Length, s = MaxSeqLength;
        if (b == 0) throw new ArgumentException("A batch needs at least one example.", nameof(indices));
        var ids = new int[b * s];
        var mask = new int[b * s];
        var types = new int[b * s];
        var labels = new int[b * s];
        var nsp = new int[b];
        for (int r = 0; r < b; r++)
        {
            (PretrainingShardReader shard, int local) = Locate(indices[r]);
            nsp[r] = shard.ReadRow(local, PadId, ids.AsSpan(r * s, s), mask.AsSpan(r * s, s), types.AsSpan(r * s, s), labels.AsSpan(r * s, s));
        }
        return new PretrainingBatch
        {
            Input = new ModelInput(b, s, ids, mask, types),
            MlmLabels = labels,
            NextSentenceLabels = nsp,
            ExampleIndices = indices.ToArray(),
            Epoch = epoch,
        };
    }

    public void Dispose()
    {
        foreach (var r in _shards) r.Dispose();
    }
}

/// <summary>Where a training run is in the data: epoch, and number of examples of that epoch already consumed.</summary>
public readonly record struct DataPosition(int Epoch, int Index)
{
    public override string ToString() => $"epoch {Epoch}, example {Index}";
}

/// <summary>
/// Endless batches over a dataset in a seeded per-epoch shuffled order. The order of epoch e depends only on
/// (seed, e, Count), so saving <see cref="Position"/> and passing it back to the constructor resumes exactly.
/// </summary>
public sealed class PretrainingBatchIterator
{
    private readonly PretrainingDataset _data;
    private readonly long _seed;
    private int[]? _order;
    private int _orderEpoch = -1;

    /// <param name="data">The dataset.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <param name="seed">Shuffle seed.</param>
    /// <param name="start">Position to resume from (default: the start of epoch 0).</param>
    /// <param name="shuffle">False: dataset order every epoch.</param>
    /// <param name="dropLast">Skip an epoch's final partial batch (every batch then has exactly <paramref name="batchSize"/> rows).</param>
    public PretrainingBatchIterator(PretrainingDataset data, int batchSize, long seed, DataPosition start = default, bool shuffle = true,
        bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        if (data.Count == 0) throw new ArgumentException("The dataset is empty.", nameof(data));
        if (dropLast && data.Count < batchSize) throw new ArgumentException(
            $"dropLast with {data.Count} examples < batch size {batchSize} would never yield a batch.");
        if (start.Epoch < 0 || start.Index < 0 || start.Index > data.Count)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"Position must have epoch ≥ 0 and index in [0, {data.Count}].");
        _data = data; _seed = seed;
        BatchSize = batchSize; Shuffle = shuffle; DropLast = dropLast;
        Position = Normalize(start);
    }

    public int BatchSize { get; }
    public bool Shuffle { get; }
    public bool DropLast { get; }

    /// <summary>The position of the next batch (save it to resume).</summary>
    public DataPosition Position { get; private set; }

    private DataPosition Normalize(DataPosition p)
    {
        int remaining = _data.Count - p.Index;
        return remaining == 0 || (DropLast && remaining < BatchSize) ? new DataPosition(p.Epoch + 1, 0) : p;
    }

    /// <summary>The example order of an epoch.</summary>
    public int[] EpochOrder(int epoch)
    {
        var order = new int[_data.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (Shuffle) DeterministicRandom.Derive((ulong)_seed, 0x45504F4348UL, (ulong)epoch).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>The next batch; advances <see cref="Position"/> (moving to the next epoch at the end of one).</summary>
    public PretrainingBatch Next()
    {
        DataPosition p = Position;
        if (_orderEpoch != p.Epoch)
        {
            _order = EpochOrder(p.Epoch);
            _orderEpoch = p.Epoch;
        }
        int take = Math.Min(BatchSize, _data.Count - p.Index);
        PretrainingBatch batch = _data.GetBatch(_order.AsSpan(p.Index, take), p.Epoch);
        Position = Normalize(new DataPosition(p.Epoch, p.Index + take));
        return batch;
    }
}
