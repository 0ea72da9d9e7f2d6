using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Checkpoints;

public class ModelFolderTests
{
    static ModelInput SmallInput(MobileBertConfig c)
    {
        var rng = new Random(3);
        var ids = Enumerable.Range(0, 2 * 9).Select(_ => rng.Next(1, c.VocabSize)).ToArray();
        var mask = Enumerable.Range(0, 18).Select(i => i % 9 < 7 || i < 9 ? 1 : 0).ToArray();
        return new ModelInput(2, 9, ids, mask);
    }

    [Fact]
    public void SaveThenLoadReproducesOutputsAndConfig()
    {
        var model = new MobileBertModel(Presets.MobileBertMicro(), ModelHeads.Pretraining | ModelHeads.QuestionAnswering);
        model.InitializeWeights(5);
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir, TestPaths.Vocab);
        Assert.True(File.Exists(Path.Combine(dir, "vocab.txt")));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
        var loaded = ModelFolder.Load(dir);
        Assert.Equal(model.Heads, loaded.Heads);
        Assert.Equal([ModelFolder.ArchitectureName(model.Heads, model.Config.ModelType)], loaded.Config.Architectures);
        var saved = loaded.Config.Clone(); saved.Architectures = [];
        Assert.Equal(ConfigJson.ToJson(model.Config), ConfigJson.ToJson(saved));
        var input = SmallInput(model.Config);
        var a = model.Forward(input); var b = loaded.Forward(input);
        Assert.Equal(a.LastHiddenState, b.LastHiddenState);
        Assert.Equal(a.MlmLogits, b.MlmLogits);
        Assert.Equal(a.QaStartLogits, b.QaStartLogits);
        // The tied decoder is not stored twice.
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        Assert.False(file.Contains("cls.predictions.decoder.weight"));
        Assert.Equal(model.Store.Parameters.Count, file.Names.Count);
    }

    [Fact]
    public void LoadsBareBackboneNamesAndIgnoresPositionIdsBuffer()
    {
        var model = new MobileBertModel(Presets.MobileBertMicro());
        model.InitializeWeights(9);
        var dir = TestPaths.NewTempDir();
        ConfigJson.Save(model.Config, Path.Combine(dir, "config.json"));
        var tensors = model.Store.Parameters.Select(p => (p.Name["mobilebert.".Length..], p.Shape, model.Store.Span(p).ToArray())).ToList();
        tensors.Add(("embeddings.position_ids", new[] { 1, model.Config.MaxPositionEmbeddings }, new float[model.Config.MaxPositionEmbeddings]));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var loaded = ModelFolder.Load(dir);
        Assert.Equal(ModelHeads.None, loaded.Heads);
        Assert.Equal(model.Store.Data, loaded.Store.Data);
    }

    [Fact]
    public void AStoredMlmDecoderMustEqualTheWordEmbeddings()
    {
        var model = new MobileBertModel(Presets.MobileBertMicro(), ModelHeads.MaskedLm);
        model.InitializeWeights(5);
        var dir = TestPaths.NewTempDir();
        ConfigJson.Save(model.Config, Path.Combine(dir, "config.json"));
        var words = model.Store.Span(model.Embeddings.WordEmbeddings).ToArray();
        void Write(float[] decoder) => SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
            model.Store.Parameters.Select(p => (p.Name, p.Shape, model.Store.Span(p).ToArray()))
                .Append(("cls.predictions.decoder.weight", model.Embeddings.WordEmbeddings.Shape, decoder)).ToList());
        Write(words);   // tied, stored twice (as torch.save writes a state dict): loads
        Assert.Equal(model.Store.Data, ModelFolder.Load(dir).Store.Data);
        var untied = (float[])words.Clone();
        untied[7] += 0.5f;
        Write(untied);   // an untied decoder would be replaced by the embeddings without a word: refused
        var e = Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir));
        Assert.Contains("'cls.predictions.decoder.weight' differs from the word embeddings", e.Message);
        Assert.NotNull(ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.None }));   // without the MLM head it is not read
    }

    [Fact]
    public void MissingWrongShapeAndUnexpectedTensorsAreListed()
    {
        var model = new MobileBertModel(Presets.MobileBertMicro());
        model.InitializeWeights(1);
        var dir = TestPaths.NewTempDir();
        ConfigJson.Save(model.Config, Path.Combine(dir, "config.json"));
        var tensors = model.Store.Parameters
            .Where(p => p.Name != "mobilebert.encoder.layer.1.attention.self.key.weight")
            .Select(p => (p.Name, p.Name == "mobilebert.pooler.dense.bias" ? new[] { 3 } : p.Shape,
            p.Name == "mobilebert.pooler.dense.bias" ? new float[3] : model.Store.Span(p).ToArray()))
            .Append(("mobilebert.encoder.layer.7.output.dense.weight", new[] { 2, 2 }, new float[4])).ToList();
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var e = Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("missing (1): mobilebert.encoder.layer.1.attention.self.key.weight", e.Message);
        Assert.Contains("mobilebert.pooler.dense.bias: file has [3], model needs [64]", e.Message);
        Assert.Contains("unexpected (1): mobilebert.encoder.layer.7.output.dense.weight", e.Message);
    }

    [Fact]
    public void ConfigThatDoesNotMatchTheWeightsIsAClearError()
    {
        var dir = TestPaths.NewTempDir();
        File.Copy(TestPaths.Golden("model", "tiny", "weights.safetensors"), Path.Combine(dir, "model.safetensors"));
        var c = ConfigJson.Load(TestPaths.Golden("model", "tiny", "config.json"));
        c.NumHiddenLayers = 3;
        ConfigJson.Save(c, Path.Combine(dir, "config.json"));
        var e = Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.Pretraining }));
        Assert.Contains("mobilebert.encoder.layer.2.", e.Message);
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        var dir = TestPaths.NewTempDir();
        Assert.Contains("config.json", Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir)).Message);
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => ModelFolder.Load(Path.Combine(dir, "nope"))).Message);
        File.Copy(TestPaths.Golden("model", "tiny", "config.json"), Path.Combine(dir, "config.json"));
        Assert.Contains("model.safetensors", Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir)).Message);
    }

    [Fact]
    public void HeadsCanBeChosenDroppedOrFreshlyInitialised()
    {
        var dir = TestPaths.NewTempDir();
        File.Copy(TestPaths.Golden("model", "tiny", "weights.safetensors"), Path.Combine(dir, "model.safetensors"));
        File.Copy(TestPaths.Golden("model", "tiny", "config.json"), Path.Combine(dir, "config.json"));
        // A checkpoint with many heads loads as a plain MLM model (HF ForMaskedLM: no pooler) ...
        var mlm = ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.MaskedLm });
        Assert.Null(mlm.Nsp); Assert.NotNull(mlm.Mlm);
        // ... and a fine-tuning model gets a fresh head where the file has none of that shape.
        var c = ConfigJson.Load(Path.Combine(dir, "config.json"));
        Assert.Equal(2, c.NumLabels);   // the golden classifier has 3 rows: mismatch must be reported, not silently fixed
        var e = Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.SequenceClassification }));
        Assert.Contains("classifier.weight", e.Message);
    }

    [Theory]
    [InlineData("BertForTokenClassification")]
    [InlineData("BertForMultipleChoice")]
    public void APerTokenOrPerChoiceClassifierIsNotReadAsASequenceClassifier(string architecture)
    {
        // The golden BERT checkpoint (classifier.* of 3 rows) under a config that names a token or multiple-choice model.
        var dir = TestPaths.NewTempDir();
        File.Copy(TestPaths.Golden("model", "bert_tiny", "weights.safetensors"), Path.Combine(dir, "model.safetensors"));
        var config = ConfigJson.Load(TestPaths.Golden("model", "bert_tiny", "config.json"));
        config.Architectures = [architecture];
        ConfigJson.Save(config, Path.Combine(dir, "config.json"));
        Assert.Equal(architecture, ModelFolder.UnsupportedClassifier(config));
        var model = ModelFolder.Load(dir);
        Assert.Null(model.Classifier);                                          // its other heads load; the classifier is left out
        Assert.NotNull(model.Mlm);
        // Fine-tuning for sequence classification starts a fresh head instead of the file's per-token one.
        var tuned = ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.SequenceClassification, InitializeMissingHeads = true });
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        Assert.NotEqual(file["classifier.weight"].ToFloat32(), tuned.Store.Span(tuned.Store["classifier.weight"]).ToArray());
        Assert.Contains("classifier.weight", Assert.Throws<CheckpointException>(() =>
            ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.SequenceClassification })).Message);   // missing, not silently read
        File.WriteAllLines(Path.Combine(dir, ModelFolder.VocabFile), File.ReadLines(TestPaths.Vocab).Take(config.VocabSize));
        var e = Assert.Throws<CheckpointException>(() => TextClassifier.Load(dir));
        Assert.Equal($"{dir}: the model has no sequence-classification head (classifier.*); config.json names {architecture}, whose " +
            "classifier works per token or per choice, which is not supported (the backbone loads for encode, embed and fine-tuning).", e.Message);
    }

    [Fact]
    public void FreshHeadsDoNotDisturbLoadedWeights()
    {
        var source = new MobileBertModel(Presets.MobileBertMicro(), ModelHeads.Pretraining);
        source.InitializeWeights(3);
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(source, dir);
        var tuned = ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.SequenceClassification, InitializeMissingHeads = true, Seed = 99 });
        foreach (var p in tuned.Store.Parameters)
        {
            if (p.Name.StartsWith("classifier.", StringComparison.Ordinal)) continue;
            Assert.Equal(source.Store.Span(source.Store[p.Name]).ToArray(), tuned.Store.Span(p).ToArray());
        }
        var w = tuned.Store.Span(tuned.Store["classifier.weight"]).ToArray();
        Assert.Contains(w, v => v != 0);                                        // freshly initialised, not left at zero
        Assert.All(tuned.Store.Span(tuned.Store["classifier.bias"]).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void GoldenOutputsSurviveSaveAndReload()
    {
        var (model, input) = GoldenForwardTests.LoadGolden("tiny");
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir);
        var reloaded = ModelFolder.Load(dir);
        Assert.Equal(model.Forward(input).MlmLogits, reloaded.Forward(input).MlmLogits);
    }
}
