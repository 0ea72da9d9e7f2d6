using System.Runtime.InteropServices;
using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Inference;

/// <summary>Options of an <see cref="InferenceEngine"/>.</summary>
public sealed class InferenceOptions
{
    /// <summary>Threads (≤ 0: all cores).</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;
    /// <summary>Rows per work item of the row-wise phases (0: automatic: one block per thread up to 256 rows each, then 256).</summary>
    public int BlockRows { get; set; }
    /// <summary>Query rows per attention work item (0: automatic, 128: one item per (sequence, head) up to 128 tokens — each item gathers and packs
    /// the whole K and V of its head, so smaller chunks repeat that work).</summary>
    public int AttentionChunk { get; set; }
    /// <summary>int8 weights to use (null: everything fp32). Linears not in it stay fp32.</summary>
    public QuantizedWeights? Quantized { get; set; }
    /// <summary>How work is divided among threads (Auto: split GEMM columns when there are few rows per thread).</summary>
    public WorkSplit Split { get; set; }
    /// <summary>
    /// The int8 GEMM kernel (Auto: the fastest the CPU has). <see cref="Int8Path.Avx512Bw"/>, Auto's choice on AVX-512 CPUs
    /// without AVX-VNNI, quantizes activations to 7 bits; <see cref="Int8Path.Avx2"/> keeps 8 bits at ≈ ¼ of its speed.
    /// </summary>
    public Int8Path Int8Kernel { get; set; }
}

/// <summary>One sequence of a ragged batch: token ids and (optional) token-type ids of the same length. No padding.</summary>
public readonly record struct TokenSequence(int[] InputIds, int[]? TokenTypeIds = null);

/// <summary>
/// The result of <see cref="InferenceEngine.Run(ModelInput)"/> / <see cref="InferenceEngine.Run(IReadOnlyList{TokenSequence})"/>.
/// Owned and reused by the engine: valid until its next run (copy what you keep).
/// </summary>
public sealed class InferenceResult
{
    internal float[] HiddenBuf = [], PooledBuf = [], LogitsBuf = [];
    internal int[] SegStart = [], SegLen = [];
    /// <summary>Sequences (batch rows, or ragged sequences).</summary>
    public int Sequences { get; internal set; }
    /// <summary>Token rows computed (B·S for a padded batch, Σ lengths for a ragged one).</summary>
    public int Rows { get; internal set; }
    public int HiddenSize { get; internal set; }
    public int NumLabels { get; internal set; }
    /// <summary>Last hidden state of every computed row, [Rows, H] (a padded batch: HF's [B, S, H]).</summary>
    public ReadOnlySpan<float> LastHiddenState => HiddenBuf.AsSpan(0, Rows * HiddenSize);
    /// <summary>Last hidden state of sequence i, [len_i, H].</summary>
    public ReadOnlySpan<float> HiddenState(int i) => HiddenBuf.AsSpan(SegStart[i] * HiddenSize, SegLen[i] * HiddenSize);
    /// <summary>Pooled output [Sequences, H] (empty without a pooler).</summary>
    public ReadOnlySpan<float> PooledOutput => PooledBuf.AsSpan(0, HasPooler ? Sequences * HiddenSize : 0);
    /// <summary>Sequence-classification logits [Sequences, num_labels] (empty without the classifier head).</summary>
    public ReadOnlySpan<float> Logits => LogitsBuf.AsSpan(0, Sequences * NumLabels);
    public bool HasPooler { get; internal set; }
    /// <summary>With <see cref="InferenceOutputs.HiddenStates"/>: (L + 1) × [B·S·H] (embeddings output first); else null.</summary>
    public IReadOnlyList<float[]>? HiddenStates { get; internal set; }
    /// <summary>With <see cref="InferenceOutputs.Attentions"/>: L × [B·heads·S·S]; else null.</summary>
    public IReadOnlyList<float[]>? Attentions { get; internal set; }
}

/// <summary>
/// Fast inference executor for a <see cref="MobileBertModel"/> (eval mode, no dropout): weights pre-packed once
/// (fused where several Linears read the same input), buffers planned and reused (no allocation per call in steady
/// state), epilogues (bias, activation, residual + NoNorm/LayerNorm) applied to each block of rows right after its GEMM
/// while it is in cache, and a threading plan with two parallel regions per layer:
/// <list type="bullet">
/// <item>row-wise phase: each work item is a block of rows that runs everything row-local back to back —
/// attention output dense + norm, every FFN, the output bottleneck, then the next layer's bottlenecks and Q/K/V
/// projections (or the embeddings and layer 0's projections);</item>
/// <item>attention phase: work items are (sequence, head, chunk of query rows); only one [chunk, len] score block per
/// thread exists at a time.</item>
/// </list>
/// With many sequences (or equal-length ones in a multiple of the thread count) blocks hold whole sequences and run
/// their own attention inside the row-wise phase, right after their projections: one region per layer
/// (<see cref="SequenceBlocks"/>).
/// Length-aware: <see cref="Run(IReadOnlyList{TokenSequence})"/> takes sequences of different lengths and computes
/// no padding at all (rows of all sequences are concatenated; attention stays within each sequence). The result equals
/// running each sequence alone through <see cref="MobileBertModel.Forward"/>. <see cref="Run(ModelInput)"/> reproduces
/// <see cref="MobileBertModel.Forward"/> on a padded batch, padding positions included.
/// <para>Not thread-safe: one run at a time per engine (the kernels' worker pool runs one region at a time anyway).</para>
/// </summary>
public sealed unsafe partial class InferenceEngine : IDisposable
{
    readonly MobileBertModel _model;
    readonly MobileBertConfig _c;
    readonly LayerPlan[] _layers;
    readonly LinearOp? _embTransform, _pooler, _classifier;
    GCHandle _self;   // how worker jobs find the engine; freed by Dispose
    readonly object _runGate = new();   // held by a run; Dispose takes it, so it never frees _self under a running forward
    bool _disposed;
    readonly InferenceResult _result = new();
    int _capacityRows, _capacitySeqs;

