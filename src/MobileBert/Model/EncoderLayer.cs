using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>
/// One MobileBERT layer (HF MobileBertLayer); which tensors feed Q/K, V and the residual is its <see cref="Flow"/>
/// (shown for MobileBERT):
/// <code>
///   h [rows,H] ─ bottleneck.input ─▶ layer_input [rows,T]            (residual of the attention)
///             ─ bottleneck.attention ─▶ qk [rows,T]                  (shared query/key input)
///   attention(q,k ← qk; v ← h) + layer_input → norm → a₀ [rows,T]
///   a_{i+1} = ffn.i(a_i)  for i &lt; F−1                                (stacked FFNs)
///   o = norm(output.dense(act(intermediate.dense(a))) + a) [rows,T]
///   y = norm(output.bottleneck.dense(o) + h) [rows,H]                (output bottleneck)
/// </code>
/// </summary>
public sealed partial class EncoderLayer
{
    readonly MobileBertConfig _c;

    public EncoderLayer(ParameterStore store, string prefix, MobileBertConfig c)
    {
        _c = c; Flow = LayerDataFlow.Of(c);
        // Registration follows HF's state_dict order: attention, intermediate, output, bottleneck, ffn.
        Attention = new SelfAttention(store, prefix + "attention.", c);
        LastFfn = new FeedForward(store, prefix + "intermediate.dense", prefix + "output.", c, NormSite.LayerOutput);
        if (c.UseBottleneck)
        {
            OutputBottleneck = new Linear(store, prefix + "output.bottleneck.dense", c.TrueHiddenSize, c.HiddenSize);
            OutputBottleneckNorm = new Norm(store, prefix + "output.bottleneck.LayerNorm", c.HiddenSize, c.NormalizationType,
                c.EpsFor(NormSite.OutputBottleneck));
            Bottleneck = new Bottleneck(store, prefix + "bottleneck.", c);
        }
        StackedFfns = new FeedForward[c.NumFeedforwardNetworks - 1];
        for (int i = 0; i < StackedFfns.Length; i++)
            StackedFfns[i] = new FeedForward(store, $"{prefix}ffn.{i}.intermediate.dense", $"{prefix}ffn.{i}.output.", c, NormSite.Ffn);
    }

    /// <summary>Which tensors feed Q/K, V and the attention residual; which bottlenecks run.</summary>
    public LayerDataFlow Flow { get; }
    public SelfAttention Attention { get; }
    public Bottleneck? Bottleneck { get; }
    public FeedForward[] StackedFfns { get; }
    public FeedForward LastFfn { get; }
    public Linear? OutputBottleneck { get; }
    public Norm? OutputBottleneckNorm { get; }

    const string KLayerInput = "layer.input", KQk = "layer.qk", KOut = "layer.o", KObPre = "layer.ob.prenorm", KObMean = "layer.ob.mean",
        KObRstd = "layer.ob.rstd", KObKeep = "layer.ob.keep";
    static readonly string[] KFfnIn = Enumerable.Range(0, 64).Select(i => $"layer.a{i}").ToArray();

    /// <summary>Key of the input of FFN i (i = F−1: the last FFN; [0] is the attention block's output).</summary>
    static string FfnInKey(int i) => i < KFfnIn.Length ? KFfnIn[i] : $"layer.a{i}";

