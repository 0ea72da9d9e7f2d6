using System.Globalization;
using System.Text;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

internal static class OffsetAssert
{
    /// <summary>Lowercase + NFD + drop non-spacing marks and the control/format chars HF's _clean_text removes, via the library's managed tables
    /// (string.Normalize is a no-op under InvariantGlobalization).</summary>
    public static string Fold(string s)
    {
        var cps = new List<int>();
        foreach (Rune r in s.EnumerateRunes())
        {
            cps.Add(r.Value);
        }

        var sb = new StringBuilder();
        foreach (int cp in UnicodeTables.Nfd(UnicodeTables.Lower(cps)))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(cp) != UnicodeCategory.NonSpacingMark && !UnicodeTables.IsBertControl(cp))
            {
                sb.Append(char.ConvertFromUtf32(cp));
            }
        }

        return sb.ToString();
    }

    /// <summary>Asserts text[Start..End] folds to the token (without ##) for every non-special token; returns how many were checked.</summary>
    public static int RoundTrips(EncodedInput enc, string text, string? pair)
    {
        int n = 0;
        for (int k = 0; k < enc.Tokens.Length; k++)
        {
            (int start, int end) = enc.Offsets[k];
            int seq = enc.SequenceIds[k];
            if (seq < 0)
            {
                Assert.Equal((0, 0), (start, end));
                continue;
            }

            string source = seq == 0 ? text : pair!;
            Assert.InRange(start, 0, source.Length);
            Assert.InRange(end, start, source.Length);
            string token = enc.Tokens[k];
            if (token == "[UNK]")
            {
                Assert.True(end > start);
                continue;
            }

            if (token is "[MASK]" or "[CLS]" or "[SEP]" or "[PAD]")
            {
                Assert.Equal(token, source[start..end]); // special token written in the text
                n++;
                continue;
            }

            string expected = token.StartsWith("##", StringComparison.Ordinal) ? token[2..] : token;
            Assert.Equal(expected, Fold(source[start..end]));
            n++;
        }

        return n;
    }
}
