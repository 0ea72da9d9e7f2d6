using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>Dynamic activation quantization for <see cref="Int8Gemm"/>.</summary>
public static unsafe class Int8Quant
{
    /// <summary>
    /// Per-row symmetric quantization for the int8 GEMM <paramref name="path"/>, stored shifted to u8:
    /// q = clamp(round(x/s), −L, L) + Z with s = max|x_row|/L (1 for an all-zero row), where L =
    /// <see cref="Int8Gemm.ActivationLevels"/> and Z = L + 1 (127 and 128; 63 and 64 on the AVX-512BW path). Rows of
    /// <paramref name="k"/> values → rows of <paramref name="ldq"/> bytes (padding set to Z, i.e. zero). scales[r] = s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRowsU8(float* x, int rows, int k, byte* q, int ldq, float* scales, Int8Path path = Int8Path.Auto)
    {
        int levels = Int8Gemm.ActivationLevels(path), zero = levels + 1;
        float fl = levels;
        for (int r = 0; r < rows; r++)
        {
            // AbsMax's vmaxps loop needs AVX-512; elsewhere TensorPrimitives is faster than its scalar loop.
            float max = Avx512F.IsSupported ? AbsMax(x + (long)r * k, k) : MathF.Abs(
                System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(x + (long)r * k, k)));
            float s = max > 0 && float.IsFinite(max) ? max / fl : 1f;
            scales[r] = s;
            float inv = 1f / s;
            byte* qr = q + (long)r * ldq;
            int p = 0;
            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            {
                // vcvtps2dq rounds to nearest even (as MathF.Round); values are in [1, 255] after the shift, so
                // vpmovdb's truncation to bytes is exact.
                var vinv = Vector512.Create(inv); var lo = Vector512.Create(-fl); var hi = Vector512.Create(fl);
                var off = Vector512.Create(zero);
                float* xr = x + (long)r * k;
                for (; p + 16 <= k; p += 16)
                {
                    var v = Vector512.Min(Vector512.Max(Vector512.Load(xr + p) * vinv, lo), hi);
                    Avx512F.ConvertToVector128Byte(Avx512F.ConvertToVector512Int32(v) + off).Store(qr + p);
                }
            }
            if (Vector256.IsHardwareAccelerated && Avx2.IsSupported)
            {
                var vinv = Vector256.Create(inv); var lo = Vector256.Create(-fl); var hi = Vector256.Create(fl);
                var off = Vector256.Create(zero);
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
                float v = Math.Clamp(x[(long)r * k + p] * inv, -fl, fl);
                qr[p] = (byte)((int)MathF.Round(v, MidpointRounding.ToEven) + zero);
            }
            for (; p < ldq; p++) qr[p] = (byte)zero;
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
