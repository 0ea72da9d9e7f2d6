using System.Runtime.CompilerServices;
using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Inference;

/// <summary>How an <see cref="InferenceEngine"/> divides a forward among threads.</summary>
public enum WorkSplit
{
    /// <summary>Currently <see cref="Rows"/> (on the measured 2-core machine the column split cost more CPU per forward
    /// than it saved; see docs/INFERENCE.md).</summary>
    Auto,
    /// <summary>Blocks of rows: each thread runs everything row-local on its own rows (two parallel regions per layer);
    /// every block streams all of a layer's weights.</summary>
    Rows,
    /// <summary>One parallel region per forward; every GEMM is split along N (each thread reads only its share of the
    /// weights), norms / activation quantization by rows, attention by (sequence, head, chunk); steps are ordered by
    /// completion counters instead of new regions.</summary>
    Columns,
}

// The column-split ("team") executor: the whole forward is one parallel region whose participants walk the same list
// of steps. A step is a set of chunks handed out through an atomic counter; a participant that finds no chunk left
// waits until all chunks of the step are done, then moves on. Any number of participants works (a late or missing
// worker only means the others take its chunks), so there is no barrier that could deadlock.
public sealed unsafe partial class InferenceEngine
{

    /// <summary>Column chunks per thread of a split GEMM (more: better dynamic balance, smaller tiles).</summary>
    internal static int ColumnChunksPerThread = 2;
    /// <summary>Row chunks per thread of the row-wise steps (norms, activation quantization, embeddings).</summary>
    internal static int RowChunksPerThread = 2;

    int[] _claim = [], _done = [];
    int _teamFinished, _teamAbort, _teamThreads;
    byte[] _q = [];          // shared quantized activations [rows, _qStride] of the next int8 GEMM's input
    float[] _qs = [];        // their per-row scales
    int _qStride;

    static float* P(float[] a) { fixed (float* p = a) return p; }   // planned buffers are pinned

    /// <summary>Whether a run of <paramref name="rows"/> tokens on <paramref name="threads"/> threads splits GEMM columns.</summary>
    internal bool UsesColumnSplit(int rows, int threads) => UseColumns(rows, threads);

    bool UseColumns(int rows, int threads) => Split switch
    {
        WorkSplit.Columns => true,
        WorkSplit.Rows => false,
        _ => false,
    };

    void EnsureTeam(int rows)
    {
        if (_claim.Length == 0)
        {
            int steps = 2 + _layers.Sum(l => 8 + 4 * l.Ffns.Length + 2);   // an upper bound of the steps TeamProgram walks
            _claim = new int[steps]; _done = new int[steps];
        }
        if (_qStride == 0) _qStride = Math.Max(1, Linears0().Where(o => o.IsInt8).Select(o => o.QuantizedStride).DefaultIfEmpty(0).Max());
        _q = Grow(_q, (long)rows * _qStride + 64);
        _qs = Grow(_qs, rows);
    }

    IEnumerable<LinearOp> Linears0() { foreach (var l in _layers) foreach (var op in l.Ops()) yield return op; }

    void ExecuteTeam(int threads)
    {
        if (Profile is { } prof) prof.CallerThread = Environment.CurrentManagedThreadId;
        EnsureTeam(_rows);
        Array.Clear(_claim); Array.Clear(_done);
        _teamFinished = 0; _teamAbort = 0; _teamThreads = threads;
        var job = new Job { Self = System.Runtime.InteropServices.GCHandle.ToIntPtr(_self), Kind = 3 };
        ParallelFor.Run(threads, threads, ref job);
        _hidden = _layers.Length % 2 == 0 ? _h0 : _h1;
    }

    // ───────────── step protocol ─────────────

