using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model.Heads;

/// <summary>
/// Masked-LM head (HF cls.predictions): t = LayerNorm(act(dense(h))) (always a real LayerNorm, eps = layer_norm_eps),
/// logits = t · [word_embeddingsᵀ (E×V) ; dense.weight (H−E × V)] + bias. The decoder is tied to the word embeddings;
/// `cls.predictions.dense.weight` is stored [H−E, V] and used untransposed.
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
        ExtraWeight = store.Add(prefix + "dense.weight", c.HiddenSize - c.EmbeddingSize, c.VocabSize);
        Bias = store.Add(prefix + "bias", c.VocabSize);
    }

    public Linear TransformDense { get; }
    public Norm TransformNorm { get; }
    public Parameter WordEmbeddings { get; }
    public Parameter ExtraWeight { get; }
    public Parameter Bias { get; }

    /// <summary>h: [rows, H] → logits: [rows, V]. transformed (optional out): [rows, H].</summary>
    public void Forward(ReadOnlySpan<float> h, int rows, Span<float> logits, int threads, float[]? transformed = null)
    {
        int hid = _c.HiddenSize, e = _c.EmbeddingSize, v = _c.VocabSize, rest = hid - e;
        var t = transformed ?? new float[rows * hid];
        TransformDense.Forward(h, t, rows, threads);
        Activations.Apply(_c.HiddenAct, t.AsSpan(0, rows * hid));
        TransformNorm.Forward(t, t, rows);
        var te = new float[rows * e]; var tr = new float[rows * rest];   // split columns [0,E) and [E,H)
        for (int r = 0; r < rows; r++)
        {
            t.AsSpan(r * hid, e).CopyTo(te.AsSpan(r * e));
            t.AsSpan(r * hid + e, rest).CopyTo(tr.AsSpan(r * rest));
        }
        Gemm.Multiply(te, _s.Span(WordEmbeddings), logits, rows, v, e, Transpose.No, Transpose.Yes, _s.Span(Bias), false, threads);
        if (rest > 0) Gemm.Multiply(tr, _s.Span(ExtraWeight), logits, rows, v, rest, Transpose.No, Transpose.No, default, true, threads);
    }
}
