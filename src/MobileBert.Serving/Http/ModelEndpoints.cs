using Microsoft.AspNetCore.Http;

namespace MobileBert.Serving.Http;

/// <summary>POST /v1/models/{name}/classify: texts (or text pairs) → label probabilities (or regression scores).</summary>
static class ClassifyEndpoint
{
    public static Task<IResult> Handle(string name, HttpContext http, MobileBertModels models) =>
        MobileBertEndpoints.Handle<ClassifyRequest>(http, models, name, "classify", async (model, request, limits) =>
        {
            if (Validate(request, limits) is { } invalid) return invalid;
            var inputs = request.Texts!.Select((t, i) => new ClassifierInput(t!, request.TextPairs?[i])).ToArray();
            var classifier = model.Classifier!;
            var results = await classifier.ClassifyAsync(inputs, request.Truncate, http.RequestAborted);
            var items = new ClassifyResult[results.Count];
            for (int i = 0; i < items.Length; i++)
            {
                var r = results[i];
                bool truncated = request.Truncate && classifier.Tokenizer.Encode(inputs[i].Text, inputs[i].TextPair,
                    int.MaxValue).Length > classifier.MaxSeqLength;
                items[i] = r.Score is float score
                    ? new ClassifyResult(null, null, null, score, truncated)
                    : new ClassifyResult(r.Label, r.Probability, classifier.Labels.ToDictionary(l => l, l => r.Categories.First(c =>
                        c.Label == l).Probability), null, truncated);
            }
            return Results.Json(new ClassifyResponse(name, items), JsonBody.Options);
        });

    /// <summary>texts: required, 1…limit entries, each a non-empty string within the character limit.</summary>
    internal static IResult? ValidateTexts(List<string?>? texts, ServingLimits limits)
    {
        if (texts is null) return Problems.Field(400, "texts", "texts is required (an array of strings).");
        if (texts.Count == 0) return Problems.Field(400, "texts", "texts is empty; send at least one text.");
        if (texts.Count > limits.MaxTextsPerRequest)
            return Problems.Field(400, "texts", $"{texts.Count} texts, more than the limit of {limits.MaxTextsPerRequest} per request.");
        for (int i = 0; i < texts.Count; i++)
            if (MobileBertEndpoints.CheckText(texts[i], $"texts[{i}]", limits.MaxCharsPerText) is { } p) return p;
        return null;
    }

    static IResult? Validate(ClassifyRequest request, ServingLimits limits)
    {
        if (ValidateTexts(request.Texts, limits) is { } invalid) return invalid;
        var texts = request.Texts!;
        if (request.TextPairs is { } pairs && pairs.Count != texts.Count)
            return Problems.Field(400, "text_pairs", $"text_pairs has {pairs.Count} entries; texts has {texts.Count} (one pair, or null, per text).");
        for (int i = 0; i < texts.Count; i++)
            if (MobileBertEndpoints.CheckText(request.TextPairs?[i], $"text_pairs[{i}]", limits.MaxCharsPerText, optional: true) is { } q) return q;
        return null;
    }
}

/// <summary>POST /v1/models/{name}/qa: question + context → n-best answers with character offsets (SQuAD v2: "no answer").</summary>
static class QaEndpoint
{
    public static Task<IResult> Handle(string name, HttpContext http, MobileBertModels models) =>
        MobileBertEndpoints.Handle<QaRequest>(http, models, name, "qa", async (model, request, limits) =>
        {
            if (MobileBertEndpoints.CheckText(request.Question, "question", limits.MaxCharsPerText) is { } q) return q;
            if (MobileBertEndpoints.CheckText(request.Context, "context", limits.MaxCharsPerText) is { } c) return c;
            if (CheckTopK(request.TopK ?? 3, limits) is { } k) return k;
            var answers = await model.QuestionAnswerer!.AnswerAsync(request.Context!, request.Question!, request.TopK ?? 3, request.Truncate,
                http.RequestAborted);
            return Results.Json(new QaResponse(name, answers.Select(a => new QaAnswer(a.Text, a.Start, a.End, a.Score, a.Probability,
                a.IsNoAnswer)).ToArray()),
                JsonBody.Options);
        });

