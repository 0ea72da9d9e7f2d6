using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

/// <summary>
/// Behaviour of <see cref="WordPieceTokenizer"/>. Expected values are HuggingFace's slow BertTokenizer
/// (bert-base-uncased). Tests named <c>HfDiffers_*</c> cover inputs where Microsoft.ML.Tokenizers 2.0.1's
/// <c>BertTokenizer</c> (all BertOptions set to HF-like values) gives a different answer; the comment says what it gives.
/// </summary>
public sealed class WordPieceTokenizerTests
{
    private static WordPieceTokenizer Tok => TokenizerTestData.Uncased;

    private static void AssertTokens(string text, params string[] expected) => Assert.Equal(expected, Tok.Tokenize(text));

    [Fact]
    public void SpecialIdsAndVocab()
    {
        Assert.Equal(30522, Tok.VocabSize);
        Assert.Equal(0, Tok.PadId);
        Assert.Equal(100, Tok.UnkId);
        Assert.Equal(101, Tok.ClsId);
        Assert.Equal(102, Tok.SepId);
        Assert.Equal(103, Tok.MaskId);
        Assert.Equal(7592, Tok.TokenToId("hello"));
        Assert.Equal("hello", Tok.IdToToken(7592));
        Assert.Equal(Tok.UnkId, Tok.TokenToId("definitely-not-a-token"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.IdToToken(30522));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.IdToToken(-1));
    }

    [Fact]
    public void BasicSentence()
    {
        EncodedInput e = Tok.Encode("Héllo, wörld! unaffable");
        Assert.Equal(["[CLS]", "hello", ",", "world", "!", "una", "##ffa", "##ble", "[SEP]"], e.Tokens);
        Assert.Equal([101, 7592, 1010, 2088, 999, 14477, 20961, 3468, 102], e.InputIds);
        Assert.All(e.TokenTypeIds, t => Assert.Equal(0, t));
        Assert.All(e.AttentionMask, m => Assert.Equal(1, m));
        Assert.Equal([(0, 0), (0, 5), (5, 6), (7, 12), (12, 13), (14, 17), (17, 20), (20, 23), (0, 0)], e.Offsets);
        Assert.Equal([-1, 0, 0, 0, 0, 0, 0, 0, -1], e.SequenceIds);
    }

    [Fact]
    public void EmptyAndWhitespaceTextGiveClsSep()
    {
        foreach (string text in new[] { "", "   \t\n ", "\u200B\u0000" })
        {
            EncodedInput e = Tok.Encode(text);
            Assert.Equal(["[CLS]", "[SEP]"], e.Tokens);
            Assert.Equal([101, 102], e.InputIds);
            Assert.Equal([0, 0], e.TokenTypeIds);
            Assert.Equal([(0, 0), (0, 0)], e.Offsets);
        }

        Assert.Empty(Tok.Tokenize(""));
    }

    [Fact]
    public void EmptyPairStillUsesPairLayout()
    {
        EncodedInput e = Tok.Encode("hello", "");
        Assert.Equal(["[CLS]", "hello", "[SEP]", "[SEP]"], e.Tokens);
        Assert.Equal([0, 0, 0, 1], e.TokenTypeIds);
    }

