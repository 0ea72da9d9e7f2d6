using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace MobileBert.Kernels;

/// <summary>Attention softmax for the inference path: scale, optional additive key mask and row softmax over each
/// row while it is in L1. No argument checks beyond spans: called per (sequence, head, chunk) in the hot loop.
/// With AVX-512 the scale, mask, max, shift and normalisation are hand-written (two TensorPrimitives calls per row,
/// Exp and Sum, instead of seven; each call costs ≈ 10–20 ns of overhead on a 128-wide row) with the same per-element
/// operations, so the result equals the TensorPrimitives sequence of <see cref="Softmax.RowsWithAdditiveMask"/>
/// (the max equals too). Rows holding a NaN or ±∞ take that sequence itself.</summary>
public static class FusedSoftmax
{
    /// <summary>TensorPrimitives.Max(row) (NaN if any NaN) without its IEEE-maximum overhead (vmaxps + a NaN check).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float RowMax(ReadOnlySpan<float> row)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported || row.Length < 16) return TensorPrimitives.Max(row);
        fixed (float* p = row)
        {
            int n = row.Length, i = 16;
            var m = System.Runtime.Intrinsics.Vector512.Load(p);
            var bad = ~System.Runtime.Intrinsics.Vector512.Equals(m, m);
            for (; i + 16 <= n; i += 16)
            {
                var v = System.Runtime.Intrinsics.Vector512.Load(p + i);
                m = System.Runtime.Intrinsics.X86.Avx512F.Max(m, v);
                bad |= ~System.Runtime.Intrinsics.Vector512.Equals(v, v);
            }
            if (i < n)
            {
                var v = System.Runtime.Intrinsics.Vector512.Load(p + n - 16);   // overlapping tail: max is idempotent
                m = System.Runtime.Intrinsics.X86.Avx512F.Max(m, v);
                bad |= ~System.Runtime.Intrinsics.Vector512.Equals(v, v);
            }
            if (bad != System.Runtime.Intrinsics.Vector512<float>.Zero) return float.NaN;
            var h = System.Runtime.Intrinsics.Vector256.Max(m.GetLower(), m.GetUpper());
            var q = System.Runtime.Intrinsics.Vector128.Max(h.GetLower(), h.GetUpper());
            return MathF.Max(MathF.Max(q[0], q[1]), MathF.Max(q[2], q[3]));
        }
    }

    /// <summary>scores [rows, cols] ← softmax(scores·scale + mask) per row; mask [cols] or empty.</summary>
    public static void ScaleMaskRows(Span<float> scores, int rows, int cols, float scale, ReadOnlySpan<float> mask)
        => ScaleMaskRows(scores, rows, cols, scale, mask, avx512: true);

    /// <summary><see cref="ScaleMaskRows(Span{float}, int, int, float, ReadOnlySpan{float})"/>; avx512 = false takes
    /// the TensorPrimitives sequence for every row (tests compare both — a parameter, not a static switch, so tests
    /// running in parallel cannot change each other's path).</summary>
    internal static unsafe void ScaleMaskRows(Span<float> scores, int rows, int cols, float scale, ReadOnlySpan<float> mask, bool avx512)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = scores.Slice(r * cols, cols);
            if (avx512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported && cols >= 16)
            {
                fixed (float* pr = row, pm = mask)
                    if (RowAvx512(pr, cols, scale, mask.IsEmpty ? null : pm)) continue;
            }
            TensorPrimitives.Multiply(row, scale, row);
            if (!mask.IsEmpty) TensorPrimitives.Add(row, mask[..cols], row);
            float max = RowMax(row);
            if (float.IsNegativeInfinity(max)) { row.Fill(1f / cols); continue; }
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp(row, row);
            float sum = TensorPrimitives.Sum(row);
            TensorPrimitives.Multiply(row, 1f / sum, row);
        }
    }

    /// <summary>One row: x = softmax(x·scale + mask). False (row untouched) if x·scale + mask holds a NaN or ±∞.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static unsafe bool RowAvx512(float* x, int n, float scale, float* mask)
    {
        var vs = Vector512.Create(scale);
        var vmax = Vector512.Create(float.NegativeInfinity);
        var bad = Vector512<float>.Zero;
        int i = 0;
        // Pass 1 (read-only): max of x·scale (+ mask), NaN / ∞ check.
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(x + i) * vs;
            if (mask != null) v += Vector512.Load(mask + i);
            vmax = System.Runtime.Intrinsics.X86.Avx512F.Max(vmax, v);
            bad |= ~Vector512.Equals(v - v, Vector512<float>.Zero);   // NaN or ±∞
        }
        float max = float.NegativeInfinity;
        for (int j = i; j < n; j++)
        {
            float v = x[j] * scale;
            if (mask != null) v += mask[j];
            if (!float.IsFinite(v)) return false;
            max = MathF.Max(max, v);
        }
        if (bad != Vector512<float>.Zero) return false;
        var h = Vector256.Max(vmax.GetLower(), vmax.GetUpper());
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        max = MathF.Max(max, MathF.Max(MathF.Max(q[0], q[1]), MathF.Max(q[2], q[3])));
        // Pass 2: x = x·scale (+ mask) − max (each operation rounded as in the TensorPrimitives sequence).
        var vm = Vector512.Create(max);
        for (i = 0; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(x + i) * vs;
            if (mask != null) v += Vector512.Load(mask + i);
            (v - vm).Store(x + i);
        }
        for (int j = i; j < n; j++)
        {
            float v = x[j] * scale;
            if (mask != null) v += mask[j];
            x[j] = v - max;
        }
        // exp and Σ as the reference path (TensorPrimitives), then normalise.
        var row = new Span<float>(x, n);
        TensorPrimitives.Exp(row, row);
        float inv = 1f / TensorPrimitives.Sum(row);
        var vi = Vector512.Create(inv);
        for (i = 0; i + 16 <= n; i += 16) (Vector512.Load(x + i) * vi).Store(x + i);
        for (int j = i; j < n; j++) x[j] *= inv;
        return true;
    }
}
