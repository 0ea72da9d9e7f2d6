using System.Text;
using CsCheck;

namespace MobileBert.Tests.Fuzz;

/// <summary>Generators shared by the fuzz targets: hostile text, lines and byte-level mutations of valid files.</summary>
public static class FuzzInputs
{
    /// <summary>Any UTF-16 unit, weighted towards the troublesome ones (surrogates, controls, combining marks, CJK, BOM, NUL).</summary>
    public static readonly Gen<char> HostileChar = Gen.Frequency(
        (6, Gen.Char['a', 'z']), (2, Gen.Char[' ', '~']), (2, Gen.Char['\uD800', '\uDFFF']), (1, Gen.Char['\0', '\u001F']),
        (1, Gen.Char['\u0300', '\u036F']), (1, Gen.Char['\u4E00', '\u9FFF']), (1, Gen.OneOf('\uFEFF', '\u00A0', '\u200B', '\uFFFD', '\r', '\t')),
        (1, Gen.Char));

    /// <summary>Strings of 0–40 hostile characters.</summary>
    public static readonly Gen<string> HostileString = HostileChar.Array[0, 40].Select(a => new string(a));

    /// <summary>A JSON string literal body: plain text, escapes (including unpaired surrogate escapes), or raw hostile text.</summary>
    public static readonly Gen<string> JsonStringBody = Gen.Frequency(
        (4, Gen.String[Gen.Char['a', 'z'], 0, 12]),
        (2, Gen.OneOf("\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ud83d", "x\\u0000y", "\\\\ud800", "\\\"", "\\n", "caf\\u00e9")),
        (2, HostileString.Select(s => s.Replace("\\", "\\\\").Replace("\"", "\\\""))));

    /// <summary>One JSONL line for the text commands: valid objects, near-misses and garbage.</summary>
    public static readonly Gen<string> TextJsonLine = Gen.Frequency(
        (6, JsonStringBody.Select(t => $"{{\"text\":\"{t}\"}}")),
        (2, Gen.Select(JsonStringBody, JsonStringBody, (a, b) => $"{{\"text\":\"{a}\",\"text_pair\":\"{b}\"}}")),
        (1, Gen.OneOf("", "   ", "\t", "{}", "[]", "null", "{\"text\":5}", "{\"text\":null}", "{\"text\":\"a\",\"text_pair\":[1]}", "{\"text\":\"a\"",
        "{\"input_ids\":[101,102]}")),
        (1, HostileString));

    /// <summary>Lines as UTF-8 bytes joined by \n, \r\n or a stray \r, sometimes with invalid bytes or a BOM.</summary>
    public static Gen<byte[]> LinesAsBytes(Gen<string> line, int maxLines) =>
        Gen.Select(line.Array[1, maxLines], Gen.Int[0, 7], Gen.Bool, (lines, flavour, bom) =>
        {
            var sb = new List<byte>();
            if (bom) sb.AddRange([0xEF, 0xBB, 0xBF]);
            for (int i = 0; i < lines.Length; i++)
            {
                sb.AddRange(Encoding.UTF8.GetBytes(lines[i]));   // lone surrogates in the string become EF BF BD here
                if (flavour == 3 && i == 0) sb.AddRange([0xC3, 0x28, 0xFF]);          // invalid UTF-8
                sb.AddRange(flavour == 1 ? "\r\n"u8.ToArray() : "\n"u8.ToArray());
            }
            return sb.ToArray();
        });

    /// <summary>Byte-level mutations of a valid file: flips, overwrites, truncation, insertion, duplication of a slice.</summary>
    public static Gen<byte[]> Mutations(byte[] valid) => Gen.Frequency(
        (3, Gen.Select(Gen.Int[0, valid.Length - 1].Array[1, 6], Gen.Byte.Array[6], (pos, val) =>
        {
            var b = (byte[])valid.Clone();
            for (int i = 0; i < pos.Length; i++) b[pos[i]] = val[i];
            return b;
        })),
        (2, Gen.Int[0, valid.Length].Select(n => valid[..n])),
        (1, Gen.Select(Gen.Int[0, valid.Length], Gen.Byte.Array[1, 16], (at, ins) => (byte[])[.. valid[..at], .. ins, .. valid[at..]])),
        (1, Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Int[1, 64], (at, n) =>
        (byte[])[.. valid[..at], .. valid[at..Math.Min(valid.Length, at + n)], .. valid[at..]])));

    /// <summary>Text-level mutations of valid JSON: a value replaced by a hostile one, a key dropped, a character deleted or inserted.</summary>
    public static Gen<string> JsonMutations(string valid) => Gen.Frequency(
        (3, Gen.Select(Gen.Int[0, valid.Length - 1], HostileValue, (at, v) =>
        {
            int colon = valid.IndexOf(':', at);
            if (colon < 0) return valid + v;
            int end = valid.IndexOfAny([',', '}', ']'], colon + 1);
            return valid[..(colon + 1)] + v + (end < 0 ? "" : valid[end..]);
        })),
        (1, Gen.Int[0, valid.Length - 1].Select(at => valid.Remove(at, 1))),
        (1, Gen.Select(Gen.Int[0, valid.Length], HostileChar, (at, c) => valid.Insert(at, c.ToString()))));

    /// <summary>A JSON value that a reader may not expect: huge, negative, zero, fractional, wrong type, null, nested.</summary>
    public static readonly Gen<string> HostileValue = Gen.OneOf(
        "0", "-1", "1", "2", "3", "7", "1000000", "2147483647", "2147483648", "-2147483649", "1e308", "1e400", "-0.0", "0.5", "NaN", "\"NaN\"",
        "\"\"", "\"x\"", "\"\\ud800\"", "null", "true", "[]", "[1,2]", "{}", "{\"a\":1}", "[[[[[[[[1]]]]]]]]", "99999999999999999999");
}
