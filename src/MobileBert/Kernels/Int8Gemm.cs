using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>Which int8 micro-kernel runs. <see cref="Auto"/> picks the best the CPU supports.</summary>
public enum Int8Path { Auto, Scalar, Avx2, AvxVnni }

/// <summary>
/// Int8 weights W[N, K] (per-output-channel scales) packed for <see cref="Int8Gemm"/>: ⌈N/16⌉ panels, each
/// ⌈K/4⌉ groups of 16 columns × 4 consecutive k (64 bytes, the vpdpbusd operand layout), zero-padded. Also holds the
/// per-column weight sums used to undo the +128 shift of the activations.
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

/// <summary>Dynamic activation quantization for <see cref="Int8Gemm"/>.</summary>
public static unsafe class Int8Quant
{
    /// <summary>Use the Vector512 quantization loop where available (false: the AVX2 one; for A/B benches).</summary>
    internal static bool Quantize512 = true;

    /// <summary>
    /// Per-row symmetric quantization, stored shifted to u8: q = clamp(round(x/s), −127, 127) + 128 with
    /// s = max|x_row|/127 (1 for an all-zero row). Rows of <paramref name="k"/> values → rows of <paramref name="ldq"/>
    /// bytes (padding set to 128, i.e. zero). scales[r] = s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRowsU8(float* x, int rows, int k, byte* q, int ldq, float* scales)
    {
        for (int r = 0; r < rows; r++)
        {
            float max = Quantize512 ? AbsMax(x + (long)r * k, k) : MathF.Abs(
                System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(x + (long)r * k, k)));
            float s = max > 0 && float.IsFinite(max) ? max / 127f : 1f;
            scales[r] = s;
            float inv = 1f / s;
            byte* qr = q + (long)r * ldq;
            int p = 0;
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Quantize512)
            {
                // vcvtps2dq rounds to nearest even (as MathF.Round); values are in [1, 255] after the shift, so
                // vpmovdb's truncation to bytes is exact.
                var vinv = Vector512.Create(inv); var lo = Vector512.Create(-127f); var hi = Vector512.Create(127f);
                var off = Vector512.Create(128);
                float* xr = x + (long)r * k;
                for (; p + 16 <= k; p += 16)
                {
                    var v = Vector512.Min(Vector512.Max(Vector512.Load(xr + p) * vinv, lo), hi);
                    Avx512F.ConvertToVector128Byte(Avx512F.ConvertToVector512Int32(v) + off).Store(qr + p);
                }
            }
            if (Vector256.IsHardwareAccelerated && Avx2.IsSupported)
            {
                var vinv = Vector256.Create(inv); var lo = Vector256.Create(-127f); var hi = Vector256.Create(127f);
                var off = Vector256.Create(128);
                var perm = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
                float* xr = x + (long)r * k;
                for (; p + 32 <= k; p += 32)
                {
                    var i0 = Avx.ConvertToVector256Int32(Vector256.Min(Vector256.Max(Vector256.Load(xr + p) * vinv, lo), hi)) + off;
                    var i1 = Avx.ConvertToVector256Int32(Vector256.Min(Vector256.Max(Vector256.Load(xr + p + 8) * vinv, lo), hi)) + off;
                    var i2 = Avx.ConvertToVector256Int32(Vector256.Min(Vector256.Max(Vector256.Load(xr + p + 16) * vinv, lo), hi)) + off;
                    var i3 = Avx.ConvertToVector256Int32(Vector256.Min(Vector256.Max(Vector256.Load(xr + p + 24) * vinv, lo), hi)) + off;
                    // per 128-bit lane packing: [i0 0-3, i1 0-3, i2 0-3, i3 0-3 | i0 4-7, …] → restore order with vpermd
                    var b8 = Avx2.PackUnsignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
                    Avx2.PermuteVar8x32(b8.AsInt32(), perm).AsByte().Store(qr + p);
                }
                for (; p + 8 <= k; p += 8)
                {
                    var v = Vector256.Load(x + (long)r * k + p) * vinv;
                    v = Vector256.Min(Vector256.Max(v, lo), hi);
                    var iv = Avx.ConvertToVector256Int32(v) + off;   // round to nearest even, as MathF.Round
                    // pack 8 int32 (0..255) to bytes
                    var s16 = Avx2.PackSignedSaturate(iv, iv);       // [a0..a3 a0..a3 | a4..a7 a4..a7]
                    var u8 = Avx2.PackUnsignedSaturate(s16, s16);
                    *(int*)(qr + p) = u8.AsInt32().GetElement(0);
                    *(int*)(qr + p + 4) = u8.AsInt32().GetElement(4);
                }
            }
            for (; p < k; p++)
            {
                float v = Math.Clamp(x[(long)r * k + p] * inv, -127f, 127f);
                qr[p] = (byte)((int)MathF.Round(v, MidpointRounding.ToEven) + 128);
            }
            for (; p < ldq; p++) qr[p] = 128;
        }
    }

    /// <summary>max |x[0..k)| (NaN if any element is NaN, like TensorPrimitives.MaxMagnitude).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float AbsMax(float* x, int k)
    {
        int p = 0; float max = 0; bool nan = false;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && k >= 16)
        {
            // vmaxps directly (NaN is tracked separately): Vector512.Max's IEEE maximum semantics cost extra instructions.
            var m0 = Vector512<float>.Zero; var m1 = m0; var bad = Vector512<float>.Zero;
            for (; p + 32 <= k; p += 32)
            {
                var v0 = Vector512.Load(x + p); var v1 = Vector512.Load(x + p + 16);
                m0 = Avx512F.Max(m0, Vector512.Abs(v0)); m1 = Avx512F.Max(m1, Vector512.Abs(v1));
                bad |= ~(Vector512.Equals(v0, v0) & Vector512.Equals(v1, v1));
            }
            for (; p + 16 <= k; p += 16)
            {
                var v0 = Vector512.Load(x + p);
                m0 = Avx512F.Max(m0, Vector512.Abs(v0));
                bad |= ~Vector512.Equals(v0, v0);
            }
            var mm = Avx512F.Max(m0, m1);
            max = MaxLanes(Vector256.Max(mm.GetLower(), mm.GetUpper()));
            nan = bad != Vector512<float>.Zero;
        }
        for (; p < k; p++) { float a = MathF.Abs(x[p]); if (float.IsNaN(a)) nan = true; else if (a > max) max = a; }
        return nan ? float.NaN : max;

        static float MaxLanes(Vector256<float> v)
        {
            var h = Vector128.Max(v.GetLower(), v.GetUpper());
            return MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
        }
    }

    /// <summary>Per-output-channel symmetric int8 weights: W [n, k] → q [n, k], scales [n] (scale = max|W_j|/127).</summary>
    public static void QuantizeWeights(ReadOnlySpan<float> w, int n, int k, Span<sbyte> q, Span<float> scales)
    {
        for (int j = 0; j < n; j++)
        {
            var row = w.Slice(j * k, k);
            float max = 0; foreach (var v in row) max = MathF.Max(max, MathF.Abs(v));
            float s = max > 0 ? max / 127f : 1f;
            scales[j] = s;
            for (int p = 0; p < k; p++) q[j * k + p] = (sbyte)Math.Clamp((int)MathF.Round(row[p] / s, MidpointRounding.ToEven), -127, 127);
        }
    }
}

