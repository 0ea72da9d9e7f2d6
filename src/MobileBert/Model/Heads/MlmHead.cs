using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model.Heads;

/// <summary>
/// Masked-LM head (HF cls.predictions): t = LayerNorm(act(dense(h))) (always a real LayerNorm, eps = layer_norm_eps),
/// logits = t · [word_embeddingsᵀ (E×V) ; dense.weight (H−E × V)] + bias. The decoder is tied to the word embeddings;
/// `cls.predictions.dense.weight` is stored [H−E, V] and used untransposed. BERT: H = E and no dense.weight.
/// </summary>
public sealed class MlmHead
{
    readonly MobileBertConfig _c;
    readonly ParameterStore _s;

    public MlmHead(ParameterStore store, string prefix, MobileBertConfig c, Parameter wordEmbeddings)
    {
        _c = c; _s = store; WordEmbeddings = wordEmbeddings;
        TransformDense = new Linear(store, prefix + "transform.dense", c.HiddenSize, c.HiddenSize);
        TransformNorm = new Norm(store, prefix + "transform.LayerNorm", c.HiddenSize, NormalizationType.LayerNorm, c.EpsFor(NormSite.MlmTransform));
        // MobileBERT only (BERT's decoder is the tied word embeddings alone; HF MobileBERT registers it even when H == E).
        if (!c.IsBert) ExtraWeight = store.Add(prefix + "dense.weight", c.HiddenSize - c.EmbeddingSize, c.VocabSize);
        Bias = store.Add(prefix + "bias", c.VocabSize);
    }

    public Linear TransformDense { get; }
    public Norm TransformNorm { get; }
    public Parameter WordEmbeddings { get; }
    public Parameter? ExtraWeight { get; }
    public Parameter Bias { get; }

    /// <summary>h: [rows, H] → logits: [rows, V]. transformed (optional out): [rows, H].</summary>
    public void Forward(ReadOnlySpan<float> h, int rows, Span<float> logits, int threads, float[]? transformed = null) =>
        Forward(h, rows, null, logits, threads, null, transformed);

    const string KIn = "mlm.in", KPreAct = "mlm.preact", KAct = "mlm.act", KT = "mlm.t", KTe = "mlm.te", KTr = "mlm.tr", KMean = "mlm.mean",
        KRstd = "mlm.rstd";

    /// <summary>
    /// x [B·S, H] → logits; with <paramref name="positions"/> only those rows (indices into B·S) are decoded (logits
    /// [positions, V]), else all rows. With <paramref name="kept"/> (a forward kept for the backward pass) everything
    /// <see cref="Backward"/> reads stays there; else the transform goes to <paramref name="transformed"/> (optional out) or a
    /// new array.
    /// </summary>
    internal void Forward(ReadOnlySpan<float> x, int allRows, int[]? positions, Span<float> logits, int threads, Workspace? kept,
        float[]? transformed = null)
    {
        int hid = _c.HiddenSize, e = _c.EmbeddingSize, v = _c.VocabSize, rest = hid - e;
        int rows = positions?.Length ?? allRows, n = rows * hid;
        var store = kept ?? Workspace.NewFresh();
        ReadOnlySpan<float> input = x[..(allRows * hid)];
        if (positions is not null)
        {
            var gathered = store.Get(KIn, n);
            for (int i = 0; i < rows; i++) x.Slice(positions[i] * hid, hid).CopyTo(gathered.AsSpan(i * hid));
            input = gathered;
        }
        var act = kept is null ? transformed ?? new float[n] : kept.Get(KAct, n);           // [rows, H]
        if (kept is not null && ActivationsBackward.NeedsInput(_c.HiddenAct))
        {
            var pre = kept.Get(KPreAct, n);
            TransformDense.Forward(input, pre, rows, threads);
            pre.CopyTo(act, 0);
        }
        else TransformDense.Forward(input, act, rows, threads);
        Activations.Apply(_c.HiddenAct, act.AsSpan(0, n));
        var t = kept is null ? act : kept.Get(KT, n);
        TransformNorm.Forward(act.AsSpan(0, n), default, t.AsSpan(0, n), rows, kept, KMean, KRstd);
        var te = store.Get(KTe, rows * e); var tr = store.Get(KTr, rows * rest);             // split columns [0,E) and [E,H)
        for (int r = 0; r < rows; r++)
        {
            t.AsSpan(r * hid, e).CopyTo(te.AsSpan(r * e));
            t.AsSpan(r * hid + e, rest).CopyTo(tr.AsSpan(r * rest));
        }
        Gemm.Multiply(te, _s.Span(WordEmbeddings), logits, rows, v, e, Transpose.No, Transpose.Yes, _s.Span(Bias), false, threads);
        if (rest > 0) Gemm.Multiply(tr, _s.Span(ExtraWeight!), logits, rows, v, rest, Transpose.No, Transpose.No, default, true, threads);
    }

