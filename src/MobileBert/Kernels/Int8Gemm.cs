using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>Which int8 micro-kernel runs. <see cref="Auto"/> picks the best the CPU supports.</summary>
public enum Int8Path { Auto, Scalar, Avx2, AvxVnni, Avx512Bw }

/// <summary>
/// Int8 weights W[N, K] (per-output-channel scales) packed for <see cref="Int8Gemm"/>: ⌈N/16⌉ panels, each
/// ⌈K/4⌉ groups of 16 columns × 4 consecutive k (64 bytes, the vpdpbusd operand layout), zero-padded. Also holds the
/// per-column weight sums used to undo the shift of the activations (<see cref="Int8Gemm.ActivationZero"/>).
/// </summary>
public sealed unsafe class Int8PackedMatrix
{
    internal const int NR = 16;
    readonly sbyte[] _data;     // pinned
    readonly int _offset;
    internal readonly int[] ColSum;     // [Npad]
    internal readonly float[] Scale;    // [Npad]

    public int K { get; }
    public int N { get; }
    /// <summary>K rounded up to a multiple of 4 (row stride of quantized activations).</summary>
    public int KPadded { get; }

    internal Int8PackedMatrix(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scales, int k, int n)
    {
        K = k; N = n; KPadded = (k + 3) & ~3;
        int panels = (n + NR - 1) / NR, groups = KPadded / 4;
        _data = GC.AllocateArray<sbyte>(panels * groups * 64 + 64, pinned: true);
        ColSum = GC.AllocateArray<int>(panels * NR, pinned: true);
        Scale = GC.AllocateArray<float>(panels * NR, pinned: true);
        fixed (sbyte* pd = _data)
        {
            sbyte* dst = (sbyte*)(((nint)pd + 63) & ~(nint)63);
            _offset = (int)(dst - pd);
            for (int j = 0; j < n; j++)
            {
                int jp = j / NR, jc = j % NR, s = 0;
                for (int p = 0; p < k; p++)
                {
                    sbyte v = w[j * k + p];
                    dst[(long)jp * groups * 64 + (p >> 2) * 64 + jc * 4 + (p & 3)] = v;
                    s += v;
                }
                ColSum[j] = s; Scale[j] = scales[j];
            }
        }
    }

    internal sbyte* Panels { get { fixed (sbyte* p = _data) return p + _offset; } }
}

/// <summary>
/// u8 × s8 → i32 GEMM for the int8 inference path: C[m, N] = (Σ_k (a[i,k] − Z)·W[j,k]) · sa[i] · sw[j] + bias[j],
/// where a holds activations quantized and shifted by +Z (<see cref="Int8Quant.QuantizeRowsU8"/>, Z =
/// <see cref="ActivationZero"/>) and W is pre-packed (<see cref="Pack"/>). The shift lets the unsigned×signed
/// instructions be used; it is undone exactly with the per-column weight sums (Σ a·w − Z·Σ w). Integer accumulation is
/// exact (|Σ| ≤ K·255·128). Paths: AvxVnni (vpdpbusd on 256-bit vectors — .NET 10 exposes no 512-bit VNNI for
/// AVX512_VNNI CPUs), Avx512Bw (vpmaddubsw + vpmaddwd on 512-bit vectors, 7-bit activations so that no i16 pair sum
/// saturates), Avx2 (sign-extend to 16 bit + vpmaddwd), scalar. Single-threaded (the caller splits rows).
/// </summary>
public static unsafe partial class Int8Gemm
{
    public static Int8PackedMatrix Pack(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scales, int k, int n)
    {
        if (k <= 0 || n <= 0) throw new ArgumentException($"Int8 GEMM pack: dimensions must be positive (k={k}, n={n}).");
        if (w.Length < (long)n * k) throw new ArgumentException($"Int8 GEMM pack: W has {w.Length} values, needs n*k = {n}*{k}.");
        if (scales.Length < n) throw new ArgumentException($"Int8 GEMM pack: {scales.Length} scales, needs n = {n}.");
        return new Int8PackedMatrix(w, scales, k, n);
    }

