using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>Which micro-kernel family a GEMM runs on. <see cref="Auto"/> picks the widest one the CPU supports.</summary>
internal enum GemmPath { Auto, Scalar, Vector128, Vector256, Vector512 }

/// <summary>
/// The BLIS-style pieces of the GEMM: micro-kernels (one per SIMD path) and the packing routines.
/// <para>Micro-kernel contract: C[mr, NR] (+)= A[mr, kc] · Bp[kc, NR] (+ bias[NR]) where
/// A element (r, p) is read at a[r*rs + p*ks] (so both a packed strip, ks = MR, rs = 1, and rows of a row-major
/// A read in place, rs = lda, ks = 1, work), Bp is a packed panel (NR contiguous floats per k step),
/// <c>load</c> adds the existing C, and <c>bias</c> (nullable) is added to every row.</para>
/// </summary>
internal static unsafe partial class GemmKernels
{
    internal interface IRows { static abstract int Value { get; } }
    // Compile-time row counts: the JIT specialises Tile<TR> per struct and drops the unused rows.
    internal struct R1 : IRows { public static int Value => 1; }
    internal struct R2 : IRows { public static int Value => 2; }
    internal struct R3 : IRows { public static int Value => 3; }
    internal struct R4 : IRows { public static int Value => 4; }
    internal struct R5 : IRows { public static int Value => 5; }
    internal struct R6 : IRows { public static int Value => 6; }
    internal struct R7 : IRows { public static int Value => 7; }
    internal struct R8 : IRows { public static int Value => 8; }

    internal interface IMicroKernel
    {
        /// <summary>Rows of the register tile.</summary>
        static abstract int MR { get; }
        /// <summary>Columns of the register tile = width of a packed B panel.</summary>
        static abstract int NR { get; }
        /// <summary>K block: a KC×NR B panel and an MR×KC A strip are streamed per micro-kernel call.</summary>
        static abstract int KC { get; }
        /// <summary>The tile; <paramref name="pf"/>: a stream the SIMD kernels prefetch into L2 as they go, one cache line per 4 k steps
        /// (⌈kc/4⌉ lines; the driver points it at the next B panel, so weights coming from L3 or memory arrive spread over the work).</summary>
        static abstract void Run(int mr, int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf);
    }

    /// <summary>Portable scalar micro-kernel, MR×NR = 4×4 (fallback and test oracle for the driver).</summary>
    internal readonly struct ScalarKernel : IMicroKernel
    {
        public static int MR => 4;
        public static int NR => 4;
        public static int KC => 256;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int mr, int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
        {
            for (int r = 0; r < mr; r++)
            {
                float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                float* ar = a + r * rs;
                float* bp = b;
                for (int p = 0; p < kc; p++, bp += 4)
                {
                    float x = ar[p * ks];
                    s0 += x * bp[0]; s1 += x * bp[1]; s2 += x * bp[2]; s3 += x * bp[3];
                }
                if (bias != null) { s0 += bias[0]; s1 += bias[1]; s2 += bias[2]; s3 += bias[3]; }
                float* cr = c + r * ldc;
                if (load) { s0 += cr[0]; s1 += cr[1]; s2 += cr[2]; s3 += cr[3]; }
                cr[0] = s0; cr[1] = s1; cr[2] = s2; cr[3] = s3;
            }
        }
    }

    /// <summary>Largest MR / NR over all kernels (sizes of stack scratch tiles).</summary>
    internal const int MaxMR = 8, MaxNR = 32, MaxKC = 512;

    internal static bool IsSupported(GemmPath path) => path switch
    {
        GemmPath.Auto or GemmPath.Scalar => true,
        GemmPath.Vector128 => Vector128.IsHardwareAccelerated,
        GemmPath.Vector256 => Vector256.IsHardwareAccelerated && Fma.IsSupported,
        GemmPath.Vector512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>The path <see cref="GemmPath.Auto"/> resolves to on this machine.</summary>
    internal static readonly GemmPath Best =
        IsSupported(GemmPath.Vector512) ? GemmPath.Vector512 :
        IsSupported(GemmPath.Vector256) ? GemmPath.Vector256 :
        IsSupported(GemmPath.Vector128) ? GemmPath.Vector128 : GemmPath.Scalar;

    internal static GemmPath Resolve(GemmPath path)
    {
        if (path == GemmPath.Auto) return Best;
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"GEMM path {path} is not supported on this CPU.");
        return path;
    }

    internal static int PanelWidth(GemmPath path) => path switch
    {
        GemmPath.Vector512 => Avx512Kernel.NR,
        GemmPath.Vector256 => Avx2Kernel.NR,
        GemmPath.Vector128 => Vec128Kernel.NR,
        _ => ScalarKernel.NR,
    };

    // ---------------------------------------------------------------- packing

