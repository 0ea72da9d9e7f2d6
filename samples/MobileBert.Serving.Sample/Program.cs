// A minimal-API app that hosts MobileBert models the .NET way: registered with DI, injected where needed.
// dotnet run --project samples/MobileBert.Serving.Sample -- --Models:Sentiment=DIR [--Models:Qa=DIR] [--Models:Embedder=DIR] [--Models:FillMask=DIR]
// then: curl -s localhost:5000/review -H 'content-type: application/json' -d '{"text":"Great phone, lousy battery."}'
using Microsoft.AspNetCore.Mvc;
using MobileBert;
using MobileBert.Serving;

var builder = WebApplication.CreateBuilder(args);

// Models are loaded when the host starts (a folder that does not load stops the start, naming it); the option callback
// runs then, so configuration from any source (command line, appsettings.json, environment) is complete.
builder.Services.AddMobileBert(o =>
{
    var models = builder.Configuration.GetSection("Models");
    o.AddClassifier("sentiment", models["Sentiment"] ?? throw new InvalidOperationException("set Models:Sentiment to a classifier folder."));
    if (models["Qa"] is { } qa) o.AddQuestionAnswerer("qa", qa);
    if (models["Embedder"] is { } embedder) o.AddEmbedder("embedder", embedder, Pooling.Mean, normalize: true);
    if (models["FillMask"] is { } fillMask) o.AddMaskFiller("fill-mask", fillMask);
    o.MaxBatch = builder.Configuration.GetValue("MobileBert:MaxBatch", 32);
    o.ApiKey = builder.Configuration["MobileBert:ApiKey"];
});
MobileBertServer.AddHttpServices(builder.Services);   // problem details + OpenAPI (optional)

var app = builder.Build();

// Your own endpoint: the classifier is injected by name; concurrent requests share the model's batches.
app.MapPost("/review", async (Review review, [FromKeyedServices("sentiment")] IClassifier classifier, CancellationToken cancel) =>
{
    if (string.IsNullOrWhiteSpace(review.Text))
        return Results.Problem(detail: "text is required.", statusCode: 400, extensions: new Dictionary<string, object?> { ["field"] = "text" });
    Classification result = await classifier.ClassifyAsync(review.Text, cancellationToken: cancel);
    return Results.Ok(new { label = result.Label, probability = result.Probability });
});

// The same HTTP API as `mobilebert serve` (/v1/models/…, /healthz, /readyz, the web page, /metrics, /openapi/v1.json).
MobileBertServer.UseMobileBertHttp(app);

app.Run();

record Review(string? Text);

/// <summary>The app's entry point (public for WebApplicationFactory tests).</summary>
public partial class Program;
