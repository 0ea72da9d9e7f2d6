using System.Numerics.Tensors;

namespace MobileBert.Kernels;

/// <summary>Row-wise softmax over row-major [rows, cols] buffers (in place). Stateless and thread-safe.</summary>
public static class Softmax
{
    /// <summary>
    /// In-place softmax of each row: exp(x − max)·(1/Σ). A row whose maximum is −∞ (every entry −∞) becomes uniform
    /// 1/cols instead of NaN; rows of equal huge negative values (e.g. float.MinValue masks) are uniform as in PyTorch.
    /// NaN inputs propagate.
    /// </summary>
    public static void Rows(Span<float> x, int rows, int cols)
    {
        Check(nameof(Rows), x.Length, rows, cols, nameof(x));
        for (int r = 0; r < rows; r++) Row(x.Slice(r * cols, cols));
    }

    /// <summary>
    /// scores[r, :] += additiveMask[:] (float32 add, broadcast over rows), then <see cref="Rows"/>.
    /// Works with HuggingFace's (1−mask)·float.MinValue masks (overflow to −∞ is harmless) and with −10000 masks.
    /// </summary>
    public static void RowsWithAdditiveMask(Span<float> scores, ReadOnlySpan<float> additiveMask, int rows, int cols)
    {
        const string op = nameof(RowsWithAdditiveMask);
        Check(op, scores.Length, rows, cols, nameof(scores));
        KernelArgs.Length(op, additiveMask.Length, cols, nameof(additiveMask), "cols");
        if (cols == 0) return;
        ReadOnlySpan<float> mask = additiveMask[..cols];
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = scores.Slice(r * cols, cols);
            TensorPrimitives.Add(row, mask, row);
            Row(row);
        }
    }

    private static void Check(string op, int length, int rows, int cols, string name)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"Softmax.{op}: rows must be non-negative, got {rows}.");
        if (cols < 0) throw new ArgumentOutOfRangeException(nameof(cols), cols, $"Softmax.{op}: cols must be non-negative, got {cols}.");
        KernelArgs.Length("Softmax." + op, length, (long)rows * cols, name, "rows*cols");
    }

    private static void Row(Span<float> row)
    {
        if (row.IsEmpty) return;
        float max = TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(max))
        {
            row.Fill(1f / row.Length);
            return;
        }
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float sum = TensorPrimitives.Sum(row); // ≥ 1: the max entry contributes exp(0)
        TensorPrimitives.Multiply(row, 1f / sum, row);
    }
}
