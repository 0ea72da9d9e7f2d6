using System.Text;

namespace MobileBert.PretrainingData;

/// <summary>
/// Rule-based English sentence splitter for pre-training data (NSP needs sentence boundaries, not perfection).
/// </summary>
/// <remarks>
/// <para>A sentence ends at <c>.</c>, <c>?</c>, <c>!</c> or <c>…</c> (runs such as <c>?!</c> or <c>...</c> count as one),
/// followed by any closing quotes/brackets/underscores (<c>" ' ” ’ ) ] _</c>), then whitespace — unless:</para>
/// <list type="bullet">
/// <item>the next word starts with a lowercase letter (<c>"Why?" said he.</c>, <c>etc. and</c>);</item>
/// <item>a single period follows a title abbreviation (Mr., Mrs., Ms., Dr., St., Jr., Prof., Rev., Capt., Col., Gen., Lt., …);</item>
/// <item>a single period follows a one-letter initial other than "I" (<c>J. Smith</c>) or a dotted acronym (<c>U.S.</c>, <c>e.g.</c>);</item>
/// <item>"No." is followed by a digit (<c>No. 5</c>).</item>
/// </list>
/// <para>A period inside a token (<c>3.5</c>, <c>U.S.A</c>) never ends a sentence. Whitespace runs (including line
/// breaks) inside a sentence become a single space.</para>
/// </remarks>
public static class SentenceSplitter
{
    private static readonly HashSet<string> Titles = new(StringComparer.OrdinalIgnoreCase)
    {
        "mr", "mrs", "ms", "messrs", "mme", "mlle", "dr", "st", "jr", "sr", "prof", "rev", "revd", "capt", "col",
        "gen", "lt", "sgt", "maj", "cmdr", "adm", "hon", "gov", "sen", "rep", "pres", "supt", "esq", "fr", "mt",
        "ft", "vs", "viz", "cf", "vol", "ch", "fig", "pp", "approx", "dept", "univ", "inc", "ltd", "co", "corp", "jan",
        "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    };

    /// <summary>Splits <paramref name="text"/> into trimmed, non-empty sentences with normalized whitespace.</summary>
    public static List<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string s = NormalizeWhitespace(text);
        var result = new List<string>();
        int n = s.Length, start = 0;
        for (int i = 0; i < n; i++)
        {
            if (!IsTerminator(s[i])) continue;
            int j = i;
            while (j + 1 < n && IsTerminator(s[j + 1])) j++;
            int k = j + 1;
            while (k < n && IsCloser(s[k])) k++;
            if (k < n && s[k] != ' ')
            {
                i = j; // e.g. "3.5", "U.S.A", "end.Next" (no space): not a boundary
                continue;
            }

            if (k >= n) break; // end of text: the remainder is the last sentence
            int m = k + 1; // s[k] == ' ' (whitespace normalized)
            if (j == i && s[i] == '.' && IsAbbreviation(s, start, i, m)) { i = j; continue; }
            int w = m;
            while (w < n && IsOpener(s[w])) w++;
            if (w < n && char.IsLower(s[w])) { i = j; continue; }

            string sentence = s[start..k].Trim();
            if (sentence.Length > 0) result.Add(sentence);
            start = m;
            i = k;
        }

        if (start < n)
        {
            string last = s[start..].Trim();
            if (last.Length > 0) result.Add(last);
        }

        return result;
    }

    private static bool IsTerminator(char c) => c is '.' or '?' or '!' or '…';
    private static bool IsCloser(char c) => c is '"' or '\'' or '”' or '’' or ')' or ']' or '}' or '_' or '»';
    private static bool IsOpener(char c) => c is '"' or '\'' or '“' or '‘' or '(' or '[' or '{' or '_' or '«';

    /// <summary>Whether the period at <paramref name="dot"/> ends an abbreviation rather than a sentence.</summary>
    private static bool IsAbbreviation(string s, int sentenceStart, int dot, int next)
    {
        int b = dot;
        while (b > sentenceStart && s[b - 1] != ' ') b--;
        ReadOnlySpan<char> word = s.AsSpan(b, dot - b);
        while (word.Length > 0 && IsOpener(word[0])) word = word[1..];
        if (word.Length == 0) return false;
        if (word.Contains('.')) return true; // U.S. / e.g. / i.e.
        if (word.Length == 1 && char.IsUpper(word[0]) && word[0] != 'I') return true; // initial
        if (word.Equals("no", StringComparison.OrdinalIgnoreCase))
            return next < s.Length && char.IsAsciiDigit(s[next]);
        return Titles.Contains(word.ToString());
    }

    private static string NormalizeWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                space = sb.Length > 0;
                continue;
            }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        return sb.ToString();
    }
}
