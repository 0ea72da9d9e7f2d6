using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace MobileBert.Kernels;

/// <summary>Attention softmax for the inference path: scale, optional additive key mask and row softmax in one pass
/// over each row while it is in L1 (same arithmetic as Multiply → <see cref="Softmax.RowsWithAdditiveMask"/>). No
/// argument checks beyond spans: called per (sequence, head, chunk) in the hot loop.</summary>
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
    {
        for (int r = 0; r < rows; r++)
        {
            var row = scores.Slice(r * cols, cols);
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
}