/// <summary>
/// u8 × s8 → i32 GEMM for the int8 inference path: C[m, N] = (Σ_k (a[i,k] − 128)·W[j,k]) · sa[i] · sw[j] + bias[j],
/// where a holds activations quantized and shifted by +128 (<see cref="Int8Quant.QuantizeRowsU8"/>) and W is
/// pre-packed (<see cref="Pack"/>). The shift lets the unsigned×signed vpdpbusd instruction be used; it is undone
/// exactly with the per-column weight sums (Σ a·w − 128·Σ w). Integer accumulation is exact (|Σ| ≤ K·255·127).
/// Paths: AvxVnni (vpdpbusd on 256-bit vectors — .NET 10 exposes no 512-bit VNNI for AVX512_VNNI CPUs), Avx2
/// (sign-extend to 16 bit + vpmaddwd), scalar. Single-threaded (the caller splits rows).
/// </summary>
public static unsafe class Int8Gemm
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
        _ => false,
    };

    public static Int8Path Resolve(Int8Path p) => p != Int8Path.Auto ? p
        : IsSupported(Int8Path.AvxVnni) ? Int8Path.AvxVnni : IsSupported(Int8Path.Avx2) ? Int8Path.Avx2 : Int8Path.Scalar;

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

    /// <summary>Integer product (for tests): C[i,j] = Σ_k (a[i,k] − 128)·W[j,k] exactly, C int32 [m, N].</summary>
    public static void MultiplyInt32(byte* a, int m, Int8PackedMatrix w, int* c, Int8Path path = Int8Path.Auto)
        => Run(a, null, m, w, null, c, w.N, null, Resolve(path), 0, (w.N + Int8PackedMatrix.NR - 1) / Int8PackedMatrix.NR);

    /// <summary>Use the in-register dequantizing epilogue of the AvxVnni path (false: via the stack tile; for A/B benches).</summary>
    internal static bool RegisterEpilogue = true;

    [SkipLocalsInit]
    static void Run(byte* a, float* sa, int m, Int8PackedMatrix w, float* cf, int* ci, int ldc, float* bias, Int8Path path, int jpBegin, int jpEnd)
    {
        if (path != Int8Path.Scalar && !IsSupported(path)) throw new PlatformNotSupportedException($"Int8 path {path} is not supported on this CPU.");
        int n = w.N, kp = w.KPadded, groups = kp / 4, NR = Int8PackedMatrix.NR;
        int MR = path == Int8Path.AvxVnni ? 6 : path == Int8Path.Avx2 ? 2 : 1;
        int* tile = stackalloc int[6 * 16];
        sbyte* bp = w.Panels;
        fixed (int* colSum = w.ColSum) fixed (float* ws = w.Scale)
        {
            for (int i = 0; i < m; i += MR)
            {
                int mr = Math.Min(MR, m - i);
                for (int jp = jpBegin; jp < jpEnd; jp++)
                {
                    sbyte* panel = bp + (long)jp * groups * 64;
                    if (path == Int8Path.AvxVnni && cf != null && jp * NR + NR <= n && RegisterEpilogue)
                    {
                        // Full panel, fp32 output: dequantizing epilogue straight from the accumulator registers.
                        VnniTileDequant(a + (long)i * kp, kp, mr, groups, panel, cf + (long)i * ldc + jp * NR, ldc, sa + i,
                            colSum + jp * NR, ws + jp * NR, bias == null ? null : bias + jp * NR);
                        continue;
                    }
                    switch (path)
                    {
                        case Int8Path.AvxVnni: VnniTile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                        case Int8Path.Avx2: Avx2Tile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                        default: ScalarTile(a + (long)i * kp, kp, mr, groups, panel, tile); break;
                    }
                    int j0 = jp * NR, nr = Math.Min(NR, n - j0);
                    for (int r = 0; r < mr; r++)
                    {
                        int* t = tile + r * 16;
                        if (ci != null)
                        {
                            for (int q = 0; q < nr; q++) ci[(long)(i + r) * ldc + j0 + q] = t[q] - 128 * colSum[j0 + q];
                            continue;
                        }
                        float* crow = cf + (long)(i + r) * ldc + j0;
                        float s = sa[i + r];
                        if (nr == 16 && Avx2.IsSupported)
                        {
                            var vs = Vector256.Create(s);
                            for (int q = 0; q < 16; q += 8)
                            {
                                var acc = Vector256.Load(t + q) - Vector256.Load(colSum + j0 + q) * 128;
                                var v = Vector256.ConvertToSingle(acc) * (Vector256.Load(ws + j0 + q) * vs);
                                if (bias != null) v += Vector256.Load(bias + j0 + q);
                                v.Store(crow + q);
                            }
                        }
                        else
                            for (int q = 0; q < nr; q++)
                            {
                                float v = (float)(t[q] - 128 * colSum[j0 + q]) * (ws[j0 + q] * s);
                                if (bias != null) v += bias[j0 + q];
                                crow[q] = v;
                            }
                    }
                }
            }
        }
    }

    /// <summary>Raw Σ a·w (a as unsigned) of mr ≤ 6 rows × 16 columns into tile [6][16].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void VnniTile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        // Rows past mr repeat the last valid row (results discarded).
        byte* a0 = a, a1 = a + (mr > 1 ? 1 : 0) * (long)lda, a2 = a + (mr > 2 ? 2 : mr - 1) * (long)lda, a3 = a + (mr > 3 ? 3 : mr - 1) * (long)lda,
            a4 = a + (mr > 4 ? 4 : mr - 1) * (long)lda, a5 = a + (mr > 5 ? 5 : mr - 1) * (long)lda;
        var c00 = Vector256<int>.Zero; var c01 = c00; var c10 = c00; var c11 = c00; var c20 = c00; var c21 = c00;
        var c30 = c00; var c31 = c00; var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00;
        for (int g = 0; g < groups; g++)
        {
            var b0 = Vector256.Load(b + g * 64); var b1 = Vector256.Load(b + g * 64 + 32);
            int o = g * 4;
            var x = Vector256.Create(*(int*)(a0 + o)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + o)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + o)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + o)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
            x = Vector256.Create(*(int*)(a4 + o)).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, b0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, b1);
            x = Vector256.Create(*(int*)(a5 + o)).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, b0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, b1);
        }
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24); c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56); c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
    }

    /// <summary>
    /// <see cref="VnniTile"/> with the dequantizing epilogue applied in registers: C[r, 0..16) =
    /// (float)(acc − 128·colSum)·(ws·sa[r]) (+ bias), the same operations as the generic epilogue (bit-identical).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void VnniTileDequant(byte* a, int lda, int mr, int groups, sbyte* b, float* c, int ldc, float* sa, int* colSum, float* ws, float* bias)
    {
        byte* a0 = a, a1 = a + (mr > 1 ? 1 : 0) * (long)lda, a2 = a + (mr > 2 ? 2 : mr - 1) * (long)lda, a3 = a + (mr > 3 ? 3 : mr - 1) * (long)lda,
            a4 = a + (mr > 4 ? 4 : mr - 1) * (long)lda, a5 = a + (mr > 5 ? 5 : mr - 1) * (long)lda;
        var c00 = Vector256<int>.Zero; var c01 = c00; var c10 = c00; var c11 = c00; var c20 = c00; var c21 = c00;
        var c30 = c00; var c31 = c00; var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00;
        for (int g = 0; g < groups; g++)
        {
            var b0 = Vector256.Load(b + g * 64); var b1 = Vector256.Load(b + g * 64 + 32);
            int o = g * 4;
            var x = Vector256.Create(*(int*)(a0 + o)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + o)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + o)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + o)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
            x = Vector256.Create(*(int*)(a4 + o)).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, b0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, b1);
            x = Vector256.Create(*(int*)(a5 + o)).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, b0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, b1);
        }
        var k0 = Vector256.Load(colSum) * 128; var k1 = Vector256.Load(colSum + 8) * 128;
        var w0 = Vector256.Load(ws); var w1 = Vector256.Load(ws + 8);
        var z0 = bias != null ? Vector256.Load(bias) : Vector256<float>.Zero;
        var z1 = bias != null ? Vector256.Load(bias + 8) : Vector256<float>.Zero;
        bool hasBias = bias != null;
        DequantRow(c00, c01, k0, k1, w0, w1, z0, z1, hasBias, sa[0], c);
        if (mr > 1) DequantRow(c10, c11, k0, k1, w0, w1, z0, z1, hasBias, sa[1], c + ldc);
        if (mr > 2) DequantRow(c20, c21, k0, k1, w0, w1, z0, z1, hasBias, sa[2], c + 2L * ldc);
        if (mr > 3) DequantRow(c30, c31, k0, k1, w0, w1, z0, z1, hasBias, sa[3], c + 3L * ldc);
        if (mr > 4) DequantRow(c40, c41, k0, k1, w0, w1, z0, z1, hasBias, sa[4], c + 4L * ldc);
        if (mr > 5) DequantRow(c50, c51, k0, k1, w0, w1, z0, z1, hasBias, sa[5], c + 5L * ldc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void DequantRow(Vector256<int> lo, Vector256<int> hi, Vector256<int> k0, Vector256<int> k1, Vector256<float> w0, Vector256<float> w1,
        Vector256<float> z0, Vector256<float> z1, bool hasBias, float s, float* cr)
    {
        var vs = Vector256.Create(s);
        var v0 = Vector256.ConvertToSingle(lo - k0) * (w0 * vs);
        var v1 = Vector256.ConvertToSingle(hi - k1) * (w1 * vs);
        if (hasBias) { v0 += z0; v1 += z1; }
        v0.Store(cr); v1.Store(cr + 8);
    }

    /// <summary>AVX2 without VNNI: weights sign-extended to 16 bit, activations zero-extended, vpmaddwd (exact pair sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Avx2Tile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        byte* a0 = a, a1 = a + (mr > 1 ? lda : 0);
        // acc{row}{q}: columns 4q..4q+3, each as [c k01, c k23] pairs.
        var r00 = Vector256<int>.Zero; var r01 = r00; var r02 = r00; var r03 = r00; var r10 = r00; var r11 = r00; var r12 = r00; var r13 = r00;
        for (int g = 0; g < groups; g++)
        {
            sbyte* bg = b + g * 64;
            var w0 = Avx2.ConvertToVector256Int16(Vector128.Load(bg)); var w1 = Avx2.ConvertToVector256Int16(Vector128.Load(bg + 16));
            var w2 = Avx2.ConvertToVector256Int16(Vector128.Load(bg + 32)); var w3 = Avx2.ConvertToVector256Int16(Vector128.Load(bg + 48));
            int o = g * 4;
            var x = Widen4(a0 + o);
            r00 = Avx2.Add(r00, Avx2.MultiplyAddAdjacent(x, w0)); r01 = Avx2.Add(r01, Avx2.MultiplyAddAdjacent(x, w1));
            r02 = Avx2.Add(r02, Avx2.MultiplyAddAdjacent(x, w2)); r03 = Avx2.Add(r03, Avx2.MultiplyAddAdjacent(x, w3));
            x = Widen4(a1 + o);
            r10 = Avx2.Add(r10, Avx2.MultiplyAddAdjacent(x, w0)); r11 = Avx2.Add(r11, Avx2.MultiplyAddAdjacent(x, w1));
            r12 = Avx2.Add(r12, Avx2.MultiplyAddAdjacent(x, w2)); r13 = Avx2.Add(r13, Avx2.MultiplyAddAdjacent(x, w3));
        }
        Reduce(r00, r01).Store(tile); Reduce(r02, r03).Store(tile + 8);
        Reduce(r10, r11).Store(tile + 16); Reduce(r12, r13).Store(tile + 24);

        static Vector256<short> Widen4(byte* p)
        {
            ulong v = p[0] | ((ulong)p[1] << 16) | ((ulong)p[2] << 32) | ((ulong)p[3] << 48);
            return Vector256.Create(v).AsInt16();
        }
        // [c0a c0b c1a c1b | c2a c2b c3a c3b], [c4a … | …] → [c0 … c7]
        static Vector256<int> Reduce(Vector256<int> lo, Vector256<int> hi) =>
            Avx2.Permute4x64(Avx2.HorizontalAdd(lo, hi).AsInt64(), 0b11_01_10_00).AsInt32();
    }

    static void ScalarTile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        for (int r = 0; r < mr; r++)
            for (int q = 0; q < 16; q++)
            {
                int s = 0;
                for (int g = 0; g < groups; g++)
                {
                    byte* ar = a + (long)r * lda + g * 4; sbyte* bq = b + g * 64 + q * 4;
                    s += ar[0] * bq[0] + ar[1] * bq[1] + ar[2] * bq[2] + ar[3] * bq[3];
                }
                tile[r * 16 + q] = s;
            }
    }
}
