using MobileBert.Checkpoints;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

/// <summary>
/// Plain BERT checkpoints (HF modeling_bert.py goldens in golden/model/bert_tiny): both name styles load, saving writes the
/// names HF's BertFor* classes load, and the MLM transform matches HF. The full-output parity of BERT runs with the
/// MobileBERT configs in <see cref="GoldenForwardTests"/>, the backward in GoldenBackwardTests, the engine, int8 and ONNX tests.
/// </summary>
public class BertCheckpointTests
{
    const double Rel = 1e-4;
    static string Golden(string file) => TestPaths.Golden("model", "bert_tiny", file);
    static float[] Ref(string file) => Npy.Read(Golden(file + ".npy")).ToFloat32();

    [Fact]
    public void BareBertModelNamesLoadTheSameBackbone()
    {
        var (_, input) = GoldenForwardTests.LoadGolden("bert_tiny");
        var config = ConfigJson.Load(Golden("config.json"));
        using var bare = SafeTensorsFile.Open(Golden("weights_bare.safetensors"));
        Assert.DoesNotContain(bare.Names, n => n.StartsWith("bert.", StringComparison.Ordinal));
        var model = ModelFolder.Load(config, bare);
        Assert.Equal(ModelHeads.None, model.Heads);
        Assert.True(model.HasPooler);
        var o = model.Forward(input);
        Tolerance.AssertClose("last_hidden_state", Ref("last_hidden_state"), o.LastHiddenState, Rel);
        Tolerance.AssertClose("pooler_output", Ref("pooler_output"), o.PooledOutput, Rel);
    }

    [Fact]
    public void SavingWritesHuggingFaceBertNames()
    {
        var (model, input) = GoldenForwardTests.LoadGolden("bert_tiny");
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir);
        using (var saved = SafeTensorsFile.Open(Path.Combine(dir, ModelFolder.WeightsFile)))
        using (var golden = SafeTensorsFile.Open(Golden("weights.safetensors")))
            Assert.Equal(golden.Names.Order(StringComparer.Ordinal), saved.Names.Order(StringComparer.Ordinal));
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, ModelFolder.ConfigFile)))!;
        Assert.Equal("bert", json["model_type"]!.GetValue<string>());
        Assert.Null(json["embedding_size"]);
        var back = ModelFolder.Load(dir);
        Assert.Equal(model.Heads, back.Heads);
        Assert.Equal(model.Forward(input).MlmLogits, back.Forward(input).MlmLogits);
    }

    [Fact]
    public void ArchitectureNamesFollowTheModelType()
    {
        Assert.Equal("BertForSequenceClassification", ModelFolder.ArchitectureName(ModelHeads.SequenceClassification, ModelType.Bert));
        Assert.Equal("BertModel", ModelFolder.ArchitectureName(ModelHeads.None, ModelType.Bert));
        Assert.Equal("MobileBertForPreTraining", ModelFolder.ArchitectureName(ModelHeads.Pretraining, ModelType.MobileBert));
    }

    [Fact]
    public void MlmTransformMatchesHuggingFace()
    {
        var (model, input) = GoldenForwardTests.LoadGolden("bert_tiny");
        var o = model.Forward(input);
        int rows = input.Batch * input.Seq, h = model.Config.HiddenSize;
        var transformed = new float[rows * h];
        model.Mlm!.Forward(o.LastHiddenState, rows, new float[rows * model.Config.VocabSize], 1, transformed);
        Tolerance.AssertClose("mlm_transform_output", Ref("mlm_transform_output"), transformed, Rel);
        Assert.Null(model.Mlm.ExtraWeight);   // BERT's decoder is the tied word embeddings alone
    }

    [Fact]
    public void TensorFlowEraNormNamesLoad()
    {
        var config = ConfigJson.Load(Golden("config.json"));
        using var bare = SafeTensorsFile.Open(Golden("weights_bare.safetensors"));
        var renamed = bare.Names.Select(n => (Name: n.EndsWith("LayerNorm.weight", StringComparison.Ordinal) ? n[..^6] + "gamma"
            : n.EndsWith("LayerNorm.bias", StringComparison.Ordinal) ? n[..^4] + "beta" : n, Entry: bare[n])).ToList();
        Assert.Contains(renamed, r => r.Name.EndsWith(".gamma", StringComparison.Ordinal));
        var path = Path.Combine(TestPaths.NewTempDir(), "old.safetensors");
        SafeTensorsWriter.Write(path, renamed.Select(r => (r.Name, r.Entry.Shape, r.Entry.ToFloat32())));
        using var old = SafeTensorsFile.Open(path);
        var a = ModelFolder.Load(config, old);
        var b = ModelFolder.Load(config, bare);
        Assert.Equal(b.Store.Data, a.Store.Data);
    }
}
