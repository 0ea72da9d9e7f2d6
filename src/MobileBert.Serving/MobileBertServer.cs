using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MobileBert.Serving.Http;
using Prometheus;

namespace MobileBert.Serving;

/// <summary>The `mobilebert serve` application: Kestrel, the models, dynamic batching, the API, /metrics and OpenAPI.</summary>
public static class MobileBertServer
{
    /// <summary>Builds (does not start) the server listening on <paramref name="urls"/> (e.g. http://127.0.0.1:8080; port 0: any free
    /// port).</summary>
    public static WebApplication Build(Action<MobileBertServingOptions> configure, IReadOnlyList<string> urls, LogLevel logLevel = LogLevel.Warning)
    {
        var probe = new MobileBertServingOptions();
        configure(probe);
        probe.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(logLevel)
            // A start-up failure (e.g. a model folder that does not load) reaches the caller as the exception; the host's own
            // "Hosting failed to start" log would print its stack trace before the caller's one-line error.
            .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.WebHost.UseUrls([.. urls]);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = probe.Limits.MaxBodyBytes + 1L;   // the endpoints answer 413 first, naming the limit
        });
        builder.Host.ConfigureHostOptions(h => h.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddMobileBert(configure);
        AddHttpServices(builder.Services);
        var app = builder.Build();
        UseMobileBertHttp(app);
        return app;
    }

    /// <summary>Problem details for framework errors and the OpenAPI document (used by <see cref="Build"/> and by apps that host the API).</summary>
    public static IServiceCollection AddHttpServices(IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // Errors raised before an endpoint runs (routing, content-type matching) name what was wrong too.
            var request = c.HttpContext.Request;
            switch (c.ProblemDetails.Status)
            {
                case StatusCodes.Status415UnsupportedMediaType:
                    c.ProblemDetails.Detail ??= $"send the body as application/json (got '{request.ContentType ?? "no content type"}').";
                    c.ProblemDetails.Extensions.TryAdd("field", "Content-Type");
                    break;
                case StatusCodes.Status404NotFound:
                    c.ProblemDetails.Detail ??= $"no endpoint at {request.Method} {request.Path} (see /openapi/v1.json).";
                    break;
                case StatusCodes.Status405MethodNotAllowed:
                    c.ProblemDetails.Detail ??= $"{request.Method} is not allowed on {request.Path}.";
                    break;
            }
        });
        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "MobileBert.NET serving API";
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary>Middleware and endpoints: problem details for errors, HTTP metrics, the API, /metrics, /openapi/v1.json.</summary>
    public static WebApplication UseMobileBertHttp(WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseHttpMetrics();
        app.MapMobileBert();
        app.MapMetrics();
        app.MapOpenApi();
        return app;
    }

    /// <summary>The addresses the started server listens on.</summary>
    public static IReadOnlyList<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
}
