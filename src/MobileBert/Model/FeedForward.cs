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

    /// <summary>x: [rows, T] → y: [rows, T] (y must not alias x). intermediate (optional out): [rows, I] after the activation.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads, Workspace ws, float[]? intermediate = null)
    {
        var inner = (intermediate ?? ws.Array("ffn.inner", rows * _c.IntermediateSize)).AsSpan(0, rows * _c.IntermediateSize);
        Intermediate.Forward(x, inner, rows, threads);
        Activations.Apply(_c.HiddenAct, inner);
        Output.Forward(inner, y, rows, threads);
        OutputNorm.AddForward(y, x, y, rows);
    }

    /// <summary>
    /// Training forward: as <see cref="Forward"/>, keeping in <paramref name="cache"/> what <see cref="Backward"/> needs
    /// (x itself must stay alive in the caller's cache). With <paramref name="dropoutSite"/> &gt; 0 the output dense is
    /// followed by hidden dropout (stream of that site) before the residual (HF MobileBertOutput without bottleneck).
    /// </summary>
    internal void ForwardTrain(ReadOnlySpan<float> x, Span<float> y, int rows, int threads, Arena cache, in DropoutPlan dp, int layer,
        int dropoutSite)
    {
        int ni = rows * _c.IntermediateSize, nt = rows * _c.TrueHiddenSize;
        var inner = cache.Get(_kInner, ni);
        if (ActivationsBackward.NeedsInput(_c.HiddenAct))
        {
            var pre = cache.Get(_kPreAct, ni);
            Intermediate.Forward(x, pre, rows, threads);
            pre.CopyTo(inner, 0);
        }
        else Intermediate.Forward(x, inner, rows, threads);
        Activations.Apply(_c.HiddenAct, inner);
        var sum = cache.Get(_kPre, nt);
        Output.Forward(inner, sum, rows, threads);
        if (dropoutSite > 0) dp.Hid(sum, layer, dropoutSite);
        OutputNorm.ForwardCached(sum, x, sum, y, rows, Stats(cache, _kMean, rows), Stats(cache, _kRstd, rows));
    }

    Span<float> Stats(Arena cache, string key, int rows) => OutputNorm.HasStats ? cache.Get(key, rows) : default;

    /// <summary>Backward of <see cref="ForwardTrain"/>: dy [rows, T] → dx [rows, T] (written; must not alias dy). Scratch from <paramref
    /// name="scratch"/>.</summary>
    internal void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, int threads, Arena cache, Arena scratch,
        in DropoutPlan dp, int layer, int dropoutSite)
    {
        int ni = rows * _c.IntermediateSize, nt = rows * _c.TrueHiddenSize;
        var dsum = scratch.Get("ffn.dsum", nt);
        OutputNorm.Backward(dy, cache.Get(_kPre, nt), Stats(cache, _kMean, rows), Stats(cache, _kRstd, rows), dsum, rows);
        dsum.AsSpan().CopyTo(dx);                                             // residual
        if (dropoutSite > 0) dp.Hid(dsum, layer, dropoutSite);
        var inner = cache.Get(_kInner, ni);
        var dinner = scratch.Get("ffn.dinner", ni);
        Output.Backward(inner, dsum, dinner, rows, threads);
        ActivationsBackward.Backward(_c.HiddenAct, ActivationsBackward.NeedsInput(_c.HiddenAct) ? cache.Get(_kPreAct, ni) : default, inner, dinner);
        Intermediate.Backward(x, dinner, dx, rows, threads, accumulateDx: true);
    }
}