    [Fact]
    public void PairLayoutOffsetsAndSequenceIds()
    {
        EncodedInput e = Tok.Encode("Hi there", "Who?");
        Assert.Equal(["[CLS]", "hi", "there", "[SEP]", "who", "?", "[SEP]"], e.Tokens);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1], e.TokenTypeIds);
        Assert.Equal([-1, 0, 0, -1, 1, 1, -1], e.SequenceIds);
        Assert.Equal([(0, 0), (0, 2), (3, 8), (0, 0), (0, 3), (3, 4), (0, 0)], e.Offsets);
    }

    [Fact]
    public void NullTextThrows()
    {
        Assert.Throws<ArgumentNullException>(() => Tok.Encode(null!));
        Assert.Throws<ArgumentNullException>(() => Tok.Tokenize(null!));
    }

    // ---- over-long words (HF max_input_chars_per_word = 100, counted in code points) ----

    [Fact]
    public void WordOf100CharsIsSplitButWordOf101CharsIsUnk()
    {
        string w100 = new('a', 100);
        Assert.DoesNotContain("[UNK]", Tok.Tokenize(w100));
        Assert.Equal("aaa", Tok.Tokenize(w100)[0]);

        EncodedInput e = Tok.Encode("x " + new string('a', 101) + " y");
        Assert.Equal(["[CLS]", "x", "[UNK]", "y", "[SEP]"], e.Tokens);
        Assert.Equal((2, 103), e.Offsets[2]);
    }

    [Fact]
    public void LongWordLimitCountsPunctuationSplitPiecesNotWhitespaceWords()
    {
        // 60 'a' + '-' + 60 'a' is one whitespace token of 121 chars, but HF applies the limit after the punctuation split.
        string text = new string('a', 60) + "-" + new string('a', 60);
        Assert.DoesNotContain("[UNK]", Tok.Tokenize(text));
    }

    [Fact]
    public void WordThatCannotBeCoveredBecomesSingleUnk()
    {
        // One unknown char inside a word makes the whole word [UNK] (no partial pieces), as HF.
        EncodedInput e = Tok.Encode("ab\u2603cd");
        Assert.Equal(["[CLS]", "[UNK]", "[SEP]"], e.Tokens);
        Assert.Equal((0, 5), e.Offsets[1]);
    }

    // ---- truncation (HF truncate_sequences) ----

    [Fact]
    public void SingleSequenceTruncatesFromTheEnd()
    {
        EncodedInput e = Tok.Encode("one two three four five", maxLength: 4);
        Assert.Equal(["[CLS]", "one", "two", "[SEP]"], e.Tokens);
        Assert.Equal(4, e.InputIds.Length);
        Assert.Equal(["[CLS]", "[SEP]"], Tok.Encode("one two", maxLength: 2).Tokens);
    }

    [Fact]
    public void LongestFirstRemovesFromTheLongerSequence()
    {
        // 5 + 3 tokens, budget 9 - 3 = 6: remove 2, both from the first (5 > 3, then 4 > 3).
        EncodedInput e = Tok.Encode("one two three four five", "six seven eight", maxLength: 9);
        Assert.Equal(["[CLS]", "one", "two", "three", "[SEP]", "six", "seven", "eight", "[SEP]"], e.Tokens);
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1], e.TokenTypeIds);
    }

    [Fact]
    public void LongestFirstOnATieRemovesFromThePair()
    {
        // 4 + 4 tokens, budget 7 - 3 = 4... remove 1 per step: tie -> pair loses first.
        EncodedInput e = Tok.Encode("one two three four", "five six seven eight", maxLength: 10);
        Assert.Equal(["[CLS]", "one", "two", "three", "four", "[SEP]", "five", "six", "seven", "[SEP]"], e.Tokens);

        // remove 3: tie -> pair (4,3); 4>3 -> first (3,3); tie -> pair (3,2).
        e = Tok.Encode("one two three four", "five six seven eight", maxLength: 8);
        Assert.Equal(["[CLS]", "one", "two", "three", "[SEP]", "five", "six", "[SEP]"], e.Tokens);
    }

    [Fact]
    public void LongestFirstCanEmptyBothSequences()
    {
        EncodedInput e = Tok.Encode("one two", "three", maxLength: 3);
        Assert.Equal(["[CLS]", "[SEP]", "[SEP]"], e.Tokens);
        Assert.Equal([0, 0, 1], e.TokenTypeIds);
    }

    [Fact]
    public void OnlyFirstAndOnlySecond()
    {
        EncodedInput first = Tok.Encode("one two three", "four five six", maxLength: 7, TruncationStrategy.OnlyFirst);
        Assert.Equal(["[CLS]", "one", "[SEP]", "four", "five", "six", "[SEP]"], first.Tokens);

        EncodedInput second = Tok.Encode("one two three", "four five six", maxLength: 7, TruncationStrategy.OnlySecond);
        Assert.Equal(["[CLS]", "one", "two", "three", "[SEP]", "four", "[SEP]"], second.Tokens);

        // The chosen sequence alone cannot absorb the excess: HF logs an error and returns an over-long result; we throw.
        Assert.Throws<ArgumentException>(() => Tok.Encode("one two three", "four", maxLength: 5, TruncationStrategy.OnlySecond));
        Assert.Throws<ArgumentException>(() => Tok.Encode("one", "two three four", maxLength: 5, TruncationStrategy.OnlyFirst));
        Assert.Throws<ArgumentException>(() => Tok.Encode("one two three", maxLength: 3, truncation: TruncationStrategy.OnlySecond));
        Assert.Equal(5, Tok.Encode("one two three", maxLength: 5, truncation: TruncationStrategy.OnlySecond).Tokens.Length);
    }

    [Fact]
    public void MaxLengthTooSmallForSpecialTokensThrows()
    {
        Assert.Throws<ArgumentException>(() => Tok.Encode("hello", maxLength: 1));
        Assert.Throws<ArgumentException>(() => Tok.Encode("", maxLength: 0));
        Assert.Throws<ArgumentException>(() => Tok.Encode("hello", "world", maxLength: 2));
        Assert.Equal(3, Tok.Encode("hello", "world", maxLength: 3).Tokens.Length);
    }

    // ---- offsets when normalization changes lengths ----

    [Theory]
    [InlineData("He\u0301llo", 0, 6)]        // decomposed accent: the combining mark is inside the span
    [InlineData("\u0301hello", 0, 6)]        // leading combining mark attaches to the next char
    [InlineData("\u0130stanbul", 0, 8)]      // İ lowercases to "i\u0307" (2 chars) then loses the dot
    [InlineData("co\u00ADoperate", 0, 10)]   // soft hyphen (Cf) removed inside the word
    public void OffsetsCoverTheOriginalWord(string text, int start, int end)
    {
        EncodedInput e = Tok.Encode(text);
        Assert.Equal(3, e.Tokens.Length);
        Assert.Equal((start, end), e.Offsets[1]);
    }

    [Fact]
    public void OffsetsOfWordpiecesInsideAccentedWords()
    {
        // "ÀÉÎÕÜ" -> ae ##io ##u ; "àe\u0301îõü" mixes a decomposed é.
        EncodedInput e = Tok.Encode("ÀÉÎÕÜ àe\u0301îõü");
        Assert.Equal(["[CLS]", "ae", "##io", "##u", "ae", "##io", "##u", "[SEP]"], e.Tokens);
        Assert.Equal([(0, 0), (0, 2), (2, 4), (4, 5), (6, 9), (9, 11), (11, 12), (0, 0)], e.Offsets);
    }

    [Theory]
    [InlineData("Héllo, wörld! Naïve café — unaffable 東京 tokenization.")]
    [InlineData("ÀÉÎÕÜ àéîõü ñ ç ß \u0130stanbul ﬁne He\u0301llo")]
    [InlineData("x[MASK]y [CLS]z \u00ADsoft\u00AD hy\u00ADphen, e-mail: a@b.c $1,234.56")]
    [InlineData("Emoji 😀 test 👍🏽 日本語のテキスト 中文 Ελληνικά ΟΔΟΣ Русский")]
    [InlineData("  leading\ttabs\r\nand\u2028line\u2029separators  ")]
    public void OffsetsRoundTrip(string text)
    {
        EncodedInput e = Tok.Encode(text, text);
        Assert.True(OffsetAssert.RoundTrips(e, text, text) > 4);
    }

    [Fact]
    public void SurrogatePairOffsetsAreUtf16()
    {
        EncodedInput e = Tok.Encode("a 😀 b");
        Assert.Equal(["[CLS]", "a", "[UNK]", "b", "[SEP]"], e.Tokens);
        Assert.Equal((2, 4), e.Offsets[2]);
        Assert.Equal((5, 6), e.Offsets[3]);
    }

    [Fact]
    public void SpecialTokensWrittenInTextAreKeptWithTheirOffsets()
    {
        EncodedInput e = Tok.Encode("x[MASK]y [mask]");
        Assert.Equal(["[CLS]", "x", "[MASK]", "y", "[", "mask", "]", "[SEP]"], e.Tokens);
        Assert.Equal(103, e.InputIds[2]);
        Assert.Equal((1, 7), e.Offsets[2]);
        AssertTokens("[UNK] [PAD][SEP]", "[UNK]", "[PAD]", "[SEP]");
    }

    // ---- inputs where Microsoft.ML.Tokenizers' BertTokenizer differs from HF ----

    [Fact]
    public void HfDiffers_TabsAndNewlinesAreWhitespace()
    {
        // ML.Tokenizers drops \t \n \r as control chars, gluing words: "tab ##san ##d ##ne ##wl ##ines".
        AssertTokens("tabs\tand\nnewlines", "tab", "##s", "and", "new", "##lines");
    }

    [Fact]
    public void HfDiffers_ClsWrittenInTextIsKept()
    {
        // ML.Tokenizers drops a [CLS] written inside the text.
        AssertTokens("[MASK] is special, [CLS] too", "[MASK]", "is", "special", ",", "[CLS]", "too");
    }

    [Fact]
    public void HfDiffers_AsciiSymbolsArePunctuation()
    {
        // HF treats all non-alphanumeric printable ASCII as punctuation; ML.Tokenizers drops $ = ^ ` entirely.
        AssertTokens("$5 a=b ^ `x`", "$", "5", "a", "=", "b", "^", "`", "x", "`");
    }

    [Fact]
    public void HfDiffers_UnknownSymbolsBecomeUnk()
    {
        // ML.Tokenizers silently drops emoji (symbols) instead of emitting [UNK].
        AssertTokens("Emoji 😀 ok", "em", "##oj", "##i", "[UNK]", "ok");
        AssertTokens("€5 ¥ 1/2", "€", "##5", "¥", "1", "/", "2");
    }

    [Fact]
    public void HfDiffers_UnderscoreIsPunctuation()
    {
        // ML.Tokenizers' pre-tokenizer keeps '_' in words: "_ ##him ##_".
        AssertTokens("for _him_ only", "for", "_", "him", "_", "only");
    }

    [Fact]
    public void HfDiffers_FormatCharsAreRemovedNotSplit()
    {
        // HF removes all "C*" chars (soft hyphen, ZWJ) joining their neighbours; ML.Tokenizers splits there.
        AssertTokens("co\u00ADoperate x\u200Dy", "cooperate", "x", "##y");
    }

    [Fact]
    public void HfDiffers_U3400IsAChineseChar()
    {
        // ML.Tokenizers' CJK range check starts after U+3400, so "a\u3400b" stays one word -> [UNK].
        AssertTokens("a\u3400b", "a", "[UNK]", "b");
    }

    [Fact]
    public void HfDiffers_HangulStaysDecomposedAfterNfd()
    {
        // HF's accent stripping leaves Hangul as NFD jamo; ML.Tokenizers recomposes (NFC) -> [UNK].
        AssertTokens("한국어", "ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ", "##ᄋ", "##ᅥ");
        EncodedInput e = Tok.Encode("한국어");
        Assert.Equal([(0, 0), (0, 1), (0, 1), (0, 1), (1, 2), (1, 2), (1, 2), (2, 3), (2, 3), (0, 0)], e.Offsets);
    }

    [Fact]
    public void HfDiffers_OnlyNonSpacingMarksAreStripped()
    {
        // HF strips category Mn only; ML.Tokenizers also strips Mc (e.g. Devanagari vowel sign AA, U+093E).
        AssertTokens("\u093E", "\u093E");
        AssertTokens("नमस्ते", "न", "##म", "##स", "##त");
    }

    [Fact]
    public void HfDiffers_AccentsAreStrippedUnderInvariantGlobalization()
    {
        // The solution builds with InvariantGlobalization=true, where string.Normalize() is a no-op for non-ASCII.
        // ML.Tokenizers' BertNormalizer relies on it, so "Héllo" -> [UNK] there; our managed NFD gives HF's answer.
        AssertTokens("Héllo He\u0301llo mañana cafés", "hello", "hello", "mana", "##na", "cafes");
        AssertTokens("ÀÉÎÕÜ àéîõü ñ ç ß", "ae", "##io", "##u", "ae", "##io", "##u", "n", "c", "ß");
    }

    [Fact]
    public void HfDiffers_LineAndParagraphSeparatorsSplitWords()
    {
        // U+2028/U+2029 are not Zs (so HF's _clean_text keeps them) but Python's str.split() splits on them.
        AssertTokens("line\u2028break\u2029end", "line", "break", "end");
    }

    [Fact]
    public void HfDiffers_DottedCapitalIAndTitlecaseLowercaseLikePython()
    {
        // Python: "İ".lower() == "i\u0307" (then the dot is stripped); .NET invariant casing leaves İ unchanged.
        AssertTokens("\u0130stanbul", "istanbul");
        // Capital sigma is lowercased char by char (HF pre-lowercases each char), so no final-sigma form.
        AssertTokens("ΟΔΟΣ", "ο", "##δ", "##ο", "##σ");
    }

    [Fact]
    public void ControlCharsNulAndReplacementCharAreRemoved()
    {
        AssertTokens("a\u0000b\uFFFDc", "abc");
    }

    [Fact]
    public void CjkCompatibilityIdeographIsNfcNormalized()
    {
        // U+F900 is split as a Chinese char and NFC maps it to U+8C48 (not in the vocab -> [UNK]).
        AssertTokens("x\uF900y", "x", "[UNK]", "y");
    }

    // ---- cased mode (lowerCase: false) and vocab loading ----

    [Fact]
    public void CasedModeKeepsCaseAndAccentsButAppliesNfc()
    {
        string path = TempVocab("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Héllo", "hello", "H", "##é", "##llo", ",");
        try
        {
            WordPieceTokenizer cased = WordPieceTokenizer.FromVocabFile(path, lowerCase: false);
            Assert.Equal(["Héllo", ",", "hello"], cased.Tokenize("He\u0301llo, hello"));
            EncodedInput e = cased.Encode("He\u0301llo");
            Assert.Equal((0, 6), e.Offsets[1]);

            WordPieceTokenizer uncased = WordPieceTokenizer.FromVocabFile(path);
            Assert.Equal(["hello", ",", "hello"], uncased.Tokenize("He\u0301llo, HELLO"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingVocabFileThrowsNamingThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid(), "vocab.txt");
        var ex = Assert.Throws<FileNotFoundException>(() => WordPieceTokenizer.FromVocabFile(path));
        Assert.Contains(path, ex.Message);
        Assert.Throws<ArgumentNullException>(() => WordPieceTokenizer.FromVocabFile(null!));
    }

    [Fact]
    public void EmptyVocabFileThrowsNamingThePath()
    {
        string path = TempVocab();
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.FromVocabFile(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains("empty", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void VocabWithoutSpecialTokensOrWithDuplicatesThrowsNamingThePath()
    {
        string path = TempVocab("hello", "world");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.FromVocabFile(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains("[PAD]", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }

        path = TempVocab("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "x", "x");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.FromVocabFile(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains("duplicate", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string TempVocab(params string[] lines)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mobilebert-vocab-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, lines.Length == 0 ? "" : string.Join("\n", lines) + "\n");
        return path;
    }
}