    // Planned buffers (pinned, sized for _capacityRows).
    float[] _h0 = [], _h1 = [], _pre = [], _li = [], _qk = [], _pre2 = [], _ctx = [], _a0 = [], _a1 = [], _inner = [], _emb = [], _mask = [];
    int[] _ids = [], _types = [], _pos = [], _segOf = [];
    int[] _segStart = [], _segLen = [];
    int[] _items = [];       // attention items: (segment, head, q0) packed as 3 ints
    float[] _first = [];
    int _rows, _seqs, _itemCount, _blockRows;
    // Row blocks: first row and row count; with whole-sequence blocks also their attention items [item0, item1).
    int[] _blkStart = [], _blkLen = [], _blkItem0 = [], _blkItem1 = [];
    bool _seqBlocks;
    bool _masked;
    float[] _hidden = [];    // the buffer holding the current hidden state (_h0 or _h1)

    /// <summary>Builds the executor: packs (and fuses) every Linear of <paramref name="model"/>; int8 where
    /// <see cref="InferenceOptions.Quantized"/> has weights. The model's weights are read now; later changes to them are not seen.</summary>
    public InferenceEngine(MobileBertModel model, InferenceOptions? options = null)
    {
        options ??= new InferenceOptions();
        _model = model; _c = model.Config;
        if (!model.Store.IsAllocated) throw new InvalidOperationException("Model weights are not allocated.");
        Threads = options.Threads;
        BlockRowsOption = options.BlockRows;
        AttentionChunk = options.AttentionChunk > 0 ? options.AttentionChunk : 128;
        Split = options.Split;
        var q = options.Quantized;   // packed into the ops below; not kept (the caller may drop it: ≈ 20 MB for MobileBERT)
        if (q is not null) q.Validate(model);
        var kernel = Int8Gemm.RequireSupported(options.Int8Kernel);
        LinearOp Op(params Linear[] parts) => MakeOp(parts, q, kernel);
        if (_c.UsesEmbeddingTransformation) _embTransform = Op(model.Embeddings.Transformation!);
        _layers = new LayerPlan[model.Layers.Length];
        for (int l = 0; l < _layers.Length; l++) _layers[l] = new LayerPlan(model.Layers[l], _c, Op);
        if (model.Pooler?.Dense is { } pd) _pooler = Op(pd);
        if (model.Classifier is { } cls) _classifier = Op(cls.Dense);
        // Each dense layer prefetches the weights of the one that runs after it in a row block (the encoder's in order).
        var chain = _layers.SelectMany(l => l.Ops()).Prepend(_embTransform).Where(o => o is not null).ToList();
        for (int i = 0; i + 1 < chain.Count; i++) chain[i]!.Then = chain[i + 1];
        _self = GCHandle.Alloc(this);
    }

    /// <summary>The model this engine was built from.</summary>
    public MobileBertModel Model => _model;
    /// <summary>Threads used (≤ 0: all cores).</summary>
    public int Threads { get; set; }
    public int BlockRowsOption { get; set; }
    /// <summary>With enough sequences (≥ <see cref="SequenceBlocksMinPerThread"/> per thread, or sequences of one length
    /// in a multiple of the thread count) blocks hold whole sequences
    /// and a block runs its sequences' attention right after their projections, in the same parallel region: Q, K, V
    /// are still in the core's cache, and there is one fork/join per layer instead of two (false: row blocks and a
    /// separate attention region, as at batch 1; for A/B benches).</summary>
    internal bool SequenceBlocks { get; set; } = true;
    internal const int SequenceBlocksMinPerThread = 4;
    /// <summary>Automatic row blocks hold at most this many rows (256; for A/B benches).</summary>
    internal int MaxBlockRows { get; set; } = 256;
    public int AttentionChunk { get; set; }
    /// <summary>How work is divided among threads (see <see cref="WorkSplit"/>).</summary>
    public WorkSplit Split { get; set; }
    /// <summary>Whether some dense layer runs int8 (<see cref="InferenceOptions.Quantized"/>; per layer: <see cref="Linears"/>).</summary>
    public bool IsQuantized => Linears().Any(l => l.Int8);

    /// <summary>Names of the planned dense layers and whether each runs int8 (for reports).</summary>
    public IEnumerable<(string Name, bool Int8)> Linears()
    {
        if (_embTransform is not null) yield return (_embTransform.Name, _embTransform.IsInt8);
        foreach (var l in _layers) foreach (var op in l.Ops()) yield return (op.Name, op.IsInt8);
        if (_pooler is not null) yield return (_pooler.Name, _pooler.IsInt8);
        if (_classifier is not null) yield return (_classifier.Name, _classifier.IsInt8);
    }

