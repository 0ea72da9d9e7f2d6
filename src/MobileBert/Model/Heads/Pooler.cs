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

    /// <summary>sequence: [B·S, H] → pooled: [B, H] (no dropout in the pooler). firstTokens (optional out): [B, H]; a forward
    /// kept for <see cref="Backward"/> passes it and keeps pooled.</summary>
    public void Forward(ReadOnlySpan<float> sequence, int batch, int seq, Span<float> pooled, int threads, float[]? firstTokens = null)
    {
        int h = _c.HiddenSize;
        var first = firstTokens ?? new float[batch * h];
        for (int b = 0; b < batch; b++) sequence.Slice(b * seq * h, h).CopyTo(first.AsSpan(b * h, h));
        if (Dense is null) { first.CopyTo(pooled); return; }
        Dense.Forward(first, pooled, batch, threads);
        Activations.Tanh(pooled[..(batch * h)]);
    }

    /// <summary>Backward: dPooled [B, H] (used as scratch) → ADDED to the [CLS] rows of dSequence [B·S, H].</summary>
    internal void Backward(ReadOnlySpan<float> firstTokens, ReadOnlySpan<float> pooled, Span<float> dPooled, int batch, int seq,
        Span<float> dSequence, int threads, Workspace scratch)
    {
        int h = _c.HiddenSize;
        ReadOnlySpan<float> dFirst = dPooled[..(batch * h)];
        if (Dense is not null)
        {
            ActivationsBackward.Backward(Activation.Tanh, default, pooled[..(batch * h)], dPooled[..(batch * h)]);
            var df = scratch.Get("pooler.dfirst", batch * h);
            Dense.Backward(firstTokens, dPooled, df, batch, threads);
            dFirst = df;
        }
        for (int b = 0; b < batch; b++)
        {
            var dst = dSequence.Slice(b * seq * h, h);
            System.Numerics.Tensors.TensorPrimitives.Add(dst, dFirst.Slice(b * h, h), dst);
        }
    }
}
