using System.Numerics.Tensors;

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
}