    static LinearOp MakeOp(Linear[] parts, QuantizedWeights? q, Int8Path kernel)
    {
        if (q is not null && parts.All(p => q.Contains(p.Weight.Name)))
        {
            var (b, k, n, name) = LinearOp.ConcatBias(parts);
            if (parts.Length == 1) return new Int8LinearOp(name, q[parts[0].Weight.Name], b, kernel);   // packed straight from it: no copy
            var w = new sbyte[(long)n * k]; var s = new float[n];
            int o = 0;
            foreach (var p in parts)
            {
                var ql = q[p.Weight.Name];
                ql.Weights.AsSpan().CopyTo(w.AsSpan(o * k, p.Out * k));
                ql.Scales.AsSpan().CopyTo(s.AsSpan(o, p.Out));
                o += p.Out;
            }
            return new Int8LinearOp(name, new QuantizedLinear(w, s, k, n), b, kernel);
        }
        return new Fp32LinearOp(parts);
    }

    /// <summary>Releases the engine. Waits for a run in progress on another thread; a later run throws
    /// <see cref="ObjectDisposedException"/>. Idempotent.</summary>
    public void Dispose()
    {
        lock (_runGate)
        {
            if (_disposed) return;
            _disposed = true;
            _self.Free();
        }
    }

    /// <summary>
    /// A padded batch, exactly as <see cref="MobileBertModel.Forward"/> computes it (every position, masked keys
    /// excluded from attention, position ids 0…S−1 per row). Heads: pooler and sequence classifier when the model has them.
    /// </summary>
    public InferenceResult Run(ModelInput input) => Run(input, InferenceOutputs.None);

    /// <summary>
    /// <see cref="Run(ModelInput)"/> that also returns per-layer outputs (<see cref="InferenceResult.HiddenStates"/>,
    /// <see cref="InferenceResult.Attentions"/>; engine-owned arrays, reused by the next run of the same shape) — e.g. a
    /// distillation teacher. Runs the row-block plan (not the column split).
    /// </summary>
    public InferenceResult Run(ModelInput input, InferenceOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(input);
        _capture = outputs;
        int b = input.Batch, s = input.Seq;
        if (s > _c.MaxPositionEmbeddings) throw new ArgumentException($"Sequence length {s} exceeds max_position_embeddings " +
            $"= {_c.MaxPositionEmbeddings}.");
        Ensure(b * s, b);
        bool masked = false;
        for (int i = 0; i < b * s; i++)
        {
            int v = input.AttentionMask[i];
            if (v is not (0 or 1)) throw new ArgumentException($"attention_mask[{i}] = {v}; values must be 0 or 1.");
            _mask[i] = (1 - v) * float.MinValue;
            masked |= v == 0;
        }
        for (int i = 0; i < b; i++) { _segStart[i] = i * s; _segLen[i] = s; }
        CheckIds(input.InputIds, input.TokenTypeIds, 0, b * s);
        input.InputIds.AsSpan(0, b * s).CopyTo(_ids);
        input.TokenTypeIds.AsSpan(0, b * s).CopyTo(_types);
        _masked = masked;
        PlanCapture(b, s);
        return Execute(b * s, b);
    }

    /// <summary>
    /// Sequences of any lengths (1…max_position_embeddings), no padding computed. Sequence i's hidden states are
    /// <see cref="InferenceResult.HiddenState"/>(i); the result equals running it alone, unpadded.
    /// </summary>
    public InferenceResult Run(IReadOnlyList<TokenSequence> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        _capture = InferenceOutputs.None;
        if (sequences.Count == 0) throw new ArgumentException("No sequences.");
        long total = 0;
        for (int i = 0; i < sequences.Count; i++)
        {
            var sq = sequences[i];
            if (sq.InputIds is null || sq.InputIds.Length == 0) throw new ArgumentException($"Sequence {i} is empty.");
            if (sq.InputIds.Length > _c.MaxPositionEmbeddings) throw new ArgumentException(
                $"Sequence {i} has {sq.InputIds.Length} tokens; max_position_embeddings = {_c.MaxPositionEmbeddings}.");
            if (sq.TokenTypeIds is not null && sq.TokenTypeIds.Length != sq.InputIds.Length) throw new ArgumentException(
                $"Sequence {i}: token_type_ids has {sq.TokenTypeIds.Length} values, input_ids {sq.InputIds.Length}.");
            total += sq.InputIds.Length;
        }
        if (total > int.MaxValue / Math.Max(_c.IntermediateSize, 3 * _c.HiddenSize)) throw new ArgumentException(
            "Too many tokens in one run; split the batch (see RunGrouped).");
        int rows = (int)total, n = sequences.Count;
        Ensure(rows, n);
        int r = 0;
        for (int i = 0; i < n; i++)
        {
            var sq = sequences[i]; int len = sq.InputIds.Length;
            _segStart[i] = r; _segLen[i] = len;
            sq.InputIds.CopyTo(_ids, r);
            if (sq.TokenTypeIds is null) Array.Clear(_types, r, len); else sq.TokenTypeIds.CopyTo(_types, r);
            r += len;
        }
        CheckIds(_ids, _types, 0, rows);
        _masked = false;
        return Execute(rows, n);
    }

