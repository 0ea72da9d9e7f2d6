using System.Text.Json;
using CsCheck;
using MobileBert.Tests.Fuzz;
using MobileBert.Text;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Text;

/// <summary>
/// The fast path (ASCII, Latin and General Punctuation) of <see cref="WordPieceTokenizer"/> and its early stop when truncating give what the general
/// path (the port of HF's BasicTokenizer, <see cref="WordPieceTokenizer.TokenizeGeneral"/>) gives: tokens, ids, offsets.
/// </summary>
public sealed class FastPathTests(ITestOutputHelper output)
{
    private static WordPieceTokenizer Tok => TokenizerTestData.Uncased;

    /// <summary>
    /// Text made of what steers the fast path: ASCII words of any case, digits, every printable ASCII char, whitespace,
    /// ASCII controls, accented / composed / CJK / astral / lone-surrogate chars, special tokens, words around the 100-char limit.
    /// </summary>
    private static readonly Gen<string> Fragment = Gen.Frequency(
        (8, Gen.String[Gen.Char['a', 'z'], 1, 12]),
        (3, Gen.String[Gen.Char['A', 'Z'], 1, 8]),
        (2, Gen.String[Gen.Char['0', '9'], 1, 5]),
        (5, Gen.Char[' ', '~'].Select(c => c.ToString())),
        (4, Gen.OneOf(" ", "  ", "\t", "\n", "\r\n")),
        (1, Gen.OneOf(Gen.Char['\0', '\u001F'], Gen.Const('\u007F')).Select(c => c.ToString())),
        (3, Gen.OneOf("é", "É", "e\u0301", "ß", "İ", "\uFB01", "中", "日本", "\u00A0", "\u200B", "\u3000", "\U0001F600", "\uD800", "naïve",
            "\u2028", "\u00BF", "\u201C")),
        (1, Gen.OneOf("[MASK]", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[mask]", "[MASK")),
        (1, Gen.String[Gen.Char['a', 'z'], 98, 102]));

    private static readonly Gen<string> Text = Fragment.Array[0, 30].Select(string.Concat);

    /// <summary>
    /// Text of the non-ASCII chars the fast path takes (Latin-1, Latin Extended-A/B, General Punctuation) next to ASCII,
    /// combining marks, spaces and chars it does not take (Greek, Cyrillic, CJK, U+FFFD).
    /// </summary>
    private static readonly Gen<string> LatinText = Gen.Frequency(
        (6, Gen.Char['\u0080', '\u024F'].Select(c => c.ToString())),
        (4, Gen.Char['\u2000', '\u206F'].Select(c => c.ToString())),
        (6, Gen.String[Gen.Char['a', 'z'], 1, 6]),
        (2, Gen.Char['!', '~'].Select(c => c.ToString())),
        (3, Gen.OneOf(" ", "\u00A0", "\n")),
        (2, Gen.Char['\u0300', '\u036F'].Select(c => c.ToString())),
        (1, Gen.OneOf("\u0391", "\u03A3", "\u0436", "中", "\uFFFD", "\u212B", "\uFB01"))).Array[0, 40].Select(string.Concat);

    private static WordPieceTokenizer Cased => s_cased.Value;

    private static readonly Lazy<WordPieceTokenizer> s_cased =
        new(() => WordPieceTokenizer.FromVocabFile(TokenizerTestData.VocabPath, lowerCase: false));

    private static readonly Gen<string> AsciiText = Gen.Frequency((9, Gen.Char[' ', '~']), (1, Gen.Char['\0', '\u007F'])).Array[0, 80]
        .Select(a => new string(a));

    [Fact]
    public void FastPathEqualsGeneralPathOnMixedText() =>
        FuzzRunner.Run(output, "fast path vs general path", Text, 3000,
            t => { Assert.Equal(Tok.TokenizeGeneral(t), Tok.TokenizeWithOffsets(t)); }, t => JsonSerializer.Serialize(t));

    [Fact]
    public void FastPathEqualsGeneralPathOnAsciiText() =>
        FuzzRunner.Run(output, "fast path vs general path, ASCII", AsciiText, 3000,
            t => { Assert.Equal(Tok.TokenizeGeneral(t), Tok.TokenizeWithOffsets(t)); }, t => JsonSerializer.Serialize(t));

    [Fact]
    public void FastPathEqualsGeneralPathOnLatinAndPunctuation() =>
        FuzzRunner.Run(output, "fast path vs general path, Latin and General Punctuation", LatinText, 3000, t =>
        {
            Assert.Equal(Tok.TokenizeGeneral(t), Tok.TokenizeWithOffsets(t));
            Assert.Equal(Cased.TokenizeGeneral(t), Cased.TokenizeWithOffsets(t));
        }, t => JsonSerializer.Serialize(t));

    [Fact]
    public void FastPathEqualsGeneralPathOnMixedTextCased() =>
        FuzzRunner.Run(output, "fast path vs general path, cased", Text, 1000,
            t => { Assert.Equal(Cased.TokenizeGeneral(t), Cased.TokenizeWithOffsets(t)); }, t => JsonSerializer.Serialize(t));

    [Fact]
    public void AsciiAndNonAsciiSpellingsGiveTheSameIds()
    {
        // "café" leaves the fast path (é), "cafe" stays on it; uncased models strip the accent, so both are the same ids.
        Assert.Equal(Tok.Encode("Le Café, s'il vous plaît!").InputIds, Tok.Encode("le cafe, s'il vous plait!").InputIds);
        Assert.Equal(Tok.TokenizeGeneral("HELLO, world"), Tok.TokenizeWithOffsets("HELLO, world"));
    }

    [Fact]
    public void ControlCharsInsideAnAsciiWordJoinItsParts()
    {
        // HF's _clean_text drops U+0001 and joins "hel" and "lo"; offsets still point into the original text.
        var tokens = Tok.TokenizeWithOffsets("say hel\u0001lo");
        Assert.Equal(new[] { ("say", 0, 3), ("hello", 4, 10) }, tokens);
        Assert.Equal(Tok.TokenizeGeneral("say hel\u0001lo"), tokens);
    }

    [Fact]
    public void AsciiWordsLongerThan100CharsAreUnk()
    {
        string word = new('a', 101);
        Assert.Equal(new[] { ("[UNK]", 2, 103), (",", 103, 104) }, Tok.TokenizeWithOffsets($"x {word},").Skip(1));
        Assert.Equal(Tok.TokenizeGeneral($"x {word},"), Tok.TokenizeWithOffsets($"x {word},"));
        Assert.NotEqual("[UNK]", Tok.TokenizeWithOffsets(new string('a', 100))[0].Token);
    }

    [Fact]
    public void TruncatingStopsEarlyWithTheSameResult() =>
        FuzzRunner.Run(output, "truncated encode vs full tokenization", Gen.Select(Text, Gen.Int[2, 24]), 2000, c =>
        {
            var (text, max) = c;
            var all = Tok.TokenizeGeneral(text);
            EncodedInput e = Tok.Encode(text, null, max);
            var kept = all.Take(max - 2).ToArray();
            Assert.Equal(new[] { "[CLS]" }.Concat(kept.Select(k => k.Token)).Append("[SEP]"), e.Tokens);
            Assert.Equal(kept.Select(k => (k.Start, k.End)), e.Offsets[1..^1]);
            Assert.Equal(e.Tokens.Select(Tok.TokenToId), e.InputIds);
        }, c => JsonSerializer.Serialize(new { c.Item1, c.Item2 }));

    [Fact]
    public void OnlySecondOnASingleTooLongSequenceStillCountsEveryToken()
    {
        // The early stop is off for OnlySecond: the error names how many tokens too many the whole text has.
        var e = Assert.Throws<ArgumentException>(() => Tok.Encode("one two three four five", null, 4, TruncationStrategy.OnlySecond));
        Assert.StartsWith("The input needs 3 fewer tokens", e.Message);
    }
}
