using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MobileBert.Serving.Batching;

namespace MobileBert.Serving.Http;

/// <summary>The HTTP API of the served models (what `mobilebert serve` runs).</summary>
public static class MobileBertEndpoints
{
    /// <summary>
    /// Maps <c>GET /v1/models</c>, <c>POST /v1/models/{name}/classify|qa|embed|fill-mask|tokenize</c> (API key filter when configured),
    /// <c>/healthz</c>, <c>/readyz</c> and the web page at <c>/</c>. Errors are RFC 7807 problem details naming the field.
    /// </summary>
    public static IEndpointRouteBuilder MapMobileBert(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter<ApiKeyFilter>().WithTags("models");
        v1.MapGet("/models", (MobileBertModels models) => Results.Json(new ModelList(models.All.Select(Describe).ToArray()), JsonBody.Options))
            .WithName("ListModels").Produces<ModelList>();
        v1.MapPost("/models/{name}/classify", ClassifyEndpoint.Handle).WithName("Classify")
            .AddEndpointFilter(new RequestMetricsFilter("classify"))
            .Accepts<ClassifyRequest>("application/json").Produces<ClassifyResponse>().ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);
        v1.MapPost("/models/{name}/qa", QaEndpoint.Handle).WithName("AnswerQuestion")
            .AddEndpointFilter(new RequestMetricsFilter("qa"))
            .Accepts<QaRequest>("application/json").Produces<QaResponse>().ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);
        v1.MapPost("/models/{name}/tokenize", TokenizeEndpoint.Handle).WithName("Tokenize")
            .AddEndpointFilter(new RequestMetricsFilter("tokenize"))
            .Accepts<TokenizeRequest>("application/json").Produces<TokenizeResponse>().ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(413).ProducesProblem(415);
        v1.MapPost("/models/{name}/embed", EmbedEndpoint.Handle).WithName("Embed")
            .AddEndpointFilter(new RequestMetricsFilter("embed"))
            .Accepts<EmbedRequest>("application/json").Produces<EmbedResponse>().ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);
        v1.MapPost("/models/{name}/fill-mask", FillMaskEndpoint.Handle).WithName("FillMask")
            .AddEndpointFilter(new RequestMetricsFilter("fill-mask"))
            .Accepts<FillMaskRequest>("application/json").Produces<FillMaskResponse>().ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(413).ProducesProblem(415).ProducesProblem(503);
        app.MapGet("/healthz", () => Results.Json(new { status = "ok" })).WithTags("health").ExcludeFromDescription();
        app.MapGet("/readyz", (MobileBertModels models) => models.IsReady
            ? Results.Json(new { status = "ready" })
            : Problems.Status(StatusCodes.Status503ServiceUnavailable,
                "not ready (starting or shutting down).")).WithTags("health").ExcludeFromDescription();
        app.MapGet("/", () => Results.Content(Page.Value, "text/html; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    static readonly Lazy<string> Page = new(() =>
    {
        using var s = typeof(MobileBertEndpoints).Assembly.GetManifestResourceStream("MobileBert.Serving.index.html")
            ?? throw new InvalidOperationException("the web page resource is missing from MobileBert.Serving.");
        return new StreamReader(s).ReadToEnd();
    });

    static ModelInfo Describe(ServedModel m)
    {
        var c = m.Config;
        return new ModelInfo(m.Name, ServedModel.TaskName(m.Task), m.Classifier?.Labels ?? [], m.MaxSeqLength, m.IsQuantized ? "int8" : "fp32",
            new ConfigSummary(c.ModelType.ToString().ToLowerInvariant(), c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize,
                c.EmbeddingSize,
                c.VocabSize, c.MaxPositionEmbeddings),
            m.Embedder is { } e ? new EmbeddingInfo(e.Dimension, e.Pooling.ToString().ToLowerInvariant(), e.Normalize,
                e.Prompts.Count == 0 ? null : e.Prompts) : null,
            m.Classifier is { IsRegression: false } k ? k.IsMultiLabel : null);
    }

    /// <summary>
    /// The frame of every model endpoint: the model named in the route (404; with <paramref name="endpoint"/> also the
    /// wrong-task problem), the JSON body within the size limit (415 / 413 / 400), then <paramref name="body"/> with
    /// refusals turned into problems (<see cref="Guard"/>).
    /// </summary>
    internal static async Task<IResult> Handle<TRequest>(HttpContext http, MobileBertModels models, string name, string? endpoint,
        Func<ServedModel, TRequest, ServingLimits, Task<IResult>> body) where TRequest : class
    {
        ServedModel? model;
        if (endpoint is null) { if (!models.TryGet(name, out model)) return Problems.UnknownModel(name, models.All.Select(m => m.Name)); }
        else if (Find(models, name, endpoint, out model) is { } notServed) return notServed;
        var limits = models.Options.Limits;
        var (request, problem) = await JsonBody.ReadAsync<TRequest>(http, limits.MaxBodyBytes);
        if (problem is not null) return problem;
        return await Guard(http, () => body(model!, request!, limits));
    }

    /// <summary>The model named in the route, or the 404 / wrong-task problem.</summary>
    internal static IResult? Find(MobileBertModels models, string name, string endpoint, out ServedModel model)
    {
        if (!models.TryGet(name, out model!)) return Problems.UnknownModel(name, models.All.Select(m => m.Name));
        string serves = ServedModel.EndpointOf(model.Task);
        if (serves != endpoint)
            return Problems.Field(StatusCodes.Status400BadRequest, "name",
                $"model '{name}' is a {ServedModel.TaskName(model.Task)} model: use /v1/models/{name}/{serves}, not /{endpoint}.");
        return null;
    }

    /// <summary>A required, non-empty text within the character limit, or the problem naming <paramref name="field"/>.</summary>
    internal static IResult? CheckText(string? text, string field, int maxChars, bool optional = false)
    {
        if (text is null) return optional ? null : Problems.Field(400, field, $"{field} is required (a string).");
        if (text.Length == 0) return Problems.Field(400, field, $"{field} is empty.");
        if (text.Length > maxChars) return Problems.Field(400, field, $"{field} has {text.Length} characters, more than the limit of {maxChars}.");
        return null;
    }

    /// <summary>Runs a model call, turning refusals into problems: too long (400, the field), queue full (503 + Retry-After).</summary>
    internal static async Task<IResult> Guard(HttpContext http, Func<Task<IResult>> call)
    {
        try { return await call(); }
        catch (InputTooLongException e) { return Problems.Field(400, e.Field, e.Message); }
        catch (ServerBusyException e) { return Problems.Busy(http, e.Message); }
        catch (ArgumentException e) when (e.Message.StartsWith("text: ", StringComparison.Ordinal)) { return Problems.Field(400, "text", e.Message); }
    }
}
