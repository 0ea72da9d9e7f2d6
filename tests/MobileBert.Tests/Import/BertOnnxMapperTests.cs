using MobileBert.Import;
using MobileBert.Kernels;
using MobileBert.Tests.Fuzz;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Import;

/// <summary>The ONNX → BertModel mapping on small graphs built like PyTorch exports: names, layouts, inferred config, refusals.</summary>
public class BertOnnxMapperTests(ITestOutputHelper log)
{
    static (BertGraphShape Shape, List<ImportedTensor> Tensors) Map(TinyBertOnnx b) => BertOnnxMapper.Map(OnnxModel.Parse(b.Build(), "tiny.onnx"));

    [Theory]
    [InlineData(false, "", false)]
    [InlineData(true, "", false)]
    [InlineData(false, "bert.", false)]
    [InlineData(false, "0.auto_model.", true)]
    public void RecoversEveryTensorUnderItsBertNameInOutInLayout(bool fused, string prefix, bool namedTransposed)
    {
        var b = new TinyBertOnnx { FusedLayerNorm = fused, NamePrefix = prefix, NamedTransposedWeights = namedTransposed };
        var (_, tensors) = Map(b);
        // 5 embedding tensors + 16 per layer + 2 pooler tensors
        Assert.Equal(5 + 16 * b.Layers + 2, tensors.Count);
        Assert.Equal(b.Weights.Keys.Order(StringComparer.Ordinal), tensors.Select(t => t.Name));
        foreach (var t in tensors)
        {
            Assert.Equal(b.Shapes[t.Name], t.Shape);
            Assert.Equal(b.Weights[t.Name], t.Data);   // bit-exact: anonymous [in, out] weights transposed back to [out, in]
        }
    }

    [Theory]
    [InlineData(false, 1e-12f)]
    [InlineData(true, 1e-7f)]
    public void InfersTheConfigFromShapesAndGraph(bool fused, float eps)
    {
        var b = new TinyBertOnnx
            { FusedLayerNorm = fused, Eps = eps, Layers = 3, Heads = 2, Hidden = 12, Inter = 20, Vocab = 31, MaxPos = 17, TypeVocab = 3 };
        var (shape, _) = Map(b);
        Assert.Equal(new BertGraphShape(VocabSize: 31, HiddenSize: 12, NumHiddenLayers: 3, NumAttentionHeads: 2, IntermediateSize: 20,
            MaxPositionEmbeddings: 17, TypeVocabSize: 3, LayerNormEps: eps, HiddenAct: Activation.Gelu, HasPooler: true), shape);
    }

    [Fact]
    public void AGraphWithoutPoolerImportsWithoutIt()
    {
        var (shape, tensors) = Map(new TinyBertOnnx { Pooler = false });
        Assert.False(shape.HasPooler);
        Assert.DoesNotContain(tensors, t => t.Name.StartsWith("pooler.", StringComparison.Ordinal));
    }

    /// <summary>The node an error must name: the first node of <paramref name="op"/> matching <paramref name="match"/>.</summary>
    static string NodeName(byte[] onnx, string op, Func<OnnxModel, OnnxNode, bool> match)
    {
        var m = OnnxModel.Parse(onnx, "tiny.onnx");
        return m.Nodes.First(n => n.OpType == op && match(m, n)).Name;
    }

