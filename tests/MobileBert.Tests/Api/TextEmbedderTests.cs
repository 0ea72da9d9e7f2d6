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
        using var embedder = TextEmbedder.Load(dir, new EmbedderOptions { Pooling = pooling, Normalize = normalize, Predictor = new() { BatchSize = 3 } });
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
    public void MaxSeqLengthBeyondThePositionTableIsRefused()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        Assert.Throws<ArgumentOutOfRangeException>(() => TextEmbedder.Load(dir, new EmbedderOptions { Predictor = new() { MaxSeqLength = 65 } }));
    }
}
