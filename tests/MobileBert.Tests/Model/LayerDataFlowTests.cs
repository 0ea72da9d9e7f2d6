using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

/// <summary>The layer data flow of each preset family, against HF MobileBertLayer / Bottleneck.forward.</summary>
public class LayerDataFlowTests
{
    const LayerTensor H = LayerTensor.BlockInput, Li = LayerTensor.InputBottleneck, Qk = LayerTensor.SharedQueryKeyBottleneck;

    [Theory]
    // MobileBERT: Q/K ← the shared query/key bottleneck, V ← h, residual ← the input bottleneck (HF key_query_shared_bottleneck).
    [InlineData("mobilebert", true, true, Qk, H, Li, 4, 512, 128, 128, 512)]
    // MobileBERT-TINY (use_bottleneck_attention): Q/K/V and the residual ← the input bottleneck.
    [InlineData("mobilebert-tiny", true, false, Li, Li, Li, 2, 512, 128, 128, 128)]
    // IB-BERT: Q/K/V ← h (512 → 1024), residual ← the input bottleneck (not expressible in HF).
    [InlineData("ib-bert-large", true, false, H, H, Li, 1, 512, 1024, 512, 512)]
    // Plain BERT: no bottleneck, everything ← h.
    [InlineData("bert-base", false, false, H, H, H, 1, 768, 768, 768, 768)]
    public void EachPresetFamilyHasHfsDataFlow(string preset, bool bottleneck, bool sharedQk, LayerTensor qkIn, LayerTensor vIn,
        LayerTensor residual, int ffns, int hidden, int intra, int qkWidth, int vWidth)
    {
        var f = LayerDataFlow.Of(Presets.All[preset]());
        Assert.Equal(new LayerDataFlow(bottleneck, sharedQk, bottleneck, qkIn, vIn, residual, ffns, hidden, intra), f);
        Assert.Equal((qkWidth, vWidth), (f.QueryKeyInputSize, f.ValueInputSize));
    }

    [Fact]
    public void TinyRegistersTheUnusedSharedBottleneckWhenTheFlagIsSet()
    {
        // HF registers bottleneck.attention whenever key_query_shared_bottleneck is set; bottleneck attention leaves it unused.
        var c = Presets.MobileBertTiny(); c.KeyQuerySharedBottleneck = true;
        Assert.Equal(LayerDataFlow.Of(Presets.MobileBertTiny()), LayerDataFlow.Of(c));
        Assert.True(LayerDataFlow.RegistersSharedQueryKeyBottleneck(c));
        Assert.NotNull(new MobileBertModel(Small(c), allocate: false).Layers[0].Bottleneck!.Attention);
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
