using MobileBert.Checkpoints;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Tests.Model;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Api;

/// <summary>Sentence embeddings against the reference forward (padded batch, mean over the attention mask in double).</summary>
public class TextEmbedderTests
{
    static readonly string[] Texts = ["the cat sat on the mat.", "a", "", "some longer sentence about a dog and a cat in a house near a river"];

    static float[][] Reference(string dir, Pooling pooling, bool normalize)
    {
        var model = ModelFolder.Load(dir);
        var tok = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        var enc = Texts.Select(t => tok.Encode(t, null, model.Config.MaxPositionEmbeddings)).ToArray();
        var input = Batching.Pad(enc, tok.PadId);
        var h = model.Forward(input).LastHiddenState;
        int s = input.Seq, d = model.Config.HiddenSize;
        return enc.Select((e, b) =>
        {
            var v = new double[d];
            int n = pooling == Pooling.Cls ? 1 : e.Length;
            for (int t = 0; t < n; t++) for (int j = 0; j < d; j++) v[j] += h[(b * s + t) * d + j];
            double norm = normalize ? Math.Sqrt(v.Sum(x => x * x)) / n : 1;
            return v.Select(x => (float)(x / n / norm)).ToArray();
        }).ToArray();
    }

    [Theory]
    [InlineData(Pooling.Mean, true)]
    [InlineData(Pooling.Mean, false)]
    [InlineData(Pooling.Cls, false)]
    public void EmbeddingsMatchTheReferenceForward(Pooling pooling, bool normalize)
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        using var embedder = TextEmbedder.Load(dir, new EmbedderOptions { Pooling = pooling, Normalize = normalize,
            Predictor = new() { BatchSize = 3 } });
        Assert.Equal(64, embedder.Dimension);
        var ours = embedder.Embed(Texts);
        var expected = Reference(dir, pooling, normalize);
        for (int i = 0; i < Texts.Length; i++)
        {
            Tolerance.AssertClose($"text {i}", expected[i], ours[i], 1e-4);
            if (normalize) Assert.Equal(1.0, Math.Sqrt(ours[i].Sum(x => (double)x * x)), 5);
        }
        Assert.Equal(ours[0], embedder.Embed(Texts[0]));
    }

    [Fact]
    public void QuantizedFolderEmbedsCloseToFloat()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        var model = ModelFolder.Load(dir);
        var q = Path.Combine(TestPaths.NewTempDir(), "int8");
        QuantizedCheckpoint.Save(model, QuantizedWeights.Quantize(model), q, Path.Combine(dir, ModelFolder.VocabFile));
        using var fp32 = TextEmbedder.Load(dir, new EmbedderOptions { Normalize = true });
        using var int8 = TextEmbedder.Load(q, new EmbedderOptions { Normalize = true });
        Assert.True(int8.IsQuantized);
        foreach (var t in Texts) Assert.True(TextEmbedder.Cosine(fp32.Embed(t), int8.Embed(t)) > 0.99, t);
    }

    [Fact]
    public void ASentenceTransformersFolderEmbedsWithItsOwnSettings()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        File.WriteAllText(Path.Combine(dir, "modules.json"), """
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
             {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]
            """);
        Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
        File.WriteAllText(
            Path.Combine(dir, "1_Pooling", "config.json"),
            """{"word_embedding_dimension":64,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}""");
        File.WriteAllText(Path.Combine(dir, "sentence_bert_config.json"), """{"max_seq_length":8,"do_lower_case":false}""");
        using var folder = TextEmbedder.Load(dir);
        Assert.Equal((Pooling.Cls, true, 8), (folder.Pooling, folder.Normalize, folder.MaxSeqLength));
        using var explicitOptions = TextEmbedder.Load(dir, new EmbedderOptions {
            Pooling = Pooling.Cls, Normalize = true, Predictor = new() { MaxSeqLength = 8 } });
        Assert.Equal(explicitOptions.Embed(Texts[3]), folder.Embed(Texts[3]));
        using var overridden = TextEmbedder.Load(dir, new EmbedderOptions { Pooling = Pooling.Mean, Normalize = false });
        Assert.Equal((Pooling.Mean, false), (overridden.Pooling, overridden.Normalize));

        File.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), """{"pooling_mode_max_tokens":true}""");
        var e = Assert.Throws<MobileBert.Checkpoints.CheckpointException>(() => TextEmbedder.Load(dir));
        Assert.Contains("1_Pooling", e.Message);
    }

    [Fact]
    public void MaxSeqLengthBeyondThePositionTableIsRefused()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        Assert.Throws<ArgumentOutOfRangeException>(() => TextEmbedder.Load(dir, new EmbedderOptions { Predictor = new() { MaxSeqLength = 65 } }));
    }

    [Fact]
    public void NamedPromptsGoBeforeTheTextAsSentenceTransformersPutThem()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        const string query = "the query: ";
        var settings = new SentenceTransformersFolder(Pooling.Mean, Normalize: true, MaxSeqLength: 12)
            { Prompts = new Dictionary<string, string> { ["query"] = query, ["doc"] = "a doc: " }, DefaultPromptName = "doc" };
        settings.Write(dir, 64);
        Assert.Equal(settings, SentenceTransformersFolder.Read(dir));   // prompts and the default name round-trip
        using var embedder = TextEmbedder.Load(dir);
        Assert.Equal(["doc", "query"], embedder.Prompts.Keys.Order());
        using var plain = TextEmbedder.Load(dir, new EmbedderOptions { Pooling = Pooling.Mean, Normalize = true,
            Predictor = new() { MaxSeqLength = 12 } });
        File.Delete(Path.Combine(dir, "config_sentence_transformers.json"));
        using var noPrompts = TextEmbedder.Load(dir);
        Assert.Empty(noPrompts.Prompts);
        // The prompt's text goes before the input; the prompt counts toward max_seq_length; no name: the default prompt.
        Assert.Equal(noPrompts.Embed(query + Texts[0]), embedder.Embed(Texts[0], "query"));
        Assert.Equal(noPrompts.Embed("a doc: " + Texts[0]), embedder.Embed(Texts[0]));
        Assert.Equal(noPrompts.Embed(query + Texts[3]), embedder.Embed([Texts[3]], "query")[0]);
        embedder.Encode(Texts[3], out bool cut, "query");
        Assert.True(cut);
        Assert.Equal(plain.Tokenizer.Encode(query + Texts[3], null, int.MaxValue).Length, embedder.TokenCount(Texts[3], "query"));
        Assert.Equal("prompt 'passage' is not defined; the model folder's prompts: query, doc.",
            Assert.Throws<ArgumentException>(() => embedder.Embed(Texts[0], "passage")).Message);
        Assert.Contains("defines no prompts", Assert.Throws<ArgumentException>(() => noPrompts.Embed(Texts[0], "query")).Message);
        Assert.Throws<ArgumentException>(() => TextEmbedder.Load(dir, new EmbedderOptions { PromptName = "query" }));

        // Mean pooling that leaves the prompt out (include_prompt = false) is refused when a prompt applies, not silently ignored.
        (settings with { IncludePrompt = false }).Write(dir, 64);
        using var excluding = TextEmbedder.Load(dir, new EmbedderOptions { Pooling = Pooling.Cls });
        Assert.Equal(noPrompts.Embed(query + Texts[0]).Length, excluding.Embed(Texts[0], "query").Length);   // [CLS]: no prompt rows to drop
        Assert.Contains("include_prompt = false", Assert.Throws<CheckpointException>(() => TextEmbedder.Load(dir)).Message);

        // Malformed prompt settings name the file.
        string file = Path.Combine(dir, "config_sentence_transformers.json");
        foreach (var (json, problem) in new[]
        {
            ("""{"prompts": {"query": 3}}""", "prompts.query must be a string"),
            ("""["query"]""", "must be a JSON object"),
            ("""{"prompts": ["query"]}""", "'prompts' must be an object of name → text"),
            ("""{"prompts": {"query": "q: "}, "default_prompt_name": "doc"}""", "default_prompt_name 'doc' is not one of the prompts"),
        })
        {
            File.WriteAllText(file, json);
            Assert.Equal($"{file}: {problem}.", Assert.Throws<CheckpointException>(() => SentenceTransformersFolder.Read(dir)).Message);
        }
    }
}
