using static MobileBert.Text.BertPreTokenizer;

namespace MobileBert.Text;

/// <summary>Text → WordPiece pieces with offsets: special-token split, the fast path, the general path, greedy matching.</summary>
public sealed partial class WordPieceTokenizer
{
    /// <summary>
    /// Appends the pieces of <paramref name="text"/>, stopping after the word that reaches <paramref name="limit"/> pieces,
    /// in one pass. A special token (<c>[MASK]</c>…, found where a fast punctuation char starts one) is its own piece and
    /// ends the word before it. A whitespace-separated word of chars the fast tables know
    /// (<see cref="BertPreTokenizer.FastKinds"/>: ASCII, Latin letters, General Punctuation) takes the fast path: each
    /// run of word chars is normalized by table (lower-cased and accent-stripped for uncased models) and matched, each
    /// punctuation char is its own word; offsets are the chars' own indices. The first other char (control, combining
    /// mark, CJK, any other script) sends its whole word (from its start up to the next fast whitespace or special token)
    /// through <see cref="BertPreTokenizer"/> instead, replacing the pieces the fast path gave that word so far.
    /// </summary>
    private void TokenizeWithOffsets(string text, List<Piece> output, int limit, Scratch scratch)
    {
        ReadOnlySpan<CharKind> kinds = _preTokenizer.FastKinds;
        ReadOnlySpan<char> normalized = _preTokenizer.FastNormalized;
        ReadOnlySpan<int> punctuationIds = _asciiPunctuationIds;
        ReadOnlySpan<char> chars = text;
        Span<char> run = scratch.Chars;
        int wordStart = -1, wordPieces = 0; // the whitespace-separated word being read: its start, output.Count before it
        int i = 0;
        while ((uint)i < (uint)chars.Length)
        {
            char c = chars[i];
            CharKind kind = c < FastTableSize ? kinds[c] : CharKind.General;
            if (kind == CharKind.Space)
            {
                wordStart = -1;
                if (output.Count >= limit)
                {
                    return;
                }

                i++;
                continue;
            }

            if (wordStart < 0)
            {
                wordStart = i;
                wordPieces = output.Count;
            }

            if (kind == CharKind.General)
            {
                // A char the fast tables leave to the general path: a control char HF's _clean_text drops (joining its
                // neighbours), a combining mark, CJK, another script.
                output.RemoveRange(wordPieces, output.Count - wordPieces);
                int to = i + 1;
                while (to < chars.Length && !(chars[to] < FastTableSize && kinds[chars[to]] == CharKind.Space)
                    && _preTokenizer.SpecialAt(text, to) is null)
                {
                    to++;
                }

                AppendGeneral(text, wordStart, to, output, scratch);
                i = to;
                continue;
            }

            if (kind == CharKind.Punctuation && _preTokenizer.SpecialAt(text, i) is { } special)
            {
                wordStart = -1;
                if (output.Count >= limit)
                {
                    return;
                }

                output.Add(new Piece(_tokenToId[special], i, i + special.Length));
                i += special.Length;
                continue;
            }

            if (kind == CharKind.Punctuation)
            {
                output.Add(new Piece(c < 128 ? punctuationIds[c] : SingleCharId(normalized[c]), i, i + 1)); // its own token, or [UNK]
                i++;
                continue;
            }

            // A run of word chars, normalized by table (lower case, no accents for uncased models) into the scratch buffer.
            int j = i, k = 0;
            for (; (uint)j < (uint)chars.Length; j++)
            {
                char w = chars[j];
                if (w >= FastTableSize || kinds[w] != CharKind.Word)
                {
                    break;
                }

                if ((uint)k < (uint)run.Length)
                {
                    run[k++] = normalized[w];
                }
            }

            if (j - i > MaxInputCharsPerWord)
            {
                output.Add(new Piece(UnkId, i, j));
            }
            else
            {
                AppendPieces(run[..k], i, output);
            }

            i = j;
        }
    }

    /// <summary>Words with a char the fast path does not take: HF's <c>BasicTokenizer</c> port, then the same matching.</summary>
    private void AppendGeneral(string text, int start, int end, List<Piece> output, Scratch scratch)
    {
        List<PreToken> words = scratch.Words;
        words.Clear();
        _preTokenizer.BasicTokenize(text, start, end, words);
        foreach (PreToken word in words)
        {
            AppendPieces(word.Text, word.CharStarts, word.CharEnds, word.CodePointCount, output);
        }

        words.Clear();
    }

    /// <summary>
    /// HF <c>WordpieceTokenizer</c> on one basic token of the general path: <paramref name="starts"/> /
    /// <paramref name="ends"/> give each char's original range; a piece covers the union of its chars' ranges.
    /// </summary>
    private void AppendPieces(ReadOnlySpan<char> word, ReadOnlySpan<int> starts, ReadOnlySpan<int> ends, int codePoints, List<Piece> output)
    {
        if (codePoints > MaxInputCharsPerWord)
        {
            output.Add(new Piece(UnkId, starts[0], ends[word.Length - 1]));
            return;
        }

        int firstPiece = output.Count;
        for (int s = 0; s < word.Length;)
        {
            int e = NextPiece(word, s, out int id);
            if (e == s)
            {
                output.RemoveRange(firstPiece, output.Count - firstPiece);
                output.Add(new Piece(UnkId, Min(starts[..word.Length]), Max(ends[..word.Length])));
                return;
            }

            output.Add(new Piece(id, Min(starts[s..e]), Max(ends[s..e])));
            s = e;
        }
    }

    /// <summary>The same on a fast-path word (at most <see cref="MaxInputCharsPerWord"/> chars) whose char k came from text[at + k].</summary>
    private void AppendPieces(ReadOnlySpan<char> word, int at, List<Piece> output)
    {
        int firstPiece = output.Count;
        for (int s = 0; s < word.Length;)
        {
            int e = NextPiece(word, s, out int id);
            if (e == s)
            {
                output.RemoveRange(firstPiece, output.Count - firstPiece);
                output.Add(new Piece(UnkId, at, at + word.Length));
                return;
            }

            output.Add(new Piece(id, at + s, at + e));
            s = e;
        }
    }

    /// <summary>
    /// Greedy longest match: the end of the longest vocabulary piece starting at <paramref name="s"/> (a <c>##</c> piece
    /// when s &gt; 0) and its id, or <paramref name="s"/> when there is none (the word is then [UNK]).
    /// </summary>
    private int NextPiece(ReadOnlySpan<char> word, int s, out int id) =>
        s + (s == 0 ? _wholeWords : _continuations).LongestPrefix(word[s..], out id);

    /// <summary>The id of a one-char word (a punctuation char's own token), or [UNK].</summary>
    private int SingleCharId(char c) => NextPiece([c], 0, out int id) == 1 ? id : UnkId;

    private static int Min(ReadOnlySpan<int> values)
    {
        int min = values[0];
        foreach (int v in values)
        {
            min = Math.Min(min, v);
        }

        return min;
    }

    private static int Max(ReadOnlySpan<int> values)
    {
        int max = values[0];
        foreach (int v in values)
        {
            max = Math.Max(max, v);
        }

        return max;
    }
}
