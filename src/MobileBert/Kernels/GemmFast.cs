namespace MobileBert.Kernels;

public static partial class Gemm
{
    /// <summary>
    /// Fast GEMM (placeholder body: delegates to a simple row loop until the packed SIMD kernel lands).
    /// Same contract as <see cref="Reference"/>. <paramref name="threads"/> ≤ 0 means Environment.ProcessorCount.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        Transpose ta = Transpose.No, Transpose tb = Transpose.No, ReadOnlySpan<float> bias = default, bool accumulate = false, int threads = 1)
    {
        CheckShapes(a, b, c, m, n, k, bias);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = accumulate ? c[i * n + j] : 0f;
                if (!bias.IsEmpty) s += bias[j];
                for (int p = 0; p < k; p++)
                    s += (ta == Transpose.No ? a[i * k + p] : a[p * m + i]) * (tb == Transpose.No ? b[p * n + j] : b[j * k + p]);
                c[i * n + j] = s;
            }
    }
}