    internal static IResult? CheckTopK(int topK, ServingLimits limits) =>
        topK < 1 || topK > limits.MaxTopK ? Problems.Field(400, "top_k", $"top_k must be 1…{limits.MaxTopK}, got {topK}.") : null;
}

/// <summary>POST /v1/models/{name}/tokenize: the model's WordPiece tokens, ids and character offsets.</summary>
static class TokenizeEndpoint
{
    public static Task<IResult> Handle(string name, HttpContext http, MobileBertModels models) =>
        MobileBertEndpoints.Handle<TokenizeRequest>(http, models, name, endpoint: null, (model, request, limits) =>
        {
            if (MobileBertEndpoints.CheckText(request.Text, "text", limits.MaxCharsPerText) is { } t) return Task.FromResult(t);
            if (MobileBertEndpoints.CheckText(request.TextPair, "text_pair", limits.MaxCharsPerText,
                optional: true) is { } p) return Task.FromResult(p);
            var full = model.Tokenizer.Encode(request.Text!, request.TextPair, int.MaxValue);
            bool truncated = full.Length > model.MaxSeqLength;
            if (truncated && !request.Truncate)
                return Task.FromResult(Problems.Field(400, "text",
                    $"text: {full.Length} tokens, more than the model's maximum of {model.MaxSeqLength} (send \"truncate\": true to cut it)."));
            var e = truncated ? model.Tokenizer.Encode(request.Text!, request.TextPair, model.MaxSeqLength) : full;
            return Task.FromResult(Results.Json(new TokenizeResponse(name, e.Tokens, e.InputIds, e.TokenTypeIds,
                e.Offsets.Select(o => new[] { o.Start, o.End }).ToArray(), truncated), JsonBody.Options));
        });
}

/// <summary>POST /v1/models/{name}/embed: texts → sentence vectors (the embedder's pooling and normalisation).</summary>
static class EmbedEndpoint
{
    public static Task<IResult> Handle(string name, HttpContext http, MobileBertModels models) =>
        MobileBertEndpoints.Handle<EmbedRequest>(http, models, name, "embed", async (model, request, limits) =>
        {
            if (ClassifyEndpoint.ValidateTexts(request.Texts, limits) is { } invalid) return invalid;
            var embedder = model.Embedder!;
            if (request.PromptName is { } prompt && !embedder.Prompts.ContainsKey(prompt))
                return Problems.Field(400, "prompt_name", embedder.Prompts.Count == 0 ? $"prompt_name: model '{name}' has no prompts."
                    : $"prompt_name: '{prompt}' is not one of model '{name}''s prompts ({string.Join(", ", embedder.Prompts.Keys)}).");
            var vectors = await embedder.EmbedAsync(request.Texts!.Select(t => t!).ToArray(), request.Truncate, request.PromptName,
                http.RequestAborted);
            return Results.Json(new EmbedResponse(name, embedder.Dimension, embedder.Pooling.ToString().ToLowerInvariant(), embedder.Normalize,
                vectors),
                JsonBody.Options);
        });
}

/// <summary>POST /v1/models/{name}/fill-mask: a text with [MASK] tokens → the most probable tokens for each.</summary>
static class FillMaskEndpoint
{
    public static Task<IResult> Handle(string name, HttpContext http, MobileBertModels models) =>
        MobileBertEndpoints.Handle<FillMaskRequest>(http, models, name, "fill-mask", async (model, request, limits) =>
        {
            if (MobileBertEndpoints.CheckText(request.Text, "text", limits.MaxCharsPerText) is { } t) return t;
            if (QaEndpoint.CheckTopK(request.TopK ?? 5, limits) is { } k) return k;
            var masks = await model.MaskFiller!.FillAsync(request.Text!, request.TopK ?? 5, request.Truncate, http.RequestAborted);
            return Results.Json(new FillMaskResponse(name, masks.Select(m => (IReadOnlyList<MaskCandidate>)m
                .Select(c => new MaskCandidate(c.Token, c.TokenId, c.Probability, c.Sequence)).ToArray()).ToArray()), JsonBody.Options);
        });
}