    /// <summary>
    /// Layer <paramref name="layer"/>: h [B·S, H] → y [B·S, H] (y must not alias h). Eval (<see cref="ForwardMode.Eval"/>):
    /// intermediates are scratch of <paramref name="store"/> (shared by all layers; the FFN inputs ping-pong), probs
    /// (optional out) [B, heads, S, S]. Keeping (h must then stay alive in the caller's store): every activation the
    /// backward pass reads stays in <paramref name="store"/> (one store per layer), with the dropout of the mode (HF sites).
    /// </summary>
    internal void Forward(ReadOnlySpan<float> h, ReadOnlySpan<float> additiveMask, int batch, int seq, Span<float> y, Span<float> probs,
        int threads, Workspace store, in ForwardMode mode, int layer)
    {
        int rows = batch * seq, n = rows * _c.TrueHiddenSize;
        var kept = mode.Kept(store);
        float[]? li = null, qk = null;
        if (Flow.InputBottleneck) Bottleneck!.Input.Forward(h, li = store.Get(KLayerInput, n), rows, threads, store, mode);
        if (Flow.SharedQueryKeyBottleneck) Bottleneck!.Attention!.Forward(h, qk = store.Get(KQk, n), rows, threads, store, mode);
        ReadOnlySpan<float> bi = li, sk = qk;
        ReadOnlySpan<float> residual = Flow.Pick(Flow.AttentionResidual, h, bi, sk);
        ReadOnlySpan<float> qkIn = Flow.Pick(Flow.QueryKeyInput, h, bi, sk), vIn = Flow.Pick(Flow.ValueInput, h, bi, sk);

        var a = store.Get(FfnInKey(0), n);                                                  // [B·S, T]
        Attention.Forward(qkIn, vIn, residual, additiveMask, batch, seq, a, probs, threads, store, mode, layer);
        for (int i = 0; i < StackedFfns.Length; i++)
        {
            var next = store.Get(FfnInKey(kept is null ? (i + 1) % 2 : i + 1), n);          // eval: ping-pong
            StackedFfns[i].Forward(a, next, rows, threads, store, mode, layer, 0);
            a = next;
        }
        if (OutputBottleneck is null)
        {
            LastFfn.Forward(a, y, rows, threads, store, mode, layer, DropoutPlan.SiteLayerOutput);   // T == H without bottlenecks
            return;
        }
        var o = store.Get(KOut, n);
        LastFfn.Forward(a, o, rows, threads, store, mode, layer, 0);
        Span<float> sum = kept is null ? y : kept.Get(KObPre, rows * _c.HiddenSize);
        OutputBottleneck.Forward(o, sum, rows, threads);
        var dp = mode.Dropout;
        if (dp.Hidden > 0)                                                                            // HF OutputBottleneck
            Kernels.DropoutBackward.ApplyAndRecord(sum, dp.Hidden, dp.Seed, Kernels.Dropout.Stream(layer, DropoutPlan.SiteOutputBottleneck), 0,
                ObKeep(store, rows), threads);
        OutputBottleneckNorm!.Forward(sum, h, y, rows, kept, KObMean, KObRstd);
    }

    /// <summary>Keep-mask bits of the output-bottleneck dropout, recorded by the training forward for the backward pass.</summary>
    Span<uint> ObKeep(Workspace cache, int rows) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(cache.Get(KObKeep, Kernels.DropoutBackward.Words((long)rows * _c.HiddenSize))
        .AsSpan());

    /// <summary>Pre-dropout attention probabilities [B, heads, S, S] kept by the last keeping <see cref="Forward"/> in this store.</summary>
    internal float[] CachedAttentionProbs(Workspace cache, int batch, int seq) => SelfAttention.CachedProbs(cache, batch, seq, _c.NumAttentionHeads);

    /// <summary>The trace of the last keeping <see cref="Forward"/> of block input <paramref name="h"/>: views of the arrays
    /// <paramref name="kept"/> holds (valid while they are not overwritten).</summary>
    internal LayerTrace Trace(Workspace kept, float[] h, int rows)
    {
        int n = rows * _c.TrueHiddenSize;
        float[]? li = Flow.InputBottleneck ? kept.Get(KLayerInput, n) : null, qk = Flow.SharedQueryKeyBottleneck ? kept.Get(KQk, n) : null;
        var ffnOutputs = Enumerable.Range(0, StackedFfns.Length + 1).Select(i => kept.Get(FfnInKey(i), n)).ToArray();
        var (q, k, v, ctx) = Attention.Kept(kept, rows);
        return new LayerTrace
        {
            LayerInput = Flow.Pick(Flow.AttentionResidual, h, li, qk), QueryKeyInput = Flow.Pick(Flow.QueryKeyInput, h, li, qk),
            ValueInput = Flow.Pick(Flow.ValueInput, h, li, qk), Q = q, K = k, V = v, Context = ctx, FfnOutputs = ffnOutputs,
            AttentionOutput = ffnOutputs[^1], Intermediate = LastFfn.KeptIntermediate(kept, rows),
            OutputBeforeBottleneck = OutputBottleneck is null ? null : kept.Get(KOut, n),
        };
    }
}

/// <summary>What one layer computed (HF MobileBertLayer's extra outputs; also what a backward pass needs).</summary>
public sealed class LayerTrace
{
    public float[]? QueryKeyInput;          // [rows, qk]  (HF query_tensor / key_tensor)
    public float[]? ValueInput;             // [rows, v]   (HF value_tensor)
    public float[]? LayerInput;             // [rows, T]   (HF layer_input: the attention residual)
    public float[]? Q, K, V, Context;       // [rows, T]
    public float[][]? FfnOutputs;           // F × [rows, T]: [0] attention block output, [i] after stacked FFN i
    public float[]? AttentionOutput;        // [rows, T]   input of the last FFN (HF attention_output / ffn_output)
    public float[]? Intermediate;           // [rows, I]   (HF intermediate_output)
    public float[]? OutputBeforeBottleneck; // [rows, T]
}
