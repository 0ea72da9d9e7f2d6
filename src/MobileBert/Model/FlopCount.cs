namespace MobileBert.Model;

/// <summary>Analytic multiply-add count of a forward pass (2 FLOP per multiply-add; element-wise work ignored).</summary>
public static class FlopCount
{
    /// <summary>Backbone forward FLOPs (embeddings, all layers, pooler) for a [batch, seq] input.</summary>
    public static double Forward(MobileBertConfig c, int batch, int seq)
    {
        double r = (double)batch * seq, h = c.HiddenSize, t = c.TrueHiddenSize, i = c.IntermediateSize;
        double embedding = c.UsesEmbeddingTransformation ? 2 * r * c.EmbeddedInputSize * h : 0;
        double layer = 0;
        var flow = LayerDataFlow.Of(c);
        if (flow.InputBottleneck) layer += 2 * r * h * c.IntraBottleneckSize;            // bottleneck.input
        if (flow.SharedQueryKeyBottleneck) layer += 2 * r * h * c.IntraBottleneckSize;   // bottleneck.attention
        if (flow.OutputBottleneck) layer += 2 * r * t * h;                               // output bottleneck
        layer += 2 * (2 * r * c.QueryKeyInputSize * t) + 2 * r * c.ValueInputSize * t;  // Q, K, V
        layer += 4.0 * batch * seq * seq * t;                                            // Q·Kᵀ and P·V over all heads
        layer += 2 * r * t * t;                                                          // attention output dense
        layer += c.NumFeedforwardNetworks * 4 * r * t * i;                               // stacked FFNs
        double pooler = c.ClassifierActivation ? 2.0 * batch * h * h : 0;
        return embedding + c.NumHiddenLayers * layer + pooler;
    }
}
