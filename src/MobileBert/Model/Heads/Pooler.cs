using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model.Heads;

/// <summary>pooled = tanh(dense(h[:,0])) with classifier_activation, else h[:,0] (no weights).</summary>
public sealed class Pooler
{
    readonly MobileBertConfig _c;
    public Pooler(ParameterStore store, string prefix, MobileBertConfig c)
    {
        _c = c;
        if (c.ClassifierActivation) Dense = new Linear(store, prefix + "dense", c.HiddenSize, c.HiddenSize);
    }
    public Linear? Dense { get; }

    /// <summary>sequence: [B·S, H] → pooled: [B, H]. firstTokens (optional out): [B, H].</summary>
    public void Forward(ReadOnlySpan<float> sequence, int batch, int seq, Span<float> pooled, int threads, float[]? firstTokens = null)
    {
        int h = _c.HiddenSize;
        var first = firstTokens ?? new float[batch * h];
        for (int b = 0; b < batch; b++) sequence.Slice(b * seq * h, h).CopyTo(first.AsSpan(b * h, h));
        if (Dense is null) { first.CopyTo(pooled); return; }
        Dense.Forward(first, pooled, batch, threads);
        Activations.Tanh(pooled[..(batch * h)]);
    }
}
