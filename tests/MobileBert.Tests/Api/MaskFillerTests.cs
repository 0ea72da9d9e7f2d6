using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Text;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.Api;

/// <summary>Fill-mask against the reference forward's MLM logits (HF-exact on the BERT goldens).</summary>
public class MaskFillerTests
{
    [Fact]
    public void TopTokensAreTheReferenceMlmSoftmax()
    {
        var dir = BertFolders.Golden(ModelHeads.MaskedLm);
        const string text = "the [MASK] sat on the mat and [MASK].";
        using var filler = MaskFiller.Load(dir);
        var result = filler.Fill(text, topK: 4);
        Assert.Equal(2, result.Count);

        var model = ModelFolder.Load(dir);
        var tok = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        var enc = tok.Encode(text);
        var logits = model.Forward(new ModelInput(1, enc.Length, enc.InputIds)).MlmLogits!;
        int v = model.Config.VocabSize;
        var masks = Enumerable.Range(0, enc.Length).Where(i => enc.InputIds[i] == tok.MaskId).ToArray();
        for (int m = 0; m < masks.Length; m++)
        {
            var p = SequenceEvaluator.Softmax(logits.AsSpan(masks[m] * v, v), v);
            var top = Enumerable.Range(0, v).OrderByDescending(i => p[i]).Take(4).ToArray();
            Assert.Equal(top, result[m].Select(x => x.TokenId));
            for (int k = 0; k < 4; k++) Assert.Equal(p[top[k]], result[m][k].Probability, 1e-5);
            Assert.Equal(tok.IdToToken(top[0]), result[m][0].Token);
        }
        var first = result[0][0];
        string word = first.Token.StartsWith("##", StringComparison.Ordinal) ? first.Token[2..] : first.Token;
        Assert.Equal("the " + word + " sat on the mat and [MASK].", first.Sequence);
    }

    [Fact]
    public void TextWithoutMaskAndModelWithoutMlmHeadAreRefused()
    {
        using var filler = MaskFiller.Load(BertFolders.Golden(ModelHeads.MaskedLm));
        var e = Assert.Throws<ArgumentException>(() => filler.Fill("no mask here"));
        Assert.Contains("[MASK]", e.Message);
        var noHead = BertFolders.Golden(ModelHeads.SequenceClassification);
        Assert.Contains("masked-LM head", Assert.Throws<CheckpointException>(() => MaskFiller.Load(noHead)).Message);
    }
}
