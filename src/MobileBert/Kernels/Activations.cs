using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>Element-wise activation functions (HuggingFace <c>hidden_act</c> names in comments).</summary>
public enum Activation
{
    /// <summary>"relu": max(x, 0).</summary>
    Relu,
    /// <summary>"gelu": exact 0.5·x·(1+erf(x/√2)).</summary>
    Gelu,
    /// <summary>"gelu_new": tanh approximation 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))).</summary>
    GeluNew,
    /// <summary>"tanh".</summary>
    Tanh,
}

/// <summary>In-place activation kernels. Stateless and thread-safe (scratch lives on the stack).</summary>
public static class Activations
{
    private const int Chunk = 256;

    /// <summary>x = max(x, 0) in place (NaN propagates, relu(−0) = +0: TensorPrimitives.Max's IEEE semantics).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Relu(Span<float> x)
    {
        // TensorPrimitives.Max(x, 0) measured ≈ 0.6–0.7 ns per value here (its IEEE maximum handling); vmaxps(0, x)
        // returns x when x is NaN and x when x = ±0, and the + 0 turns −0 into +0, so this is the same function at
        // ≈ 20× the speed.
        int i = 0;
        fixed (float* p = x)
        {
            if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && x.Length >= 16)
            {
                var z = Vector512<float>.Zero;
                for (; i + 16 <= x.Length; i += 16)
                    (System.Runtime.Intrinsics.X86.Avx512F.Max(z, Vector512.Load(p + i)) + z).Store(p + i);
            }
            else if (System.Runtime.Intrinsics.X86.Avx.IsSupported && x.Length >= 8)
            {
                var z = Vector256<float>.Zero;
                for (; i + 8 <= x.Length; i += 8)
                    (System.Runtime.Intrinsics.X86.Avx.Max(z, Vector256.Load(p + i)) + z).Store(p + i);
            }
        }
        if (i < x.Length) TensorPrimitives.Max(x[i..], 0f, x[i..]);
    }

    /// <summary>
    /// x = tanh(x) in place, accurate to ~1 ulp (float) everywhere including near 0 and tanh(±0) = ±0.
    /// (System.Numerics.Tensors 10.0.0's TensorPrimitives.Tanh is not used: it returns −2⁻²⁴ for tanh(0) and has large
    /// relative error for |x| &lt; 1e-2.) Computed in double as 1 − 2/(exp(2|x|)+1), with a Taylor series for tiny |x|.
    /// </summary>
    public static void Tanh(Span<float> x)
    {
        Span<double> e = stackalloc double[Chunk];
        for (int start = 0; start < x.Length; start += Chunk)
        {
            Span<float> xs = x.Slice(start, Math.Min(Chunk, x.Length - start));
            Span<double> es = e[..xs.Length];
            TanhPrepare(xs, es);
            TensorPrimitives.Exp(es, es);
            TanhFinish(xs, es);
        }
    }

    /// <summary>
    /// GELU (HF "gelu", the exact erf form), x = x·Φ(x) = 0.5·x·(1+erf(x/√2)), in place, in float.
    /// Φ comes from erfc (below): Φ(x) = h for x &lt; 0 and 1 − h for x ≥ 0 with h = erfc(|x|/√2)/2, so there is no
    /// 1 + erf cancellation. Error: ≤ 4e-7·|gelu(x)| + 6e-8·|x| — a few ulp where gelu(x) is not tiny, and in the far
    /// negative tail (|gelu(x)| ≪ |x|) at most PyTorch's own float error (its 1 + erf rounds at ulp(1)·|x|).
    /// With AVX-512: one pass in registers (the FFN's [rows, intermediate] block is read and written once); otherwise chunks of
    /// 256 values through TensorPrimitives.Exp.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gelu(Span<float> x)
    {
        int n = x.Length, i = 0;
        if (Avx512F.IsSupported)
        {
            // One pass in registers with the AVX-512 expf of the attention kernel (measured 2–4× the chunked path below).
            ref float xr = ref MemoryMarshal.GetReference(x);
            for (; i <= n - 16; i += 16) GeluV(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref xr, (nuint)i);
            if (i == n) return;
        }
        Span<float> t = stackalloc float[Chunk];
        Span<float> e = stackalloc float[Chunk];
        for (int start = i; start < n; start += Chunk)
        {
            Span<float> xs = x.Slice(start, Math.Min(Chunk, n - start));
            int m = xs.Length;
            GeluPrepare(xs, t[..m], e[..m]);
            TensorPrimitives.Exp(e[..m], e[..m]);
            GeluFinish(xs, t[..m], e[..m]);
        }
    }

    /// <summary>
    /// HF "gelu_new" (tanh approximation), in place. Computed through the identity 0.5·(1+tanh(u)) = σ(2u), which is the
    /// same function but avoids the 1+tanh cancellation for negative inputs.
    /// </summary>
    public static void GeluNew(Span<float> x)
    {
        const float k0 = 1.5957691216057308f;              // 2·√(2/π)
        const float k1 = 1.5957691216057308f * 0.044715f;  // 2·√(2/π)·0.044715
        Span<float> buf = stackalloc float[Chunk];
        for (int start = 0; start < x.Length; start += Chunk)
        {
            Span<float> xs = x.Slice(start, Math.Min(Chunk, x.Length - start));
            Span<float> u = buf[..xs.Length];
            TensorPrimitives.Multiply(xs, xs, u);        // x²
            TensorPrimitives.Multiply(u, k1, u);
            TensorPrimitives.Add(u, k0, u);              // k0 + k1·x²
            TensorPrimitives.Multiply(u, xs, u);         // 2u = k0·x + k1·x³
            TensorPrimitives.Sigmoid(u, u);              // 0.5·(1+tanh(u))
            TensorPrimitives.Multiply(xs, u, xs);
        }
    }

    /// <summary>Applies the activation <paramref name="kind"/> in place.</summary>
    public static void Apply(Activation kind, Span<float> x)
    {
        switch (kind)
        {
            case Activation.Relu: Relu(x); break;
            case Activation.Gelu: Gelu(x); break;
            case Activation.GeluNew: GeluNew(x); break;
            case Activation.Tanh: Tanh(x); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    /// <summary>Maps a HuggingFace <c>hidden_act</c> name ("relu", "gelu", "gelu_new", "tanh") to an <see cref="Activation"/>.</summary>
    public static Activation Parse(string hfName) => hfName switch
    {
        "relu" => Activation.Relu,
        "gelu" => Activation.Gelu,
        "gelu_new" => Activation.GeluNew,
        "tanh" => Activation.Tanh,
        _ => throw new ArgumentException(
            $"Unsupported activation '{hfName ?? "<null>"}'; allowed values are \"relu\", \"gelu\", \"gelu_new\", \"tanh\".", nameof(hfName)),
    };

    // ---- tanh internals ----------------------------------------------------------------------------------------------
    private const double TanhSmall = 0.004; // below: x·(1 − x²/3 + 2x⁴/15), truncation error < 17/315·x⁶ ≈ 2e-16

    private static void TanhPrepare(ReadOnlySpan<float> x, Span<double> e)
    {
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref double er = ref MemoryMarshal.GetReference(e);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var a0 = Vector256.Abs(Vector256.WidenLower(v));
                var a1 = Vector256.Abs(Vector256.WidenUpper(v));
                (a0 + a0).StoreUnsafe(ref er, (nuint)i);
                (a1 + a1).StoreUnsafe(ref er, (nuint)(i + 4));
            }
        }
        for (; i < n; i++) e[i] = 2.0 * Math.Abs((double)x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> TanhV(Vector256<double> x, Vector256<double> e)
    {
        var one = Vector256<double>.One;
        var ax = Vector256.Abs(x);
        var big = one - Vector256.Create(2.0) / (e + one);
        var x2 = ax * ax;
        var small = ax * (one + x2 * (Vector256.Create(-1.0 / 3) + x2 * Vector256.Create(2.0 / 15)));
        var r = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TanhSmall)), small, big);
        return Vector256.CopySign(r, x); // also keeps NaN (NaN inputs give NaN e)
    }

    private static void TanhFinish(Span<float> x, ReadOnlySpan<double> e)
    {
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref double er = ref MemoryMarshal.GetReference(e);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var y0 = TanhV(Vector256.WidenLower(v), Vector256.LoadUnsafe(ref er, (nuint)i));
                var y1 = TanhV(Vector256.WidenUpper(v), Vector256.LoadUnsafe(ref er, (nuint)(i + 4)));
                Vector256.Narrow(y0, y1).StoreUnsafe(ref xr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            double xd = x[i], ax = Math.Abs(xd), x2 = ax * ax;
            double r = ax < TanhSmall ? ax * (1.0 + x2 * (-1.0 / 3 + x2 * (2.0 / 15))) : 1.0 - 2.0 / (e[i] + 1.0);
            x[i] = (float)(double.IsNaN(xd) ? xd : Math.CopySign(r, xd));
        }
    }

    // ---- exact GELU internals ---------------------------------------------------------------------------------------
    // h = erfc(z)/2 = t·exp(P(2t−1) − z²), t = 1/(1 + z/2), z = |x|/√2 ≥ 0. P is a degree-12 Chebyshev fit (mpmath.chebyfit,
    // 40 digits) of ln(erfc(z)/(2t)) + z² on t ∈ [0, 1]: max abs error 6.6e-9, i.e. relative error of h ≤ 7e-9 for all
    // z ≥ 0 — below float rounding (its float coefficients: ≤ 6e-8). Φ(x) = h for x < 0, 1 − h for x ≥ 0.
    private const double InvSqrt2 = 0.70710678118654752440;
    private const float C0 = 1.5401817283772113e-05f, C1 = -8.70509883316567e-05f, C2 = -3.825410526006034e-05f,
        C3 = 0.0005731254989469202f, C4 = -0.0001758054723287054f, C5 = -0.0022881236566899177f, C6 = 0.0017670032525904623f,
        C7 = 0.008808544323316852f, C8 = -0.009873662468445727f, C9 = -0.046893590304725064f, C10 = 0.04734334109347023f,
        C11 = 0.6726431522588268f, C12 = -1.3649412646166377f;

    // P in float by Horner's rule with fused multiply-adds (single rounding each). Its rounding (≈ 1e-7 absolute in the
    // exponent) is a relative error of h, so at most ≈ 1e-7 absolute in Φ; the same holds for z² (h·z² is bounded),
    // which is why float suffices. (Written with separate * and +, or by Estrin's scheme through helper functions, the
    // JIT's code ran 2–4× slower than these explicit FMAs.)
    static readonly float[] Coefficients = [C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12];
    const float FInvSqrt2 = (float)InvSqrt2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Poly(float u)
    {
        float p = Coefficients[0];
        for (int k = 1; k < Coefficients.Length; k++) p = MathF.FusedMultiplyAdd(p, u, Coefficients[k]);
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Poly(Vector256<float> u)
    {
        var p = Vector256.Create(C0);
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C1)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C3)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C5)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C7)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C8));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C9)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C10));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C11));
        return Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C12));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Poly(Vector512<float> u)
    {
        var p = Vector512.Create(C0);
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C1)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C3)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C5)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C7)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C8));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C9)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C10));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C11));
        return Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C12));
    }

    /// <summary>x·Φ(x) of 16 lanes: z = |x|/√2, t = 1/(1+z/2), h = t·exp(P(2t−1) − z²), Φ = h (x &lt; 0) or 1 − h.
    /// t is vrcp14ps refined by one Newton step (≤ 2 ulp; a vdivps would cost as much as the rest of the lane's work).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> GeluV(Vector512<float> v)
    {
        var z = Vector512.Min(Vector512.Abs(v) * Vector512.Create(FInvSqrt2), Vector512.Create(1e4f));   // ±∞: h = 0, not ∞·0
        var d = Vector512.FusedMultiplyAdd(z, Vector512.Create(0.5f), Vector512<float>.One);
        var r = Avx512F.Reciprocal14(d);
        var t = Vector512.FusedMultiplyAdd(r, Vector512.FusedMultiplyAdd(-d, r, Vector512<float>.One), r);
        var h = t * SmallHeadAttention.Exp(Vector512.FusedMultiplyAdd(-z, z, Poly(t + t - Vector512<float>.One)));
        return v * Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), h, Vector512<float>.One - h);
    }

    /// <summary>t[i] = 1/(1+z/2) and e[i] = exponent argument P(2t−1) − z², z = |x|/√2.</summary>
    private static void GeluPrepare(ReadOnlySpan<float> x, Span<float> t, Span<float> e)
    {
        int n = x.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float tr = ref MemoryMarshal.GetReference(t);
        ref float er = ref MemoryMarshal.GetReference(e);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var z = Vector256.Abs(Vector256.LoadUnsafe(ref xr, (nuint)i)) * Vector256.Create(FInvSqrt2);
                var tt = Vector256<float>.One / (Vector256<float>.One + z * Vector256.Create(0.5f));
                tt.StoreUnsafe(ref tr, (nuint)i);
                (Poly(tt + tt - Vector256<float>.One) - z * z).StoreUnsafe(ref er, (nuint)i);
            }
        for (; i < n; i++)
        {
            float z = MathF.Abs(x[i]) * FInvSqrt2, tt = 1f / (1f + 0.5f * z);
            t[i] = tt;
            e[i] = Poly(tt + tt - 1f) - z * z;
        }
    }

    /// <summary>x[i] = x·Φ(x), Φ = h for x &lt; 0 and 1 − h otherwise, h = t·exp(arg) (e already holds exp(arg)).</summary>
    private static void GeluFinish(Span<float> x, ReadOnlySpan<float> t, ReadOnlySpan<float> e)
    {
        int n = x.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float tr = ref MemoryMarshal.GetReference(t);
        ref float er = ref MemoryMarshal.GetReference(e);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var h = Vector256.LoadUnsafe(ref tr, (nuint)i) * Vector256.LoadUnsafe(ref er, (nuint)i);
                (v * Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), h, Vector256<float>.One - h)).StoreUnsafe(
                    ref xr, (nuint)i);
            }
        for (; i < n; i++)
        {
            float xv = x[i], h = t[i] * e[i];
            x[i] = xv * (xv < 0 ? h : 1f - h);
        }
    }
}