    /// <summary>
    /// Many sequences in groups of at most <paramref name="maxTokens"/> tokens (sorted by length so groups are
    /// homogeneous; no padding either way). Calls <paramref name="onGroup"/> with the indices (into
    /// <paramref name="sequences"/>) of each group and its result (valid during the callback).
    /// </summary>
    public void RunGrouped(IReadOnlyList<TokenSequence> sequences, int maxTokens, Action<int[], InferenceResult> onGroup)
    {
        if (maxTokens < 1) throw new ArgumentException("maxTokens must be positive.");
        var order = Enumerable.Range(0, sequences.Count).OrderBy(i => sequences[i].InputIds.Length).ToArray();
        var group = new List<int>(); int tokens = 0;
        var batch = new List<TokenSequence>();
        void Flush()
        {
            if (group.Count == 0) return;
            batch.Clear(); foreach (int i in group) batch.Add(sequences[i]);
            onGroup([.. group], Run(batch));
            group.Clear(); tokens = 0;
        }
        foreach (int i in order)
        {
            int len = sequences[i].InputIds.Length;
            if (tokens + len > maxTokens) Flush();
            group.Add(i); tokens += len;
        }
        Flush();
    }

    void CheckIds(ReadOnlySpan<int> ids, ReadOnlySpan<int> types, int start, int count)
    {
        for (int i = start; i < start + count; i++)
        {
            if ((uint)ids[i] >= (uint)_c.VocabSize) throw new ArgumentException(
                $"input_ids[{i}] = {ids[i]} is outside word_embeddings (input_ids) [0, {_c.VocabSize}).");
            if ((uint)types[i] >= (uint)_c.TypeVocabSize) throw new ArgumentException(
                $"token_type_ids[{i}] = {types[i]} is outside token_type_embeddings (token_type_ids) [0, {_c.TypeVocabSize}).");
        }
    }

    static T[] Grow<T>(T[] a, long n) => a.Length >= n ? a : GC.AllocateUninitializedArray<T>(checked((int)n), pinned: true);

    /// <summary>Plans buffers for up to <paramref name="rows"/> tokens and <paramref name="seqs"/> sequences (grows only).</summary>
    public void Ensure(int rows, int seqs)
    {
        if (rows <= _capacityRows && seqs <= _capacitySeqs) return;
        rows = Math.Max(rows, _capacityRows); seqs = Math.Max(seqs, _capacitySeqs);
        int h = _c.HiddenSize, t = _c.TrueHiddenSize;
        long R = rows;
        _h0 = Grow(_h0, R * h); _h1 = Grow(_h1, R * h);
        int preW = _layers.Length == 0 ? 0 : _layers.Max(l => l.PreH.Out), pre2W = _layers.Length == 0 ? 0 : _layers.Max(l => l.PreQk?.Out ?? 0);
        _pre = Grow(_pre, R * preW); _pre2 = Grow(_pre2, R * Math.Max(pre2W, 1));
        _li = Grow(_li, R * t); _qk = Grow(_qk, R * t); _ctx = Grow(_ctx, R * t); _a0 = Grow(_a0, R * t); _a1 = Grow(_a1, R * t);
        _inner = Grow(_inner, R * _c.IntermediateSize);
        _emb = Grow(_emb, R * _c.EmbeddedInputSize);
        _mask = Grow(_mask, R);
        _ids = Grow(_ids, R); _types = Grow(_types, R); _pos = Grow(_pos, R); _segOf = Grow(_segOf, R);
        _segStart = Grow(_segStart, seqs); _segLen = Grow(_segLen, seqs);
        _first = Grow(_first, (long)seqs * h);
        _result.PooledBuf = Grow(_result.PooledBuf, (long)seqs * h);
        _result.LogitsBuf = Grow(_result.LogitsBuf, (long)seqs * _c.NumLabels);
        _capacityRows = rows; _capacitySeqs = seqs;
    }

    InferenceResult Execute(int rows, int seqs)
    {
        lock (_runGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ParallelFor.BeginBurst();   // the forward's regions run back to back: workers spin between them
            try { return ExecuteLocked(rows, seqs); }
            finally { ParallelFor.EndBurst(); }
        }
    }

    InferenceResult ExecuteLocked(int rows, int seqs)
    {
        _rows = rows; _seqs = seqs;
        for (int i = 0; i < seqs; i++)
            for (int j = 0; j < _segLen[i]; j++) { _pos[_segStart[i] + j] = j; _segOf[_segStart[i] + j] = i; }
        int threads = ParallelFor.ResolveThreads(Threads);
        // Every row block streams all of a layer's weights through L2, so blocks must be tall enough to amortise that
        // (≥ 64 rows: ≥ 32 FLOP per weight byte fp32); up to 256·threads rows one block per thread, then 256-row blocks.
        int most = MaxBlockRows;
        _blockRows = BlockRowsOption > 0 ? BlockRowsOption : rows <= most * threads ? Math.Max(8, (rows + threads - 1) / threads + 7) / 8 * 8 : most;
        // Attention items: (segment, head, first query row), segment by segment.
        int heads = _c.NumAttentionHeads, chunk = Math.Max(1, AttentionChunk);
        int items = 0;
        for (int i = 0; i < seqs; i++) items += SegmentItems(i, chunk);
        _items = Grow(_items, 3L * items);
        int it = 0;
        for (int i = 0; i < seqs; i++)
            for (int hd = 0; hd < heads; hd++)
                for (int q0 = 0; q0 < _segLen[i]; q0 += chunk) { _items[it++] = i; _items[it++] = hd; _items[it++] = q0; }
        _itemCount = items;
        int blocks = PlanBlocks(rows, seqs, threads, chunk);
        _track = TracksSplit(threads, blocks);
        _adapt = AdaptsSplit(rows);
        if (_adapt) ApplySplit();
        if (UseColumns(rows, threads) && _capture == InferenceOutputs.None)
        {
            var p = Profile;
            long tc = p is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            ExecuteTeam(threads);
            p?.Region(2, ref tc);
            Heads(seqs, threads);
            p?.Region(3, ref tc);
            return Finish(rows, seqs);
        }
        var job = new Job { Self = GCHandle.ToIntPtr(_self) };
        // Phase 0: embeddings + layer 0's projections. Then per layer: attention, then (post l + pre l+1).
        var prof = Profile;
        if (prof is not null) prof.CallerThread = Environment.CurrentManagedThreadId;
        long t0 = prof is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        job.Kind = 0; job.Layer = 0;
        Region(blocks, threads, ref job);
        prof?.Region(0, ref t0);
        AfterRowRegion();
        // With whole-sequence blocks each region ends with the next layer's attention of the block (see SequenceBlock).
        var hIn = _h0; var hOut = _h1;
        for (int l = 0; l < _layers.Length; l++)
        {
            if (!_seqBlocks)
            {
                job.Kind = 1; job.Layer = l;
                Region(_itemCount, threads, ref job);
                prof?.Region(1, ref t0);
            }
            job.Kind = 2; job.Layer = l;
            _hidden = hIn; _hiddenOut = hOut;
            Region(blocks, threads, ref job);
            prof?.Region(2, ref t0);
            AfterRowRegion();
            (hIn, hOut) = (hOut, hIn);
        }
        _hidden = hIn;
        Heads(seqs, threads);
        prof?.Region(3, ref t0);
        return Finish(rows, seqs);
    }