    /// <summary>
    /// Backward: dLogits [rows, V] → gradients of the bias, the tied word embeddings (decoder part), dense.weight, the
    /// transform; the input gradient is ADDED to dx [B·S, H] (at <paramref name="positions"/> when given).
    /// </summary>
    internal void Backward(ReadOnlySpan<float> x, int allRows, int[]? positions, ReadOnlySpan<float> dLogits, Span<float> dx, int threads,
        Workspace cache, Workspace scratch)
    {
        int hid = _c.HiddenSize, e = _c.EmbeddingSize, v = _c.VocabSize, rest = hid - e;
        int rows = positions?.Length ?? allRows;
        if (dLogits.Length < (long)rows * v) throw new ArgumentException($"MLM logits gradient has {dLogits.Length} values; expected {rows}×{v}.");
        Reductions.AddColumnSums(dLogits, rows, v, _s.GradSpan(Bias));
        var te = cache.Get(KTe, rows * e); var tr = cache.Get(KTr, rows * rest);
        // logits = te·Wᵀ + tr·X:  dW += dLᵀ·te [V,E];  dX += trᵀ·dL [rest,V];  dte = dL·W;  dtr = dL·Xᵀ.
        Gemm.Multiply(dLogits, te, _s.GradSpan(WordEmbeddings), v, e, rows, Transpose.Yes, Transpose.No, default, true, threads);
        var dte = scratch.Get("mlm.dte", rows * e);
        Gemm.Multiply(dLogits, _s.Span(WordEmbeddings), dte, rows, e, v, Transpose.No, Transpose.No, default, false, threads);
        var dt = scratch.Get("mlm.dt", rows * hid);
        if (rest > 0)
        {
            Gemm.Multiply(tr, dLogits, _s.GradSpan(ExtraWeight!), rest, v, rows, Transpose.Yes, Transpose.No, default, true, threads);
            var dtr = scratch.Get("mlm.dtr", rows * rest);
            Gemm.Multiply(dLogits, _s.Span(ExtraWeight!), dtr, rows, rest, v, Transpose.No, Transpose.Yes, default, false, threads);
            for (int r = 0; r < rows; r++) dtr.AsSpan(r * rest, rest).CopyTo(dt.AsSpan(r * hid + e));
        }
        for (int r = 0; r < rows; r++) dte.AsSpan(r * e, e).CopyTo(dt.AsSpan(r * hid));
        var act = cache.Get(KAct, rows * hid);
        TransformNorm.Backward(dt, act, cache.Get(KMean, rows), cache.Get(KRstd, rows), dt, rows);
        // act holds the norm input = the activation output.
        ActivationsBackward.Backward(_c.HiddenAct, ActivationsBackward.NeedsInput(_c.HiddenAct) ? cache.Get(KPreAct, rows * hid) : default, act, dt);
        if (positions is null) TransformDense.Backward(x[..(allRows * hid)], dt, dx, rows, threads, accumulateDx: true);
        else
        {
            var dIn = scratch.Get("mlm.din", rows * hid);
            TransformDense.Backward(cache.Get(KIn, rows * hid), dt, dIn, rows, threads);
            for (int i = 0; i < rows; i++)
            {
                var dst = dx.Slice(positions[i] * hid, hid);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, dIn.AsSpan(i * hid, hid), dst);
            }
        }
    }
}
