using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>Dense + norm (HF BottleneckLayer), hidden_size → intra_bottleneck_size.</summary>
public sealed class BottleneckLayer
{
    public BottleneckLayer(ParameterStore store, string prefix, MobileBertConfig c)
    {
        Dense = new Linear(store, prefix + "dense", c.HiddenSize, c.IntraBottleneckSize);
        Norm = new Norm(store, prefix + "LayerNorm", c.IntraBottleneckSize, c.NormalizationType, c.EpsFor(NormSite.Bottleneck));
        _kPre = prefix + "prenorm"; _kMean = prefix + "mean"; _kRstd = prefix + "rstd";
    }

    readonly string _kPre, _kMean, _kRstd;

    public Linear Dense { get; }
    public Norm Norm { get; }

    /// <summary>x: [rows, H] → y: [rows, intra].</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads) => Forward(x, y, rows, threads, null!, ForwardMode.Eval);

    /// <summary>x: [rows, H] → y: [rows, intra]; keeping (x must then stay alive in the caller's store), the pre-norm dense output
    /// and the norm statistics go to <paramref name="store"/>.</summary>
    internal void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads, Workspace store, in ForwardMode mode)
    {
        var kept = mode.Kept(store);
        Span<float> pre = kept is null ? y : kept.Get(_kPre, rows * Dense.Out);
        Dense.Forward(x, pre, rows, threads);
        Norm.Forward(pre, default, y, rows, kept, _kMean, _kRstd);
    }

    /// <summary>Backward: dy [rows, intra] → dx [rows, H], ADDED to dx.</summary>
    internal void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, int threads, Workspace cache, Workspace scratch)
    {
        var dpre = scratch.Get("bottleneck.dpre", rows * Dense.Out);
        Norm.Backward(dy, cache.Get(_kPre, rows * Dense.Out), Norm.Stats(cache, _kMean, rows), Norm.Stats(cache, _kRstd, rows), dpre, rows);
        Dense.Backward(x, dpre, dx, rows, threads, accumulateDx: true);
    }
}

/// <summary>
/// The input bottleneck of a MobileBERT layer: `input` makes the 128-wide residual stream from the 512-wide block input;
/// with key_query_shared_bottleneck a second bottleneck `attention` makes the shared query/key input.
/// </summary>
public sealed class Bottleneck
{
    public Bottleneck(ParameterStore store, string prefix, MobileBertConfig c)
    {
        Input = new BottleneckLayer(store, prefix + "input.", c);
        // HF registers `attention` whenever key_query_shared_bottleneck is set, even if bottleneck attention makes it unused.
        if (LayerDataFlow.RegistersSharedQueryKeyBottleneck(c)) Attention = new BottleneckLayer(store, prefix + "attention.", c);
    }
    public BottleneckLayer Input { get; }
    public BottleneckLayer? Attention { get; }
}
