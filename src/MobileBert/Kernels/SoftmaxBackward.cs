using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace MobileBert.Kernels;

/// <summary>Backward of the row-wise softmax (<see cref="Softmax"/>).</summary>
public static class SoftmaxBackward
{
    /// <summary>
    /// dx = p∘(dp − Σ_j dp_j·p_j) per row, for p = softmax(x) [rows, cols]. An additive mask is a constant, so the
    /// gradient w.r.t. the unmasked scores is the same; masked entries have p = 0 and get dx = 0. dx may alias dp.
    /// </summary>
    public static void Rows(ReadOnlySpan<float> p, ReadOnlySpan<float> dp, Span<float> dx, int rows, int cols)
    {
        const string op = "SoftmaxBackward.Rows";
        long n = (long)rows * cols;
        KernelArgs.Length(op, p.Length, n, nameof(p), "rows*cols");
        KernelArgs.Length(op, dp.Length, n, nameof(dp), "rows*cols");
        KernelArgs.Length(op, dx.Length, n, nameof(dx), "rows*cols");
        for (int r = 0; r < rows; r++)
        {
            var pr = p.Slice(r * cols, cols);
            var dpr = dp.Slice(r * cols, cols);
            var dxr = dx.Slice(r * cols, cols);
            float dot = TensorPrimitives.Dot(pr, dpr);
            TensorPrimitives.Subtract(dpr, dot, dxr);
            TensorPrimitives.Multiply(dxr, pr, dxr);
        }
    }

    /// <summary>
    /// <see cref="Rows"/> followed by dx ·= <paramref name="scale"/> in one pass (attention: the 1/√d of the scores),
    /// bit-identical to the two separate passes. dx may alias dp.
    /// </summary>
    public static unsafe void RowsScaled(ReadOnlySpan<float> p, ReadOnlySpan<float> dp, Span<float> dx, int rows, int cols, float scale)
    {
        const string op = "SoftmaxBackward.RowsScaled";
        long n = (long)rows * cols;
        KernelArgs.Length(op, p.Length, n, nameof(p), "rows*cols");
        KernelArgs.Length(op, dp.Length, n, nameof(dp), "rows*cols");
        KernelArgs.Length(op, dx.Length, n, nameof(dx), "rows*cols");
        fixed (float* pp = p, pdp = dp, pdx = dx)
            for (int r = 0; r < rows; r++)
            {
                float* pr = pp + (long)r * cols, dpr = pdp + (long)r * cols, dxr = pdx + (long)r * cols;
                float dot = TensorPrimitives.Dot(new ReadOnlySpan<float>(pr, cols), new ReadOnlySpan<float>(dpr, cols));
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    Vector512<float> vd = Vector512.Create(dot), vs = Vector512.Create(scale);
                    for (; j + 16 <= cols; j += 16)
                        ((Vector512.Load(dpr + j) - vd) * Vector512.Load(pr + j) * vs).Store(dxr + j);
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> vd = Vector256.Create(dot), vs = Vector256.Create(scale);
                    for (; j + 8 <= cols; j += 8)
                        ((Vector256.Load(dpr + j) - vd) * Vector256.Load(pr + j) * vs).Store(dxr + j);
                }
                for (; j < cols; j++) dxr[j] = (dpr[j] - dot) * pr[j] * scale;
            }
    }
}
