namespace MobileBert.Kernels;

/// <summary>MobileBERT trigram input embedding (HF MobileBertEmbeddings with trigram_input=True).</summary>
public static class Trigram
{
    /// <summary>
    /// x [batch, seq, dim] → y [batch, seq, 3·dim], y[b,t] = concat(x[b,t+1], x[b,t], x[b,t−1]) with zero vectors
    /// beyond each sequence's ends (t+1 = seq, t−1 = −1); sequences never leak into each other. y must not overlap x.
    /// </summary>
    public static void Concat(ReadOnlySpan<float> x, Span<float> y, int batch, int seq, int dim)
    {
        const string op = "Trigram.Concat";
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{op}: batch must be non-negative, got {batch}.");
        if (seq < 0) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"{op}: seq must be non-negative, got {seq}.");
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"{op}: dim must be positive, got {dim}.");
        long n = (long)batch * seq * dim;
        KernelArgs.Length(op, x.Length, n, nameof(x), "batch*seq*dim");
        KernelArgs.Length(op, y.Length, 3 * n, nameof(y), "batch*seq*3*dim");
        if (n == 0) return;
        if (y[..(int)(3 * n)].Overlaps(x[..(int)n]))
            throw new ArgumentException($"{op}: y must not overlap x.", nameof(y));

        int d3 = 3 * dim;
        for (int b = 0; b < batch; b++)
        {
            int seqBase = b * seq;
            for (int t = 0; t < seq; t++)
            {
                Span<float> dst = y.Slice((seqBase + t) * d3, d3);
                if (t + 1 < seq) x.Slice((seqBase + t + 1) * dim, dim).CopyTo(dst[..dim]);
                else dst[..dim].Clear();
                x.Slice((seqBase + t) * dim, dim).CopyTo(dst.Slice(dim, dim));
                if (t > 0) x.Slice((seqBase + t - 1) * dim, dim).CopyTo(dst.Slice(2 * dim, dim));
                else dst.Slice(2 * dim, dim).Clear();
            }
        }
    }
}
