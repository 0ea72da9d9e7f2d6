using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

/// <summary>The span lookup behind WordPiece's greedy longest match.</summary>
public sealed class VocabTableTests
{
    private static readonly VocabTable Table = new(new Dictionary<string, int> { ["un"] = 1, ["una"] = 2, ["unaff"] = 3, ["x"] = 4 });

    [Theory]
    [InlineData("unaffable", 5, 3)]   // the longest prefix in the table wins
    [InlineData("unable", 3, 2)]
    [InlineData("unicorn", 2, 1)]
    [InlineData("x", 1, 4)]
    [InlineData("yes", 0, -1)]        // no prefix at all
    [InlineData("", 0, -1)]
    public void LongestPrefixIsTheGreedyMatch(string word, int length, int id)
    {
        Assert.Equal(length, Table.LongestPrefix(word, out int got));
        Assert.Equal(id, got);
    }

    [Fact]
    public void ManyTokensAreAllFound()
    {
        var tokens = Enumerable.Range(0, 20_000).ToDictionary(i => $"t{i}", i => i);
        var table = new VocabTable(tokens);
        Assert.All(tokens, kv => Assert.Equal((kv.Key.Length, kv.Value), (table.LongestPrefix(kv.Key, out int id), id)));
        Assert.Equal(6, table.MaxLength);
    }
}