    InferenceResult Finish(int rows, int seqs)
    {
        var res = _result;
        res.HiddenBuf = _hidden; res.SegStart = _segStart; res.SegLen = _segLen;
        res.Sequences = seqs; res.Rows = rows; res.HiddenSize = _c.HiddenSize;
        res.HasPooler = _model.HasPooler; res.NumLabels = _classifier is null ? 0 : _c.NumLabels;
        res.HiddenStates = CapturesHidden ? _capHidden : null;
        res.Attentions = CapturesAttentions ? _capAttn : null;
        return res;
    }

    float[] _hiddenOut = [];

    /// <summary>Row blocks and attention items go to threads in contiguous per-thread ranges first
    /// (<see cref="ParallelFor.RunAffine"/>), so a thread keeps working on the rows it produced in the previous region
    /// (false: plain dynamic hand-out; for A/B benches).</summary>
    internal static bool UseAffinity = true;

    static void Region(int count, int threads, ref Job job)
    {
        if (UseAffinity) ParallelFor.RunAffine(count, threads, ref job);
        else ParallelFor.Run(count, threads, ref job);
    }

    void Heads(int seqs, int threads)
    {
        if (!_model.HasPooler) return;
        int h = _c.HiddenSize;
        fixed (float* ph = _hidden, pf = _first, pp = _result.PooledBuf, pl = _result.LogitsBuf)
        {
            for (int i = 0; i < seqs; i++) new ReadOnlySpan<float>(ph + (long)_segStart[i] * h, h).CopyTo(new Span<float>(pf + (long)i * h, h));
            if (_pooler is null) new ReadOnlySpan<float>(pf, seqs * h).CopyTo(new Span<float>(pp, seqs * h));
            else
            {
                _pooler.Run(pf, seqs, pp);
                Activations.Tanh(new Span<float>(pp, seqs * h));
            }
            _classifier?.Run(pp, seqs, pl);
        }
    }

    struct Job : IParallelBody
    {
        public nint Self;
        public int Kind, Layer;
        public readonly void Invoke(int index)
        {
            var e = (InferenceEngine)GCHandle.FromIntPtr(Self).Target!;
            var prof = e.Profile;
            var t0 = prof?.Start() ?? default;
            long ticks = e._track ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            switch (Kind)
            {
                case 0: e.EmbedBlock(index); break;
                case 1: e.AttentionItem(Layer, index); break;
                case 3: e.TeamRun(); return;
                default: e.PostBlock(Layer, index); break;
            }
            if (e._track && Kind != 1) e._blkTicks[index] = System.Diagnostics.Stopwatch.GetTimestamp() - ticks;
            prof?.Item(Kind, t0);
        }
    }

    (int r0, int n) Block(int index) => (_blkStart[index], _blkLen[index]);

    /// <summary>Attention items of segment <paramref name="seg"/>: one per (head, chunk of ≤ <paramref name="chunk"/> query rows).</summary>
    int SegmentItems(int seg, int chunk) => _c.NumAttentionHeads * ((_segLen[seg] + chunk - 1) / chunk);

