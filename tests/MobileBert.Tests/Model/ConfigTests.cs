using MobileBert.Kernels;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

public class ConfigTests
{
    [Fact]
    public void GoldenConfigsParseWithHfFieldValues()
    {
        var c = ConfigJson.Load(TestPaths.Golden("model", "tiny", "config.json"));
        Assert.Equal(64, c.HiddenSize); Assert.Equal(32, c.EmbeddingSize); Assert.Equal(32, c.TrueHiddenSize);
        Assert.Equal(NormalizationType.NoNorm, c.NormalizationType); Assert.Equal(Activation.Relu, c.HiddenAct);
        Assert.True(c.TrigramInput); Assert.True(c.KeyQuerySharedBottleneck); Assert.Equal(2, c.NumFeedforwardNetworks);
        var b = ConfigJson.Load(TestPaths.Golden("model", "tiny_bottleneck_attn", "config.json"));
        Assert.Equal(Activation.GeluNew, b.HiddenAct); Assert.True(b.UseBottleneckAttention); Assert.False(b.ClassifierActivation);
        Assert.Equal(48, b.ValueInputSize);
        var n = ConfigJson.Load(TestPaths.Golden("model", "tiny_no_bottleneck", "config.json"));
        Assert.Equal(64, n.TrueHiddenSize); Assert.Equal(64, n.QueryKeyInputSize);
    }

