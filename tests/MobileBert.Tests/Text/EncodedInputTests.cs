using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

/// <summary><see cref="EncodedInput"/> from <see cref="WordPieceTokenizer.Encode"/> builds all but its ids on first read.</summary>
public sealed class EncodedInputTests
{
    private static WordPieceTokenizer Tok => TokenizerTestData.Uncased;

    [Fact]
    public void DerivedArraysOfAPairFollowTheLayout()
    {
        const string text = "Where is the café?", pair = "The café is on rue [MASK], near the river.";
        EncodedInput e = Tok.Encode(text, pair, maxLength: 14, TruncationStrategy.LongestFirst);
        var a = Tok.TokenizeWithOffsets(text);
        var b = Tok.TokenizeWithOffsets(pair);
        int na = e.SequenceIds.Count(s => s == 0), nb = e.SequenceIds.Count(s => s == 1);
        Assert.Equal(14, e.Length);
        Assert.Equal(11, na + nb);

        string[] tokens = ["[CLS]", .. a.Take(na).Select(t => t.Token), "[SEP]", .. b.Take(nb).Select(t => t.Token), "[SEP]"];
        Assert.Equal(tokens, e.Tokens);
        Assert.Equal(tokens.Select(Tok.TokenToId), e.InputIds);
        Assert.Equal(Enumerable.Repeat(0, na + 2).Concat(Enumerable.Repeat(1, nb + 1)), e.TokenTypeIds);
        Assert.Equal([-1, .. Enumerable.Repeat(0, na), -1, .. Enumerable.Repeat(1, nb), -1], e.SequenceIds);
        Assert.All(e.AttentionMask, m => Assert.Equal(1, m));
        (int, int)[] offsets = [(0, 0), .. a.Take(na).Select(t => (t.Start, t.End)), (0, 0), .. b.Take(nb).Select(t => (t.Start, t.End)), (0, 0)];
        Assert.Equal(offsets, e.Offsets);
    }

    [Fact]
    public void EachDerivedArrayIsBuiltOnceAlsoUnderConcurrentReads()
    {
        EncodedInput e = Tok.Encode("one two three", "four five");
        var reads = new object[8][];
        Parallel.For(0, reads.Length, i => reads[i] = [e.Tokens, e.TokenTypeIds, e.AttentionMask, e.Offsets, e.SequenceIds]);
        foreach (object[] r in reads)
        {
            Assert.Equal(reads[0], r, ReferenceEqualityComparer.Instance);
        }
    }

    [Fact]
    public void ArraysGivenToTheConstructorAreKeptAsGiven()
    {
        var e = new EncodedInput(["[CLS]", "[SEP]"], [101, 102], [0, 0], [1, 1], [(0, 0), (0, 0)]);
        Assert.Equal([0, 0], e.TokenTypeIds);
        Assert.Empty(e.SequenceIds);
        Assert.Equal([101, 102], (e with { SequenceIds = [-1, -1] }).InputIds);
    }
}
