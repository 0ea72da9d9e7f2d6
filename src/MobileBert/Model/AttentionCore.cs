using MobileBert.Kernels;

namespace MobileBert.Model;

/// <summary>
/// Scaled dot-product attention for all heads: for each (b, h): P = softmax(Q·Kᵀ/√d + mask), ctx = P·V.
/// Q, K, V, ctx: [B·S, heads·d] (head h occupies columns h·d … h·d+d−1); mask: [B, S] additive (HF: (1−m)·float.MinValue).
/// </summary>
public static class AttentionCore
{
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> additiveMask,
        int batch, int seq, int heads, int headDim, Span<float> context, Span<float> probsOut, int threads)
    {
        int width = heads * headDim;
        if (q.Length < batch * seq * width || k.Length < batch * seq * width || v.Length < batch * seq * width
            || context.Length < batch * seq * width)
            throw new ArgumentException("AttentionCore: Q/K/V/context must be [B·S, heads·headDim].");
        if (additiveMask.Length < batch * seq) throw new ArgumentException("AttentionCore: mask must be [B, S].");
        bool keepProbs = !probsOut.IsEmpty;
        if (keepProbs && probsOut.Length < batch * heads * seq * seq) throw new ArgumentException("AttentionCore: probs must be [B, heads, S, S].");
        float scale = 1f / MathF.Sqrt(headDim);
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pm = additiveMask, pc = context, pp = probsOut)
            {
                nint aq = (nint)pq, ak = (nint)pk, av = (nint)pv, am = (nint)pm, ac = (nint)pc, ap = (nint)pp;
                ParallelFor.Run(batch * heads, threads, bh =>
                {
                    int b = bh / heads, h = bh % heads, sd = seq * headDim;
                    var scratch = Scratch(4 * sd + seq * seq);                  // per-thread: Q_h, K_h, V_h, ctx_h [S,d], scores [S,S]
                    var qh = scratch.AsSpan(0, sd); var kh = scratch.AsSpan(sd, sd); var vh = scratch.AsSpan(2 * sd, sd);
                    var ch = scratch.AsSpan(3 * sd, sd);
                    var scores = keepProbs ? new Span<float>((float*)ap + (long)bh * seq * seq, seq * seq) : scratch.AsSpan(4 * sd, seq * seq);
                    for (int t = 0; t < seq; t++)                              // gather head h: [S, d]
                    {
                        long src = ((long)b * seq + t) * width + h * headDim;
                        new ReadOnlySpan<float>((float*)aq + src, headDim).CopyTo(qh[(t * headDim)..]);
                        new ReadOnlySpan<float>((float*)ak + src, headDim).CopyTo(kh[(t * headDim)..]);
                        new ReadOnlySpan<float>((float*)av + src, headDim).CopyTo(vh[(t * headDim)..]);
                    }
                    Gemm.Multiply(qh, kh, scores, seq, seq, headDim, Transpose.No, Transpose.Yes);   // [S,S] = Q·Kᵀ
                    System.Numerics.Tensors.TensorPrimitives.Multiply(scores, scale, scores);
                    Softmax.RowsWithAdditiveMask(scores, new ReadOnlySpan<float>((float*)am + (long)b * seq, seq), seq, seq);
                    Gemm.Multiply(scores, vh, ch, seq, headDim, seq);                                 // [S,d] = P·V
                    for (int t = 0; t < seq; t++)
                        ch.Slice(t * headDim, headDim).CopyTo(new Span<float>((float*)ac + ((long)b * seq + t) * width + h * headDim, headDim));
                });
            }
        }
    }

    /// <summary>
    /// Training forward: as <see cref="Forward"/>, but the pre-dropout probabilities are always written to
    /// <paramref name="probs"/> [B, heads, S, S] (kept for the backward pass) and, with <paramref name="dropout"/> &gt; 0,
    /// ctx = dropout(P)·V with the mask of stream <paramref name="stream"/> (element index = position in probs).
    /// </summary>
    /// <param name="keepMask">Optional (with dropout): receives the attention-dropout keep-mask as bits,
    /// <see cref="KeepMaskWords"/> words, for <see cref="Backward"/> (which then does not regenerate the mask).</param>
    public static void ForwardTrain(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> additiveMask,
        int batch, int seq, int heads, int headDim, Span<float> context, Span<float> probs, float dropout, ulong seed, ulong stream, int threads,
        Span<uint> keepMask = default)
    {
        if (dropout <= 0f) { Forward(q, k, v, additiveMask, batch, seq, heads, headDim, context, probs, threads); return; }
        int width = heads * headDim;
        if (q.Length < batch * seq * width || k.Length < batch * seq * width || v.Length < batch * seq * width
            || context.Length < batch * seq * width)
            throw new ArgumentException("AttentionCore: Q/K/V/context must be [B·S, heads·headDim].");
        if (probs.Length < batch * heads * seq * seq) throw new ArgumentException("AttentionCore: probs must be [B, heads, S, S].");
        bool record = !keepMask.IsEmpty;
        if (record && keepMask.Length < KeepMaskWords(batch, heads, seq)) throw new ArgumentException(
            "AttentionCore: keepMask must have KeepMaskWords(batch, heads, seq) words.");
        int wordsPerItem = DropoutBackward.Words((long)seq * seq);
        float scale = 1f / MathF.Sqrt(headDim);
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pm = additiveMask, pc = context, pp = probs)
            fixed (uint* pkm = keepMask)
            {
                nint aq = (nint)pq, ak = (nint)pk, av = (nint)pv, am = (nint)pm, ac = (nint)pc, ap = (nint)pp, akm = (nint)pkm;
                ParallelFor.Run(batch * heads, threads, bh =>
                {
                    int b = bh / heads, h = bh % heads, sd = seq * headDim, ss = seq * seq;
                    var scratch = Scratch(4 * sd + ss);
                    var qh = scratch.AsSpan(0, sd); var kh = scratch.AsSpan(sd, sd); var vh = scratch.AsSpan(2 * sd, sd);
                    var ch = scratch.AsSpan(3 * sd, sd);
                    var dropped = scratch.AsSpan(4 * sd, ss);
                    var scores = new Span<float>((float*)ap + (long)bh * ss, ss);
                    Gather(aq, ak, av, b, h, seq, headDim, width, qh, kh, vh);
                    Gemm.Multiply(qh, kh, scores, seq, seq, headDim, Transpose.No, Transpose.Yes);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(scores, scale, scores);
                    Softmax.RowsWithAdditiveMask(scores, new ReadOnlySpan<float>((float*)am + (long)b * seq, seq), seq, seq);
                    scores.CopyTo(dropped);
                    if (record) DropoutBackward.ApplyAndRecord(dropped, dropout, seed, stream, (long)bh * ss,
                        new Span<uint>((uint*)akm + (long)bh * wordsPerItem, wordsPerItem));
                    else Dropout.Apply(dropped, dropout, seed, stream, (long)bh * ss);
                    Gemm.Multiply(dropped, vh, ch, seq, headDim, seq);
                    Scatter(ch, ac, b, h, seq, headDim, width);
                });
            }
        }
    }

    /// <summary>Words of the keep-mask <see cref="ForwardTrain"/> records for [B, heads, S, S] probabilities (each (b, h) block
    /// starts on a fresh word, so items can be written concurrently).</summary>
    public static int KeepMaskWords(int batch, int heads, int seq) => checked(batch * heads * DropoutBackward.Words((long)seq * seq));

    /// <summary>
    /// Backward of <see cref="ForwardTrain"/>. dContext [B·S, heads·d] → dq, dk, dv [B·S, heads·d] (written).
    /// <paramref name="dProbs"/> (optional, [B, heads, S, S]) is an extra gradient w.r.t. the pre-dropout probabilities.
    /// <paramref name="keepMask"/> (optional): the dropout keep-mask recorded by ForwardTrain (else regenerated).
    /// Parallel over (batch, head); each item writes disjoint columns.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> probs,
        ReadOnlySpan<float> dContext,
        ReadOnlySpan<float> dProbs, int batch, int seq, int heads, int headDim, Span<float> dq, Span<float> dk, Span<float> dv,
        float dropout, ulong seed, ulong stream, int threads, ReadOnlySpan<uint> keepMask = default)
    {
        int width = heads * headDim, n = batch * seq * width;
        if (q.Length < n || k.Length < n || v.Length < n || dContext.Length < n || dq.Length < n || dk.Length < n || dv.Length < n)
            throw new ArgumentException("AttentionCore.Backward: Q/K/V/dContext/dQ/dK/dV must be [B·S, heads·headDim].");
        if (probs.Length < batch * heads * seq * seq || (!dProbs.IsEmpty && dProbs.Length < batch * heads * seq * seq))
            throw new ArgumentException("AttentionCore.Backward: probs must be [B, heads, S, S].");
        bool recorded = !keepMask.IsEmpty && dropout > 0f;
        if (recorded && keepMask.Length < KeepMaskWords(batch, heads, seq)) throw new ArgumentException(
            "AttentionCore.Backward: keepMask must have KeepMaskWords(batch, heads, seq) words.");
        int wordsPerItem = DropoutBackward.Words((long)seq * seq);
        bool injected = !dProbs.IsEmpty;
        float scale = 1f / MathF.Sqrt(headDim);
        float keepScale = dropout > 0f ? 1f / (1f - dropout) : 1f;             // as Dropout.Apply
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pp = probs, pdc = dContext, pdp = dProbs, pdq = dq, pdk = dk, pdv = dv)
            fixed (uint* pkm = keepMask)
            {
                nint aq = (nint)pq, ak = (nint)pk, av = (nint)pv, ap = (nint)pp, adc = (nint)pdc, adp = (nint)pdp, adq = (nint)pdq, adk = (nint)pdk,
                    adv = (nint)pdv, akm = (nint)pkm;
                ParallelFor.Run(batch * heads, threads, bh =>
                {
                    int b = bh / heads, h = bh % heads, sd = seq * headDim, ss = seq * seq;
                    var scratch = Scratch(7 * sd + 2 * ss);
                    var qh = scratch.AsSpan(0, sd); var kh = scratch.AsSpan(sd, sd); var vh = scratch.AsSpan(2 * sd, sd);
                    var dch = scratch.AsSpan(3 * sd, sd); var dqh = scratch.AsSpan(4 * sd, sd); var dkh = scratch.AsSpan(5 * sd, sd);
                    var dvh = scratch.AsSpan(6 * sd, sd);
                    var pd = scratch.AsSpan(7 * sd, ss); var dP = scratch.AsSpan(7 * sd + ss, ss);
                    var p = new ReadOnlySpan<float>((float*)ap + (long)bh * ss, ss);
                    uint* bits = (uint*)akm + (long)bh * wordsPerItem;
                    Gather(aq, ak, av, b, h, seq, headDim, width, qh, kh, vh);
                    Gather(adc, b, h, seq, headDim, width, dch);
                    ReadOnlySpan<float> pUsed = p;
                    if (dropout > 0f)
                    {
                        if (recorded) fixed (float* s = p, d = pd) DropoutBackward.Apply(s, d, ss, keepScale, bits, 0);
                        else { p.CopyTo(pd); Dropout.Apply(pd, dropout, seed, stream, (long)bh * ss); }
                        pUsed = pd;
                    }
                    Gemm.Multiply(pUsed, dch, dvh, seq, headDim, seq, Transpose.Yes, Transpose.No);   // dV = P'ᵀ·dC
                    Gemm.Multiply(dch, vh, dP, seq, seq, headDim, Transpose.No, Transpose.Yes);       // dP' = dC·Vᵀ
                    if (dropout > 0f)                                                                 // dP = dP'∘mask/(1−p)
                    {
                        if (recorded) fixed (float* d = dP) DropoutBackward.Apply(d, d, ss, keepScale, bits, 0);
                        else Dropout.Apply(dP, dropout, seed, stream, (long)bh * ss);
                    }
                    if (injected)
                        System.Numerics.Tensors.TensorPrimitives.Add(dP, new ReadOnlySpan<float>((float*)adp + (long)bh * ss, ss), dP);
                    SoftmaxBackward.RowsScaled(p, dP, dP, seq, seq, scale);                          // d scores (masked keys: 0)
                    Gemm.Multiply(dP, kh, dqh, seq, headDim, seq);                                    // dQ = dS·K
                    Gemm.Multiply(dP, qh, dkh, seq, headDim, seq, Transpose.Yes, Transpose.No);       // dK = dSᵀ·Q
                    Scatter(dqh, adq, b, h, seq, headDim, width);
                    Scatter(dkh, adk, b, h, seq, headDim, width);
                    Scatter(dvh, adv, b, h, seq, headDim, width);
                });
            }
        }
    }

    static unsafe void Gather(nint aq, nint ak, nint av, int b, int h, int seq, int headDim, int width, Span<float> qh, Span<float> kh,
        Span<float> vh)
    {
        Gather(aq, b, h, seq, headDim, width, qh);
        Gather(ak, b, h, seq, headDim, width, kh);
        Gather(av, b, h, seq, headDim, width, vh);
    }

    /// <summary>dst [S, d] = head h of batch row b of a [B·S, heads·d] matrix.</summary>
    static unsafe void Gather(nint a, int b, int h, int seq, int headDim, int width, Span<float> dst)
    {
        fixed (float* pd = dst) CopyRows((float*)a + (long)b * seq * width + h * headDim, width, pd, headDim, seq, headDim);
    }

    static unsafe void Scatter(ReadOnlySpan<float> src, nint a, int b, int h, int seq, int headDim, int width)
    {
        fixed (float* ps = src) CopyRows(ps, headDim, (float*)a + (long)b * seq * width + h * headDim, width, seq, headDim);
    }

    /// <summary>rows × cols floats from src (row stride ss) to dst (row stride ds); inline SIMD copies for short rows
    /// (a head is 32 floats: a Memmove call per row cost as much as the copy).</summary>
    static unsafe void CopyRows(float* src, int ss, float* dst, int ds, int rows, int cols)
    {
        if (cols % 8 == 0 && cols <= 64 && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            for (int r = 0; r < rows; r++, src += ss, dst += ds)
                for (int j = 0; j < cols; j += 8)
                    System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(src + j), dst + j);
            return;
        }
        for (int r = 0; r < rows; r++, src += ss, dst += ds)
            new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(dst, cols));
    }

    [ThreadStatic] static float[]? t_scratch;
    static float[] Scratch(int length) => t_scratch is { } a && a.Length >= length ? a : t_scratch = new float[length];

    /// <summary>HF's extended mask: (1 − mask)·float.MinValue, [B, S]. Mask values must be 0 or 1.</summary>
    public static float[] AdditiveMask(ReadOnlySpan<int> attentionMask)
    {
        var m = new float[attentionMask.Length];
        for (int i = 0; i < m.Length; i++)
        {
            int v = attentionMask[i];
            if (v is not (0 or 1)) throw new ArgumentException($"attention_mask[{i}] = {v}; values must be 0 or 1.");
            m[i] = (1 - v) * float.MinValue;
        }
        return m;
    }
}
