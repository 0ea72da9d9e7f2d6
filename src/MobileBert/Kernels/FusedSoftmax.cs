using System.Numerics.Tensors;

namespace MobileBert.Kernels;

/// <summary>Attention softmax for the inference path: scale, optional additive key mask and row softmax in one pass
/// over each row while it is in L1 (same arithmetic as Multiply → <see cref="Softmax.RowsWithAdditiveMask"/>). No
/// argument checks beyond spans: called per (sequence, head, chunk) in the hot loop.</summary>
public static class FusedSoftmax
{
    /// <summary>scores [rows, cols] ← softmax(scores·scale + mask) per row; mask [cols] or empty.</summary>
    public static void ScaleMaskRows(Span<float> scores, int rows, int cols, float scale, ReadOnlySpan<float> mask)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = scores.Slice(r * cols, cols);
            TensorPrimitives.Multiply(row, scale, row);
            if (!mask.IsEmpty) TensorPrimitives.Add(row, mask[..cols], row);
            float max = TensorPrimitives.Max(row);
            if (float.IsNegativeInfinity(max)) { row.Fill(1f / cols); continue; }
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp(row, row);
            float sum = TensorPrimitives.Sum(row);
            TensorPrimitives.Multiply(row, 1f / sum, row);
        }
    }
}
