using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace MobileBert.Serving.Http;

/// <summary>Reads a request's JSON body within the size limit; every failure is a problem naming the field.</summary>
public static class JsonBody
{
    /// <summary>The API's JSON settings: camelCase one-word names, explicit snake_case names, unknown fields refused.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The body as <typeparamref name="T"/>, or the problem (415 content type, 413 size, 400 JSON) to answer with.</summary>
    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpContext http, int maxBytes) where T : class
    {
        var request = http.Request;
        if (!request.HasJsonContentType())
            return (null, Problems.Field(StatusCodes.Status415UnsupportedMediaType, "Content-Type",
                $"send the body as application/json (got '{request.ContentType ?? "no content type"}')."));
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, 64 * 1024));
        try
        {
            int length = 0;
            while (length <= maxBytes)   // reads at most maxBytes + 1 bytes: one past the limit tells it was exceeded
            {
                if (length == buffer.Length)
                {
                    var grown = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = grown;
                }
                int want = Math.Min(buffer.Length, maxBytes + 1) - length;
                int read;
                try { read = await request.Body.ReadAsync(buffer.AsMemory(length, want), http.RequestAborted); }
                catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { return (null, TooLarge(maxBytes)); }
                catch (BadHttpRequestException e) { return (null, Problems.Field(e.StatusCode, "body", $"the body could not be read: {e.Message}")); }
                if (read == 0) break;
                length += read;
            }
            if (length > maxBytes) return (null, TooLarge(maxBytes));
            if (length == 0) return (null, Problems.Field(StatusCodes.Status400BadRequest, "body", "the body is empty; send a JSON object."));
            try
            {
                var value = JsonSerializer.Deserialize<T>(buffer.AsSpan(0, length), Options);
                return value is null ? (null, Problems.Field(StatusCodes.Status400BadRequest, "body", "the body must be a JSON object.")) : (value,
                    null);
            }
            catch (JsonException e)
            {
                string field = FieldOf(e);
                return (null, Problems.Field(StatusCodes.Status400BadRequest, field, $"malformed JSON at '{field}': {FirstSentence(e.Message)}"));
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    static IResult TooLarge(int maxBytes) =>
        Problems.Field(StatusCodes.Status413PayloadTooLarge, "body", $"the body is larger than the limit of {maxBytes} bytes.");

    /// <summary>The JSON path of the error without "$." ("texts[2]"), or "body" for the document itself.</summary>
    static string FieldOf(JsonException e)
    {
        string path = e.Path ?? "$";
        // An unknown property is reported at its parent; its name is in the message.
        var unknown = System.Text.RegularExpressions.Regex.Match(e.Message, "The JSON property '([^']*)' could not be mapped");
        if (unknown.Success && !path.EndsWith("." + unknown.Groups[1].Value, StringComparison.Ordinal)) path += "." + unknown.Groups[1].Value;
        return path == "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }
}
