using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace MobileBert.Serving.Http;

/// <summary>With an API key configured, /v1/* requires <c>Authorization: Bearer KEY</c> (compared in constant time).</summary>
public sealed class ApiKeyFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var key = http.RequestServices.GetRequiredService<MobileBertModels>().Options.ApiKey;
        if (key is not null && !Matches(http.Request.Headers.Authorization.ToString(), key))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Problems.Field(StatusCodes.Status401Unauthorized, "Authorization", "send the API key as 'Authorization: Bearer KEY'.");
        }
        return await next(context);
    }

    /// <summary>Whether the header is "Bearer KEY": the keys' SHA-256 digests are compared with
    /// <see cref="CryptographicOperations.FixedTimeEquals"/>, so the time taken tells nothing of the key or its length.</summary>
    public static bool Matches(string authorization, string key)
    {
        const string scheme = "Bearer ";
        string given = authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? authorization[scheme.Length..].Trim() : "";
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(key)))
            && given.Length > 0;
    }
}

/// <summary>Counts each model request in the Prometheus metrics: endpoint, model, status (499: client went away), latency.</summary>
public sealed class RequestMetricsFilter(string endpoint) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        string model = http.GetRouteValue("name") as string ?? "";
        var known = http.RequestServices.GetRequiredService<MobileBertModels>();
        if (!known.TryGet(model, out _)) model = "(unknown)";   // bounded label values: names are fixed at start-up
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        int code = 500;
        try
        {
            var result = await next(context);
            code = result is IStatusCodeHttpResult { StatusCode: { } c } ? c : 200;
            return result;
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested) { code = 499; throw; }
        finally
        {
            string status = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            ServingMetrics.Requests.WithLabels(model, endpoint, status).Inc();
            if (code >= 400) ServingMetrics.Errors.WithLabels(model, endpoint, status).Inc();
            ServingMetrics.Latency.WithLabels(model, endpoint).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }
}
