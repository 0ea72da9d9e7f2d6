using MobileBert.FineTuning;
using Xunit;

namespace MobileBert.Tests.FineTuning;

/// <summary><see cref="MatchingHeads.Mass"/>: the attention a question token puts on the same token in the context, per head,
/// counted only for non-special question tokens whose id occurs once or twice in the context.</summary>
public class MatchingHeadsTests
{
    [Fact]
    public void MassSumsEachHeadsAttentionOnTheContextTokensWithTheQueryTokensId()
    {
        // [CLS] term is [SEP] a term , a a a [SEP]: "term" (id 50) occurs once in the context, "a" (id 7) four times, "is" (9) never.
        int[] ids = [101, 50, 9, 102, 7, 50, 8, 7, 7, 7, 102];
        int[] types = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1];
        int s = ids.Length, heads = 2;
        var att = new float[heads * s * s];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++) att[(h * s + i) * s + j] = 1f / s;   // head 0: uniform
        for (int j = 0; j < s; j++) att[(1 * s + 1) * s + j] = j == 5 ? 0.6f : 0.4f / (s - 1);   // head 1: "term" looks at its match
        var special = new HashSet<int> { 101, 102, 0 };
        var mass = MatchingHeads.Mass(ids, types, att, heads, special, out int counted);
        Assert.Equal(1, counted);   // only "term": "is" has no match, [CLS]/[SEP] are special
        Assert.Equal(1.0 / s, mass[0], 6);
        Assert.Equal(0.6, mass[1], 6);

        ids[2] = 7;   // the question's "is" becomes "a", which occurs four times in the context: not counted
        MatchingHeads.Mass(ids, types, att, heads, special, out counted);
        Assert.Equal(1, counted);
        ids[8] = 3; ids[9] = 4;   // "a" twice in the context: counted, with both matches summed
        var two = MatchingHeads.Mass(ids, types, att, heads, special, out counted);
        Assert.Equal(2, counted);
        Assert.Equal(3.0 / s, two[0], 6);
        Assert.Equal(0.6 + 2.0 / s, two[1], 6);
        Assert.Throws<ArgumentException>(() => MatchingHeads.Mass(ids, types, att.AsSpan(1).ToArray(), heads, special, out _));
    }
}
