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

    const string KQ = "attn.q", KK = "attn.k", KV = "attn.v", KCtx = "attn.ctx", KProbs = "attn.probs", KPre = "attn.prenorm", KMean = "attn.mean",
        KRstd = "attn.rstd", KKeep = "attn.keep";

    /// <summary>
    /// queryKeyInput: [B·S, qk], valueInput: [B·S, v], residual: [B·S, T], additiveMask: [B, S] → output: [B·S, T].
    /// Q, K, V and the context [B·S, T] live in <paramref name="store"/>. Eval: probs (optional out) [B, heads, S, S].
    /// Keeping (the inputs must then stay alive in the caller's store): the pre-dropout probabilities, the attention-dropout
    /// keep-mask, the pre-norm sum and the norm statistics stay in <paramref name="store"/> too, for <see cref="Backward"/>.
    /// </summary>
    internal void Forward(ReadOnlySpan<float> queryKeyInput, ReadOnlySpan<float> valueInput, ReadOnlySpan<float> residual,
        ReadOnlySpan<float> additiveMask, int batch, int seq, Span<float> output, Span<float> probs, int threads, Workspace store,
        in ForwardMode mode, int layer)
    {
        int rows = batch * seq, t = _c.TrueHiddenSize, n = rows * t;
        var kept = mode.Kept(store);
        var q = store.Get(KQ, n); var k = store.Get(KK, n); var v = store.Get(KV, n); var ctx = store.Get(KCtx, n);
        Query.Forward(queryKeyInput, q, rows, threads);
        Key.Forward(queryKeyInput, k, rows, threads);
        Value.Forward(valueInput, v, rows, threads);
        var dp = mode.Dropout;
        if (kept is not null) probs = CachedProbs(kept, batch, seq, _c.NumAttentionHeads);
        AttentionCore.ForwardTrain(q, k, v, additiveMask, batch, seq, _c.NumAttentionHeads, _c.AttentionHeadSize, ctx, probs,
            dp.Attention, dp.Seed, Kernels.Dropout.Stream(layer, DropoutPlan.SiteAttentionProbs), threads, KeepMask(store, batch, seq, dp));
        Span<float> sum = kept is null ? output : kept.Get(KPre, n);
        OutputDense.Forward(ctx, sum, rows, threads);
        if (!_c.UseBottleneck) dp.Hid(sum, layer, DropoutPlan.SiteAttentionOutput);   // HF MobileBertSelfOutput
        OutputNorm.Forward(sum, residual, output, rows, kept, KMean, KRstd);
    }

    /// <summary>Q, K, V and the context [B·S, T] kept by the last keeping <see cref="Forward"/> in <paramref name="kept"/>.</summary>
    internal (float[] Q, float[] K, float[] V, float[] Context) Kept(Workspace kept, int rows)
    {
        int n = rows * _c.TrueHiddenSize;
        return (kept.Get(KQ, n), kept.Get(KK, n), kept.Get(KV, n), kept.Get(KCtx, n));
    }

    /// <summary>Pre-dropout attention probabilities [B, heads, S, S] of the last keeping forward (valid while the cache is).</summary>
    internal static float[] CachedProbs(Workspace cache, int batch, int seq, int heads) => cache.Get(KProbs, batch * heads * seq * seq);

    /// <summary>The attention-dropout keep-mask bits kept between the training forward and the backward (empty without dropout).</summary>
    Span<uint> KeepMask(Workspace cache, int batch, int seq, in DropoutPlan dp) => dp.Attention > 0
        ? System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(cache.Get(
        KKeep, AttentionCore.KeepMaskWords(batch, _c.NumAttentionHeads, seq)).AsSpan())
        : default;

    /// <summary>
    /// Backward of <see cref="Forward"/>: dOutput [B·S, T] → dQueryKeyInput [B·S, qk], dValueInput [B·S, v],
    /// dResidual [B·S, T] (all written). dProbs (optional): extra gradient w.r.t. the probabilities [B, heads, S, S].
    /// </summary>
    internal void Backward(ReadOnlySpan<float> queryKeyInput, ReadOnlySpan<float> valueInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> dProbs,
        int batch, int seq, Span<float> dQueryKeyInput, Span<float> dValueInput, Span<float> dResidual, int threads, Workspace cache,
        Workspace scratch, in DropoutPlan dp, int layer)
    {
        int rows = batch * seq, t = _c.TrueHiddenSize, n = rows * t;
        OutputNorm.Backward(dOutput, cache.Get(KPre, n), OutputNorm.Stats(cache, KMean, rows), OutputNorm.Stats(cache, KRstd, rows), dResidual, rows);
        var dsum = scratch.Get("attn.dsum", n);
        dResidual[..n].CopyTo(dsum);
        if (!_c.UseBottleneck) dp.Hid(dsum, layer, DropoutPlan.SiteAttentionOutput);
        var dctx = scratch.Get("attn.dctx", n);
        OutputDense.Backward(cache.Get(KCtx, n), dsum, dctx, rows, threads);
        var dq = scratch.Get("attn.dq", n); var dk = scratch.Get("attn.dk", n); var dv = scratch.Get("attn.dv", n);
        AttentionCore.Backward(cache.Get(KQ, n), cache.Get(KK, n), cache.Get(KV, n), CachedProbs(cache, batch, seq, _c.NumAttentionHeads), dctx,
            dProbs,
            batch, seq, _c.NumAttentionHeads, _c.AttentionHeadSize, dq, dk, dv, dp.Attention, dp.Seed,
            Kernels.Dropout.Stream(layer, DropoutPlan.SiteAttentionProbs), threads,
            KeepMask(cache, batch, seq, dp));
        Query.Backward(queryKeyInput, dq, dQueryKeyInput, rows, threads);
        Key.Backward(queryKeyInput, dk, dQueryKeyInput, rows, threads, accumulateDx: true);
        Value.Backward(valueInput, dv, dValueInput, rows, threads);
    }
}