    /// <summary>Next chunk of step s (of <paramref name="chunks"/>), or −1 once all its chunks are done.</summary>
    int Claim(int s, int chunks)
    {
        if (Volatile.Read(ref _claim[s]) < chunks)
        {
            int c = Interlocked.Increment(ref _claim[s]) - 1;
            if (c < chunks) return c;
        }
        if (Volatile.Read(ref _done[s]) < chunks)
        {
            var prof = Profile;
            var t0 = prof?.Start() ?? default;
            var sw = new SpinWait();
            while (Volatile.Read(ref _done[s]) < chunks)
            {
                if (Volatile.Read(ref _teamAbort) != 0) throw new OperationCanceledException("Another thread of the forward failed.");
                sw.SpinOnce(sleep1Threshold: -1);
            }
            prof?.Item(6, t0);
        }
        return -1;
    }

    void Done(int s) => Interlocked.Increment(ref _done[s]);

    int RowChunks => Math.Max(1, Math.Min((_rows + 7) / 8, RowChunksPerThread * _teamThreads));
    (int r0, int n) RowChunk(int c, int chunks) { int r0 = (int)((long)c * _rows / chunks), r1 = (int)((long)(c + 1) * _rows / chunks);
        return (r0, r1 - r0); }

    int ColChunks(LinearOp op) => Math.Max(1, Math.Min((op.Out + op.ColumnAlign - 1) / op.ColumnAlign, ColumnChunksPerThread * _teamThreads));

    static bool IsNoNorm(Norm? n) => n is null || n.Kind == NormalizationType.NoNorm;

    /// <summary>
    /// Step: y = op(x) split along N; then on each chunk's columns: <paramref name="act"/>, or y = NoNorm(y + residual)
    /// when <paramref name="addNorm"/> is set (element-wise, so column-local; LayerNorm needs a row step instead), or
    /// (<paramref name="pre"/>) the bottleneck NoNorms of the layer's input projection into li / qk.
    /// </summary>
    void ColStep(ref int s, LinearOp op, float* x, float* y, bool act = false, Norm? addNorm = null, float* residual = null, LayerPlan? pre = null,
        float* li = null, float* qk = null)
    {
        int chunks = ColChunks(op), align = op.ColumnAlign, panels = (op.Out + align - 1) / align;
        byte* q = null; float* qs = null;
        if (op.IsInt8) { fixed (byte* pq = _q) q = pq; qs = P(_qs); }
        var prof = Profile;
        for (int c; (c = Claim(s, chunks)) >= 0; Done(s))
        {
            var t0 = prof?.Start() ?? default;
            int j0 = (int)((long)c * panels / chunks) * align, j1 = Math.Min(op.Out, (int)((long)(c + 1) * panels / chunks) * align);
            op.RunColumns(x, q, qs, _rows, y, j0, j1);
            if (act)
                for (int r = 0; r < _rows; r++) Activations.Apply(_c.HiddenAct, new Span<float>(y + (long)r * op.Out + j0, j1 - j0));
            if (addNorm is not null) NoNormColumns(addNorm, y, residual, op.Out, 0, j0, j1, y, op.Out, j0);
            if (pre is not null)
            {
                int t = _c.TrueHiddenSize;
                if (pre.LiNorm is { } ln) ClipNoNorm(ln, pre.ColLi, li);
                if (pre.QkNorm is { } qn) ClipNoNorm(qn, pre.ColQk, qk);
                void ClipNoNorm(Norm n, int col, float* dst)
                {
                    int c0 = Math.Max(j0, col), c1 = Math.Min(j1, col + t);
                    if (c0 < c1) NoNormColumns(n, y, null, op.Out, col, c0, c1, dst, t, c0 - col);
                }
            }
            prof?.Item(4, t0);
        }
        s++;
    }

