using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>
/// MobileBERT embeddings: word embedding of width E (128), trigram concat [x(t+1) ‖ x(t) ‖ x(t−1)] (a kernel-3 1-D
/// convolution in the paper) widened by a dense layer to H (512), plus position and token-type embeddings, then norm.
/// </summary>
public sealed partial class Embeddings
{
    readonly MobileBertConfig _c;

    public Embeddings(ParameterStore store, string prefix, MobileBertConfig c)
    {
        _c = c; Store = store;
        WordEmbeddings = store.Add(prefix + "word_embeddings.weight", c.VocabSize, c.EmbeddingSize);
        PositionEmbeddings = store.Add(prefix + "position_embeddings.weight", c.MaxPositionEmbeddings, c.HiddenSize);
        TokenTypeEmbeddings = store.Add(prefix + "token_type_embeddings.weight", c.TypeVocabSize, c.HiddenSize);
        // HF MobileBERT creates the transformation even when it is unused (no trigram and E == H); keep the name set identical.
        if (c.HasEmbeddingTransformation) Transformation = new Linear(store, prefix + "embedding_transformation", c.EmbeddedInputSize, c.HiddenSize);
        Norm = new Norm(store, prefix + "LayerNorm", c.HiddenSize, c.NormalizationType, c.EpsFor(NormSite.Embeddings));
    }

    public ParameterStore Store { get; }
    public Parameter WordEmbeddings { get; }
    public Parameter PositionEmbeddings { get; }
    public Parameter TokenTypeEmbeddings { get; }
    /// <summary>The embedding transformation (MobileBERT; null for BERT, whose word embeddings are hidden_size wide).</summary>
    public Linear? Transformation { get; }
    public Norm Norm { get; }

    /// <summary>inputIds, tokenTypeIds: [B·S] → output: [B·S, H]. Position ids are 0…S−1 for every row (as HF, even left-padded).
    /// Scratch from <paramref name="ws"/>; <paramref name="trace"/> (optional) receives the gathered words, the transformation
    /// input and the pre-norm sum.</summary>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> output, int threads, Workspace ws,
        EmbeddingTrace? trace = null) =>
        Forward(inputIds, tokenTypeIds, batch, seq, output, threads, ws, trace is null ? ForwardMode.Eval : new ForwardMode(default, Keep: true),
            trace);
}

public sealed partial class Embeddings
{
    const string KWords = "emb.words", KTri = "emb.trigram", KPre = "emb.prenorm", KMean = "emb.mean", KRstd = "emb.rstd", KKeep = "emb.keep";

    /// <summary>Keep-mask bits of the embedding dropout, recorded by the training forward for the backward pass.</summary>
    static Span<uint> Keep(Workspace cache, long count) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(cache.Get(KKeep, DropoutBackward.Words(count)).AsSpan());

