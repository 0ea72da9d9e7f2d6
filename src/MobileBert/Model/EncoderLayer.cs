using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>
/// One MobileBERT layer (HF MobileBertLayer):
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

    /// <summary>h: [B·S, H] → y: [B·S, H] (y must not alias h). probs (optional): [B, heads, S, S].
    /// Scratch comes from <paramref name="ws"/> (pass <see cref="Workspace.NewFresh"/> when intermediates must be kept).</summary>
    public void Forward(ReadOnlySpan<float> h, ReadOnlySpan<float> additiveMask, int batch, int seq, Span<float> y, Span<float> probs, int threads,
        Workspace ws, LayerTrace? trace = null)
    {
        int rows = batch * seq, t = _c.TrueHiddenSize, n = rows * t;
        if (trace is not null && !ws.Fresh) throw new ArgumentException("A trace needs a fresh workspace (its arrays are kept).");
        float[]? layerInput = null, qk = null;
        if (Flow.InputBottleneck) Bottleneck!.Input.Forward(h, layerInput = ws.Array("layer.input", n), rows, threads);
        if (Flow.SharedQueryKeyBottleneck) Bottleneck!.Attention!.Forward(h, qk = ws.Array("layer.qk", n), rows, threads);
        ReadOnlySpan<float> li = layerInput is null ? default : layerInput.AsSpan(0, n), sk = qk is null ? default : qk.AsSpan(0, n);
        ReadOnlySpan<float> residual = Flow.Pick(Flow.AttentionResidual, h, li, sk);
        ReadOnlySpan<float> qkIn = Flow.Pick(Flow.QueryKeyInput, h, li, sk), vIn = Flow.Pick(Flow.ValueInput, h, li, sk);

        var a = ws.Array("layer.a0", n);
        Attention.Forward(qkIn, vIn, residual, additiveMask, batch, seq, a.AsSpan(0, n), probs, threads, ws, trace);
        if (trace is not null)
        {
            trace.LayerInput = residual.ToArray(); trace.QueryKeyInput = qkIn.ToArray(); trace.ValueInput = vIn.ToArray();
            trace.FfnOutputs = new float[StackedFfns.Length + 1][]; trace.FfnOutputs[0] = a;
        }
        for (int i = 0; i < StackedFfns.Length; i++)
        {
            var next = ws.Array(i % 2 == 0 ? "layer.a1" : "layer.a0", n);   // ping-pong
            StackedFfns[i].Forward(a.AsSpan(0, n), next.AsSpan(0, n), rows, threads, ws);
            a = next;
            if (trace is not null) trace.FfnOutputs![i + 1] = a;
        }
        float[]? inter = trace is null ? null : new float[rows * _c.IntermediateSize];
        if (OutputBottleneck is null)
        {
            LastFfn.Forward(a.AsSpan(0, n), y, rows, threads, ws, inter);     // T == H without bottlenecks
        }
        else
        {
            var o = ws.Array("layer.o", n);
            LastFfn.Forward(a.AsSpan(0, n), o.AsSpan(0, n), rows, threads, ws, inter);
            OutputBottleneck.Forward(o.AsSpan(0, n), y, rows, threads);
            OutputBottleneckNorm!.AddForward(y, h, y, rows);
            if (trace is not null) trace.OutputBeforeBottleneck = o;
        }
        if (trace is not null) { trace.AttentionOutput = a; trace.Intermediate = inter; }
    }
}

public sealed partial class EncoderLayer { }

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
