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
        _kPreAct = intermediateName + ".preact"; _kInner = intermediateName + ".inner"; _kPre = outputPrefix + "prenorm";
        _kMean = outputPrefix + "mean"; _kRstd = outputPrefix + "rstd";
    }

    readonly string _kPreAct, _kInner, _kPre, _kMean, _kRstd;

    public Linear Intermediate { get; }
    public Linear Output { get; }
    public Norm OutputNorm { get; }

    /// <summary>
    /// x: [rows, T] → y: [rows, T] (y must not alias x). Eval: the inner activation [rows, I] is scratch of
    /// <paramref name="store"/>. Keeping (x must then stay alive in the caller's store): the inner activation, the
    /// pre-activation values where the activation's derivative needs them, the pre-norm sum and the norm statistics stay in
    /// <paramref name="store"/> for <see cref="Backward"/>; with <paramref name="dropoutSite"/> &gt; 0 the output dense is
    /// followed by hidden dropout (stream of that site) before the residual (HF MobileBertOutput without bottleneck).
    /// </summary>
    internal void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads, Workspace store, in ForwardMode mode, int layer,
        int dropoutSite)
    {
        int ni = rows * _c.IntermediateSize, nt = rows * _c.TrueHiddenSize;
        var kept = mode.Kept(store);
        var inner = store.Get(kept is null ? KScratchInner : _kInner, ni);                   // [rows, I]
        if (kept is not null && ActivationsBackward.NeedsInput(_c.HiddenAct))
        {
            var pre = kept.Get(_kPreAct, ni);
            Intermediate.Forward(x, pre, rows, threads);
            pre.CopyTo(inner, 0);
        }
        else Intermediate.Forward(x, inner, rows, threads);
        Activations.Apply(_c.HiddenAct, inner);
        Span<float> sum = kept is null ? y : kept.Get(_kPre, nt);
        Output.Forward(inner, sum, rows, threads);
        if (dropoutSite > 0) mode.Dropout.Hid(sum, layer, dropoutSite);
        OutputNorm.Forward(sum, x, y, rows, kept, _kMean, _kRstd);
    }

    const string KScratchInner = "ffn.inner";

    /// <summary>The inner activation [rows, I] (after the activation) kept by the last keeping <see cref="Forward"/> in
    /// <paramref name="kept"/>.</summary>
    internal float[] KeptIntermediate(Workspace kept, int rows) => kept.Get(_kInner, rows * _c.IntermediateSize);

    /// <summary>Backward of <see cref="Forward"/>: dy [rows, T] → dx [rows, T] (written; must not alias dy). Scratch from <paramref
    /// name="scratch"/>.</summary>
    internal void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, int threads, Workspace cache, Workspace scratch,
        in DropoutPlan dp, int layer, int dropoutSite)
    {
        int ni = rows * _c.IntermediateSize, nt = rows * _c.TrueHiddenSize;
        var dsum = scratch.Get("ffn.dsum", nt);
        OutputNorm.Backward(dy, cache.Get(_kPre, nt), OutputNorm.Stats(cache, _kMean, rows), OutputNorm.Stats(cache, _kRstd, rows), dsum, rows);
        dsum.AsSpan().CopyTo(dx);                                             // residual
        if (dropoutSite > 0) dp.Hid(dsum, layer, dropoutSite);
        var inner = cache.Get(_kInner, ni);
        var dinner = scratch.Get("ffn.dinner", ni);
        Output.Backward(inner, dsum, dinner, rows, threads);
        ActivationsBackward.Backward(_c.HiddenAct, ActivationsBackward.NeedsInput(_c.HiddenAct) ? cache.Get(_kPreAct, ni) : default, inner, dinner);
        Intermediate.Backward(x, dinner, dx, rows, threads, accumulateDx: true);
    }
}
