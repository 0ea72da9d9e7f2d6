using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>
/// MobileBERT embeddings: word embedding of width E (128), trigram concat [x(t+1) ‖ x(t) ‖ x(t−1)] (a kernel-3 1-D
/// convolution in the paper) widened by a dense layer to H (512), plus position and token-type embeddings, then norm.
/// </summary>
public sealed class Embeddings
{
    readonly MobileBertConfig _c;

    public Embeddings(ParameterStore store, string prefix, MobileBertConfig c)
    {
        _c = c; Store = store;
        WordEmbeddings = store.Add(prefix + "word_embeddings.weight", c.VocabSize, c.EmbeddingSize);
        PositionEmbeddings = store.Add(prefix + "position_embeddings.weight", c.MaxPositionEmbeddings, c.HiddenSize);
        TokenTypeEmbeddings = store.Add(prefix + "token_type_embeddings.weight", c.TypeVocabSize, c.HiddenSize);
        // HF creates the transformation even when it is unused (no trigram and E == H); keep the name set identical.
        Transformation = new Linear(store, prefix + "embedding_transformation", c.EmbeddedInputSize, c.HiddenSize);
        Norm = new Norm(store, prefix + "LayerNorm", c.HiddenSize, c.NormalizationType, c.EpsFor(NormSite.Embeddings));
    }

    public ParameterStore Store { get; }
    public Parameter WordEmbeddings { get; }
    public Parameter PositionEmbeddings { get; }
    public Parameter TokenTypeEmbeddings { get; }
    public Linear Transformation { get; }
    public Norm Norm { get; }

    /// <summary>inputIds, tokenTypeIds: [B·S] → output: [B·S, H]. Position ids are 0…S−1 for every row (as HF, even left-padded).</summary>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, int batch, int seq, Span<float> output, int threads, Workspace ws, EmbeddingTrace? trace = null)
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
            Transformation.Forward(transformIn, output, rows, threads);   // [B·S, H]
        }
        else words.AsSpan(0, rows * e).CopyTo(output);                      // E == H
        var pos = Store.Span(PositionEmbeddings);
        for (int b = 0; b < batch; b++)                                     // + position[t]
            for (int t = 0; t < seq; t++)
                System.Numerics.Tensors.TensorPrimitives.Add(output.Slice((b * seq + t) * h, h), pos.Slice(t * h, h), output.Slice((b * seq + t) * h, h));
        Embedding.GatherAdd(Store.Span(TokenTypeEmbeddings), h, tokenTypeIds, output, "token_type_embeddings (token_type_ids)");
        if (trace is not null) trace.PreNorm = output.ToArray();
        Norm.Forward(output, output, rows);
    }
}

/// <summary>What the embeddings computed (for inspection and the backward pass).</summary>
public sealed class EmbeddingTrace
{
    public float[]? Words;           // [B·S, E]
    public float[]? TransformInput;  // [B·S, 3E] or [B·S, E]
    public float[]? PreNorm;         // [B·S, H]
}
