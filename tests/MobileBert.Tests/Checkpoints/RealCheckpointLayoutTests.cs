using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Checkpoints;

/// <summary>
/// A folder laid out like HuggingFace's google/mobilebert-uncased (config.json written from memory of the published
/// one; a MobileBertForPreTraining state dict at full size, including the tied `cls.predictions.decoder.weight` and the
/// `position_ids` buffer older exports carry). Weights are random: this checks names, shapes and the full-size path.
/// </summary>
public class RealCheckpointLayoutTests
{
    [Fact]
    public void FullSizePretrainingCheckpointLoadsAndRuns()
    {
        var configPath = Path.Combine(TestPaths.RepoRoot, "tests", "MobileBert.Tests", "Checkpoints", "real", "mobilebert-uncased-config.json");
        var config = ConfigJson.Load(configPath);
        var source = new MobileBertModel(config, ModelHeads.Pretraining);
        source.InitializeWeights(11);
        Assert.False(source.HasPooler && source.Pooler!.Dense is not null);   // classifier_activation = false: no pooler weights

        var dir = TestPaths.NewTempDir();
        File.Copy(configPath, Path.Combine(dir, "config.json"));
        File.Copy(TestPaths.Vocab, Path.Combine(dir, "vocab.txt"));
        var tensors = source.Store.Parameters.Select(p => (p.Name, p.Shape, source.Store.Data.AsMemory((int)p.Offset, p.Length))).ToList();
        tensors.Add(("cls.predictions.decoder.weight", source.Embeddings.WordEmbeddings.Shape,
            source.Store.Data.AsMemory((int)source.Embeddings.WordEmbeddings.Offset, source.Embeddings.WordEmbeddings.Length)));
        tensors.Add(("mobilebert.embeddings.position_ids", [1, 512], new float[512]));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors.Select(t => (t.Item1, t.Item2, (ReadOnlyMemory<float>)t.Item3)));

        var model = ModelFolder.Load(dir);
        Assert.Equal(ModelHeads.Pretraining, model.Heads);
        Assert.Equal(24.58, MobileBertModel.CountParameters(config) / 1e6, 2);   // HF: MobileBertModel of google/mobilebert-uncased = 24.58M
        Assert.Equal(source.Store.Data, model.Store.Data);

        var tok = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, "vocab.txt"));
        var enc = tok.Encode("MobileBERT runs on small devices.", "It is a thin BERT.");
        var input = Batching.Pad([enc], tok.PadId);
        var o = model.Forward(input);
        Assert.Equal(enc.Length * 512, o.LastHiddenState.Length);
        Assert.Equal(enc.Length * 30522, o.MlmLogits!.Length);
        Assert.All(o.NspLogits!, v => Assert.True(float.IsFinite(v)));
        Assert.All(o.MlmLogits, v => Assert.True(float.IsFinite(v)));
    }
}