    /// <summary>Plans the row blocks of a run (returns their count): whole sequences per block when
    /// <see cref="SequenceBlocks"/> applies, else <see cref="_blockRows"/>-row blocks.</summary>
    int PlanBlocks(int rows, int seqs, int threads, int chunk)
    {
        // Whole-sequence blocks when there are enough of them to balance the threads, or when they split the rows evenly
        // anyway (sequences of one length, a multiple of the thread count: a padded batch).
        bool sameLength = true;
        for (int i = 1; i < seqs && sameLength; i++) sameLength = _segLen[i] == _segLen[0];
        _seqBlocks = SequenceBlocks && BlockRowsOption == 0 && (seqs >= SequenceBlocksMinPerThread * threads || (sameLength && seqs % threads == 0));
        int cap = _seqBlocks ? seqs : (rows + _blockRows - 1) / _blockRows;
        _blkStart = Grow(_blkStart, cap); _blkLen = Grow(_blkLen, cap); _blkItem0 = Grow(_blkItem0, cap); _blkItem1 = Grow(_blkItem1, cap);
        int blocks = 0;
        if (!_seqBlocks)
        {
            for (int r0 = 0; r0 < rows; r0 += _blockRows) { _blkStart[blocks] = r0; _blkLen[blocks] = Math.Min(_blockRows, rows - r0); blocks++; }
            return blocks;
        }
        // Consecutive sequences until a block would pass _blockRows rows (a longer sequence is a block of its own).
        int item = 0;
        for (int i = 0; i < seqs;)
        {
            _blkStart[blocks] = _segStart[i]; _blkItem0[blocks] = item;
            int n = 0;
            do { n += _segLen[i]; item += SegmentItems(i, chunk); i++; }
            while (i < seqs && n + _segLen[i] <= _blockRows);
            _blkLen[blocks] = n; _blkItem1[blocks] = item;
            blocks++;
        }
        return blocks;
    }

    /// <summary>Whole-sequence blocks: layer l's attention of block <paramref name="index"/>, right after its projections.</summary>
    void BlockAttention(int l, int index)
    {
        var prof = Profile;
        var t0 = prof?.Start() ?? default;
        for (int k = _blkItem0[index]; k < _blkItem1[index]; k++) AttentionItem(l, k);
        prof?.Item(1, t0);
    }

    // ───────────── phase 0: embeddings (+ layer 0 projections) ─────────────
    void EmbedBlock(int index)
    {
        var (r0, n) = Block(index);
        EmbedRows(r0, n);
        fixed (float* ph = _h0) CaptureHidden(0, ph, r0, n);
        if (_layers.Length > 0) { PreBlock(0, _h0, r0, n); if (_seqBlocks) BlockAttention(0, index); }
    }

    /// <summary>Embeddings of rows [r0, r0+n) into _h0.</summary>
    void EmbedRows(int r0, int n)
    {
        int e = _c.EmbeddingSize, h = _c.HiddenSize, ein = _c.EmbeddedInputSize;
        var m = _model.Embeddings;
        var words = m.Store.Span(m.WordEmbeddings);
        var pos = m.Store.Span(m.PositionEmbeddings);
        var types = m.Store.Span(m.TokenTypeEmbeddings);
        fixed (float* pe = _emb, ph = _h0)
        {
            float* x = ph + (long)r0 * h;
            var xs = new Span<float>(x, n * h);
            if (_embTransform is not null)
            {
                float* tin = pe + (long)r0 * ein;
                for (int r = 0; r < n; r++)
                {
                    int row = r0 + r;
                    var dst = new Span<float>(tin + (long)r * ein, ein);
                    if (_c.TrigramInput)
                    {
                        int p = _pos[row], len = _segLen[_segOf[row]];
                        if (p + 1 < len) words.Slice(_ids[row + 1] * e, e).CopyTo(dst[..e]); else dst[..e].Clear();
                        words.Slice(_ids[row] * e, e).CopyTo(dst.Slice(e, e));
                        if (p > 0) words.Slice(_ids[row - 1] * e, e).CopyTo(dst.Slice(2 * e, e)); else dst.Slice(2 * e, e).Clear();
                    }
                    else words.Slice(_ids[row] * e, e).CopyTo(dst);
                }
                _embTransform.Run(tin, n, x);
            }
            else
                for (int r = 0; r < n; r++) words.Slice(_ids[r0 + r] * e, e).CopyTo(xs.Slice(r * h, h));
            for (int r = 0; r < n; r++)
            {
                var row = xs.Slice(r * h, h);
                System.Numerics.Tensors.TensorPrimitives.Add(row, pos.Slice(_pos[r0 + r] * h, h), row);
                System.Numerics.Tensors.TensorPrimitives.Add(row, types.Slice(_types[r0 + r] * h, h), row);
            }
            m.Norm.Forward(xs, xs, n);
        }
    }

    // ───────────── row-wise: projections of layer l ─────────────
    void PreBlock(int l, float[] hidden, int r0, int n)
    {
        var L = _layers[l];
        int h = _c.HiddenSize, t = _c.TrueHiddenSize, pw = L.PreH.Out;
        fixed (float* ph = hidden, ppre = _pre, pli = _li, pqk = _qk, ppre2 = _pre2)
        {
            float* pre = ppre + (long)r0 * pw;
            L.PreH.Run(ph + (long)r0 * h, n, pre);
            if (L.LiNorm is not null)
                for (int r = 0; r < n; r++)
                    L.LiNorm.Forward(new ReadOnlySpan<float>(pre + (long)r * pw + L.ColLi, t), new Span<float>(pli + ((long)r0 + r) * t, t), 1);
            if (L.QkNorm is not null)
                for (int r = 0; r < n; r++)
                    L.QkNorm.Forward(new ReadOnlySpan<float>(pre + (long)r * pw + L.ColQk, t), new Span<float>(pqk + ((long)r0 + r) * t, t), 1);
            if (L.PreQk is not null)
            {
                float* src = L.PreQkReadsLi ? pli : pqk;
                L.PreQk.Run(src + (long)r0 * t, n, ppre2 + (long)r0 * L.PreQk.Out);
            }
        }
    }