    /// <summary>
    /// dst[r, d0 + (j − j0)] = (src[r, j] (+ res[r, j])) ∘ γ[j − g0] + β[j − g0] for j in [j0, j1) and every row
    /// (NoNorm's own operations, element-wise, so any column range gives the row-wise result bit for bit).
    /// </summary>
    void NoNormColumns(Norm norm, float* src, float* res, int ld, int g0, int j0, int j1, float* dst, int ldd, int d0)
    {
        int w = j1 - j0;
        var gamma = norm.Store.Span(norm.Gamma).Slice(j0 - g0, w);
        var beta = norm.Store.Span(norm.Beta).Slice(j0 - g0, w);
        for (int r = 0; r < _rows; r++)
        {
            var y = new Span<float>(dst + (long)r * ldd + d0, w);
            var x = new ReadOnlySpan<float>(src + (long)r * ld + j0, w);
            if (res != null) { System.Numerics.Tensors.TensorPrimitives.Add(x, new ReadOnlySpan<float>(res + (long)r * ld + j0, w), y);
                System.Numerics.Tensors.TensorPrimitives.Multiply(y, gamma, y); }
            else System.Numerics.Tensors.TensorPrimitives.Multiply(x, gamma, y);
            System.Numerics.Tensors.TensorPrimitives.Add(y, beta, y);
        }
    }

    /// <summary>Quantizes rows [r0, r0+n) of x (row stride next.In) for <paramref name="next"/> if it runs int8.</summary>
    void QuantRows(LinearOp? next, float* x, int r0, int n)
    {
        if (next is not Int8LinearOp op) return;
        int k = op.In, ld = op.QuantizedStride;
        fixed (byte* pq = _q) Int8Quant.QuantizeRowsU8(x + (long)r0 * k, n, k, pq + (long)r0 * ld, ld, P(_qs) + r0, op.Kernel);
    }

    // ───────────── the program every participant runs ─────────────

