using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>
/// One FFN of the intra-block stream: y = norm(dense₂(act(dense₁(x))) + x), x, y: [rows, T], inner width intermediate_size.
/// MobileBERT stacks num_feedforward_networks of these per layer (HF: ffn.i.* for the first F−1, then intermediate/output).
/// </summary>
public sealed class FeedForward
{
    readonly MobileBertConfig _c;

    public FeedForward(ParameterStore store, string intermediateName, string outputPrefix, MobileBertConfig c, NormSite site)
    {
        _c = c;
        Intermediate = new Linear(store, intermediateName, c.TrueHiddenSize, c.IntermediateSize);
        Output = new Linear(store, outputPrefix + "dense", c.IntermediateSize, c.TrueHiddenSize);
        OutputNorm = new Norm(store, outputPrefix + "LayerNorm", c.TrueHiddenSize, c.NormalizationType, c.EpsFor(site));
    }

    public Linear Intermediate { get; }
    public Linear Output { get; }
    public Norm OutputNorm { get; }

    /// <summary>x: [rows, T] → y: [rows, T] (y must not alias x). intermediate (optional out): [rows, I] after the activation.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads, Workspace ws, float[]? intermediate = null)
    {
        var inner = (intermediate ?? ws.Array("ffn.inner", rows * _c.IntermediateSize)).AsSpan(0, rows * _c.IntermediateSize);
        Intermediate.Forward(x, inner, rows, threads);
        Activations.Apply(_c.HiddenAct, inner);
        Output.Forward(inner, y, rows, threads);
        OutputNorm.AddForward(y, x, y, rows);
    }
}
