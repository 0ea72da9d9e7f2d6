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
}
