using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

/// <summary><see cref="ForwardOptions.ReuseOutputs"/>: the inference forward writes into an earlier output's arrays
/// (every element, so stale values never leak) and gives the same result as a forward with fresh arrays.</summary>
public class ReuseOutputsTests
{
    static ModelInput Input(MobileBertConfig c, int batch, int seq, int seed)
    {
        var rng = new Random(seed);
        var ids = Enumerable.Range(0, batch * seq).Select(_ => rng.Next(1, c.VocabSize)).ToArray();
        var mask = Enumerable.Range(0, batch * seq).Select(i => i % seq < seq - 2 || i / seq == 0 ? 1 : 0).ToArray();
        return new ModelInput(batch, seq, ids, mask, null);
    }

    [Theory]
    [InlineData("mobilebert_shaped")]
    [InlineData("ib_bert_shaped")]
    public void ReusedArraysGiveTheFreshResult(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = TestModels.Perturbed(c, 5);
        var options = new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Heads = ModelHeads.None };
        var first = model.Forward(Input(c, 3, 11, 1), options);
        // Poison the arrays that will be reused: any element the forward did not write would show up as NaN.
        foreach (var a in first.HiddenStates!.Concat(first.Attentions!).Append(first.LastHiddenState).Append(first.PooledOutput!)) Array.Fill(
            a, float.NaN);

        var input = Input(c, 3, 11, 2);
        var reused = model.Forward(input, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Heads = ModelHeads.None,
            ReuseOutputs = first });
        var fresh = model.Forward(input, options);
        Assert.Same(first.HiddenStates![0], reused.HiddenStates![0]);
        Assert.Same(first.Attentions![c.NumHiddenLayers - 1], reused.Attentions![c.NumHiddenLayers - 1]);
        Assert.Same(first.PooledOutput, reused.PooledOutput);
        Assert.Same(reused.HiddenStates[c.NumHiddenLayers], reused.LastHiddenState);
        for (int i = 0; i <= c.NumHiddenLayers; i++) Assert.Equal(fresh.HiddenStates![i], reused.HiddenStates[i]);
        for (int l = 0; l < c.NumHiddenLayers; l++) Assert.Equal(fresh.Attentions![l], reused.Attentions[l]);
        Assert.Equal(fresh.PooledOutput, reused.PooledOutput);

        // Another shape: nothing fits, new arrays, still the fresh result; the earlier output is left alone.
        var other = Input(c, 2, 7, 3);
        var resized = model.Forward(other, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Heads = ModelHeads.None,
            ReuseOutputs = reused });
        Assert.NotSame(reused.LastHiddenState, resized.LastHiddenState);
        Assert.Equal(model.Forward(other, options).LastHiddenState, resized.LastHiddenState);
        Assert.Equal(fresh.LastHiddenState, reused.LastHiddenState);

        // Without hidden states kept, only the last hidden state is reused.
        var lastOnly = model.Forward(input, new ForwardOptions { Heads = ModelHeads.None, ReuseOutputs = resized });
        var lastOnly2 = model.Forward(other, new ForwardOptions { Heads = ModelHeads.None, ReuseOutputs = resized });
        Assert.Equal(fresh.LastHiddenState, lastOnly.LastHiddenState);
        Assert.Same(resized.LastHiddenState, lastOnly2.LastHiddenState);
        Assert.Equal(model.Forward(other, options).LastHiddenState, lastOnly2.LastHiddenState);
    }
}