    // ───────────── row-wise: everything after attention in layer l, then layer l+1's projections ─────────────
    void PostBlock(int l, int index)
    {
        var (r0, n) = Block(index);
        var L = _layers[l];
        int h = _c.HiddenSize, t = _c.TrueHiddenSize, I = _c.IntermediateSize;
        fixed (float* ph = _hidden, pout = _hiddenOut, pctx = _ctx, pa0 = _a0, pa1 = _a1, pin = _inner, pli = _li)
        {
            float* a = pa0 + (long)r0 * t, b = pa1 + (long)r0 * t, inner = pin + (long)r0 * I;
            float* residual = L.ResidualIsH ? ph + (long)r0 * h : pli + (long)r0 * t;
            L.AttnOut.Run(pctx + (long)r0 * t, n, a);
            L.AttnNorm.AddForward(new ReadOnlySpan<float>(a, n * t), new ReadOnlySpan<float>(residual, n * t), new Span<float>(a, n * t), n);
            for (int f = 0; f < L.Ffns.Length; f++)
            {
                var F = L.Ffns[f];
                bool last = f == L.Ffns.Length - 1;
                float* y = last && L.OutBottleneck is null ? pout + (long)r0 * h : b;
                F.Up.Run(a, n, inner);
                Activations.Apply(_c.HiddenAct, new Span<float>(inner, n * I));
                F.Down.Run(inner, n, y);
                F.Norm.AddForward(new ReadOnlySpan<float>(y, n * t), new ReadOnlySpan<float>(a, n * t), new Span<float>(y, n * t), n);
                float* tmp = a; a = y; b = tmp;
            }
            if (L.OutBottleneck is not null)
            {
                float* y = pout + (long)r0 * h;
                L.OutBottleneck.Run(a, n, y);
                L.OutBottleneckNorm!.AddForward(new ReadOnlySpan<float>(y, n * h), new ReadOnlySpan<float>(ph + (long)r0 * h, n * h),
                    new Span<float>(y, n * h), n);
            }
            CaptureHidden(l + 1, pout, r0, n);
        }
        if (l + 1 < _layers.Length) { PreBlock(l + 1, _hiddenOut, r0, n); if (_seqBlocks) BlockAttention(l + 1, index); }
    }

    // ───────────── attention: one (sequence, head, query chunk) ─────────────
    void AttentionItem(int l, int index)
    {
        var L = _layers[l];
        int seg = _items[3 * index], hd = _items[3 * index + 1], q0 = _items[3 * index + 2];
        int start = _segStart[seg], len = _segLen[seg], d = _c.AttentionHeadSize, t = _c.TrueHiddenSize;
        int c = Math.Min(AttentionChunk, len - q0);
        if (UseSmallHeadAttention && SmallHeadAttention.Supports(d))
        {
            var sh = AttnScratch(SmallHeadAttention.ScratchFloats(len, d));
            fixed (float* ps = sh, ppre = _pre, ppre2 = _pre2, pctx = _ctx, pm = _mask)
            {
                var (qb, qc, qs) = L.Q; var (kb, kc, ks) = L.K; var (vb, vc, vs) = L.V;
                float* qsrc = (qb == 0 ? ppre : ppre2) + qc + hd * d, ksrc = (kb == 0 ? ppre : ppre2) + kc + hd * d,
                    vsrc = (vb == 0 ? ppre : ppre2) + vc + hd * d;
                if (SmallHeadAttention.Run(qsrc + (long)(start + q0) * qs, qs, ksrc + (long)start * ks, ks, vsrc + (long)start * vs, vs,
                        pctx + (long)(start + q0) * t + hd * d, t, c, len, d, 1f / MathF.Sqrt(d), _masked ? pm + start : null, ps,
                        CaptureProbs(l, seg, hd, q0), len))
                    return;
            }   // a NaN / ±∞ score: the generic path below handles it as Softmax does
        }
        var scratch = AttnScratch(c * d + 2 * len * d + c * len + c * d);
        fixed (float* ps = scratch, ppre = _pre, ppre2 = _pre2, pctx = _ctx, pm = _mask)
        {
            float* qh = ps, kh = qh + c * d, vh = kh + len * d, sc = vh + len * d, ch = sc + c * len;
            var (qb, qc, qs) = L.Q; var (kb, kc, ks) = L.K; var (vb, vc, vs) = L.V;
            float* qsrc = (qb == 0 ? ppre : ppre2) + qc + hd * d, ksrc = (kb == 0 ? ppre : ppre2) + kc + hd * d,
                vsrc = (vb == 0 ? ppre : ppre2) + vc + hd * d;
            for (int i = 0; i < c; i++) Buffer.MemoryCopy(qsrc + (long)(start + q0 + i) * qs, qh + i * d, d * 4, d * 4);
            for (int j = 0; j < len; j++)
            {
                Buffer.MemoryCopy(ksrc + (long)(start + j) * ks, kh + j * d, d * 4, d * 4);
                Buffer.MemoryCopy(vsrc + (long)(start + j) * vs, vh + j * d, d * 4, d * 4);
            }
            var scores = new Span<float>(sc, c * len);
            Gemm.Multiply(new ReadOnlySpan<float>(qh, c * d), new ReadOnlySpan<float>(kh, len * d), scores, c, len, d, Transpose.No, Transpose.Yes);
            FusedSoftmax.ScaleMaskRows(scores, c, len, 1f / MathF.Sqrt(d), _masked ? new ReadOnlySpan<float>(pm + start, len) : default);
            if (CaptureProbs(l, seg, hd, q0) is var probs && probs != null) Buffer.MemoryCopy(sc, probs, (long)c * len * 4, (long)c * len * 4);
            Gemm.Multiply(scores, new ReadOnlySpan<float>(vh, len * d), new Span<float>(ch, c * d), c, d, len);
            for (int i = 0; i < c; i++) Buffer.MemoryCopy(ch + i * d, pctx + (long)(start + q0 + i) * t + hd * d, d * 4, d * 4);
        }
    }

