using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MobileBert.Tasks.QuestionAnswering;

/// <summary>
/// JSON as Python's <c>json.dumps(obj, indent=4)</c> writes it (HF <c>utils_qa</c> output files): 4-space indent,
/// <c>": "</c> after keys, ASCII-only strings (<c>ensure_ascii</c>: non-ASCII as lowercase <c>\uXXXX</c> UTF-16 units),
/// floats as Python <c>repr</c> (<c>1.0</c>, <c>1e-05</c>, <c>NaN</c>, <c>Infinity</c>), and a trailing newline.
/// Also reads the predictions / na-prob files of the official evaluation scripts.
/// </summary>
public static class PyJson
{
    /// <summary><c>predictions.json</c>: <c>{"id": "answer text", …}</c>.</summary>
    public static string SerializePredictions(IReadOnlyDictionary<string, string> predictions)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        return Object(predictions.Select(kv => (kv.Key, Str(kv.Value))), 0) + "\n";
    }

    /// <summary><c>null_odds.json</c>: <c>{"id": null_score_minus_best_non_null, …}</c>.</summary>
    public static string SerializeNullOdds(IReadOnlyDictionary<string, double> nullOdds)
    {
        ArgumentNullException.ThrowIfNull(nullOdds);
        return Object(nullOdds.Select(kv => (kv.Key, Float(kv.Value))), 0) + "\n";
    }

    /// <summary><c>nbest_predictions.json</c>: <c>{"id": [{"start_logit", "end_logit", "text", "probability"}, …], …}</c> (HF key order).</summary>
    public static string SerializeNBest(IReadOnlyDictionary<string, IReadOnlyList<QaNBestEntry>> nbest)
    {
        ArgumentNullException.ThrowIfNull(nbest);
        return Object(nbest.Select(kv => (kv.Key, Array(kv.Value.Select(e => Object(EntryFields(e), 2)), 1))), 0) + "\n";
    }

    private static IEnumerable<(string, string)> EntryFields(QaNBestEntry e)
    {
        // HF builds the dicts by popping/adding keys: real candidates end up as start_logit, end_logit, text, probability;
        // the "empty" placeholder as text, start_logit, end_logit, probability.
        bool placeholder = e.Text == "empty" && e.Offsets == (0, 0) && e.StartLogit == 0 && e.EndLogit == 0;
        if (placeholder) yield return ("text", Str(e.Text));
        yield return ("start_logit", Float(e.StartLogit));
        yield return ("end_logit", Float(e.EndLogit));
        if (!placeholder) yield return ("text", Str(e.Text));
        yield return ("probability", Float(e.Probability));
    }

    private static string Object(IEnumerable<(string Key, string Value)> items, int level)
    {
        var list = items.ToList();
        if (list.Count == 0) return "{}";
        string pad = new(' ', 4 * (level + 1));
        var sb = new StringBuilder("{\n");
        for (int i = 0; i < list.Count; i++)
        {
            sb.Append(pad).Append(Str(list[i].Key)).Append(": ").Append(list[i].Value);
            sb.Append(i + 1 < list.Count ? ",\n" : "\n");
        }

        return sb.Append(new string(' ', 4 * level)).Append('}').ToString();
    }

    private static string Array(IEnumerable<string> items, int level)
    {
        var list = items.ToList();
        if (list.Count == 0) return "[]";
        string pad = new(' ', 4 * (level + 1));
        var sb = new StringBuilder("[\n");
        for (int i = 0; i < list.Count; i++) sb.Append(pad).Append(list[i]).Append(i + 1 < list.Count ? ",\n" : "\n");
        return sb.Append(new string(' ', 4 * level)).Append(']').ToString();
    }

    /// <summary>A JSON string literal as Python's <c>json.dumps</c> (ensure_ascii=True) writes it.</summary>
    public static string Str(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        return sb.Append('"').ToString();
    }

    /// <summary>A float as Python's <c>repr</c> / <c>json.dumps</c> writes it (shortest round-trip digits).</summary>
    public static string Float(double d)
    {
        if (double.IsNaN(d)) return "NaN";
        if (double.IsPositiveInfinity(d)) return "Infinity";
        if (double.IsNegativeInfinity(d)) return "-Infinity";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits and decimal exponent from .NET's "R" formatting ("E" form always).
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool neg = shortest.StartsWith('-');
        if (neg) shortest = shortest[1..];
        string mant = shortest;
        int exp10 = 0;
        int ei = shortest.IndexOfAny(['E', 'e']);
        if (ei >= 0)
        {
            mant = shortest[..ei];
            exp10 = int.Parse(shortest[(ei + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        int dot = mant.IndexOf('.');
        string intPart = dot >= 0 ? mant[..dot] : mant;
        string fracPart = dot >= 0 ? mant[(dot + 1)..] : "";
        string digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - digits.Length;
        // value = 0.digits × 10^pointPos, where pointPos counts from the start of 'digits'
        int pointPos = intPart.Length - leadingZeros + exp10;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) return neg ? "-0.0" : "0.0";
        int sciExp = pointPos - 1; // exponent of the first significant digit
        string body;
        if (sciExp < -4 || sciExp >= 16)
        {
            string m = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            body = m + "e" + (sciExp < 0 ? "-" : "+") + Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (pointPos <= 0)
        {
            body = "0." + new string('0', -pointPos) + digits;
        }
        else if (pointPos >= digits.Length)
        {
            body = digits + new string('0', pointPos - digits.Length) + ".0";
        }
        else
        {
            body = digits[..pointPos] + "." + digits[pointPos..];
        }

        return neg ? "-" + body : body;
    }

    /// <summary>Reads a <c>predictions.json</c> (<c>{"id": "text"}</c>) for the official evaluation.</summary>
    public static Dictionary<string, string> ReadPredictions(string path)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path, Encoding.UTF8));
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: $: expected an object of id → answer text.");
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{path}: {p.Name}: expected a string.");
            d[p.Name] = p.Value.GetString()!;
        }

        return d;
    }

    /// <summary>Reads a na-prob / <c>null_odds.json</c> file (<c>{"id": number}</c>), keeping file order.</summary>
    public static Dictionary<string, double> ReadNaProbs(string path)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path, Encoding.UTF8), new JsonDocumentOptions());
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: $: expected an object of id → number.");
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number) throw new InvalidDataException($"{path}: {p.Name}: expected a number.");
            d[p.Name] = p.Value.GetDouble();
        }

        return d;
    }
}