    public static bool IsSupported(Int8Path p) => p switch
    {
        Int8Path.Auto or Int8Path.Scalar => true,
        Int8Path.Avx2 => Avx2.IsSupported,
        Int8Path.AvxVnni => AvxVnni.IsSupported && Avx2.IsSupported,
        Int8Path.Avx512Bw => Avx512BW.IsSupported && Vector512.IsHardwareAccelerated && Avx2.IsSupported,
        _ => false,
    };

    /// <summary>
    /// <paramref name="p"/> resolved (Auto: the fastest supported); a path the CPU lacks is a <see cref="SettingException"/>
    /// naming the <c>Int8Kernel</c> setting.
    /// </summary>
    public static Int8Path RequireSupported(Int8Path p)
    {
        var kernel = Resolve(p);
        if (!IsSupported(kernel))
            throw new SettingException($"Int8Kernel {kernel} is not supported on this CPU; use Auto or one of " +
                $"{string.Join(", ", Enum.GetValues<Int8Path>().Where(x => x != Int8Path.Auto && IsSupported(x)))}.", "Int8Kernel");
        return kernel;
    }

    /// <summary>The fastest supported path: AvxVnni (32 products per instruction), Avx512Bw, Avx2, scalar.</summary>
    public static Int8Path Resolve(Int8Path p) => p != Int8Path.Auto ? p
        : IsSupported(Int8Path.AvxVnni) ? Int8Path.AvxVnni : IsSupported(Int8Path.Avx512Bw) ? Int8Path.Avx512Bw
        : IsSupported(Int8Path.Avx2) ? Int8Path.Avx2 : Int8Path.Scalar;

    /// <summary>
    /// Largest |quantized activation| the path takes: 127, or 63 on Avx512Bw, whose vpmaddubsw adds two u8·s8 products
    /// in a saturating i16 (with a ≤ 127 a pair is at most 2·127·128 = 32512, so the sum stays exact).
    /// </summary>
    public static int ActivationLevels(Int8Path p) => Resolve(p) == Int8Path.Avx512Bw ? 63 : 127;

    /// <summary>The u8 code of activation 0 on the path (<see cref="ActivationLevels"/> + 1).</summary>
    public static int ActivationZero(Int8Path p) => ActivationLevels(p) + 1;

    /// <summary>Dequantizing product into fp32 C [m, N] (row stride N); bias may be null.</summary>
    public static void Multiply(byte* a, float* aScales, int m, Int8PackedMatrix w, float* c, int ldc, float* bias, Int8Path path = Int8Path.Auto)
        => Run(a, aScales, m, w, c, null, ldc, bias, Resolve(path), 0, (w.N + Int8PackedMatrix.NR - 1) / Int8PackedMatrix.NR);

    /// <summary>
    /// Columns [j0, j1) of the dequantizing product (C row i, column j at c[i·ldc + j]), on the calling thread.
    /// j0 must be a multiple of <see cref="Int8PackedMatrix.NR"/> (16) and j1 one too or N. Bit-identical to the
    /// same columns of <see cref="Multiply"/> (integer accumulation, same epilogue), so N can be split across threads.
    /// </summary>
    public static void MultiplyColumns(byte* a, float* aScales, int m, Int8PackedMatrix w, int j0, int j1, float* c, int ldc, float* bias,
        Int8Path path = Int8Path.Auto)
    {
        const int nr = Int8PackedMatrix.NR;
        if (j0 < 0 || j1 > w.N || j0 > j1 || j0 % nr != 0 || (j1 != w.N && j1 % nr != 0))
            throw new ArgumentException($"Int8 GEMM columns [{j0}, {j1}) must lie on {nr}-column panel boundaries within N = {w.N}.");
        Run(a, aScales, m, w, c, null, ldc, bias, Resolve(path), j0 / nr, (j1 + nr - 1) / nr);
    }

    /// <summary>Integer product (for tests): C[i,j] = Σ_k (a[i,k] − Z)·W[j,k] exactly (Z = <see cref="ActivationZero"/>), C int32 [m, N].</summary>
    public static void MultiplyInt32(byte* a, int m, Int8PackedMatrix w, int* c, Int8Path path = Int8Path.Auto)
        => Run(a, null, m, w, null, c, w.N, null, Resolve(path), 0, (w.N + Int8PackedMatrix.NR - 1) / Int8PackedMatrix.NR);