    static string Refusal(TinyBertOnnx b, out byte[] onnx)
    {
        onnx = b.Build();
        var bytes = onnx;
        var e = Assert.Throws<OnnxImportException>(() => BertOnnxMapper.Map(OnnxModel.Parse(bytes, "tiny.onnx")));
        Assert.StartsWith("tiny.onnx", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void AMatMulWithoutNamedBiasIsRefusedNamingTheNode()
    {
        string msg = Refusal(new TinyBertOnnx { BreakMissingQueryBias = true }, out var onnx);
        // layer 1's query MatMul feeds the Reshape directly
        string node = NodeName(onnx, "MatMul", (m, n) => m.Nodes.Any(r => r.OpType == "Reshape" && r.Inputs[0] == n.Outputs[0]));
        Assert.Contains($"node '{node}' (MatMul)", msg);
        Assert.Contains("not followed by an Add of a named bias", msg);
    }

    [Fact]
    public void AnUnknownOpIsRefusedNamingTheNode()
    {
        string msg = Refusal(new TinyBertOnnx { BreakUnknownOp = true }, out var onnx);
        Assert.Contains($"node '{NodeName(onnx, "Celu", (_, _) => true)}' (Celu)", msg);
        Assert.Contains("op 'Celu'", msg);
    }

    [Fact]
    public void ABiasOfTheWrongLengthIsRefusedNamingTheAdd()
    {
        string msg = Refusal(new TinyBertOnnx { BreakIntermediateBiasLength = true }, out var onnx);
        string node = NodeName(onnx, "Add", (_, n) => n.Inputs.Contains("encoder.layer.0.intermediate.dense.bias"));
        Assert.Contains($"node '{node}' (Add)", msg);
        Assert.Contains("bias 'encoder.layer.0.intermediate.dense.bias' has shape [25]", msg);
    }

    [Fact]
    public void InconsistentHeadSplitsAreRefusedNamingTheReshape()
    {
        var b = new TinyBertOnnx { BreakValueHeads = true, Hidden = 12, Heads = 2 };   // layer 1's value: 3 heads of 4
        string msg = Refusal(b, out var onnx);
        Assert.Matches(@"node 'Reshape_\d+' \(Reshape\): splits into 3 heads but node 'Reshape_\d+' \(Reshape\) into 2", msg);
    }

    [Fact]
    public void EmbeddingsOtherThanBertsSumAreRefusedNamingTheNorm()
    {
        string msg = Refusal(new TinyBertOnnx { BreakEmbeddingScale = true }, out var onnx);
        string scale = NodeName(onnx, "Mul", (m, n) => n.Inputs[0].StartsWith("embeddings_sum", StringComparison.Ordinal));
        // named: the norm (its γ Mul) and the node it reads instead of the embedding sum
        Assert.Matches($@"^tiny\.onnx: node 'Mul_\d+' \(Mul\): the embeddings LayerNorm reads node '{scale}' \(Mul\), not only the sum", msg);
        msg = Refusal(new TinyBertOnnx { BreakPositionIds = true }, out _);
        Assert.Equal("tiny.onnx: 'embeddings.position_ids' holds 2 at index 0; BERT positions are 0, 1, 2, ….", msg);
    }

    [Fact]
    public void MutatedGraphsGiveAnImportErrorOrAValidMappingNeverACrash()
    {
        var onnx = new TinyBertOnnx { Layers = 1 }.Build();
        FuzzRunner.Run(log, "onnx import", FuzzInputs.Mutations(onnx), 300, bytes =>
        {
            var error = FuzzRunner.OnlyUserErrors(() => BertOnnxMapper.Map(OnnxModel.Parse(bytes, "fuzz.onnx")));
            if (error is not null && !error.Message.StartsWith("fuzz.onnx", StringComparison.Ordinal))
                throw new InvalidOperationException($"error does not name the file: {error.Message}");
            return error is null ? "ok" : "error";
        }, b => Convert.ToHexString(b));
    }

    [Fact]
    public void ATruncatedFileIsRefusedNamingWhereItEnds()
    {
        var onnx = new TinyBertOnnx().Build();
        foreach (int keep in new[] { onnx.Length - 3, onnx.Length / 2, 7 })
        {
            var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Parse(onnx.AsMemory(0, keep), "cut.onnx"));
            Assert.Contains("cut.onnx", e.Message);
            Assert.Contains("truncated or corrupt protobuf", e.Message);
        }
        Assert.Throws<OnnxImportException>(() => OnnxModel.Parse(new byte[] { 0x0A, 0x05, 0x08 }, "junk.onnx"));
        Assert.Contains("no graph", Assert.Throws<OnnxImportException>(() => OnnxModel.Parse(new byte[] { 0x08, 0x07 }, "junk.onnx")).Message);
    }
}
