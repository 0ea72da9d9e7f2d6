namespace MobileBert.Kernels;

/// <summary>Whether a GEMM operand is used as stored or transposed.</summary>
public enum Transpose { No, Yes }

/// <summary>
/// Single-precision general matrix multiply on row-major spans:
/// C[m,n] = (accumulate ? C : 0) + op(A)[m,k] · op(B)[k,n] + bias[n].
/// op(A) is A [m,k] (Transpose.No) or Aᵀ with A stored [k,m]; op(B) is B [k,n] or Bᵀ with B stored [n,k]
/// (the HuggingFace Linear layout: weight [out,in], y = x·Wᵀ + b).
/// </summary>
public static partial class Gemm
{
    /// <summary>Reference triple loop (double accumulation). Slow; used by tests and as the definition of the op.</summary>
    public static void Reference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        Transpose ta = Transpose.No, Transpose tb = Transpose.No, ReadOnlySpan<float> bias = default, bool accumulate = false)
    {
        CheckShapes(a, b, c, m, n, k, bias);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = accumulate ? c[i * n + j] : 0.0;
                if (!bias.IsEmpty) s += bias[j];
                for (int p = 0; p < k; p++)
                {
                    float av = ta == Transpose.No ? a[i * k + p] : a[p * m + i];
                    float bv = tb == Transpose.No ? b[p * n + j] : b[j * k + p];
                    s += (double)av * bv;
                }
                c[i * n + j] = (float)s;
            }
    }

    internal static void CheckShapes(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, ReadOnlySpan<float> bias)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"GEMM dimensions must be non-negative (m={m}, n={n}, k={k}).");
        if (a.Length < (long)m * k) throw new ArgumentException($"GEMM: A has {a.Length} elements, needs m*k = {m}*{k}.");
        if (b.Length < (long)k * n) throw new ArgumentException($"GEMM: B has {b.Length} elements, needs k*n = {k}*{n}.");
        if (c.Length < (long)m * n) throw new ArgumentException($"GEMM: C has {c.Length} elements, needs m*n = {m}*{n}.");
        if (!bias.IsEmpty && bias.Length < n) throw new ArgumentException($"GEMM: bias has {bias.Length} elements, needs n = {n}.");
    }
}