    [SkipLocalsInit]
    static void Run(byte* a, float* sa, int m, Int8PackedMatrix w, float* cf, int* ci, int ldc, float* bias, Int8Path path, int jpBegin, int jpEnd)
    {
        if (path != Int8Path.Scalar && !IsSupported(path)) throw new PlatformNotSupportedException($"Int8 path {path} is not supported on this CPU.");
        int n = w.N, kp = w.KPadded, groups = kp / 4, NR = Int8PackedMatrix.NR, zero = ActivationZero(path);
        int MR = path switch { Int8Path.Avx512Bw => Avx512BwRows, Int8Path.AvxVnni => 6, Int8Path.Avx2 => 2, _ => 1 };
        int* tile = stackalloc int[Avx512BwRows * 16];
        sbyte* bp = w.Panels;
        fixed (int* colSum = w.ColSum) fixed (float* ws = w.Scale)
        {
            for (int i = 0; i < m; i += MR)
            {
                int mr = Math.Min(MR, m - i);
                for (int jp = jpBegin; jp < jpEnd; jp++)
                {
                    sbyte* panel = bp + (long)jp * groups * 64;
                    if (path == Int8Path.AvxVnni && cf != null && jp * NR + NR <= n)
                    {
                        // Full panel, fp32 output: dequantizing epilogue straight from the accumulator registers.
                        VnniTileDequant(a + (long)i * kp, kp, mr, groups, panel, cf + (long)i * ldc + jp * NR, ldc, sa + i,
                            colSum + jp * NR, ws + jp * NR, bias == null ? null : bias + jp * NR);
                        continue;
                    }
                    switch (path)
                    {
                        case Int8Path.Avx512Bw: Avx512BwTile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                        case Int8Path.AvxVnni: VnniTile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                        case Int8Path.Avx2: Avx2Tile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                        default: ScalarTile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                    }
                    int j0 = jp * NR, nr = Math.Min(NR, n - j0);
                    if (ci != null)
                    {
                        for (int r = 0; r < mr; r++)
                            for (int q = 0; q < nr; q++) ci[(long)(i + r) * ldc + j0 + q] = tile[r * 16 + q] - zero * colSum[j0 + q];
                        continue;
                    }
                    Dequantize(tile, mr, nr, zero, colSum + j0, ws + j0, bias == null ? null : bias + j0, sa + i, cf + (long)i * ldc + j0, ldc);
                }
            }
        }
    }

    /// <summary>
    /// C[r, q] = (float)(tile[r, q] − zero·colSum[q])·(ws[q]·sa[r]) (+ bias[q]) for a tile of mr rows × nr ≤ 16 columns
    /// (row stride 16); the same operations in every branch, so all paths round alike.
    /// </summary>
    static void Dequantize(int* tile, int mr, int nr, int zero, int* colSum, float* ws, float* bias, float* sa, float* c, int ldc)
    {
        if (nr == 16 && Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var k = Vector512.Load(colSum) * zero; var wv = Vector512.Load(ws);
            var z = bias != null ? Vector512.Load(bias) : Vector512<float>.Zero;
            for (int r = 0; r < mr; r++)
            {
                var v = Vector512.ConvertToSingle(Vector512.Load(tile + r * 16) - k) * (wv * Vector512.Create(sa[r]));
                if (bias != null) v += z;
                v.Store(c + (long)r * ldc);
            }
            return;
        }
        for (int r = 0; r < mr; r++)
        {
            int* t = tile + r * 16;
            float* crow = c + (long)r * ldc;
            float s = sa[r];
            if (nr == 16 && Avx2.IsSupported)
            {
                var vs = Vector256.Create(s);
                for (int q = 0; q < 16; q += 8)
                {
                    var acc = Vector256.Load(t + q) - Vector256.Load(colSum + q) * zero;
                    var v = Vector256.ConvertToSingle(acc) * (Vector256.Load(ws + q) * vs);
                    if (bias != null) v += Vector256.Load(bias + q);
                    v.Store(crow + q);
                }
            }
            else
                for (int q = 0; q < nr; q++)
                {
                    float v = (float)(t[q] - zero * colSum[q]) * (ws[q] * s);
                    if (bias != null) v += bias[q];
                    crow[q] = v;
                }
        }
    }
}
