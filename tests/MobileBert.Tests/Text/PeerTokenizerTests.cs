using System.Text.Json;
using MobileBert.PretrainingData;
using MobileBert.Text;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Text;

/// <summary>
/// Ours against the two .NET BERT tokenizers the benchmark times (bert-base-uncased vocab, lower-casing, [CLS]/[SEP]) on a
/// varied sample of the bundled texts: Austen, the King James Bible and State of the Union sentences and paragraphs,
/// and review sentences with typographic quotes and dashes. FastBertTokenizer must give our ids on every text;
/// Microsoft.ML.Tokenizers on every text made only of ASCII letters, digits, spaces and punctuation (ASCII or not) other than
/// <c>_</c>: it departs from HuggingFace on the rest (it keeps <c>_</c> inside words, drops ASCII symbols such as <c>$</c>
/// <c>+</c>, tabs and newlines, and other symbols; <see cref="WordPieceTokenizerTests"/>' <c>HfDiffers_*</c>).
/// Texts with non-ASCII letters or marks are left out: both peers strip accents with <c>string.Normalize</c>, which under
/// this repository's invariant globalization does not decompose (so "café" is [UNK] for them, "cafe" for HuggingFace and us).
/// </summary>
public sealed class PeerTokenizerTests(ITestOutputHelper output)
{
    private static readonly Lazy<string[]> s_sample = new(() =>
    {
        string root = TokenizerTestData.RepoRoot;
        var corpus = CorpusReader.Read([Path.Combine(root, "data", "corpus")]);
        var sentences = corpus.Documents.SelectMany(d => d.Sentences).ToArray();
        var paragraphs = corpus.Documents.Select(d => string.Join(' ', d.Sentences)).ToArray();
        var reviews = Directory.GetFiles(Path.Combine(root, "data", "sentiment"), "*.json").Order(StringComparer.Ordinal)
            .SelectMany(f => JsonSerializer.Deserialize<JsonElement[]>(File.ReadAllText(f))!.Select(e => e.GetProperty("text").GetString()!));
        return Every(sentences, 1500).Concat(Every(paragraphs, 150)).Concat(Every(reviews.ToArray(), 500))
            .Where(t => !t.Any(IsNonAsciiLetterOrMark)).ToArray();
    });

    private static bool IsNonAsciiLetterOrMark(char c) => c >= 128 && (char.IsLetter(c) || char.GetUnicodeCategory(c)
        is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark);

    private static string[] Every(string[] texts, int count) => texts.Where((_, i) => i % Math.Max(1, texts.Length / count) == 0).ToArray();

    [Fact]
    public void FastBertTokenizerGivesOurIds()
    {
        var fast = new FastBertTokenizer.BertTokenizer();
        using (var reader = File.OpenText(TokenizerTestData.VocabPath))
        {
            fast.LoadVocabulary(reader, convertInputToLowercase: true);
        }

        var ids = new long[8192];
        var mask = new long[8192];
        int nonAscii = 0;
        foreach (string text in s_sample.Value)
        {
            int[] ours = TokenizerTestData.Uncased.Encode(text, null, ids.Length).InputIds;
            int n = fast.Encode(text, ids, mask);
            Assert.True(ours.AsSpan().SequenceEqual(ids.AsSpan(0, n).ToArray().Select(id => (int)id).ToArray()), text);
            nonAscii += text.Any(c => c >= 128) ? 1 : 0;
        }

        output.WriteLine($"{s_sample.Value.Length} texts, {nonAscii} with non-ASCII chars: same ids");
        Assert.True(nonAscii >= 20, $"only {nonAscii} texts with non-ASCII chars");
    }

    [Fact]
    public void MicrosoftMlTokenizersGivesOurIdsOutsideItsKnownDifferences()
    {
        var ml = Microsoft.ML.Tokenizers.BertTokenizer.Create(TokenizerTestData.VocabPath, new Microsoft.ML.Tokenizers.BertOptions
        {
            LowerCaseBeforeTokenization = true, ApplyBasicTokenization = true, SplitOnSpecialTokens = true,
            IndividuallyTokenizeCjk = true, RemoveNonSpacingMarks = true,
        });
        string[] compared = s_sample.Value.Where(t => t.All(c => c == ' ' || (c < 128 && char.IsLetterOrDigit(c))
            || (char.IsPunctuation(c) && c != '_'))).ToArray();
        foreach (string text in compared)
        {
            int[] theirs = [.. ml.EncodeToIds(text, addSpecialTokens: true)];
            EncodedInput ours = TokenizerTestData.Uncased.Encode(text, null, int.MaxValue);
            Assert.True(theirs.AsSpan().SequenceEqual(ours.InputIds), $"{text}\n  ours {string.Join(' ', ours.Tokens)}\n  ML  "
                + $" {string.Join(' ', theirs.Select(TokenizerTestData.Uncased.IdToToken))}");
        }

        output.WriteLine($"{compared.Length} of {s_sample.Value.Length} texts compared (the others have chars where ML departs from HF): same ids");
        Assert.True(compared.Length >= s_sample.Value.Length * 3 / 4, $"only {compared.Length} of {s_sample.Value.Length} compared");
    }
}