    [Fact]
    public void BertConfigMapsOntoThePlainModel()
    {
        var c = ConfigJson.Load(TestPaths.Golden("model", "bert_tiny", "config.json"));
        Assert.Equal(ModelType.Bert, c.ModelType); Assert.Equal("bert.", c.BackbonePrefix);
        Assert.Equal(64, c.HiddenSize); Assert.Equal(64, c.EmbeddingSize); Assert.Equal(64, c.TrueHiddenSize);
        Assert.Equal(2, c.NumHiddenLayers); Assert.Equal(4, c.NumAttentionHeads); Assert.Equal(128, c.IntermediateSize);
        Assert.False(c.TrigramInput); Assert.False(c.UseBottleneck); Assert.False(c.UsesEmbeddingTransformation);
        Assert.Equal(1, c.NumFeedforwardNetworks); Assert.Equal(NormalizationType.LayerNorm, c.NormalizationType);
        Assert.Equal(Activation.Gelu, c.HiddenAct); Assert.True(c.ClassifierActivation); Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], c.Labels);
        foreach (NormSite site in Enum.GetValues<NormSite>()) Assert.Equal(1e-12f, c.EpsFor(site));   // no MobileBERT 1e-5 quirk
        // A minimal BERT config takes BertConfig's defaults (bert-base-uncased).
        var d = ConfigJson.Parse("{\"model_type\":\"bert\"}", "c.json", out var warnings);
        Assert.Empty(warnings);
        Assert.Equal(ConfigJson.ToJson(Presets.BertBase()), ConfigJson.ToJson(d));
    }

    [Fact]
    public void BertPresetsHaveTheRealModelsParameterCounts()
    {
        Assert.Equal(109_482_240, MobileBertModel.CountParameters(Presets.BertBase()));     // bert-base-uncased BertModel
        Assert.Equal(22_713_216, MobileBertModel.CountParameters(Presets.MiniLmL6()));     // all-MiniLM-L6-v2 BertModel
    }

    [Fact]
    public void RoundTripKeepsEveryField()
    {
        foreach (var (name, make) in Presets.All)
        {
            var c = make();
            c.Labels = ["neg", "pos", "neutral"]; c.ProblemType = "single_label_classification";
            var back = ConfigJson.Parse(ConfigJson.ToJson(c), name, out var warnings);
            Assert.Empty(warnings);
            Assert.Equal(ConfigJson.ToJson(c), ConfigJson.ToJson(back));
            Assert.Equal(c.Labels, back.Labels);
        }
    }

    [Theory]
    [InlineData("{\"model_type\":\"roberta\"}", "model_type")]
    [InlineData("{\"model_type\":\"bert\",\"embedding_size\":128}", "embedding_size")]
    [InlineData("{\"model_type\":\"bert\",\"use_bottleneck\":true}", "use_bottleneck")]
    [InlineData("{\"model_type\":\"bert\",\"position_embedding_type\":\"relative_key\"}", "position_embedding_type")]
    [InlineData("{\"model_type\":\"bert\",\"is_decoder\":true}", "is_decoder")]
    [InlineData("{\"model_type\":\"bert\",\"hidden_size\":64,\"num_attention_heads\":5}", "num_attention_heads")]
    [InlineData("{\"model_type\":\"bert\",\"hidden_act\":\"silu\"}", "hidden_act")]
    [InlineData("{\"hidden_act\":\"swish\"}", "hidden_act")]
    [InlineData("{\"normalization_type\":\"batch_norm\"}", "normalization_type")]
    [InlineData("{\"hidden_size\":\"512\"}", "hidden_size")]
    [InlineData("{\"hidden_size\":512.5}", "hidden_size")]
    [InlineData("{\"num_attention_heads\":3}", "num_attention_heads")]
    [InlineData("{\"true_hidden_size\":512}", "true_hidden_size")]
    [InlineData("{\"embedding_size\":1024}", "embedding_size")]
    [InlineData("{\"use_bottleneck\":\"yes\"}", "use_bottleneck")]
    [InlineData("{\"num_hidden_layers\":0}", "num_hidden_layers")]
    [InlineData("{\"layer_norm_eps\":-1}", "layer_norm_eps")]
    [InlineData("{\"num_labels\":2,\"id2label\":{\"0\":\"a\",\"1\":\"b\",\"2\":\"c\"}}", "num_labels")]
    [InlineData("{\"id2label\":{\"0\":\"a\",\"5\":\"b\"}}", "id2label")]
    [InlineData("[1,2]", "object")]
    [InlineData("{not json", "invalid JSON")]
    public void BadConfigNamesTheField(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigJson.Parse(json, "my/config.json", out _));
        Assert.Contains("my/config.json", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void UnknownFieldsAreReportedNotFatal()
    {
        ConfigJson.Parse("{\"model_type\":\"mobilebert\",\"hiden_size\":3}", "c.json", out var warnings);
        Assert.Contains(warnings, w => w.Contains("hiden_size"));
    }

    [Fact]
    public void PresetShapesFollowThePaper()
    {
        // Counts as HuggingFace counts MobileBertModel (backbone + pooler); paper figures in comments.
        Assert.False(Presets.MobileBert().ClassifierActivation);                                  // google/mobilebert-uncased: no pooler dense
        Assert.Equal(24.58, MobileBertModel.CountParameters(Presets.MobileBert()) / 1e6, 2);      // paper 25.3M
        var withPoolerDense = Presets.MobileBert(); withPoolerDense.ClassifierActivation = true;
        Assert.Equal(24.84, MobileBertModel.CountParameters(withPoolerDense) / 1e6, 2);           // + 512×512 + 512
        Assert.Equal(15.75, MobileBertModel.CountParameters(Presets.MobileBertTiny()) / 1e6, 2);  // paper 15.1M
        Assert.Equal(294.47, MobileBertModel.CountParameters(Presets.IbBertLarge()) / 1e6, 2);    // paper 293M
        var teacher = Presets.IbBertLarge();
        Assert.Equal(512, teacher.QueryKeyInputSize); Assert.Equal(512, teacher.ValueInputSize); Assert.Equal(1024, teacher.TrueHiddenSize);
        Assert.Equal(256, teacher.AttentionHeadSize);
        var student = Presets.MobileBert();
        Assert.Equal(128, student.QueryKeyInputSize); Assert.Equal(512, student.ValueInputSize); Assert.Equal(32, student.AttentionHeadSize);
        // Student and teacher of each pair share inter-block width, embedding size and vocabulary (knowledge transfer needs it).
        foreach (var (s, t) in new[] { (Presets.MobileBert(), Presets.IbBertLarge()), (Presets.MobileBertSmall(), Presets.IbBertSmall()) })
        {
            Assert.Equal(t.HiddenSize, s.HiddenSize); Assert.Equal(t.EmbeddingSize, s.EmbeddingSize); Assert.Equal(t.VocabSize, s.VocabSize);
        }
        // ≈ 5.3 GFLOP per sequence of 128 tokens for the full model.
        Assert.InRange(FlopCount.Forward(Presets.MobileBert(), 1, 128) / 1e9, 5.2, 5.5);
    }

    [Fact]
    public void ResolveNamesPresetsOrFiles()
    {
        Assert.Equal(1024, Presets.Resolve("ib-bert-large").IntraBottleneckSize);
        Assert.Equal(64, Presets.Resolve(TestPaths.Golden("model", "tiny", "config.json")).HiddenSize);
        var e = Assert.Throws<ConfigException>(() => Presets.Resolve("mobilebert-huge"));
        Assert.Contains("mobilebert-tiny", e.Message);
    }
}
