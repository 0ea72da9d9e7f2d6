namespace MobileBert.Model;

/// <summary>A tensor inside one encoder layer that can feed the attention block.</summary>
public enum LayerTensor
{
    /// <summary>The block input h [rows, H] (HF hidden_states).</summary>
    BlockInput,
    /// <summary>The input bottleneck's output [rows, intra] (HF bottleneck.input → layer_input).</summary>
    InputBottleneck,
    /// <summary>The shared query/key bottleneck's output [rows, intra] (HF bottleneck.attention → shared_attention_input).</summary>
    SharedQueryKeyBottleneck,
}

/// <summary>
/// How data flows through one encoder layer, derived once from the config. Every executor reads it: the model's
/// forward and backward (<see cref="EncoderLayer"/>), the inference engine's plan and the ONNX export.
/// <code>
///   HF MobileBertLayer.forward:  q, k, v, layer_input = bottleneck(h)  if use_bottleneck  else  h, h, h, h
///   HF Bottleneck.forward:       li = input(h)
///     use_bottleneck_attention     → li, li, li, li                       (MobileBERT-TINY)
///     key_query_shared_bottleneck  → qk, qk, h, li   with qk = attention(h) (MobileBERT)
///     neither                      → h, h, h, li                           (IB-BERT)
///   plain BERT (no bottleneck)     → h, h, h, h
/// </code>
/// then attention(q, k, v) + layer_input → norm, <see cref="FeedForwards"/> FFNs on the intra-block stream, and with an
/// output bottleneck norm(dense(o) + h) back to hidden_size.
/// </summary>
/// <param name="InputBottleneck">bottleneck.input runs (HF use_bottleneck).</param>
/// <param name="SharedQueryKeyBottleneck">bottleneck.attention runs: its output feeds Q and K.</param>
/// <param name="OutputBottleneck">output.bottleneck maps the intra-block stream back to hidden_size (HF use_bottleneck).</param>
/// <param name="QueryKeyInput">What the query and key projections read.</param>
/// <param name="ValueInput">What the value projection reads.</param>
/// <param name="AttentionResidual">What the attention output norm adds (HF layer_input).</param>
/// <param name="FeedForwards">FFNs per layer (HF num_feedforward_networks: ffn.0 … ffn.F−2, then intermediate/output).</param>
/// <param name="HiddenSize">Width of the block input h.</param>
/// <param name="IntraSize">Width of the bottleneck outputs.</param>
public sealed record LayerDataFlow(bool InputBottleneck, bool SharedQueryKeyBottleneck, bool OutputBottleneck, LayerTensor QueryKeyInput,
    LayerTensor ValueInput, LayerTensor AttentionResidual, int FeedForwards, int HiddenSize, int IntraSize)
{
    /// <summary>The data flow of every layer of <paramref name="c"/>.</summary>
    public static LayerDataFlow Of(MobileBertConfig c)
    {
        int f = c.NumFeedforwardNetworks, h = c.HiddenSize, intra = c.IntraBottleneckSize;
        if (!c.UseBottleneck)
            return new(false, false, false, LayerTensor.BlockInput, LayerTensor.BlockInput, LayerTensor.BlockInput, f, h, intra);
        if (c.UseBottleneckAttention)
            return new(true, false, true, LayerTensor.InputBottleneck, LayerTensor.InputBottleneck, LayerTensor.InputBottleneck, f, h, intra);
        if (c.KeyQuerySharedBottleneck)
            return new(true, true, true, LayerTensor.SharedQueryKeyBottleneck, LayerTensor.BlockInput, LayerTensor.InputBottleneck, f, h, intra);
        return new(true, false, true, LayerTensor.BlockInput, LayerTensor.BlockInput, LayerTensor.InputBottleneck, f, h, intra);
    }

    /// <summary>Whether a layer registers bottleneck.attention weights: HF does whenever key_query_shared_bottleneck is set
    /// with bottlenecks, even when bottleneck attention leaves them unused.</summary>
    public static bool RegistersSharedQueryKeyBottleneck(MobileBertConfig c) => c.UseBottleneck && c.KeyQuerySharedBottleneck;

    /// <summary>Width of <paramref name="tensor"/> [rows, width].</summary>
    public int Width(LayerTensor tensor) => tensor == LayerTensor.BlockInput ? HiddenSize : IntraSize;

    /// <summary>Width of the tensor the query and key projections read.</summary>
    public int QueryKeyInputSize => Width(QueryKeyInput);

    /// <summary>Width of the tensor the value projection reads.</summary>
    public int ValueInputSize => Width(ValueInput);

    /// <summary>The tensor <paramref name="which"/> among a layer's three candidates.</summary>
    public T Pick<T>(LayerTensor which, T blockInput, T inputBottleneck, T sharedQueryKey) where T : allows ref struct => which switch
    {
        LayerTensor.BlockInput => blockInput,
        LayerTensor.InputBottleneck => inputBottleneck,
        _ => sharedQueryKey,
    };
}
