using System.Text;
using System.Text.Json;

namespace MobileBert.Text;

/// <summary>
/// The one policy for text entering the library: invalid UTF-8 byte sequences and unpaired UTF-16 surrogates (raw, or
/// as JSON <c>\uD800</c> escapes, as Python and JavaScript emit for broken emoji) become U+FFFD, and are counted so the
/// caller can say so once (<see cref="Summary"/>). Every reader of user text (tokenize, encode, predict, training data,
/// corpora, servers) goes through one instance per input.
/// </summary>
/// <remarks>Counting is thread-safe; one instance may serve concurrent requests.</remarks>
public sealed class TextSanitizer
{
    const char Replacement = '\uFFFD';
    long _replaced;

    public TextSanitizer()
    {
        Utf8 = (UTF8Encoding)new UTF8Encoding(false, false).Clone();
        Utf8.DecoderFallback = new CountingFallback(this);
    }

    /// <summary>Replacements made so far (invalid UTF-8 sequences and unpaired surrogates).</summary>
    public long Replaced => Interlocked.Read(ref _replaced);

    /// <summary>UTF-8 (no BOM emitted) whose decoder turns each invalid byte sequence into U+FFFD and counts it.</summary>
    public UTF8Encoding Utf8 { get; }

    /// <summary>"SOURCE: N invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s) replaced with U+FFFD", or null when none.</summary>
    public string? Summary(string source) => Replaced == 0 ? null
        : $"{source}: {Replaced} invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s) replaced with U+FFFD.";

    /// <summary>Writes <see cref="Summary"/> as one <c>warning:</c> line, when anything was replaced.</summary>
    public void Report(TextWriter error, string source)
    {
        if (Summary(source) is { } s) error.WriteLine($"warning: {s}");
    }

    /// <summary><paramref name="text"/> with every unpaired surrogate replaced by U+FFFD (the same string when there is none).</summary>
    public string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int first = FirstUnpaired(text);
        if (first < 0) return text;
        var chars = text.ToCharArray();
        int n = 0;
        for (int i = first; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) { i++; continue; }
            if (char.IsSurrogate(chars[i])) { chars[i] = Replacement; n++; }
        }
        Interlocked.Add(ref _replaced, n);
        return new string(chars);
    }

    static int FirstUnpaired(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (!char.IsSurrogate(s[i])) continue;
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            return i;
        }
        return -1;
    }

    /// <summary>
    /// JSON text with every <c>\uXXXX</c> escape of an unpaired surrogate rewritten to <c>\ufffd</c> (and raw unpaired
    /// surrogates replaced), so <see cref="JsonElement.GetString"/> never throws on it. Other text is unchanged.
    /// </summary>
    public string CleanJson(string json)
    {
        json = Clean(json);
        int at = json.IndexOf("\\u", StringComparison.Ordinal);
        if (at < 0) return json;
        StringBuilder? sb = null;
        int copied = 0, n = 0;
        for (int i = 0; i < json.Length; i++)
        {
            if (json[i] != '\\' || i + 1 >= json.Length) continue;
            if (json[i + 1] != 'u') { i++; continue; }                  // \" \\ \n …: skip the escaped character
            int unit = Hex4(json, i + 2);
            if (unit < 0 || !char.IsSurrogate((char)unit)) { i += 5; continue; }
            if (char.IsHighSurrogate((char)unit) && json.Length > i + 11 && json[i + 6] == '\\' && json[i + 7] == 'u'
                && Hex4(json, i + 8) is int low && low >= 0 && char.IsLowSurrogate((char)low)) { i += 11; continue; }
            sb ??= new StringBuilder(json.Length);
            sb.Append(json, copied, i - copied).Append("\\ufffd");
            copied = i + 6; n++;
            i += 5;
        }
        if (sb is null) return json;
        Interlocked.Add(ref _replaced, n);
        return sb.Append(json, copied, json.Length - copied).ToString();
    }

    static int Hex4(string s, int at)
    {
        if (at + 4 > s.Length) return -1;
        int v = 0;
        for (int k = 0; k < 4; k++)
        {
            int d = HexDigit(s[at + k]);
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        return v;
    }

    static int HexDigit(char c) => c is >= '0' and <= '9' ? c - '0'
        : c is >= 'a' and <= 'f' ? c - 'a' + 10
        : c is >= 'A' and <= 'F' ? c - 'A' + 10
        : -1;

    /// <summary>Parses one JSON value with the escapes cleaned (<see cref="CleanJson"/>).</summary>
    /// <exception cref="JsonException">Invalid JSON.</exception>
    public JsonDocument ParseJson(string json, JsonDocumentOptions options = default) => JsonDocument.Parse(CleanJson(json), options);

    /// <summary>UTF-8 bytes decoded with this policy (a leading BOM dropped).</summary>
    public string Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        // One decoding pass: Encoding.GetString counts characters first and would run the fallback (and count) twice.
        var chars = new char[Utf8.GetMaxCharCount(bytes.Length)];
        int n = Utf8.GetDecoder().GetChars(bytes, chars, flush: true);
        return new string(chars, 0, n);
    }

    /// <summary>A whole UTF-8 file decoded with this policy (BOM dropped).</summary>
    public string ReadAllText(string path) => Decode(File.ReadAllBytes(path));

    /// <summary>A stream reader of UTF-8 with this policy (BOM dropped).</summary>
    public StreamReader Reader(Stream stream) => new(stream, Utf8, detectEncodingFromByteOrderMarks: false);

    /// <summary>A file reader of UTF-8 with this policy (BOM dropped by <see cref="LineReader"/> / <see cref="Decode"/>).</summary>
    public StreamReader Reader(string path) => Reader(File.OpenRead(path));

    sealed class CountingFallback(TextSanitizer owner) : DecoderFallback
    {
        public override int MaxCharCount => 1;
        public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer(owner);

        sealed class Buffer(TextSanitizer owner) : DecoderFallbackBuffer
        {
            bool _pending;
            public override int Remaining => _pending ? 1 : 0;

            public override bool Fallback(byte[] bytesUnknown, int index)
            {
                Interlocked.Increment(ref owner._replaced);
                _pending = true;
                return true;
            }

            public override char GetNextChar()
            {
                if (!_pending) return '\0';
                _pending = false;
                return Replacement;
            }

            public override bool MovePrevious() => false;
            public override void Reset() => _pending = false;
        }
    }
}
