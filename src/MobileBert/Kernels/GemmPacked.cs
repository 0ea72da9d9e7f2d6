using static MobileBert.Kernels.GemmKernels;

namespace MobileBert.Kernels;

/// <summary>
/// A constant right-hand operand op(B)[K, N] pre-packed for the GEMM micro-kernel: ⌈N/NR⌉ column panels of K×NR
/// floats each (zero-padded past N), 64-byte aligned on the pinned heap. Build once with <see cref="Gemm.Pack"/>
/// (e.g. when loading Linear weights) and reuse for every <see cref="Gemm.Multiply(ReadOnlySpan{float}, PackedMatrix, Span{float}, int, Transpose,
/// ReadOnlySpan{float}, bool, int)"/>.
/// </summary>
public sealed unsafe class PackedMatrix
{
    readonly float[] _data;      // pinned; panels start at _offset (64-byte aligned)
    readonly int _offset;

    /// <summary>Inner dimension (rows of op(B)).</summary>
    public int K { get; }
    /// <summary>Output dimension (columns of op(B)).</summary>
    public int N { get; }
    /// <summary>How the source was stored: No = B [K,N]; Yes = B stored [N,K] (Linear weight [out,in]).</summary>
    public Transpose OriginalTranspose { get; }
    /// <summary>Micro-kernel path the panels were packed for (fixes the panel width NR).</summary>
    internal GemmPath Path { get; }
    internal int NR { get; }
    /// <summary>Column granularity of <see cref="Gemm.MultiplyColumns"/> (the panel width).</summary>
    internal int ColumnAlignment => NR;

    internal PackedMatrix(ReadOnlySpan<float> b, int k, int n, Transpose tb, GemmPath path)
    {
        K = k; N = n; OriginalTranspose = tb; Path = path; NR = PanelWidth(path);
        int panels = (n + NR - 1) / NR;
        _data = GC.AllocateUninitializedArray<float>(checked(panels * NR * k + 16), pinned: true);
        fixed (float* pd = _data, pb = b)
        {
            float* dst = Gemm.Align64(pd);
            _offset = (int)(dst - pd);
            if (k > 0) PackB(pb, k, n, tb, NR, dst, 0, panels);
        }
    }

    /// <summary>Start of the packed panels (valid because the array is pinned).</summary>
    internal float* Panels { get { fixed (float* p = _data) return p + _offset; } }
}

public static unsafe partial class Gemm
{
    /// <summary>
    /// Packs op(B)[k, n] for repeated use: B stored [k, n] (tb = No) or [n, k] (tb = Yes, Linear weight [out, in]).
    /// </summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> b, int k, int n, Transpose tb) => PackCore(b, k, n, tb, GemmPath.Auto);

    internal static PackedMatrix PackCore(ReadOnlySpan<float> b, int k, int n, Transpose tb, GemmPath path)
    {
        if (k < 0 || n < 0) throw new ArgumentException($"GEMM pack: dimensions must be non-negative (k={k}, n={n}).");
        if (b.Length < (long)k * n) throw new ArgumentException($"GEMM pack: B has {b.Length} elements, needs k*n = {k}*{n}.");
        return new PackedMatrix(b, k, n, tb, Resolve(path));
    }

    /// <summary>
    /// C[m, N] = (accumulate ? C : 0) + op(A)[m, K] · op(B) + bias, with op(B) pre-packed by <see cref="Pack"/>.
    /// op(A) = A [m, K] or (ta = Yes) Aᵀ with A stored [K, m].
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, PackedMatrix b, Span<float> c, int m,
        Transpose ta = Transpose.No, ReadOnlySpan<float> bias = default, bool accumulate = false, int threads = 1)
        => Multiply(a, b, c, m, ta, bias, accumulate, threads, then: null);

    /// <summary><see cref="Multiply(ReadOnlySpan{float}, PackedMatrix, Span{float}, int, Transpose, ReadOnlySpan{float}, bool, int)"/>
    /// that also prefetches, during its last column tile, the first block of <paramref name="then"/> — the weights of the
    /// product that runs next (a chain of layers whose weights come from L3 or memory). The result is the same.</summary>
    internal static void Multiply(ReadOnlySpan<float> a, PackedMatrix b, Span<float> c, int m, Transpose ta, ReadOnlySpan<float> bias,
        bool accumulate, int threads, PackedMatrix? then)
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = b.N, k = b.K;
        if (m < 0) throw new ArgumentException($"GEMM: m must be non-negative (m={m}).");
        if (a.Length < (long)m * k) throw new ArgumentException($"GEMM: A has {a.Length} elements, needs m*K = {m}*{k}.");
        if (c.Length < (long)m * n) throw new ArgumentException($"GEMM: C has {c.Length} elements, needs m*N = {m}*{n}.");
        if (!bias.IsEmpty && bias.Length < n) throw new ArgumentException($"GEMM: bias has {bias.Length} elements, needs N = {n}.");
        if (m == 0 || n == 0) return;
        int t = PlanThreads(m, n, k, threads);
        fixed (float* pa = a, pc = c, pbias = bias)
        {
            if (k == 0) { BiasOnly(pc, m, n, pbias, accumulate); return; }
            Compute(pa, ta, b.Panels, pc, pbias, m, n, k, accumulate, t, b.Path, then: then);
            GC.KeepAlive(b); GC.KeepAlive(then);
        }
    }

    /// <summary>
    /// Columns [j0, j1) of C[m, N] = A[m, K]·op(B) + bias with op(B) pre-packed, on the calling thread only:
    /// C row i, column j at c[i·ldc + j], A row i at a[i·lda]. j0 must be a multiple of <see cref="PackedMatrix.ColumnAlignment"/>
    /// (a panel boundary) and j1 one too or N. Every element is computed exactly as by the full product (same
    /// micro-kernel, same k order), so splitting N across threads gives bit-identical results.
    /// </summary>
    internal static void MultiplyColumns(float* a, int lda, PackedMatrix b, int m, int j0, int j1, float* c, int ldc, float* bias)
    {
        int nr = b.NR, k = b.K;
        if (j0 < 0 || j1 > b.N || j0 > j1 || j0 % nr != 0 || (j1 != b.N && j1 % nr != 0))
            throw new ArgumentException($"GEMM columns [{j0}, {j1}) must lie on {nr}-column panel boundaries within N = {b.N}.");
        if (m == 0 || j0 == j1) return;
        if (k == 0) { for (int i = 0; i < m; i++) BiasOnly(c + (nint)i * ldc + j0, 1, j1 - j0, bias == null ? null : bias + j0, false); return; }
        var job = new ComputeJob
        {
            A = a, Lda = lda, Ta = Transpose.No, Bp = b.Panels + (nint)(j0 / nr) * k * nr, C = c + j0, Ldc = ldc,
            Bias = bias == null ? null : bias + j0, M = m, N = j1 - j0, K = k, Accumulate = false, Path = b.Path,
        };
        int tiles = b.Path switch
        {
            GemmPath.Vector512 => job.Plan<Avx512Kernel>(1),
            GemmPath.Vector256 => job.Plan<Avx2Kernel>(1),
            GemmPath.Vector128 => job.Plan<Vec128Kernel>(1),
            _ => job.Plan<ScalarKernel>(1),
        };
        for (int i = 0; i < tiles; i++) job.Invoke(i);
        GC.KeepAlive(b);
    }
}
