using Microsoft.AspNetCore.Http;

namespace MobileBert.Serving.Http;

/// <summary>RFC 7807 problem details of the API: a title, a one-line detail and the request field at fault.</summary>
public static class Problems
{
    public static IResult Field(int status, string field, string detail) =>
        Results.Problem(detail: detail, statusCode: status, title: TitleOf(status), extensions: new Dictionary<string,
            object?> { ["field"] = field });

    public static IResult Status(int status, string detail) => Results.Problem(detail: detail, statusCode: status, title: TitleOf(status));

    public static IResult UnknownModel(string name, IEnumerable<string> served) =>
        Field(StatusCodes.Status404NotFound, "name", $"no model named '{name}' (served: {string.Join(", ", served)}).");

    /// <summary>503 with Retry-After: the model's queue is full or the server is stopping.</summary>
    public static IResult Busy(HttpContext http, string detail)
    {
        http.Response.Headers.RetryAfter = "1";
        return Status(StatusCodes.Status503ServiceUnavailable, detail);
    }

    static string TitleOf(int status) => status switch
    {
        400 => "Bad request", 401 => "Unauthorized", 404 => "Not found", 413 => "Request body too large",
        415 => "Unsupported media type", 503 => "Service unavailable", _ => "Error",
    };
}