    /// <summary>Use <see cref="SmallHeadAttention"/> where it applies (false: the generic attention path; for A/B benches
    /// and the equality tests — per engine, so tests running in parallel do not switch each other's path).</summary>
    internal bool UseSmallHeadAttention { get; set; } = true;

    [ThreadStatic] static float[]? t_attn;
    static float[] AttnScratch(int n) => t_attn is { } a && a.Length >= n ? a : t_attn =
        GC.AllocateUninitializedArray<float>(Math.Max(n, (t_attn?.Length ?? 0) * 3 / 2), pinned: true);

    /// <summary>The plan of one encoder layer: which fused GEMMs run, where Q/K/V land.</summary>
    sealed class LayerPlan
    {
        public LinearOp PreH = null!;            // reads h [rows, H]
        public int ColLi = -1, ColQk = -1;       // columns of the bottleneck pre-norm outputs in PreH's output
        public Norm? LiNorm, QkNorm;
        public LinearOp? PreQk;                  // reads qk (or li), produces Q|K(|V)
        public bool PreQkReadsLi;
        public (int Buf, int Col, int Stride) Q, K, V;   // Buf 0 = PreH output, 1 = PreQk output
        public bool ResidualIsH;
        public LinearOp AttnOut;
        public Norm AttnNorm;
        public (LinearOp Up, LinearOp Down, Norm Norm)[] Ffns;
        public LinearOp? OutBottleneck;
        public Norm? OutBottleneckNorm;

        /// <summary>Plans the layer from its <see cref="LayerDataFlow"/>: PreH fuses every projection that reads h (input bottleneck,
        /// shared query/key bottleneck, Q/K/V where they read h); PreQk fuses those that read the one bottleneck output feeding Q/K/V.
        /// MobileBERT: h → [li | qk | V], qk → [Q | K]; TINY: h → [li], li → [Q | K | V]; IB-BERT: h → [li | Q | K | V];
        /// BERT: h → [Q | K | V].</summary>
        public LayerPlan(EncoderLayer layer, MobileBertConfig c, Func<Linear[], LinearOp> op)
        {
            var att = layer.Attention; var flow = layer.Flow;
            List<Linear> fromH = [], fromBottleneck = [];
            LayerTensor? bottleneckSource = null;
            (int Buf, int Col) Place(Linear lin, LayerTensor source)
            {
                if (source != LayerTensor.BlockInput)
                {
                    if (bottleneckSource is { } other && other != source)
                        throw new NotSupportedException($"Q/K/V read two different bottleneck outputs ({other}, {source}).");
                    bottleneckSource = source;
                }
                var list = source == LayerTensor.BlockInput ? fromH : fromBottleneck;
                int col = list.Sum(x => x.Out);
                list.Add(lin);
                return (source == LayerTensor.BlockInput ? 0 : 1, col);
            }
            if (flow.InputBottleneck)
            {
                var bi = layer.Bottleneck!.Input;
                LiNorm = bi.Norm; ColLi = Place(bi.Dense, LayerTensor.BlockInput).Col;
            }
            if (flow.SharedQueryKeyBottleneck)
            {
                var ba = layer.Bottleneck!.Attention!;
                QkNorm = ba.Norm; ColQk = Place(ba.Dense, LayerTensor.BlockInput).Col;
            }
            var (q, k, v) = (Place(att.Query, flow.QueryKeyInput), Place(att.Key, flow.QueryKeyInput), Place(att.Value, flow.ValueInput));
            PreH = op([.. fromH]);
            if (fromBottleneck.Count > 0) { PreQk = op([.. fromBottleneck]); PreQkReadsLi = bottleneckSource == LayerTensor.InputBottleneck; }
            (int, int, int) Slot((int Buf, int Col) p) => (p.Buf, p.Col, p.Buf == 0 ? PreH.Out : PreQk!.Out);
            Q = Slot(q); K = Slot(k); V = Slot(v);
            ResidualIsH = flow.AttentionResidual == LayerTensor.BlockInput;
            if (!ResidualIsH && flow.AttentionResidual != LayerTensor.InputBottleneck)
                throw new NotSupportedException($"Attention residual {flow.AttentionResidual} is not planned.");
            AttnOut = op([att.OutputDense]); AttnNorm = att.OutputNorm;
            var ffns = layer.StackedFfns.Append(layer.LastFfn).ToArray();
            Ffns = ffns.Select(f => (op([f.Intermediate]), op([f.Output]), f.OutputNorm)).ToArray();
            if (layer.OutputBottleneck is not null) { OutBottleneck = op([layer.OutputBottleneck]); OutBottleneckNorm = layer.OutputBottleneckNorm; }
        }

        public IEnumerable<LinearOp> Ops()
        {
            yield return PreH;
            if (PreQk is not null) yield return PreQk;
            yield return AttnOut;
            foreach (var f in Ffns) { yield return f.Up; yield return f.Down; }
            if (OutBottleneck is not null) yield return OutBottleneck;
        }
    }
}
