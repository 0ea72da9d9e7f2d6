using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>Attention for one (sequence, head, chunk of query rows) with a small head dimension (a multiple of 16,
/// ≤ 64; MobileBERT's is 32), AVX-512 only. Instead of gather + pack + generic GEMM + a separate softmax pass + GEMM
/// (the fallback path of the inference engine), it transposes K once into [d, len padded to 32] and then, per block of
/// 4 query rows (Q and V also packed contiguously): a register-blocked 4 × 64 score tile over d (16 accumulators; 4 × 32 for the rest) with
/// the scale, the additive key mask and the running row max fused into the tile's epilogue; exp(x − max) with a
/// vectorised Cephes-style exp (≈ 1–2 ulp) and the row sums in one pass over the 4 rows (still in L1); P·V with the
/// 4 × 32 output tile in registers, keys summed in order as the reference GEMM does (8 accumulators; V packed [len, d] once: strided, its rows would
/// share few L1 sets), scaled by 1/Σ
/// when stored. fp32 throughout.
/// Differs from softmax-then-GEMM only by rounding: the normalisation is applied to the output instead of to P.</summary>
public static unsafe class SmallHeadAttention
{
    /// <summary>Whether <see cref="Run"/> handles head dimension <paramref name="d"/> on this machine.</summary>
    public static bool Supports(int d) => Avx512F.IsSupported && d > 0 && d % 16 == 0 && d <= 64;

    static int Pad(int len) => (len + 31) & ~31;

    /// <summary>Floats of scratch <see cref="Run"/> needs for <paramref name="len"/> keys.</summary>
    public static int ScratchFloats(int len, int d) => (3 * d + 6) * Pad(len);

    /// <summary>out[i, :d] ← softmax(scale · q_i·Kᵀ + mask) · V for i &lt; rows. q, k, v, out are row-major with strides
    /// (floats) qs, ks, vs, os; mask [len] is additive (null: none); scratch holds <see cref="ScratchFloats"/> floats.
    /// With <paramref name="probs"/> also writes the attention probabilities, row i at probs + i·<paramref name="pstride"/>
    /// (len floats). Returns false — some rows of out possibly written — if a score (after scale and mask) is NaN or ±∞:
    /// the caller then runs its reference path, which treats such rows the way <see cref="Softmax"/> does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Run(float* q, int qs, float* k, int ks, float* v, int vs, float* o, int os,
        int rows, int len, int d, float scale, float* mask, float* scratch, float* probs = null, int pstride = 0)
    {
        int lp = Pad(len);
        float* kt = scratch, s = kt + (long)d * lp, madd = s + 4L * lp, pad = madd + lp, vpk = pad + lp;
        // V packed [len, d]: read through its stride, its rows (1.5 KB apart in MobileBERT) would share few L1 sets.
        for (int j = 0; j < len; j++)
        {
            float* vr = v + (long)j * vs, dr = vpk + (long)j * d;
            for (int p = 0; p < d; p += 16) Vector512.Load(vr + p).Store(dr + p);
        }
        v = vpk; vs = d;
        // Q rows packed [rows, d] too: read in place (1 KB apart in MobileBERT) they come from L3 at batch 32, one new
        // row per tile row, inside the FMA loop.
        float* qpk = vpk + (long)len * d;
        for (int i = 0; i < rows; i++)
        {
            float* qr = q + (long)i * qs, dr = qpk + (long)i * d;
            for (int p = 0; p < d; p += 16) Vector512.Load(qr + p).Store(dr + p);
        }
        q = qpk; qs = d;
        // Kᵀ [d, lp], zero columns past len (their scores are then exactly 0 before the −∞ pad is added).
        for (int j = 0; j < len; j++)
        {
            float* kr = k + (long)j * ks;
            for (int p = 0; p < d; p++) kt[p * lp + j] = kr[p];
        }
        for (int p = 0; p < d; p++)
            for (int j = len; j < lp; j++) kt[p * lp + j] = 0f;
        for (int j = 0; j < len; j++) { madd[j] = mask != null ? mask[j] : 0f; pad[j] = 0f; }
        for (int j = len; j < lp; j++) { madd[j] = 0f; pad[j] = float.NegativeInfinity; }

        var vscale = Vector512.Create(scale);
        for (int i0 = 0; i0 < rows; i0 += 4)
        {
            int last = rows - 1;
            float* q0 = q + (long)i0 * qs, q1 = q + (long)Math.Min(i0 + 1, last) * qs,
                   q2 = q + (long)Math.Min(i0 + 2, last) * qs, q3 = q + (long)Math.Min(i0 + 3, last) * qs;
            float* s0 = s, s1 = s + lp, s2 = s + 2 * lp, s3 = s + 3 * lp;
            var m0 = Vector512.Create(float.NegativeInfinity); var m1 = m0; var m2 = m0; var m3 = m0;
            var bad = Vector512<float>.Zero;
            // ── scores: 4 rows × 64 keys per tile (16 accumulators), a 32-key tile for the rest ──
            int jk = 0;
            for (; jk + 64 <= lp; jk += 64)
            {
                Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default,
                    a13 = default,
                                 a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default,
                                 a33 = default;
                float* kp = kt + jk;
                for (int p = 0; p < d; p++, kp += lp)
                {
                    var k0 = Vector512.Load(kp); var k1 = Vector512.Load(kp + 16); var k2 = Vector512.Load(kp + 32); var k3 = Vector512.Load(kp + 48);
                    var b = Vector512.Create(q0[p]);
                    a00 = Avx512F.FusedMultiplyAdd(k0, b, a00); a01 = Avx512F.FusedMultiplyAdd(k1, b, a01);
                    a02 = Avx512F.FusedMultiplyAdd(k2, b, a02); a03 = Avx512F.FusedMultiplyAdd(k3, b, a03);
                    b = Vector512.Create(q1[p]);
                    a10 = Avx512F.FusedMultiplyAdd(k0, b, a10); a11 = Avx512F.FusedMultiplyAdd(k1, b, a11);
                    a12 = Avx512F.FusedMultiplyAdd(k2, b, a12); a13 = Avx512F.FusedMultiplyAdd(k3, b, a13);
                    b = Vector512.Create(q2[p]);
                    a20 = Avx512F.FusedMultiplyAdd(k0, b, a20); a21 = Avx512F.FusedMultiplyAdd(k1, b, a21);
                    a22 = Avx512F.FusedMultiplyAdd(k2, b, a22); a23 = Avx512F.FusedMultiplyAdd(k3, b, a23);
                    b = Vector512.Create(q3[p]);
                    a30 = Avx512F.FusedMultiplyAdd(k0, b, a30); a31 = Avx512F.FusedMultiplyAdd(k1, b, a31);
                    a32 = Avx512F.FusedMultiplyAdd(k2, b, a32); a33 = Avx512F.FusedMultiplyAdd(k3, b, a33);
                }
                var mk0 = Vector512.Load(madd + jk); var mk1 = Vector512.Load(madd + jk + 16);
                var pd0 = Vector512.Load(pad + jk); var pd1 = Vector512.Load(pad + jk + 16);
                Epilogue(a00, a01, vscale, mk0, mk1, pd0, pd1, s0 + jk, ref m0, ref bad);
                Epilogue(a10, a11, vscale, mk0, mk1, pd0, pd1, s1 + jk, ref m1, ref bad);
                Epilogue(a20, a21, vscale, mk0, mk1, pd0, pd1, s2 + jk, ref m2, ref bad);
                Epilogue(a30, a31, vscale, mk0, mk1, pd0, pd1, s3 + jk, ref m3, ref bad);
                mk0 = Vector512.Load(madd + jk + 32); mk1 = Vector512.Load(madd + jk + 48);
                pd0 = Vector512.Load(pad + jk + 32); pd1 = Vector512.Load(pad + jk + 48);
                Epilogue(a02, a03, vscale, mk0, mk1, pd0, pd1, s0 + jk + 32, ref m0, ref bad);
                Epilogue(a12, a13, vscale, mk0, mk1, pd0, pd1, s1 + jk + 32, ref m1, ref bad);
                Epilogue(a22, a23, vscale, mk0, mk1, pd0, pd1, s2 + jk + 32, ref m2, ref bad);
                Epilogue(a32, a33, vscale, mk0, mk1, pd0, pd1, s3 + jk + 32, ref m3, ref bad);
            }
            for (; jk < lp; jk += 32)
            {
                Tile4x32(q0, q1, q2, q3, kt + jk, lp, d,
                    out var a00, out var a01, out var a10, out var a11, out var a20, out var a21, out var a30, out var a31);
                var mk0 = Vector512.Load(madd + jk); var mk1 = Vector512.Load(madd + jk + 16);
                var pd0 = Vector512.Load(pad + jk); var pd1 = Vector512.Load(pad + jk + 16);
                Epilogue(a00, a01, vscale, mk0, mk1, pd0, pd1, s0 + jk, ref m0, ref bad);
                Epilogue(a10, a11, vscale, mk0, mk1, pd0, pd1, s1 + jk, ref m1, ref bad);
                Epilogue(a20, a21, vscale, mk0, mk1, pd0, pd1, s2 + jk, ref m2, ref bad);
                Epilogue(a30, a31, vscale, mk0, mk1, pd0, pd1, s3 + jk, ref m3, ref bad);
            }
            if (bad != Vector512<float>.Zero) return false;
            // ── exp(x − max), Σ ──
            float inv0 = 1f / ExpRow(s0, lp, HMax(m0)), inv1 = 1f / ExpRow(s1, lp, HMax(m1)),
                  inv2 = 1f / ExpRow(s2, lp, HMax(m2)), inv3 = 1f / ExpRow(s3, lp, HMax(m3));
            // ── P·V: 4 rows × 32 (or 16) output columns in registers ──
            int n = Math.Min(4, rows - i0);
            if (probs != null)
            {
                StoreProbs(s0, inv0, probs + (long)i0 * pstride, len);
                if (n > 1) StoreProbs(s1, inv1, probs + (long)(i0 + 1) * pstride, len);
                if (n > 2) StoreProbs(s2, inv2, probs + (long)(i0 + 2) * pstride, len);
                if (n > 3) StoreProbs(s3, inv3, probs + (long)(i0 + 3) * pstride, len);
            }
            float* o0 = o + (long)i0 * os;
            for (int c0 = 0; c0 < d; c0 += 32)
            {
                float* vp = v + c0;
                if (d - c0 >= 32)
                {
                    // Keys in order, one accumulator per output vector (8 independent FMA chains): the order of the
                    // reference GEMM's sum over keys, so the two differ only by where 1/Σ is applied.
                    Tile4x32(s0, s1, s2, s3, vp, vs, len,
                        out var a00, out var a01, out var a10, out var a11, out var a20, out var a21, out var a30, out var a31);
                    float* op = o0 + c0;
                    (a00 * inv0).Store(op); (a01 * inv0).Store(op + 16);
                    if (n > 1) { op += os; (a10 * inv1).Store(op); (a11 * inv1).Store(op + 16); }
                    if (n > 2) { op += os; (a20 * inv2).Store(op); (a21 * inv2).Store(op + 16); }
                    if (n > 3) { op += os; (a30 * inv3).Store(op); (a31 * inv3).Store(op + 16); }
                }
                else
                {
                    // 16 columns left: two accumulators per row (even / odd keys) to hide the FMA latency.
                    Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default,
                                     a20 = default, a21 = default, a30 = default, a31 = default;
                    int j = 0;
                    for (; j + 2 <= len; j += 2, vp += 2L * vs)
                    {
                        var v0 = Vector512.Load(vp); var v1 = Vector512.Load(vp + vs);
                        a00 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s0[j]), a00);
                        a01 = Avx512F.FusedMultiplyAdd(v1, Vector512.Create(s0[j + 1]), a01);
                        a10 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s1[j]), a10);
                        a11 = Avx512F.FusedMultiplyAdd(v1, Vector512.Create(s1[j + 1]), a11);
                        a20 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s2[j]), a20);
                        a21 = Avx512F.FusedMultiplyAdd(v1, Vector512.Create(s2[j + 1]), a21);
                        a30 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s3[j]), a30);
                        a31 = Avx512F.FusedMultiplyAdd(v1, Vector512.Create(s3[j + 1]), a31);
                    }
                    if (j < len)
                    {
                        var v0 = Vector512.Load(vp);
                        a00 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s0[j]), a00);
                        a10 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s1[j]), a10);
                        a20 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s2[j]), a20);
                        a30 = Avx512F.FusedMultiplyAdd(v0, Vector512.Create(s3[j]), a30);
                    }
                    float* op = o0 + c0;
                    ((a00 + a01) * inv0).Store(op);
                    if (n > 1) { op += os; ((a10 + a11) * inv1).Store(op); }
                    if (n > 2) { op += os; ((a20 + a21) * inv2).Store(op); }
                    if (n > 3) { op += os; ((a30 + a31) * inv3).Store(op); }
                }
            }
        }
        return true;
    }

    /// <summary>The 4 × 32 register tile both products use: a_r = Σ_{p&lt;k} x_r[p] · b[p·bs .. p·bs + 32) for the rows
    /// x0…x3 (scores: x = Q rows, b = Kᵀ; P·V: x = score rows, b = V), p in order, one FMA chain per output vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile4x32(float* x0, float* x1, float* x2, float* x3, float* b, nint bs, int k,
        out Vector512<float> a00, out Vector512<float> a01, out Vector512<float> a10, out Vector512<float> a11,
        out Vector512<float> a20, out Vector512<float> a21, out Vector512<float> a30, out Vector512<float> a31)
    {
        a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = default;
        for (int p = 0; p < k; p++, b += bs)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(x0[p]); a00 = Avx512F.FusedMultiplyAdd(b0, x, a00); a01 = Avx512F.FusedMultiplyAdd(b1, x, a01);
            x = Vector512.Create(x1[p]); a10 = Avx512F.FusedMultiplyAdd(b0, x, a10); a11 = Avx512F.FusedMultiplyAdd(b1, x, a11);
            x = Vector512.Create(x2[p]); a20 = Avx512F.FusedMultiplyAdd(b0, x, a20); a21 = Avx512F.FusedMultiplyAdd(b1, x, a21);
            x = Vector512.Create(x3[p]); a30 = Avx512F.FusedMultiplyAdd(b0, x, a30); a31 = Avx512F.FusedMultiplyAdd(b1, x, a31);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Epilogue(Vector512<float> a0, Vector512<float> a1, Vector512<float> scale, Vector512<float> mk0, Vector512<float> mk1,
        Vector512<float> pd0, Vector512<float> pd1, float* dst, ref Vector512<float> max, ref Vector512<float> bad)
    {
        var x0 = a0 * scale + mk0; var x1 = a1 * scale + mk1;   // rounded as the reference: (q·k)·scale, then + mask
        bad |= ~Vector512.Equals(x0 - x0, Vector512<float>.Zero) | ~Vector512.Equals(x1 - x1, Vector512<float>.Zero);
        x0 += pd0; x1 += pd1;                                   // keys past len → −∞
        max = Avx512F.Max(max, Avx512F.Max(x0, x1));
        x0.Store(dst); x1.Store(dst + 16);
    }

    /// <summary>dst[j] = e[j]·inv for j &lt; len (the probabilities the output is built from).</summary>
    static void StoreProbs(float* e, float inv, float* dst, int len)
    {
        var vi = Vector512.Create(inv);
        int j = 0;
        for (; j + 16 <= len; j += 16) (Vector512.Load(e + j) * vi).Store(dst + j);
        for (; j < len; j++) dst[j] = e[j] * inv;
    }

    static float HMax(Vector512<float> m)
    {
        var h = Vector256.Max(m.GetLower(), m.GetUpper());
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        return MathF.Max(MathF.Max(q[0], q[1]), MathF.Max(q[2], q[3]));
    }

    /// <summary>x[j] ← exp(x[j] − max) for j &lt; n (n a multiple of 16); returns Σ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float ExpRow(float* x, int n, float max)
    {
        var vm = Vector512.Create(max);
        Vector512<float> sum0 = default, sum1 = default;
        int j = 0;
        for (; j + 32 <= n; j += 32)
        {
            var e0 = Exp(Vector512.Load(x + j) - vm); var e1 = Exp(Vector512.Load(x + j + 16) - vm);
            e0.Store(x + j); e1.Store(x + j + 16);
            sum0 += e0; sum1 += e1;
        }
        for (; j < n; j += 16)
        {
            var e0 = Exp(Vector512.Load(x + j) - vm);
            e0.Store(x + j); sum0 += e0;
        }
        return Vector512.Sum(sum0 + sum1);
    }

    /// <summary>exp(x) for x ≤ 0 (−∞ → 0): Cephes expf — n = round(x·log2 e), r = x − n·ln 2 (two-part), degree-6
    /// polynomial, × 2ⁿ by vscalefps (so very negative x gives 0, not a denormal-clamped constant).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        x = Avx512F.Max(x, Vector512.Create(-150f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Avx512F.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        return Avx512F.Scale(p, n);
    }
}
