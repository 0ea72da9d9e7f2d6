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
        if (q.Length < batch * seq * width || k.Length < batch * seq * width || v.Length < batch * seq * width || context.Length < batch * seq * width)
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
                    var qh = scratch.AsSpan(0, sd); var kh = scratch.AsSpan(sd, sd); var vh = scratch.AsSpan(2 * sd, sd); var ch = scratch.AsSpan(3 * sd, sd);
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
