using System.Text.Json;

namespace MobileBert.Text;

/// <summary>Names of JSON value kinds for error messages ("expected a string, found a number").</summary>
public static class JsonKinds
{
    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>A JSON parser error without its own "Path: … | LineNumber: 0 | BytePositionInLine: N." suffix (which
    /// counts lines of the one value parsed, contradicting the caller's file:line); the byte position is kept.</summary>
    public static string Problem(JsonException e)
    {
        string m = e.Message;
        int cut = m.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = m.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        if (cut >= 0) m = m[..cut].TrimEnd();
        if (e.BytePositionInLine is long b && e.LineNumber is 0) m += $" (at character {b + 1})";
        return m;
    }
}
