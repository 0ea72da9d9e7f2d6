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

    /// <summary>inputIds, tokenTypeIds: [B·S] → output: [B·S, H]. Position ids are 0…S−1 for every row (as HF, even left-padded).</summary>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> output, int threads, Workspace ws,
        EmbeddingTrace? trace = null)
    {
        int rows = batch * seq, e = _c.EmbeddingSize, h = _c.HiddenSize;
        if (seq > _c.MaxPositionEmbeddings)
            throw new ArgumentException($"Sequence length {seq} exceeds max_position_embeddings = {_c.MaxPositionEmbeddings}.");
        var words = ws.Array("emb.words", rows * e);                      // [B·S, E]
        Embedding.Gather(Store.Span(WordEmbeddings), e, inputIds, words.AsSpan(0, rows * e), "word_embeddings (input_ids)");
        if (trace is not null) trace.Words = words;
        if (_c.UsesEmbeddingTransformation)
        {
            float[] transformIn = words;
            if (_c.TrigramInput)
            {
                transformIn = ws.Array("emb.trigram", rows * 3 * e);        // [B·S, 3E]
                Trigram.Concat(words.AsSpan(0, rows * e), transformIn.AsSpan(0, rows * 3 * e), batch, seq, e);
            }
            if (trace is not null) trace.TransformInput = transformIn;
            Transformation!.Forward(transformIn, output, rows, threads);   // [B·S, H]
        }
        else words.AsSpan(0, rows * e).CopyTo(output);                      // E == H
        var pos = Store.Span(PositionEmbeddings);
        for (int b = 0; b < batch; b++)                                     // + position[t]
            for (int t = 0; t < seq; t++)
                System.Numerics.Tensors.TensorPrimitives.Add(output.Slice((b * seq + t) * h, h), pos.Slice(t * h, h),
                    output.Slice((b * seq + t) * h, h));
        Embedding.GatherAdd(Store.Span(TokenTypeEmbeddings), h, tokenTypeIds, output, "token_type_embeddings (token_type_ids)");
        if (trace is not null) trace.PreNorm = output.ToArray();
        Norm.Forward(output, output, rows);
    }
}

public sealed partial class Embeddings
{
    const string KWords = "emb.words", KTri = "emb.trigram", KPre = "emb.prenorm", KMean = "emb.mean", KRstd = "emb.rstd", KKeep = "emb.keep";

    /// <summary>Keep-mask bits of the embedding dropout, recorded by the training forward for the backward pass.</summary>
    static Span<uint> Keep(Arena cache, long count) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(cache.Get(KKeep, DropoutBackward.Words(count)).AsSpan());

    /// <summary>Training forward: as <see cref="Forward"/> plus hidden dropout on the output (HF), keeping the gathered words,
    /// the transformation input and the pre-norm sum in <paramref name="cache"/>.</summary>
    internal void ForwardTrain(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> output, int threads,
        Arena cache, in DropoutPlan dp)
    {
        int rows = batch * seq, e = _c.EmbeddingSize, h = _c.HiddenSize;
        if (seq > _c.MaxPositionEmbeddings)
            throw new ArgumentException($"Sequence length {seq} exceeds max_position_embeddings = {_c.MaxPositionEmbeddings}.");
        var words = cache.Get(KWords, rows * e);
        Embedding.Gather(Store.Span(WordEmbeddings), e, inputIds, words, "word_embeddings (input_ids)");
        var pre = cache.Get(KPre, rows * h);
        if (_c.UsesEmbeddingTransformation)
        {
            float[] transformIn = words;
            if (_c.TrigramInput)
            {
                transformIn = cache.Get(KTri, rows * 3 * e);
                Trigram.Concat(words, transformIn, batch, seq, e);
            }
            Transformation!.Forward(transformIn, pre, rows, threads);
        }
        else words.CopyTo(pre, 0);
        var pos = Store.Span(PositionEmbeddings);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
                System.Numerics.Tensors.TensorPrimitives.Add(pre.AsSpan((b * seq + t) * h, h), pos.Slice(t * h, h), pre.AsSpan((b * seq + t) * h, h));
        Embedding.GatherAdd(Store.Span(TokenTypeEmbeddings), h, tokenTypeIds, pre, "token_type_embeddings (token_type_ids)");
        Norm.ForwardCached(pre, default, pre, output, rows, Norm.HasStats ? cache.Get(KMean, rows) : default,
            Norm.HasStats ? cache.Get(KRstd, rows) : default);
        if (dp.Hidden > 0)
            DropoutBackward.ApplyAndRecord(output[..(rows * h)], dp.Hidden, dp.Seed, Kernels.Dropout.Stream(-1, DropoutPlan.SiteEmbeddings), 0,
                Keep(cache, rows * h), threads);
    }

    /// <summary>Backward: dOutput [B·S, H] (used as scratch: overwritten) → gradients of the word (except the padding row,
    /// as nn.Embedding's padding_idx), position and token-type tables, the transformation and the norm.</summary>
    internal void Backward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> dOutput, int threads,
        Arena cache, Arena scratch, in DropoutPlan dp)
    {
        int rows = batch * seq, e = _c.EmbeddingSize, h = _c.HiddenSize, n = rows * h;
        var d = dOutput[..n];
        if (dp.Hidden > 0) DropoutBackward.ApplyRecorded(d, d, dp.Hidden, Keep(cache, n), 0);
        Norm.Backward(d, cache.Get(KPre, n), Norm.HasStats ? cache.Get(KMean, rows) : default, Norm.HasStats ? cache.Get(KRstd, rows) : default, d,
            rows);
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