    /// <summary>inputIds, tokenTypeIds: [B·S] → output: [B·S, H], then hidden dropout (HF) in training mode. The gathered words
    /// and the transformation input live in <paramref name="store"/>; keeping, the pre-norm sum, the norm statistics and the
    /// dropout keep-mask stay there too, for <see cref="Backward"/>.</summary>
    internal void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> output, int threads,
        Workspace store, in ForwardMode mode, EmbeddingTrace? trace = null)
    {
        int rows = batch * seq, e = _c.EmbeddingSize, h = _c.HiddenSize;
        if (seq > _c.MaxPositionEmbeddings)
            throw new ArgumentException($"Sequence length {seq} exceeds max_position_embeddings = {_c.MaxPositionEmbeddings}.");
        var kept = mode.Kept(store);
        var words = store.Get(KWords, rows * e);                            // [B·S, E]
        Embedding.Gather(Store.Span(WordEmbeddings), e, inputIds, words, "word_embeddings (input_ids)");
        float[]? keptPre = kept?.Get(KPre, rows * h);                      // [B·S, H]
        Span<float> pre = keptPre ?? output[..(rows * h)];
        float[]? transformIn = null;
        if (_c.UsesEmbeddingTransformation)
        {
            transformIn = words;
            if (_c.TrigramInput)
            {
                transformIn = store.Get(KTri, rows * 3 * e);                 // [B·S, 3E]
                Trigram.Concat(words, transformIn, batch, seq, e);
            }
            Transformation!.Forward(transformIn, pre, rows, threads);      // [B·S, H]
        }
        else words.CopyTo(pre);                                             // E == H
        var pos = Store.Span(PositionEmbeddings);
        for (int b = 0; b < batch; b++)                                     // + position[t]
            for (int t = 0; t < seq; t++)
                System.Numerics.Tensors.TensorPrimitives.Add(pre.Slice((b * seq + t) * h, h), pos.Slice(t * h, h), pre.Slice((b * seq + t) * h, h));
        Embedding.GatherAdd(Store.Span(TokenTypeEmbeddings), h, tokenTypeIds, pre, "token_type_embeddings (token_type_ids)");
        if (trace is not null) { trace.Words = words; trace.TransformInput = transformIn; trace.PreNorm = keptPre; }
        Norm.Forward(pre, default, output, rows, kept, KMean, KRstd);
        var dp = mode.Dropout;
        if (dp.Hidden > 0)
            DropoutBackward.ApplyAndRecord(output[..(rows * h)], dp.Hidden, dp.Seed, Kernels.Dropout.Stream(-1, DropoutPlan.SiteEmbeddings), 0,
                Keep(store, rows * h), threads);
    }

    /// <summary>Backward: dOutput [B·S, H] (used as scratch: overwritten) → gradients of the word (except the padding row,
    /// as nn.Embedding's padding_idx), position and token-type tables, the transformation and the norm.</summary>
    internal void Backward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> dOutput, int threads,
        Workspace cache, Workspace scratch, in DropoutPlan dp)
    {
        int rows = batch * seq, e = _c.EmbeddingSize, h = _c.HiddenSize, n = rows * h;
        var d = dOutput[..n];
        if (dp.Hidden > 0) DropoutBackward.ApplyRecorded(d, d, dp.Hidden, Keep(cache, n), 0);
        Norm.Backward(d, cache.Get(KPre, n), Norm.Stats(cache, KMean, rows), Norm.Stats(cache, KRstd, rows), d, rows);
        var dpos = Store.GradSpan(PositionEmbeddings);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
                System.Numerics.Tensors.TensorPrimitives.Add(dpos.Slice(t * h, h), d.Slice((b * seq + t) * h, h), dpos.Slice(t * h, h));
        EmbeddingBackward.ScatterAdd(tokenTypeIds, d, h, Store.GradSpan(TokenTypeEmbeddings));
        var dwords = scratch.Get("emb.dwords", rows * e);
        if (_c.UsesEmbeddingTransformation)
        {
            if (_c.TrigramInput)
            {
                var dtri = scratch.Get("emb.dtrigram", rows * 3 * e);
                Transformation!.Backward(cache.Get(KTri, rows * 3 * e), d, dtri, rows, threads);
                EmbeddingBackward.Trigram(dtri, dwords, batch, seq, e);
            }
            else Transformation!.Backward(cache.Get(KWords, rows * e), d, dwords, rows, threads);
        }
        else d.CopyTo(dwords);
        EmbeddingBackward.ScatterAdd(inputIds, dwords, e, Store.GradSpan(WordEmbeddings), _c.PadTokenId);
    }
}

/// <summary>What the embeddings computed (for inspection and the backward pass).</summary>
public sealed class EmbeddingTrace
{
    public float[]? Words;           // [B·S, E]
    public float[]? TransformInput;  // [B·S, 3E] or [B·S, E]
    public float[]? PreNorm;         // [B·S, H]
}
