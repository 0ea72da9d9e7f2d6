using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>Dense layer y = x·Wᵀ + b with HF's weight layout W [out, in].</summary>
public sealed class Linear
{
    public Linear(ParameterStore store, string name, int inFeatures, int outFeatures, bool bias = true)
    {
        In = inFeatures; Out = outFeatures; Store = store;
        Weight = store.Add(name + ".weight", outFeatures, inFeatures);
        Bias = bias ? store.Add(name + ".bias", outFeatures) : null;
    }

    public ParameterStore Store { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public int In { get; }
    public int Out { get; }

    /// <summary>x: [rows, In] → y: [rows, Out].</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads)
    {
        ReadOnlySpan<float> b = Bias is null ? default : Store.Span(Bias);
        Gemm.Multiply(x, Store.Span(Weight), y, rows, Out, In, Transpose.No, Transpose.Yes, b, accumulate: false, threads);
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: dW += dyᵀ·x, db += Σ_rows dy (accumulated into the store's gradient buffer) and
    /// dx = dy·W (added to dx with <paramref name="accumulateDx"/>; skipped when dx is empty). x: [rows, In], dy: [rows, Out].
    /// </summary>
    public void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, int threads, bool accumulateDx = false)
    {
        Gemm.Multiply(dy, x, Store.GradSpan(Weight), Out, In, rows, Transpose.Yes, Transpose.No, default, accumulate: true, threads);
        if (Bias is not null) Reductions.AddColumnSums(dy, rows, Out, Store.GradSpan(Bias));
        if (!dx.IsEmpty) Gemm.Multiply(dy, Store.Span(Weight), dx, rows, In, Out, Transpose.No, Transpose.No, default, accumulateDx, threads);
    }
}
