using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Export;
using MobileBert.Import;
using MobileBert.Model;
using MobileBert.Tests.Export;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Import;

/// <summary>ONNX → model folder: the imported folder loads and computes what ONNX Runtime computes on the original graph;
/// our own BERT export imports back to the same tensors; vocab, config and command-line handling.</summary>
[Collection("Console")]   // redirects the process-wide Console.Error
public class OnnxImporterTests
{
    const double Rel = 1e-4;

    /// <summary>Rows: unpadded, right-padded, left-padded; both token types.</summary>
    static ModelInput PaddedInput(int vocab, int batch = 3, int seq = 7)
    {
        var rng = new Random(7);
        var ids = new int[batch * seq]; var mask = new int[batch * seq]; var types = new int[batch * seq];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
            {
                int i = b * seq + t;
                ids[i] = rng.Next(1, vocab);
                types[i] = t >= seq / 2 ? 1 : 0;
                mask[i] = b switch { 0 => 1, 1 => t < seq - 2 ? 1 : 0, _ => t >= 2 ? 1 : 0 };
            }
        return new ModelInput(batch, seq, ids, mask, types);
    }

    static void AssertLikeOrt(byte[] onnx, MobileBertModel model, ModelInput input, string poolerOutput)
    {
        var ort = OrtRunner.Run(onnx, input);
        model.Threads = 2;
        var ours = model.Forward(input);
        Tolerance.AssertClose("last_hidden_state", ort["last_hidden_state"], ours.LastHiddenState, Rel);
        Tolerance.AssertClose("pooler_output", ort[poolerOutput], ours.PooledOutput, Rel);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnImportedPyTorchStyleGraphComputesWhatOnnxRuntimeComputes(bool fusedLayerNorm)
    {
        var b = new TinyBertOnnx { FusedLayerNorm = fusedLayerNorm };
        var onnx = b.Build();
        string dir = TestPaths.NewTempDir();
        OnnxImporter.Import(onnx, "tiny.onnx", dir, vocabText: null);
        var config = ConfigJson.Load(Path.Combine(dir, ModelFolder.ConfigFile));
        Assert.True(config.IsBert);
        Assert.Equal(["BertModel"], config.Architectures);
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, ModelFolder.WeightsFile)))
            Assert.Equal(b.Weights.Keys.Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));   // bare BertModel names
        AssertLikeOrt(onnx, ModelFolder.Load(dir), PaddedInput(b.Vocab), "pooler_output");
    }

    [Theory]
    [InlineData(17)]
    [InlineData(13)]
    public void OurOwnBertExportImportsBackToTheSameTensors(int opset)
    {
        // Gemm linears with named [out, in] weights, LayerNormalization (17) or its decomposition (13), Concat head shapes.
        var (golden, input) = GoldenForwardTests.LoadGolden("bert_tiny");
        var backbone = new MobileBertModel(golden.Config, ModelHeads.None, pooler: true);
        foreach (var p in backbone.Store.Parameters) golden.Store.Span(golden.Store[p.Name]).CopyTo(backbone.Store.Span(p));
        var onnx = OnnxExporter.ExportToBytes(backbone, new OnnxExportOptions { Opset = opset });
        string dir = TestPaths.NewTempDir();
        var shape = OnnxImporter.Import(onnx, "bert_tiny.onnx", dir, vocabText: null);
        var c = golden.Config;
        Assert.Equal((c.NumAttentionHeads, c.LayerNormEps, c.HiddenAct), (shape.NumAttentionHeads, shape.LayerNormEps, shape.HiddenAct));
        var imported = ModelFolder.Load(dir);
        foreach (var p in backbone.Store.Parameters)
            Assert.Equal(backbone.Store.Span(p).ToArray(), imported.Store.Span(imported.Store[p.Name]).ToArray());
        AssertLikeOrt(onnx, imported, input, "pooler_output");
    }

    [Fact]
    public void ExportsWithTaskHeadsOrInt8WeightsAreRefused()
    {
        var (golden, _) = GoldenForwardTests.LoadGolden("bert_tiny");
        var withHeads = OnnxExporter.ExportToBytes(golden, new OnnxExportOptions { Opset = 17 });
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(withHeads, "heads.onnx", TestPaths.NewTempDir(), null));
        Assert.Matches(@"^heads\.onnx: node '.+' \(Gemm\): .*(cls|classifier|qa_outputs)", e.Message);
        var int8 = OnnxExporter.ExportToBytes(golden, new OnnxExportOptions { Opset = 17, Int8 = true });
        e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(int8, "int8.onnx", TestPaths.NewTempDir(), null));
        Assert.Matches(@"^int8\.onnx: node '.+' \(DynamicQuantizeLinear\): op 'DynamicQuantizeLinear' is not part", e.Message);
    }

    [Fact]
    public void VocabIsWrittenWithLfLinesAndMustMatchTheEmbeddings()
    {
        var b = new TinyBertOnnx();
        var onnx = b.Build();
        string[] special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        var tokens = Enumerable.Range(0, b.Vocab).Select(i => i < special.Length ? special[i] : $"tok{i}").ToArray();
        string dir = TestPaths.NewTempDir();
        OnnxImporter.Import(onnx, "tiny.onnx", dir, "\uFEFF" + string.Join("\r\n", tokens) + "\r\n");
        Assert.Equal(string.Join("\n", tokens) + "\n", File.ReadAllText(Path.Combine(dir, ModelFolder.VocabFile)));
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(onnx, "tiny.onnx", dir, string.Join("\n", tokens[..^1])));
        Assert.Equal($"tiny.onnx vocab: has {b.Vocab - 1} tokens but the model's word embeddings have {b.Vocab} rows.", e.Message);
    }

    [Fact]
    public void TheOutputFolderMayHoldAPreviousImportButNothingElse()
    {
        var b = new TinyBertOnnx();
        var onnx = b.Build();
        string dir = TestPaths.NewTempDir();
        OnnxImporter.Import(onnx, "tiny.onnx", dir, string.Join("\n", Enumerable.Range(0, b.Vocab).Select(i => $"t{i}")));
        OnnxImporter.Import(onnx, "tiny.onnx", dir, null);                    // again, keeping the fitting vocab.txt
        File.WriteAllText(Path.Combine(dir, ModelFolder.VocabFile), "a\nb\n");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(onnx, "tiny.onnx", dir, null));
        Assert.Contains("vocab.txt (kept: no new vocab given): has 2 tokens but the model's word embeddings have 40 rows.", e.Message);
        File.WriteAllText(Path.Combine(dir, "task.json"), "{}");
        e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(onnx, "tiny.onnx", dir, null));
        Assert.Equal($"{dir}: already holds 'task.json', which an import does not write; import into a new or empty folder.", e.Message);
    }

    [Fact]
    public void AGivenConfigKeepsItsExtraFieldsAndMustAgreeWithTheGraph()
    {
        var b = new TinyBertOnnx();
        var onnx = b.Build();
        string dir = TestPaths.NewTempDir(), configPath = Path.Combine(dir, "given.json");
        var given = MobileBertConfig.Bert(b.Hidden, b.Layers, b.Heads, b.Inter);
        given.VocabSize = b.Vocab; given.MaxPositionEmbeddings = b.MaxPos; given.PadTokenId = 3; given.LayerNormEps = b.Eps;
        ConfigJson.Save(given, configPath);
        OnnxImporter.Import(onnx, "tiny.onnx", Path.Combine(dir, "out"), null, configPath);
        Assert.Equal(3, ConfigJson.Load(Path.Combine(dir, "out", ModelFolder.ConfigFile)).PadTokenId);
        given.NumAttentionHeads = 2;
        ConfigJson.Save(given, configPath);
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(onnx, "tiny.onnx", Path.Combine(dir, "out"), null, configPath));
        Assert.Equal($"{configPath}: 'num_attention_heads' is 2 but the ONNX graph has {b.Heads}.", e.Message);
    }

    [Fact]
    public void TheImportCommandWritesAFolderOrOneErrorLine()
    {
        string dir = TestPaths.NewTempDir(), good = Path.Combine(dir, "good.onnx"), bad = Path.Combine(dir, "bad.onnx");
        File.WriteAllBytes(good, new TinyBertOnnx().Build());
        File.WriteAllBytes(bad, new TinyBertOnnx { BreakUnknownOp = true }.Build());
        var (rc, err) = Run(["import", "--onnx", good, "--out", Path.Combine(dir, "model")]);
        Assert.Equal(0, rc);
        Assert.Contains("imported BERT: 2 layers, hidden 16, 4 heads", err);
        Assert.True(File.Exists(Path.Combine(dir, "model", ModelFolder.WeightsFile)));
        (rc, err) = Run(["import", "--onnx", bad, "--out", Path.Combine(dir, "bad")]);
        Assert.Equal(1, rc);
        Assert.Matches(@"^error: .*bad\.onnx: node 'Celu_\d+' \(Celu\): op 'Celu' is not part of a BERT graph this importer understands\.\n$",
            err.ReplaceLineEndings("\n"));
    }

    static (int Rc, string Err) Run(string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { return (CliApp.Run(args), err.ToString()); }
        finally { Console.SetError(old); }
    }
}
