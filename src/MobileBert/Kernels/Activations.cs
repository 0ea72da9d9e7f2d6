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
    // erfc(z) = t·exp(P(2t−1) − z²), t = 1/(1 + z/2), z ≥ 0. P is a degree-17 Chebyshev fit (mpmath.chebyfit, 40 digits)
    // of ln(erfc(z)/t) + z² on t ∈ [0, 1]; max abs error 8.3e-12, i.e. relative error of erfc ≤ 1e-11 for all z ≥ 0.
    // Here z = |x|/√2, and Φ(x) = h for x < 0, 1 − h for x ≥ 0, with h = erfc(z)/2.
    private const double InvSqrt2 = 0.70710678118654752440;
    private const double C0 = 9.827451900592404e-08, C1 = 3.150801105067081e-06, C2 = -4.140970257891011e-06,
        C3 = -2.0724462712152834e-05, C4 = 3.5416346906743926e-05, C5 = 6.227611781496803e-05,
        C6 = -0.00017625598701398598, C7 = -8.852674333913804e-05, C8 = 0.0006743112315422201,
        C9 = -0.00014801109316469065, C10 = -0.0023459302020781498, C11 = 0.001759271642240845,
        C12 = 0.008824949710309267, C13 = -0.00987272199321559, C14 = -0.04689561064337589,
        C15 = 0.04734330805941031, C16 = 0.6726432239801938, C17 = -0.6717940840642004;

    // P in float by Horner's rule with fused multiply-adds (single rounding each). Its rounding (≈ 1e-7 absolute in the
    // exponent) is a relative error of h, so at most ≈ 1e-7 absolute in Φ; the same holds for z² (h·z² is bounded),
    // which is why float suffices. (Written with separate * and +, or by Estrin's scheme through helper functions, the
    // JIT's code ran 2–4× slower than these explicit FMAs.)
    static readonly float[] Coefficients = [(float)C0, (float)C1, (float)C2, (float)C3, (float)C4, (float)C5, (float)C6, (float)C7,
        (float)C8, (float)C9, (float)C10, (float)C11, (float)C12, (float)C13, (float)C14, (float)C15, (float)C16, (float)C17];
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
        var p = Vector256.Create((float)C0);
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C1)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C2));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C3)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C4));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C5)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C6));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C7)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C8));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C9)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C10));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C11)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C12));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C13)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C14));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C15)); p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C16));
        return Vector256.FusedMultiplyAdd(p, u, Vector256.Create((float)C17));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Poly(Vector512<float> u)
    {
        var p = Vector512.Create((float)C0);
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C1)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C2));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C3)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C4));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C5)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C6));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C7)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C8));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C9)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C10));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C11)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C12));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C13)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C14));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C15)); p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C16));
        return Vector512.FusedMultiplyAdd(p, u, Vector512.Create((float)C17));
    }

    /// <summary>x·Φ(x) of 16 lanes: z = |x|/√2, t = 1/(1+z/2), h = t·exp(P(2t−1) − z²)/2, Φ = h (x &lt; 0) or 1 − h.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> GeluV(Vector512<float> v)
    {
        var z = Vector512.Abs(v) * Vector512.Create(FInvSqrt2);
        var t = Vector512<float>.One / (Vector512<float>.One + z * Vector512.Create(0.5f));
        var h = Vector512.Create(0.5f) * t * SmallHeadAttention.Exp(Poly(t + t - Vector512<float>.One) - z * z);
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

    /// <summary>x[i] = x·Φ(x), Φ = h for x &lt; 0 and 1 − h otherwise, h = t·exp(arg)/2 (e already holds exp(arg)).</summary>
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
                var h = Vector256.Create(0.5f) * Vector256.LoadUnsafe(ref tr, (nuint)i) * Vector256.LoadUnsafe(ref er, (nuint)i);
                (v * Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), h, Vector256<float>.One - h)).StoreUnsafe(
                    ref xr, (nuint)i);
            }
        for (; i < n; i++)
        {
            float xv = x[i], h = 0.5f * t[i] * e[i];
            x[i] = xv * (xv < 0 ? h : 1f - h);
        }
    }
}
