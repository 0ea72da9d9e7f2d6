using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>
/// HF MobileBertAttention: multi-head self-attention (attention.self.{query,key,value}) then
/// attention.output: norm(dense(context) + layer_input). Q/K read the shared bottleneck (or the block input), V reads
/// the block input (or the bottleneck with bottleneck attention); width of heads = true_hidden_size.
/// </summary>
public sealed class SelfAttention
{
    readonly MobileBertConfig _c;

    public SelfAttention(ParameterStore store, string prefix, MobileBertConfig c)
    {
        _c = c;
        Query = new Linear(store, prefix + "self.query", c.QueryKeyInputSize, c.TrueHiddenSize);
        Key = new Linear(store, prefix + "self.key", c.QueryKeyInputSize, c.TrueHiddenSize);
        Value = new Linear(store, prefix + "self.value", c.ValueInputSize, c.TrueHiddenSize);
        OutputDense = new Linear(store, prefix + "output.dense", c.TrueHiddenSize, c.TrueHiddenSize);
        OutputNorm = new Norm(store, prefix + "output.LayerNorm", c.TrueHiddenSize, c.NormalizationType, c.EpsFor(NormSite.AttentionOutput));
    }

    public Linear Query { get; }
    public Linear Key { get; }
    public Linear Value { get; }
    public Linear OutputDense { get; }
    public Norm OutputNorm { get; }

    /// <summary>
    /// queryKeyInput: [B·S, qk], valueInput: [B·S, v], residual: [B·S, T], additiveMask: [B, S] → output: [B·S, T].
    /// probs (optional): [B, heads, S, S].
    /// </summary>
    public void Forward(ReadOnlySpan<float> queryKeyInput, ReadOnlySpan<float> valueInput, ReadOnlySpan<float> residual, ReadOnlySpan<float> additiveMask,
        int batch, int seq, Span<float> output, Span<float> probs, int threads, Workspace ws, LayerTrace? trace)
    {
        int rows = batch * seq, t = _c.TrueHiddenSize;
        var q = ws.Array("attn.q", rows * t); var k = ws.Array("attn.k", rows * t); var v = ws.Array("attn.v", rows * t); var ctx = ws.Array("attn.ctx", rows * t);
        Query.Forward(queryKeyInput, q, rows, threads);
        Key.Forward(queryKeyInput, k, rows, threads);
        Value.Forward(valueInput, v, rows, threads);
        AttentionCore.Forward(q, k, v, additiveMask, batch, seq, _c.NumAttentionHeads, _c.AttentionHeadSize, ctx, probs, threads);
        if (trace is not null) { trace.Q = q; trace.K = k; trace.V = v; trace.Context = ctx; }
        OutputDense.Forward(ctx.AsSpan(0, rows * t), output, rows, threads);
        OutputNorm.AddForward(output, residual, output, rows);
    }
}