    /// <summary>
    /// Packs NR-wide column panels [jp0, jp1) of op(B)[k, n] into <paramref name="dst"/>:
    /// dst[jp*k*NR + p*NR + j] = op(B)[p, jp*NR + j], zero-padded past n.
    /// op(B) = B stored [k, n] (tb = No) or Bᵀ with B stored [n, k] (tb = Yes, the Linear-weight layout; transposed
    /// here 8×8 at a time with AVX shuffles when available).
    /// </summary>
    internal static void PackB(float* b, int k, int n, Transpose tb, int nr, float* dst, int jp0, int jp1) =>
        PackB(b, k, n, tb == Transpose.No ? n : k, tb, nr, dst, jp0, jp1);

    /// <summary><see cref="PackB(float*, int, int, Transpose, int, float*, int, int)"/> with an explicit leading dimension
    /// <paramref name="ldb"/> of the stored B (row stride: ≥ n for tb = No, ≥ k for tb = Yes), so a K slice of a larger
    /// matrix can be packed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackB(float* b, int k, int n, int ldb, Transpose tb, int nr, float* dst, int jp0, int jp1)
    {
        for (int jp = jp0; jp < jp1; jp++)
        {
            int j0 = jp * nr, w = Math.Min(nr, n - j0);
            float* d = dst + (nint)jp * k * nr;
            if (tb == Transpose.No)
            {
                float* s = b + j0;
                if (w == nr && nr % 16 == 0 && Vector512.IsHardwareAccelerated)
                    for (int p = 0; p < k; p++, s += ldb, d += nr)
                        for (int j = 0; j < nr; j += 16) Vector512.Store(Vector512.Load(s + j), d + j);
                else if (w == nr && nr % 8 == 0 && Vector256.IsHardwareAccelerated)
                    for (int p = 0; p < k; p++, s += ldb, d += nr)
                        for (int j = 0; j < nr; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
                else
                    for (int p = 0; p < k; p++, s += ldb, d += nr)
                    {
                        int j = 0;
                        for (; j < w; j++) d[j] = s[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
            }
            else
            {
                // Rows j0..j0+w of the stored [n, k] matrix become the columns of the panel.
                int p = 0;
                if (Avx.IsSupported && w == nr && nr % 8 == 0)
                    for (; p + 8 <= k; p += 8)
                        for (int j = 0; j < nr; j += 8)
                            Transpose8x8(b + (nint)(j0 + j) * ldb + p, ldb, d + (nint)p * nr + j, nr);
                for (int j = 0; j < nr; j++)
                {
                    float* s = b + (nint)(j0 + j) * ldb;
                    if (j < w) for (int q = p; q < k; q++) d[(nint)q * nr + j] = s[q];
                    else for (int q = p; q < k; q++) d[(nint)q * nr + j] = 0f;
                }
            }
        }
    }

    /// <summary>dst[q*ds + r] = src[r*ss + q] for an 8×8 block (AVX unpack/shuffle/permute transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(float* src, nint ss, float* dst, nint ds)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + ss),
            r2 = Avx.LoadVector256(src + 2 * ss), r3 = Avx.LoadVector256(src + 3 * ss),
            r4 = Avx.LoadVector256(src + 4 * ss), r5 = Avx.LoadVector256(src + 5 * ss),
            r6 = Avx.LoadVector256(src + 6 * ss), r7 = Avx.LoadVector256(src + 7 * ss);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ds, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ds, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ds, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ds, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ds, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ds, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ds, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Packs an A strip for ta = Yes (A stored [k, m]): dst[p*MR + r] = A[p0+p, i0+r] for r &lt; mr
    /// (a strided copy of mr contiguous floats per k step). dst needs MR·kc + 2 floats (the 6-row path stores 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackATransposed(float* a, int m, int i0, int mr, int p0, int kc, int MR, float* dst)
    {
        float* s = a + (nint)p0 * m + i0;
        if (mr == 8 && MR == 8 && Vector256.IsHardwareAccelerated)
        {
            int p = 0;
            for (; p + 2 <= kc; p += 2, s += 2 * (nint)m, dst += 16)
            {
                Vector256.Store(Vector256.Load(s), dst);
                Vector256.Store(Vector256.Load(s + m), dst + 8);
            }
            if (p < kc) Vector256.Store(Vector256.Load(s), dst);
        }
        else if (mr == 6 && MR == 6 && i0 + 8 <= m && Vector256.IsHardwareAccelerated)
            // 8-wide loads/stores: the 2 extra floats land in the next row's slot (rewritten next) or past the strip.
            for (int p = 0; p < kc; p++, s += m, dst += 6) Vector256.Store(Vector256.Load(s), dst);
        else
            for (int p = 0; p < kc; p++, s += m, dst += MR)
                for (int r = 0; r < mr; r++) dst[r] = s[r];
    }
}
