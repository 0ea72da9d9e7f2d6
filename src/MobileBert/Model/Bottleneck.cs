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
    Span<float> Stats(Arena cache, string key, int rows) => Norm.HasStats ? cache.Get(key, rows) : default;

    /// <summary>Training forward (x must stay alive in the caller's cache): keeps the pre-norm dense output.</summary>
    internal void ForwardTrain(ReadOnlySpan<float> x, Span<float> y, int rows, int threads, Arena cache)
    {
        var pre = cache.Get(_kPre, rows * Dense.Out);
        Dense.Forward(x, pre, rows, threads);
        Norm.ForwardCached(pre, default, pre, y, rows, Stats(cache, _kMean, rows), Stats(cache, _kRstd, rows));
    }

    /// <summary>Backward: dy [rows, intra] → dx [rows, H], ADDED to dx.</summary>
    internal void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, int threads, Arena cache, Arena scratch)
    {
        var dpre = scratch.Get("bottleneck.dpre", rows * Dense.Out);
        Norm.Backward(dy, cache.Get(_kPre, rows * Dense.Out), Stats(cache, _kMean, rows), Stats(cache, _kRstd, rows), dpre, rows);
        Dense.Backward(x, dpre, dx, rows, threads, accumulateDx: true);
    }
    public Linear Dense { get; }
    public Norm Norm { get; }

    /// <summary>x: [rows, H] → y: [rows, intra].</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads)
    {
        Dense.Forward(x, y, rows, threads);
        Norm.Forward(y, y, rows);
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
