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
        (FastKinds, FastNormalized) = BuildFastTables();
        if (_specialTokens.Any(s => s[0] >= FastTableSize || FastKinds[s[0]] != CharKind.Punctuation))
        {
            throw new ArgumentException("Every special token must start with a punctuation char such as '['.", nameof(specialTokens));
        }
    }

    /// <summary>
    /// Chars below this take <see cref="WordPieceTokenizer"/>'s fast path when <see cref="FastKinds"/> allows: ASCII, Latin-1,
    /// Latin Extended-A/B and General Punctuation (’ “ ” — …) are the non-ASCII chars common in English text.
    /// </summary>
    internal const int FastTableSize = 0x2070;

    /// <summary>What <see cref="BasicTokenize"/> does with a char on its own: part of a word, a punctuation token, a word
    /// boundary, or anything else (removed, split off as CJK, changed in length or combining): the general path.</summary>
    internal enum CharKind : byte { Word, Punctuation, Space, General }

    /// <summary>Per char below <see cref="FastTableSize"/>: its kind for the fast path.</summary>
    internal CharKind[] FastKinds { get; }

    /// <summary>
    /// Per char below <see cref="FastTableSize"/>: the char after normalization (lower-cased and accent-stripped for
    /// uncased models, NFC for cased), where <see cref="FastKinds"/> is not <see cref="CharKind.General"/>.
    /// </summary>
    internal char[] FastNormalized { get; }

    /// <summary>
    /// The fast tables. Every ASCII char must be fast (it is, for both casings). A non-ASCII char is fast when it
    /// normalizes on its own to one BMP char that is no combining mark, and within a word exactly so: it is a letter, digit,
    /// punctuation or symbol of the Latin or General Punctuation blocks (none of which composes with, or reorders against,
    /// a neighbour that is ASCII or fast), which the check against "a" + char + "a" confirms.
    /// </summary>
    private (CharKind[], char[]) BuildFastTables()
    {
        var kinds = new CharKind[FastTableSize];
        var normalized = new char[FastTableSize];
        Array.Fill(kinds, CharKind.General);
        List<int> a = Normalize(['a']);
        for (int cp = 0; cp < FastTableSize; cp++)
        {
            if (cp is >= 0x250 and < 0x2000)
            {
                continue;
            }

            CharKind kind = cp == 0 || cp == 0xFFFD || UnicodeTables.IsBertControl(cp) ? CharKind.General
                : UnicodeTables.IsBertWhitespace(cp) || UnicodeTables.IsPythonSpace(cp) ? CharKind.Space
                : CharKind.Word;
            List<int> n = Normalize([cp]);
            bool single = n.Count == 1 && n[0] < 0x10000 && !IsMark(cp) && !IsMark(n[0]) && !UnicodeTables.IsPythonSpace(n[0])
                && Normalize([a[0], cp, a[0]]).SequenceEqual([a[0], n[0], a[0]]);
            if (kind == CharKind.Word && single)
            {
                kind = UnicodeTables.IsBertPunctuation(n[0]) ? CharKind.Punctuation : CharKind.Word;
            }
            else if (kind == CharKind.Word)
            {
                kind = CharKind.General;
            }

            if (cp < 128 && (kind == CharKind.General) != (cp == 0 || UnicodeTables.IsBertControl(cp)))
            {
                throw new InvalidOperationException($"ASCII U+{cp:X4} does not normalize to one ASCII char of its kind.");
            }

            kinds[cp] = kind;
            normalized[cp] = kind is CharKind.Word or CharKind.Punctuation ? (char)n[0] : (char)cp;
        }

        return (kinds, normalized);
    }

    private static bool IsMark(int cp) => UnicodeTables.CombiningClass(cp) != 0 || UnicodeTables.Category(cp)
        is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>The special token that starts at <paramref name="index"/> (the longest), or null; a table test for most chars.</summary>
    internal string? SpecialAt(string text, int index) => _specialStarts.Contains(text[index]) ? MatchSpecial(text, index) : null;

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

    /// <summary>HF <c>BasicTokenizer</c> on <c>text[start..end)</c>, which must begin and end at whitespace, a special token or the text's
    /// ends.</summary>
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
