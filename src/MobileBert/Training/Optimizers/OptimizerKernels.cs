using System.Numerics;
using System.Runtime.InteropServices;

namespace MobileBert.Training.Optimizers;

/// <summary>
/// Fused element-wise loops over contiguous spans (System.Numerics.Vector&lt;float&gt;: 256- or 512-bit lanes as the
/// hardware allows). Every vector lane and the scalar tail perform the same IEEE operations in the same order (no FMA
/// contraction), so results do not depend on where a span is cut into chunks or how many threads run.
/// </summary>
internal static class OptimizerKernels
{
    /// <summary>Scalars of one torch AdamW update (already cast to float as torch does for float32 tensors).</summary>
    internal readonly record struct AdamWScalars(float Decay, float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
        float BiasCorrection2Sqrt, float Eps, float NegStepSize, bool ApplyDecay);

    /// <summary>
    /// torch 1.13 <c>_single_tensor_adamw</c>, element-wise:
    /// p *= 1 − lr·wd; m = m·β1 + (1−β1)·g; v = v·β2 + ((1−β2)·g)·g; d = √v / √bc2 + eps; p += (−lr/bc1 · m) / d.
    /// </summary>
    internal static void AdamW(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWScalars s)
    {
        int n = p.Length;
        if (g.Length != n || m.Length != n || v.Length != n) throw new ArgumentException("Span lengths differ.");
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var pv = MemoryMarshal.Cast<float, Vector<float>>(p);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(g);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            Vector<float> decay = new(s.Decay), b1 = new(s.Beta1), omb1 = new(s.OneMinusBeta1), b2 = new(s.Beta2), omb2 = new(s.OneMinusBeta2),
                bc2 = new(s.BiasCorrection2Sqrt), eps = new(s.Eps), step = new(s.NegStepSize);
            for (int k = 0; k < pv.Length; k++)
            {
                var x = pv[k]; var gk = gv[k];
                if (s.ApplyDecay) x *= decay;
                var mk = mv[k] * b1 + omb1 * gk;
                var vk = vv[k] * b2 + omb2 * gk * gk;
                var d = Vector.SquareRoot(vk) / bc2 + eps;
                pv[k] = x + step * mk / d;
                mv[k] = mk; vv[k] = vk;
            }
            i = pv.Length * Vector<float>.Count;
        }
        for (; i < n; i++)
        {
            float x = p[i], gi = g[i];
            if (s.ApplyDecay) x *= s.Decay;
            float mi = m[i] * s.Beta1 + s.OneMinusBeta1 * gi;
            float vi = v[i] * s.Beta2 + s.OneMinusBeta2 * gi * gi;
            float d = MathF.Sqrt(vi) / s.BiasCorrection2Sqrt + s.Eps;
            p[i] = x + s.NegStepSize * mi / d;
            m[i] = mi; v[i] = vi;
        }
    }

    /// <summary>Scalars of a LAMB update. Bias corrections are multiplied in as reciprocals (1 when disabled).</summary>
    internal readonly record struct LambScalars(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
        float InvBiasCorrection1, float InvBiasCorrection2, float Eps, float WeightDecay, bool BiasCorrection);

    /// <summary>
    /// LAMB pass 1: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; u = m̂/(√v̂ + eps) + wd·w. Updates m and v; returns Σw² and
    /// Σu² (double) when <paramref name="norms"/> is set. When <paramref name="applyLr"/> ≠ 0 the update is applied
    /// directly (w −= applyLr·u, the ratio-1 case, one pass).
    /// </summary>
    internal static (double W2, double U2) LambMoments(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in LambScalars s,
        bool norms, float applyLr)
    {
        int n = w.Length;
        if (g.Length != n || m.Length != n || v.Length != n) throw new ArgumentException("Span lengths differ.");
        double w2 = 0, u2 = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var wv = MemoryMarshal.Cast<float, Vector<float>>(w);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(g);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            Vector<float> b1 = new(s.Beta1), omb1 = new(s.OneMinusBeta1), b2 = new(s.Beta2), omb2 = new(s.OneMinusBeta2), eps = new(s.Eps),
                wd = new(s.WeightDecay), lr = new(applyLr);
            Vector<double> aw0 = default, aw1 = default, au0 = default, au1 = default;
            for (int k = 0; k < wv.Length; k++)
            {
                var gk = gv[k];
                var mk = b1 * mv[k] + omb1 * gk;
                var vk = b2 * vv[k] + omb2 * (gk * gk);
                mv[k] = mk; vv[k] = vk;
                var u = Update(mk, vk, wv[k], s, eps, wd);
                if (norms)
                {
                    Vector.Widen(wv[k], out var lo, out var hi); aw0 += lo * lo; aw1 += hi * hi;
                    Vector.Widen(u, out lo, out hi); au0 += lo * lo; au1 += hi * hi;
                }
                if (applyLr != 0) wv[k] -= lr * u;
            }
            w2 = Vector.Sum(aw0 + aw1); u2 = Vector.Sum(au0 + au1);
            i = wv.Length * Vector<float>.Count;
        }
        for (; i < n; i++)
        {
            float gi = g[i];
            float mi = s.Beta1 * m[i] + s.OneMinusBeta1 * gi;
            float vi = s.Beta2 * v[i] + s.OneMinusBeta2 * (gi * gi);
            m[i] = mi; v[i] = vi;
            float u = Update(mi, vi, w[i], s);
            if (norms) { w2 += (double)w[i] * w[i]; u2 += (double)u * u; }
            if (applyLr != 0) w[i] -= applyLr * u;
        }
        return (w2, u2);
    }

    /// <summary>LAMB pass 2: recomputes u from the (already updated) moments exactly as pass 1 did and applies w −= lr·u.</summary>
    internal static void LambApply(Span<float> w, ReadOnlySpan<float> m, ReadOnlySpan<float> v, in LambScalars s, float lr)
    {
        int n = w.Length, i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var wv = MemoryMarshal.Cast<float, Vector<float>>(w);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            Vector<float> eps = new(s.Eps), wd = new(s.WeightDecay), l = new(lr);
            for (int k = 0; k < wv.Length; k++) wv[k] -= l * Update(mv[k], vv[k], wv[k], s, eps, wd);
            i = wv.Length * Vector<float>.Count;
        }
        for (; i < n; i++) w[i] -= lr * Update(m[i], v[i], w[i], s);
    }

    static Vector<float> Update(Vector<float> m, Vector<float> v, Vector<float> w, in LambScalars s, Vector<float> eps, Vector<float> wd)
    {
        if (s.BiasCorrection) { m *= new Vector<float>(s.InvBiasCorrection1); v *= new Vector<float>(s.InvBiasCorrection2); }
        var u = m / (Vector.SquareRoot(v) + eps);
        return s.WeightDecay != 0 ? u + wd * w : u;
    }

    static float Update(float m, float v, float w, in LambScalars s)
    {
        if (s.BiasCorrection) { m *= s.InvBiasCorrection1; v *= s.InvBiasCorrection2; }
        float u = m / (MathF.Sqrt(v) + s.Eps);
        return s.WeightDecay != 0 ? u + s.WeightDecay * w : u;
    }

    /// <summary>Σx² accumulated in double (two vector accumulators, lanes summed at the end, then the scalar tail).</summary>
    internal static double SumOfSquares(ReadOnlySpan<float> x)
    {
        double sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var xv = MemoryMarshal.Cast<float, Vector<float>>(x);
            Vector<double> a0 = default, a1 = default;
            for (int k = 0; k < xv.Length; k++) { Vector.Widen(xv[k], out var lo, out var hi); a0 += lo * lo; a1 += hi * hi; }
            sum = Vector.Sum(a0 + a1);
            i = xv.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) sum += (double)x[i] * x[i];
        return sum;
    }

    /// <summary>x *= scale.</summary>
    internal static void Scale(Span<float> x, float scale) => System.Numerics.Tensors.TensorPrimitives.Multiply(x, scale, x);

    /// <summary>Index of the first NaN/±Inf in <paramref name="x"/>, or −1.</summary>
    internal static int IndexOfNonFinite(ReadOnlySpan<float> x)
    {
        for (int i = 0; i < x.Length; i++) if (!float.IsFinite(x[i])) return i;
        return -1;
    }
}
