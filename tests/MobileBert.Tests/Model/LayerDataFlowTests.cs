using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

/// <summary>The layer data flow of each preset family, against HF MobileBertLayer / Bottleneck.forward.</summary>
public class LayerDataFlowTests
{
    const LayerTensor H = LayerTensor.BlockInput, Li = LayerTensor.InputBottleneck, Qk = LayerTensor.SharedQueryKeyBottleneck;

    [Fact]
    public void MobileBertReadsQueryKeyFromTheSharedBottleneckAndValueFromTheBlockInput()
    {
        var f = LayerDataFlow.Of(Presets.MobileBert());
        Assert.Equal(new LayerDataFlow(true, true, true, Qk, H, Li, 4, 512, 128), f);
        Assert.Equal((128, 512), (f.QueryKeyInputSize, f.ValueInputSize));
    }

    [Fact]
    public void TinyReadsQueryKeyAndValueFromTheInputBottleneck()
    {
        var f = LayerDataFlow.Of(Presets.MobileBertTiny());
        Assert.Equal(new LayerDataFlow(true, false, true, Li, Li, Li, 2, 512, 128), f);
        Assert.Equal((128, 128), (f.QueryKeyInputSize, f.ValueInputSize));
        // HF registers bottleneck.attention whenever key_query_shared_bottleneck is set; bottleneck attention leaves it unused.
        var c = Presets.MobileBertTiny(); c.KeyQuerySharedBottleneck = true;
        Assert.Equal(f, LayerDataFlow.Of(c));
        Assert.True(LayerDataFlow.RegistersSharedQueryKeyBottleneck(c));
        Assert.NotNull(new MobileBertModel(Small(c), allocate: false).Layers[0].Bottleneck!.Attention);
    }

    [Fact]
    public void IbBertReadsQueryKeyValueFromTheBlockInputWithABottleneckResidual()
    {
        var f = LayerDataFlow.Of(Presets.IbBertLarge());
        Assert.Equal(new LayerDataFlow(true, false, true, H, H, Li, 1, 512, 1024), f);
        Assert.Equal((512, 512), (f.QueryKeyInputSize, f.ValueInputSize));
    }

    [Fact]
    public void BertHasNoBottleneck()
    {
        var f = LayerDataFlow.Of(Presets.BertBase());
        Assert.Equal(new LayerDataFlow(false, false, false, H, H, H, 1, 768, 768), f);
        Assert.False(LayerDataFlow.RegistersSharedQueryKeyBottleneck(Presets.BertBase()));
    }

    [Fact]
    public void ModelLayersAndProjectionWidthsFollowTheFlow()
    {
        foreach (var name in new[] { "mobilebert", "mobilebert-tiny", "ib-bert-large", "bert-base" })
        {
            var c = Small(Presets.All[name]());
            var flow = LayerDataFlow.Of(c);
            var layer = new MobileBertModel(c, allocate: false).Layers[0];
            Assert.Equal(flow, layer.Flow);
            Assert.Equal(flow.QueryKeyInputSize, layer.Attention.Query.In);
            Assert.Equal(flow.ValueInputSize, layer.Attention.Value.In);
            Assert.Equal(flow.InputBottleneck, layer.Bottleneck is not null);
            Assert.Equal(flow.OutputBottleneck, layer.OutputBottleneck is not null);
            Assert.Equal(flow.FeedForwards, layer.StackedFfns.Length + 1);
        }
    }

    [Fact]
    public void PickSelectsTheNamedTensor() =>
        Assert.Equal(("h", "li", "qk"), (LayerDataFlow.Of(Presets.MobileBert()).Pick(H, "h", "li", "qk"),
            LayerDataFlow.Of(Presets.MobileBert()).Pick(Li, "h", "li", "qk"), LayerDataFlow.Of(Presets.MobileBert()).Pick(Qk, "h", "li", "qk")));

    static MobileBertConfig Small(MobileBertConfig c) { c.NumHiddenLayers = 1; return c; }
}
