using System.Buffers;
using System.Globalization;
using System.Text;

namespace MobileBert.Text;

/// <summary>A basic token (before WordPiece) with, for every UTF-16 char of <see cref="Text"/>, the original span it came from.</summary>
internal readonly record struct PreToken(string Text, int[] CharStarts, int[] CharEnds, bool IsSpecial, int CodePointCount);

/// <summary>
/// Port of HuggingFace's <c>PreTrainedTokenizer.tokenize</c> special-token split plus <c>BasicTokenizer</c>
/// (clean text, CJK split, NFC, whitespace split, lowercase, NFD accent strip, punctuation split), tracking for
/// each output char the <c>[start, end)</c> UTF-16 range of the original text it came from.
/// </summary>
internal sealed class BertPreTokenizer
{
    private readonly string[] _specialTokens;
    private readonly SearchValues<char> _specialStarts;
    private readonly bool _lowerCase;

    public BertPreTokenizer(IEnumerable<string> specialTokens, bool lowerCase)
    {
        // Longest first so that a token that is a prefix of another never wins (HF's trie matches the longest).
        _specialTokens = specialTokens.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length).ToArray();
        _specialStarts = SearchValues.Create(_specialTokens.Select(s => s[0]).Distinct().ToArray());
        _lowerCase = lowerCase;
        (AsciiKinds, AsciiNormalized) = BuildAsciiTables();
    }

    /// <summary>What <see cref="BasicTokenize"/> does with an ASCII char (the general path's answer for each of the 128).</summary>
    internal enum AsciiKind : byte { Word, Punctuation, Space, Removed }

    /// <summary>Per ASCII char: its kind; the fast path of <see cref="WordPieceTokenizer"/> reads these.</summary>
    internal AsciiKind[] AsciiKinds { get; }

    /// <summary>Per ASCII char: the char after normalization (lower-cased for uncased models; always one ASCII char).</summary>
    internal char[] AsciiNormalized { get; }

    private (AsciiKind[], char[]) BuildAsciiTables()
    {
        var kinds = new AsciiKind[128];
        var normalized = new char[128];
        for (int cp = 0; cp < 128; cp++)
        {
            List<int> n = Normalize([cp]);
            if (n.Count != 1 || n[0] >= 128 || UnicodeTables.IsBertChineseChar(cp) || UnicodeTables.IsPythonSpace(n[0]) != UnicodeTables.IsPythonSpace(cp))
            {
                throw new InvalidOperationException($"ASCII U+{cp:X4} does not normalize to one ASCII char of its kind.");
            }

            normalized[cp] = (char)n[0];
            kinds[cp] = cp == 0 || UnicodeTables.IsBertControl(cp) ? AsciiKind.Removed
                : UnicodeTables.IsBertWhitespace(cp) || UnicodeTables.IsPythonSpace(cp) ? AsciiKind.Space
                : UnicodeTables.IsBertPunctuation(n[0]) ? AsciiKind.Punctuation
                : AsciiKind.Word;
        }

        return (kinds, normalized);
    }

    /// <summary>
    /// Index of the first special token at or after <paramref name="from"/> (and the token), or <c>text.Length</c> and null:
    /// the same match as <see cref="PreTokenize"/>'s scan, found with a vectorized search for the specials' first chars.
    /// </summary>
    internal int NextSpecial(string text, int from, out string? special)
    {
        while (from < text.Length)
        {
            int at = text.AsSpan(from).IndexOfAny(_specialStarts);
            if (at < 0)
            {
                break;
            }

            from += at;
            special = MatchSpecial(text, from);
            if (special is not null)
            {
                return from;
            }

            from++;
        }

        special = null;
        return text.Length;
    }

    public List<PreToken> PreTokenize(string text)
    {
        var result = new List<PreToken>();
        int segmentStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            string? special = MatchSpecial(text, i);
            if (special is null)
            {
                i++;
                continue;
            }

            BasicTokenize(text, segmentStart, i, result);
            var starts = new int[special.Length];
            var ends = new int[special.Length];
            Array.Fill(starts, i);
            Array.Fill(ends, i + special.Length);
            result.Add(new PreToken(special, starts, ends, IsSpecial: true, special.Length));
            i += special.Length;
            segmentStart = i;
        }

        BasicTokenize(text, segmentStart, text.Length, result);
        return result;
    }

    private string? MatchSpecial(string text, int index)
    {
        foreach (string s in _specialTokens)
        {
            if (text.AsSpan(index).StartsWith(s, StringComparison.Ordinal))
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>A code point of the cleaned text with its original UTF-16 range.</summary>
    private readonly record struct SourceChar(int CodePoint, int Start, int End);

    /// <summary>HF <c>BasicTokenizer</c> on <c>text[start..end)</c>, which must begin and end at whitespace, a special token or the text's ends.</summary>
    internal void BasicTokenize(string text, int start, int end, List<PreToken> output)
    {
        var word = new List<SourceChar>();
        int i = start;
        while (i < end)
        {
            int cp;
            int len = 1;
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < end && char.IsLowSurrogate(text[i + 1]))
            {
                cp = char.ConvertToUtf32(c, text[i + 1]);
                len = 2;
            }
            else
            {
                cp = c; // lone surrogates are category Cs and get removed as control chars below
            }

            // _clean_text: drop NUL, U+FFFD and control/format chars (they join their neighbours).
            if (cp == 0 || cp == 0xFFFD || UnicodeTables.IsBertControl(cp))
            {
                // removed
            }
            else if (UnicodeTables.IsBertWhitespace(cp) || UnicodeTables.IsPythonSpace(cp))
            {
                // _clean_text maps whitespace to ' '; Python's str.split() also splits on U+2028/U+2029.
                FlushWord(word, output);
            }
            else if (UnicodeTables.IsBertChineseChar(cp))
            {
                FlushWord(word, output);
                word.Add(new SourceChar(cp, i, i + len));
                FlushWord(word, output);
            }
            else
            {
                word.Add(new SourceChar(cp, i, i + len));
            }

            i += len;
        }

        FlushWord(word, output);
    }

    /// <summary>HF per-token normalization: uncased = NFD(lower(NFC(lower(x)))) minus Mn; cased = NFC(x).</summary>
    private List<int> Normalize(List<int> cps)
    {
        if (!_lowerCase)
        {
            return UnicodeTables.Nfc(cps);
        }

        // PreTrainedTokenizer.tokenize lowercases char by char first, BasicTokenizer then NFCs,
        // lowercases the token again, NFDs and drops non-spacing marks.
        List<int> s = UnicodeTables.Nfd(UnicodeTables.Lower(UnicodeTables.Nfc(UnicodeTables.Lower(cps))));
        s.RemoveAll(cp => UnicodeTables.Category(cp) == UnicodeCategory.NonSpacingMark);
        return s;
    }

    private void FlushWord(List<SourceChar> word, List<PreToken> output)
    {
        if (word.Count == 0)
        {
            return;
        }

        // Exact HF normalization of the whole whitespace token.
        var cps = new List<int>(word.Count);
        foreach (SourceChar sc in word)
        {
            cps.Add(sc.CodePoint);
        }

        List<int> normalized = Normalize(cps);

        // Alignment: normalize each source code point alone; when the concatenation equals the exact result
        // every output code point maps to its source char. Otherwise (rare cross-character compositions) map
        // every output code point to the whole word.
        // originFirst/originLast: range of source chars (indices into word) an output code point covers. Source chars
        // that normalize to nothing (stripped accents) are attached to the preceding output code point, or to the
        // following one at the start of a word, so that offsets cover e.g. the combining mark of "e\u0301".
        var originFirst = new List<int>(normalized.Count);
        var originLast = new List<int>(normalized.Count);
        var expected = new List<int>(normalized.Count);
        var single = new List<int>(1);
        int pendingFirst = -1;
        for (int k = 0; k < word.Count; k++)
        {
            single.Clear();
            single.Add(word[k].CodePoint);
            List<int> piece = Normalize(single);
            if (piece.Count == 0)
            {
                if (originLast.Count > 0)
                {
                    originLast[^1] = k;
                }
                else if (pendingFirst < 0)
                {
                    pendingFirst = k;
                }

                continue;
            }

            for (int p = 0; p < piece.Count; p++)
            {
                expected.Add(piece[p]);
                originFirst.Add(pendingFirst >= 0 ? pendingFirst : k);
                originLast.Add(k);
                pendingFirst = -1;
            }
        }

        bool aligned = expected.Count == normalized.Count;
        for (int n = 0; aligned && n < normalized.Count; n++)
        {
            aligned = expected[n] == normalized[n];
        }

        int wordStart = word[0].Start;
        int wordEnd = word[^1].End;

        // _run_split_on_punc, then the final whitespace_tokenize (drops any whitespace left over).
        var sb = new StringBuilder();
        var starts = new List<int>();
        var ends = new List<int>();
        int cpCount = 0;

        void Emit()
        {
            if (sb.Length > 0)
            {
                output.Add(new PreToken(sb.ToString(), starts.ToArray(), ends.ToArray(), IsSpecial: false, cpCount));
                sb.Clear();
                starts.Clear();
                ends.Clear();
                cpCount = 0;
            }
        }

        for (int n = 0; n < normalized.Count; n++)
        {
            int cp = normalized[n];
            if (UnicodeTables.IsPythonSpace(cp))
            {
                Emit();
                continue;
            }

            bool punct = UnicodeTables.IsBertPunctuation(cp);
            if (punct)
            {
                Emit();
            }

            int s = aligned ? word[originFirst[n]].Start : wordStart;
            int e = aligned ? word[originLast[n]].End : wordEnd;
            int before = sb.Length;
            if (cp > 0xFFFF)
            {
                sb.Append(char.ConvertFromUtf32(cp));
            }
            else
            {
                sb.Append((char)cp);
            }

            for (int u = before; u < sb.Length; u++)
            {
                starts.Add(s);
                ends.Add(e);
            }

            cpCount++;
            if (punct)
            {
                Emit();
            }
        }

        Emit();
        word.Clear();
    }
}