    internal void TeamRun()
    {
        if (Volatile.Read(ref _teamFinished) != 0) return;
        try { TeamProgram(); }
        catch (OperationCanceledException) when (Volatile.Read(ref _teamAbort) != 0)
        {
            return;   // another participant failed; its exception is the one the caller sees
        }
        catch
        {
            Volatile.Write(ref _teamAbort, 1);
            throw;
        }
        Volatile.Write(ref _teamFinished, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void TeamProgram()
    {
        var prof = Profile;
        int s = 0, rc = RowChunks, rows = _rows;
        int h = _c.HiddenSize, t = _c.TrueHiddenSize, I = _c.IntermediateSize;
        float* h0 = P(_h0), h1 = P(_h1), pre = P(_pre), pre2 = P(_pre2), li = P(_li), qk = P(_qk), ctx = P(_ctx), a0 = P(_a0), a1 = P(_a1),
            inner = P(_inner);

        // Embeddings (+ quantize layer 0's input).
        for (int c; (c = Claim(s, rc)) >= 0; Done(s))
        {
            var t0 = prof?.Start() ?? default;
            var (r0, n) = RowChunk(c, rc);
            EmbedRows(r0, n);
            if (_layers.Length > 0) QuantRows(_layers[0].PreH, h0, r0, n);
            prof?.Item(0, t0);
        }
        s++;

        float* hIn = h0, hOut = h1;
        for (int l = 0; l < _layers.Length; l++)
        {
            var L = _layers[l];
            LinearOp? nextLayerIn = l + 1 < _layers.Length ? _layers[l + 1].PreH : null;
            int pw = L.PreH.Out;

            // Projections.
            bool preFused = IsNoNorm(L.LiNorm) && IsNoNorm(L.QkNorm);
            if (preFused) ColStep(ref s, L.PreH, hIn, pre, pre: L, li: li, qk: qk);
            else ColStep(ref s, L.PreH, hIn, pre);
            float* qkSrc = L.PreQkReadsLi ? li : qk;
            if ((!preFused && (L.LiNorm is not null || L.QkNorm is not null)) || L.PreQk is { IsInt8: true })
            {
                for (int c; (c = Claim(s, rc)) >= 0; Done(s))
                {
                    var t0 = prof?.Start() ?? default;
                    var (r0, n) = RowChunk(c, rc);
                    for (int r = r0; r < r0 + n && !preFused; r++)
                    {
                        L.LiNorm?.Forward(new ReadOnlySpan<float>(pre + (long)r * pw + L.ColLi, t), new Span<float>(li + (long)r * t, t), 1);
                        L.QkNorm?.Forward(new ReadOnlySpan<float>(pre + (long)r * pw + L.ColQk, t), new Span<float>(qk + (long)r * t, t), 1);
                    }
                    QuantRows(L.PreQk, qkSrc, r0, n);
                    prof?.Item(5, t0);
                }
                s++;
            }
            if (L.PreQk is not null) ColStep(ref s, L.PreQk, qkSrc, pre2);

            // Attention.
            for (int c; (c = Claim(s, _itemCount)) >= 0; Done(s))
            {
                var t0 = prof?.Start() ?? default;
                AttentionItem(l, c);
                prof?.Item(1, t0);
            }
            s++;
            if (L.AttnOut.IsInt8) RowStep(ref s, rc, null, null, 0, L.AttnOut, ctx);

            // Attention output + norm, FFNs, output bottleneck.
            float* a = a0, b = a1;
            float* residual = L.ResidualIsH ? hIn : li;
            AddNormStep(ref s, rc, L.AttnOut, ctx, a, L.AttnNorm, residual, L.Ffns[0].Up);
            for (int f = 0; f < L.Ffns.Length; f++)
            {
                var F = L.Ffns[f];
                bool last = f == L.Ffns.Length - 1;
                float* y = last && L.OutBottleneck is null ? hOut : b;
                ColStep(ref s, F.Up, a, inner, act: true);
                if (F.Down.IsInt8) RowStep(ref s, rc, null, null, 0, F.Down, inner);
                LinearOp? next = !last ? L.Ffns[f + 1].Up : L.OutBottleneck ?? nextLayerIn;
                AddNormStep(ref s, rc, F.Down, inner, y, F.Norm, a, next);
                float* tmp = a; a = y; b = tmp;
            }
            if (L.OutBottleneck is not null)
            {
                AddNormStep(ref s, rc, L.OutBottleneck, a, hOut, L.OutBottleneckNorm!, hIn, nextLayerIn);
            }
            float* sw = hIn; hIn = hOut; hOut = sw;
        }
    }

    /// <summary>y = norm(op(x) + residual), then quantized for <paramref name="next"/> if it runs int8: NoNorm fused
    /// into the column-split GEMM, LayerNorm (and quantization) as a row step.</summary>
    void AddNormStep(ref int s, int rc, LinearOp op, float* x, float* y, Norm norm, float* residual, LinearOp? next)
    {
        if (IsNoNorm(norm))
        {
            ColStep(ref s, op, x, y, addNorm: norm, residual: residual);
            if (next is { IsInt8: true }) RowStep(ref s, rc, null, null, 0, next, y);
        }
        else
        {
            ColStep(ref s, op, x, y);
            RowStep(ref s, rc, norm, residual, op.Out, next, y);
        }
    }

    /// <summary>Row step on y (row stride <paramref name="dim"/>, or next.In when there is no norm):
    /// y = norm(y + residual) if <paramref name="norm"/> is set, then quantize y for <paramref name="next"/>.</summary>
    void RowStep(ref int s, int rc, Norm? norm, float* residual, int dim, LinearOp? next, float* y)
    {
        var prof = Profile;
        for (int c; (c = Claim(s, rc)) >= 0; Done(s))
        {
            var t0 = prof?.Start() ?? default;
            var (r0, n) = RowChunk(c, rc);
            if (norm is not null)
            {
                var ys = new Span<float>(y + (long)r0 * dim, n * dim);
                norm.AddForward(ys, new ReadOnlySpan<float>(residual + (long)r0 * dim, n * dim), ys, n);
            }
            QuantRows(next, y, r0, n);
            prof?.Item(5, t0);
        }
        s++;
    }
}
