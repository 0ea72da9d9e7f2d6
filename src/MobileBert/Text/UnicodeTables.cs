using System.Globalization;

namespace MobileBert.Text;

/// <summary>
/// Managed Unicode helpers reproducing what HuggingFace's pure-Python BertTokenizer gets from
/// <c>unicodedata</c> and <c>str.lower()</c>.
/// </summary>
/// <remarks>
/// The solution builds with <c>InvariantGlobalization=true</c>; in that mode
/// <see cref="string.Normalize(System.Text.NormalizationForm)"/> leaves non-ASCII text unchanged, so
/// NFC/NFD are implemented here from tables generated out of Python's <c>unicodedata</c>
/// (see <c>gen_unicode_tables.py</c>). All functions work on Unicode scalar values (code points).
/// </remarks>
internal static partial class UnicodeTables
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, (int First, int Second)> s_decompositions = BuildDecompositions();
    private static readonly Dictionary<long, int> s_compositions = BuildCompositions();
    private static readonly Dictionary<int, byte> s_combiningClasses = BuildCombiningClasses();
    private static readonly Dictionary<int, (int First, int Second)> s_lower = BuildLower();

    private static Dictionary<int, (int, int)> BuildDecompositions()
    {
        ReadOnlySpan<int> t = CanonicalDecompositions;
        var d = new Dictionary<int, (int, int)>(t.Length / 4);
        for (int i = 0; i < t.Length; i += 4)
        {
            d[t[i]] = (t[i + 1], t[i + 2]);
        }

        return d;
    }

    private static Dictionary<long, int> BuildCompositions()
    {
        ReadOnlySpan<int> t = CanonicalDecompositions;
        var d = new Dictionary<long, int>();
        for (int i = 0; i < t.Length; i += 4)
        {
            if (t[i + 3] == 1)
            {
                d[Key(t[i + 1], t[i + 2])] = t[i];
            }
        }

        return d;
    }

    private static Dictionary<int, byte> BuildCombiningClasses()
    {
        ReadOnlySpan<int> t = CombiningClasses;
        var d = new Dictionary<int, byte>(t.Length / 2);
        for (int i = 0; i < t.Length; i += 2)
        {
            d[t[i]] = (byte)t[i + 1];
        }

        return d;
    }

    private static Dictionary<int, (int, int)> BuildLower()
    {
        ReadOnlySpan<int> t = LowerCaseMappings;
        var d = new Dictionary<int, (int, int)>(t.Length / 3);
        for (int i = 0; i < t.Length; i += 3)
        {
            d[t[i]] = (t[i + 1], t[i + 2]);
        }

        return d;
    }

    private static long Key(int a, int b) => ((long)a << 21) | (uint)b;

    /// <summary>Canonical combining class of a code point (0 for starters).</summary>
    public static int CombiningClass(int cp) => s_combiningClasses.TryGetValue(cp, out byte c) ? c : 0;

    /// <summary>Appends Python's <c>chr(cp).lower()</c> (full lowercase mapping, e.g. U+0130 → "i\u0307").</summary>
    public static void AppendLower(int cp, List<int> output)
    {
        if (s_lower.TryGetValue(cp, out var m))
        {
            output.Add(m.First);
            if (m.Second != 0)
            {
                output.Add(m.Second);
            }
        }
        else
        {
            output.Add(cp);
        }
    }

    /// <summary>Lowercases every code point (Python <c>str.lower()</c> without context-dependent final sigma).</summary>
    public static List<int> Lower(List<int> input)
    {
        var output = new List<int>(input.Count);
        foreach (int cp in input)
        {
            AppendLower(cp, output);
        }

        return output;
    }

    private static void AppendFullDecomposition(int cp, List<int> output)
    {
        if ((uint)(cp - SBase) < SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            int t = s % TCount;
            if (t != 0)
            {
                output.Add(TBase + t);
            }

            return;
        }

        if (s_decompositions.TryGetValue(cp, out var d))
        {
            AppendFullDecomposition(d.First, output);
            if (d.Second != 0)
            {
                AppendFullDecomposition(d.Second, output);
            }

            return;
        }

        output.Add(cp);
    }

    /// <summary>Unicode NFD (canonical decomposition + canonical ordering).</summary>
    public static List<int> Nfd(List<int> input)
    {
        var output = new List<int>(input.Count + 4);
        foreach (int cp in input)
        {
            AppendFullDecomposition(cp, output);
        }

        // Canonical ordering: stable insertion sort of each run of non-starters by combining class.
        for (int i = 1; i < output.Count; i++)
        {
            int cc = CombiningClass(output[i]);
            if (cc == 0)
            {
                continue;
            }

            int j = i;
            int cp = output[i];
            while (j > 0 && CombiningClass(output[j - 1]) > cc)
            {
                output[j] = output[j - 1];
                j--;
            }

            output[j] = cp;
        }

        return output;
    }

    /// <summary>Unicode NFC (NFD followed by canonical composition).</summary>
    public static List<int> Nfc(List<int> input)
    {
        List<int> d = Nfd(input);
        if (d.Count < 2)
        {
            return d;
        }

        var result = new List<int>(d.Count);
        int starterIndex = -1;
        int lastClass = -1;
        foreach (int cp in d)
        {
            int cc = CombiningClass(cp);
            if (starterIndex >= 0)
            {
                int starter = result[starterIndex];
                bool blocked = result.Count - 1 != starterIndex && (lastClass == 0 || lastClass >= cc);
                if (!blocked && TryCompose(starter, cp, out int composed))
                {
                    result[starterIndex] = composed;
                    continue;
                }
            }

            if (cc == 0)
            {
                starterIndex = result.Count;
            }

            lastClass = cc;
            result.Add(cp);
        }

        return result;
    }

    private static bool TryCompose(int a, int b, out int composed)
    {
        // Hangul LV and LVT.
        if ((uint)(a - LBase) < LCount && (uint)(b - VBase) < VCount)
        {
            composed = SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
            return true;
        }

        if ((uint)(a - SBase) < SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        {
            composed = a + (b - TBase);
            return true;
        }

        return s_compositions.TryGetValue(Key(a, b), out composed);
    }

    /// <summary>Unicode general category of a code point (lone surrogates report <see cref="UnicodeCategory.Surrogate"/>).</summary>
    public static UnicodeCategory Category(int cp) => CharUnicodeInfo.GetUnicodeCategory(cp);

    /// <summary>Python <c>str.isspace()</c> for one code point.</summary>
    public static bool IsPythonSpace(int cp) => cp is (>= 0x09 and <= 0x0D) or (>= 0x1C and <= 0x20) or 0x85 or 0xA0 or 0x1680
        or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    /// <summary>HF <c>_is_whitespace</c>: space, \t, \n, \r or category Zs.</summary>
    public static bool IsBertWhitespace(int cp) => cp is ' ' or '\t' or '\n' or '\r' || Category(cp) == UnicodeCategory.SpaceSeparator;

    /// <summary>HF <c>_is_control</c>: any "C*" category except \t, \n, \r.</summary>
    public static bool IsBertControl(int cp)
    {
        if (cp is '\t' or '\n' or '\r')
        {
            return false;
        }

        return Category(cp) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    /// <summary>HF <c>_is_punctuation</c>: all non-alphanumeric printable ASCII, or any "P*" category.</summary>
    public static bool IsBertPunctuation(int cp)
    {
        if (cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126))
        {
            return true;
        }

        return Category(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>HF <c>_is_chinese_char</c>: the CJK Unified Ideographs blocks (not Hangul/Kana).</summary>
    public static bool IsBertChineseChar(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
