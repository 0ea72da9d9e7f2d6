using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Serving.Tests;

/// <summary>Every endpoint of the API through the sample app (WebApplicationFactory, in memory).</summary>
public class EndpointTests(SampleAppFactory factory) : IClassFixture<SampleAppFactory>
{
    readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task ModelsListsNameTaskLabelsPrecisionAndConfig()
    {
        var models = JsonNode.Parse(await _client.GetStringAsync("/v1/models"))!["models"]!.AsArray();
        Assert.Equal(4, models.Count);
        var e = models.Single(m => (string?)m!["name"] == "embedder")!;
        Assert.Equal("embedding", (string?)e["task"]);
        Assert.Equal(64, (int)e["embedding"]!["dimension"]!);
        Assert.Equal("mean", (string?)e["embedding"]!["pooling"]);
        Assert.Equal(TestModels.QueryPrompt, (string?)e["embedding"]!["prompts"]!["query"]);
        Assert.Null(models.Single(m => (string?)m!["name"] == "sentiment")!["embedding"]);
        Assert.Equal("fill-mask", (string?)models.Single(m => (string?)m!["name"] == "fill-mask")!["task"]);
        Assert.Equal("mobilebert", (string?)e["config"]!["model_type"]);
        var s = models.Single(m => (string?)m!["name"] == "sentiment")!;
        Assert.Equal("classification", (string?)s["task"]);
        Assert.Equal(["calm", "happy", "sad"], s["labels"]!.AsArray().Select(l => (string)l!));
        Assert.Equal(32, (int)s["max_seq_length"]!);
        Assert.Equal("fp32", (string?)s["precision"]);
        Assert.False((bool)s["multi_label"]!);                                  // one softmax over the labels
        Assert.Null(e["multi_label"]);
        Assert.Equal(64, (int)s["config"]!["hidden_size"]!);
        var q = models.Single(m => (string?)m!["name"] == "qa")!;
        Assert.Equal("question-answering", (string?)q["task"]);
        Assert.Empty(q["labels"]!.AsArray());
    }

    [Fact]
    public async Task ClassifyReturnsTheLibrarysProbabilitiesForTextsAndPairs()
    {
        using var reference = TextClassifier.Load(TestModels.Classifier, new PredictorOptions { Threads = 1 });
        var r = await Http.PostOk(_client, "/v1/models/sentiment/classify", new { texts = TestModels.Texts });
        Assert.Equal("sentiment", (string?)r["model"]);
        var results = r["results"]!.AsArray();
        Assert.Equal(TestModels.Texts.Length, results.Count);
        for (int i = 0; i < results.Count; i++)
        {
            var expected = reference.Classify(TestModels.Texts[i]);
            Assert.Equal(expected.Label, (string?)results[i]!["label"]);
            foreach (var c in expected.Categories) Assert.Equal(c.Probability, (float)results[i]!["probabilities"]![c.Label]!, 5);
            Assert.False((bool)results[i]!["truncated"]!);
        }
        var pairs = await Http.PostOk(_client, "/v1/models/sentiment/classify", new { texts = new[] { "a cat", "a dog" },
            text_pairs = new[] { "sat on a mat", null } });
        Assert.Equal(reference.Classify("a cat", "sat on a mat").Probability, (float)pairs["results"]![0]!["probability"]!, 5);
        Assert.Equal(reference.Classify("a dog").Probability, (float)pairs["results"]![1]!["probability"]!, 5);
    }

    [Fact]
    public async Task InputsOverTheModelsMaximumAreRefusedUnlessTruncationIsAsked()
    {
        string longText = string.Join(' ', Enumerable.Repeat("word", 40));   // 42 tokens > 32
        string detail = await Http.PostProblem(_client, "/v1/models/sentiment/classify", Http.Json(new { texts = new[] { "short", longText } }), 400,
            "texts[1]");
        Assert.Contains("42 tokens", detail);
        Assert.Contains("32", detail);
        var r = await Http.PostOk(_client, "/v1/models/sentiment/classify", new { texts = new[] { "short", longText }, truncate = true });
        Assert.False((bool)r["results"]![0]!["truncated"]!);
        Assert.True((bool)r["results"]![1]!["truncated"]!);
        await Http.PostProblem(_client, "/v1/models/sentiment/tokenize", Http.Json(new { text = longText }), 400, "text");
        await Http.PostProblem(_client, "/v1/models/qa/qa", Http.Json(new { question = longText, context = TestModels.Context }), 400, "question");
    }

    [Fact]
    public async Task QaReturnsSpansOfTheContextAndTheNoAnswerCandidate()
    {
        var r = await Http.PostOk(_client, "/v1/models/qa/qa", new { question = "What is the capital of Germany?", context = TestModels.Context,
            top_k = 20 });
        var answers = r["answers"]!.AsArray();
        Assert.InRange(answers.Count, 2, 20);
        double previous = double.MaxValue;
        foreach (var a in answers)
        {
            int start = (int)a!["start"]!, end = (int)a["end"]!;
            Assert.Equal(TestModels.Context[start..end], (string?)a["text"]);
            Assert.Equal(((string)a["text"]!).Length == 0, (bool)a["is_no_answer"]!);
            Assert.True((double)a["score"]! <= previous);
            previous = (double)a["score"]!;
        }
        // The library's answers, in the same order with the same scores.
        using var reference = QuestionAnswerer.Load(TestModels.QuestionAnswerer, new PredictorOptions { Threads = 1 });
        var expected = reference.Answer(TestModels.Context, "What is the capital of Germany?", topK: 20);
        Assert.Equal(expected.Select(a => (a.Text, a.Start)), answers.Select(a => ((string)a!["text"]!, (int)a["start"]!)));
        // SQuAD v2: "no answer" is ranked with the spans (a short context has fewer than 20 candidates, so it is listed).
        var few = await Http.PostOk(_client, "/v1/models/qa/qa", new { question = "Who?", context = "Berlin is big.", top_k = 20 });
        var noAnswer = few["answers"]!.AsArray().Single(a => (bool)a!["is_no_answer"]!)!;
        Assert.Equal("", (string?)noAnswer["text"]);
        Assert.Equal(0, (int)noAnswer["start"]! + (int)noAnswer["end"]!);
        var top1 = await Http.PostOk(_client, "/v1/models/qa/qa", new { question = "What flows?", context = TestModels.Context, top_k = 1 });
        Assert.Single(top1["answers"]!.AsArray());
    }

    [Fact]
    public async Task EmbedReturnsTheLibrarysUnitVectors()
    {
        using var reference = TextEmbedder.Load(TestModels.Embedder, new EmbedderOptions { Predictor = new PredictorOptions { Threads = 1 } });
        var r = await Http.PostOk(_client, "/v1/models/embedder/embed", new { texts = TestModels.Texts[..3] });
        Assert.Equal(64, (int)r["dimension"]!);
        Assert.True((bool)r["normalized"]!);
        var vectors = r["embeddings"]!.AsArray();
        Assert.Equal(3, vectors.Count);
        for (int i = 0; i < 3; i++)
        {
            var got = vectors[i]!.AsArray().Select(x => (float)x!).ToArray();
            var expected = reference.Embed(TestModels.Texts[i]);
            Assert.Equal(expected.Length, got.Length);
            Assert.True(TextEmbedder.Cosine(expected, got) > 0.99999f);
            Assert.Equal(1.0, Math.Sqrt(got.Sum(x => (double)x * x)), 4);
        }
        string longText = string.Join(' ', Enumerable.Repeat("word", 200));   // > 128 positions
        await Http.PostProblem(_client, "/v1/models/embedder/embed", Http.Json(new { texts = new[] { longText } }), 400, "texts[0]");
        Assert.Single((await Http.PostOk(_client, "/v1/models/embedder/embed", new { texts = new[] { longText },
            truncate = true }))["embeddings"]!.AsArray());

        // A named prompt goes before every text; an unknown one is a 400 naming the field and the model's prompts.
        var q = await Http.PostOk(_client, "/v1/models/embedder/embed", new { texts = TestModels.Texts[..2], prompt_name = "query" });
        for (int i = 0; i < 2; i++)
            Assert.True(TextEmbedder.Cosine(reference.Embed(TestModels.QueryPrompt + TestModels.Texts[i]),
                q["embeddings"]![i]!.AsArray().Select(x => (float)x!).ToArray()) > 0.99999f);
        string unknown = await Http.PostProblem(_client, "/v1/models/embedder/embed",
            Http.Json(new { texts = TestModels.Texts[..1], prompt_name = "passage" }), 400, "prompt_name");
        Assert.Contains("'passage' is not one of model 'embedder''s prompts (query)", unknown);
        // The prompt counts toward the maximum: 126 words fit alone (128 tokens), not after "find: " (130).
        string edge = string.Join(' ', Enumerable.Repeat("word", 126));
        Assert.Single((await Http.PostOk(_client, "/v1/models/embedder/embed", new { texts = new[] { edge } }))["embeddings"]!.AsArray());
        await Http.PostProblem(_client, "/v1/models/embedder/embed", Http.Json(new { texts = new[] { edge }, prompt_name = "query" }), 400,
            "texts[0]");
    }

    [Fact]
    public async Task FillMaskReturnsTheLibrarysCandidatesForEachMask()
    {
        using var reference = MaskFiller.Load(TestModels.MaskedLm, new PredictorOptions { Threads = 1 });
        const string text = "The capital of France is [MASK] and of Germany [MASK].";
        var r = await Http.PostOk(_client, "/v1/models/fill-mask/fill-mask", new { text, top_k = 3 });
        var masks = r["masks"]!.AsArray();
        var expected = reference.Fill(text, 3);
        Assert.Equal(2, masks.Count);
        for (int m = 0; m < 2; m++)
        {
            Assert.Equal(expected[m].Select(c => c.Token), masks[m]!.AsArray().Select(c => (string)c!["token"]!));
            Assert.Equal(expected[m][0].Sequence, (string?)masks[m]![0]!["sequence"]);
            Assert.Equal(expected[m][0].Probability, (float)masks[m]![0]!["probability"]!, 5);
        }
        await Http.PostProblem(_client, "/v1/models/fill-mask/fill-mask", Http.Json(new { text = "no mask here" }), 400, "text");
        await Http.PostProblem(_client, "/v1/models/fill-mask/fill-mask", Http.Json(new { text = "a [MASK]", top_k = 0 }), 400, "top_k");
        await Http.PostProblem(_client, "/v1/models/fill-mask/classify", Http.Json(new { texts = new[] { "a" } }), 400, "name");
    }

    [Fact]
    public async Task TokenizeReturnsTheTokenizersIdsAndOffsets()
    {
        var tok = WordPieceTokenizer.FromVocabFile(TestModels.Vocab);
        var r = await Http.PostOk(_client, "/v1/models/sentiment/tokenize", new { text = "Héllo, world!", text_pair = "Again" });
        var e = tok.Encode("Héllo, world!", "Again", 512);
        Assert.Equal(e.Tokens, r["tokens"]!.AsArray().Select(t => (string)t!));
        Assert.Equal(e.InputIds, r["input_ids"]!.AsArray().Select(t => (int)t!));
        Assert.Equal(e.TokenTypeIds, r["token_type_ids"]!.AsArray().Select(t => (int)t!));
        Assert.Equal(e.Offsets.Select(o => $"{o.Start},{o.End}"), r["offsets"]!.AsArray().Select(o => $"{(int)o![0]!},{(int)o[1]!}"));
    }

    [Theory]
    [InlineData("/v1/models/nope/classify", "{\"texts\":[\"a\"]}", 404, "name")]
    [InlineData("/v1/models/qa/classify", "{\"texts\":[\"a\"]}", 400, "name")]
    [InlineData("/v1/models/sentiment/qa", "{\"question\":\"a\",\"context\":\"b\"}", 400, "name")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[\"a\"", 400, "texts[1]")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[1]}", 400, "texts[0]")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[\"a\"],\"colour\":1}", 400, "colour")]
    [InlineData("/v1/models/sentiment/classify", "[]", 400, "body")]
    [InlineData("/v1/models/sentiment/classify", "null", 400, "body")]
    [InlineData("/v1/models/sentiment/classify", "", 400, "body")]
    [InlineData("/v1/models/sentiment/classify", "{}", 400, "texts")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[]}", 400, "texts")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[\"a\",\"\"]}", 400, "texts[1]")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[\"a\",null]}", 400, "texts[1]")]
    [InlineData("/v1/models/sentiment/classify", "{\"texts\":[\"a\"],\"text_pairs\":[\"b\",\"c\"]}", 400, "text_pairs")]
    [InlineData("/v1/models/qa/qa", "{\"context\":\"b\"}", 400, "question")]
    [InlineData("/v1/models/qa/qa", "{\"question\":\"a\"}", 400, "context")]
    [InlineData("/v1/models/qa/qa", "{\"question\":\"a\",\"context\":\"b\",\"top_k\":0}", 400, "top_k")]
    [InlineData("/v1/models/qa/qa", "{\"question\":\"a\",\"context\":\"b\",\"top_k\":21}", 400, "top_k")]
    [InlineData("/v1/models/sentiment/tokenize", "{\"text_pair\":\"b\"}", 400, "text")]
    public async Task BadRequestsAreProblemsNamingTheField(string path, string body, int status, string field)
    {
        await Http.PostProblem(_client, path, Http.Json(body), status, field);
    }

    [Fact]
    public async Task LimitsOnTextsCharactersBodyAndContentTypeAreClearErrors()
    {
        var many = Enumerable.Repeat("a", 257).ToArray();
        Assert.Contains("256", await Http.PostProblem(_client, "/v1/models/sentiment/classify", Http.Json(new { texts = many }), 400, "texts"));
        string huge = new('x', 20_001);
        Assert.Contains("20000", await Http.PostProblem(_client, "/v1/models/sentiment/classify", Http.Json(new { texts = new[] { "a", huge } }),
            400, "texts[1]"));
        await Http.PostProblem(_client, "/v1/models/qa/qa", Http.Json(new { question = "a", context = huge }), 400, "context");
        string body = "{\"texts\":[\"" + new string('y', (1 << 20) + 10) + "\"]}";
        Assert.Contains("1048576", await Http.PostProblem(_client, "/v1/models/sentiment/classify", Http.Json(body), 413, "body"));
        var text = new StringContent("{\"texts\":[\"a\"]}", System.Text.Encoding.UTF8, "text/plain");
        await Http.PostProblem(_client, "/v1/models/sentiment/classify", text, 415, "Content-Type");
    }

    [Fact]
    public async Task HealthReadinessMetricsOpenApiAndThePage()
    {
        Assert.Equal("ok", (string?)JsonNode.Parse(await _client.GetStringAsync("/healthz"))!["status"]);
        Assert.Equal("ready", (string?)JsonNode.Parse(await _client.GetStringAsync("/readyz"))!["status"]);
        await Http.PostOk(_client, "/v1/models/sentiment/classify", new { texts = new[] { "metrics please" } });
        string metrics = await _client.GetStringAsync("/metrics");
        foreach (var name in new[] { "mobilebert_requests_total{model=\"sentiment\",endpoint=\"classify\",code=\"200\"}",
            "mobilebert_request_duration_seconds_bucket",
                     "mobilebert_batch_size_bucket", "mobilebert_queue_depth", "mobilebert_request_errors_total", "http_request_duration_seconds" })
            Assert.Contains(name, metrics);
        var openApi = JsonNode.Parse(await _client.GetStringAsync("/openapi/v1.json"))!;
        var paths = openApi["paths"]!.AsObject().Select(p => p.Key).ToArray();
        Assert.Contains("/v1/models/{name}/classify", paths);
        Assert.Contains("/v1/models/{name}/qa", paths);
        Assert.Contains("/v1/models/{name}/tokenize", paths);
        using var page = await _client.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/v1/models", html);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);   // no CDN: everything is in the page
        await Http.AssertProblem(await _client.GetAsync("/v2/nothing"), 404, null);
    }

    [Fact]
    public async Task TheSamplesOwnEndpointGetsTheInjectedClassifier()
    {
        var r = await Http.PostOk(_client, "/review", new { text = "Great phone, lousy battery." });
        using var reference = TextClassifier.Load(TestModels.Classifier, new PredictorOptions { Threads = 1 });
        var expected = reference.Classify("Great phone, lousy battery.");
        Assert.Equal(expected.Label, (string?)r["label"]);
        Assert.Equal(expected.Probability, (float)r["probability"]!, 5);
        var keyed = factory.Services.GetRequiredKeyedService<IClassifier>("sentiment");
        Assert.Same(keyed, factory.Services.GetRequiredService<MobileBertModels>().GetClassifier("sentiment"));
        Assert.Equal(3, keyed.Labels.Count);
        Assert.Throws<InvalidOperationException>(() => factory.Services.GetRequiredKeyedService<IClassifier>("qa"));
    }

    [Fact]
    public async Task ConcurrentRequestsShareBatchesAndGetTheirOwnResults()
    {
        using var reference = TextClassifier.Load(TestModels.Classifier, new PredictorOptions { Threads = 1 });
        var expected = TestModels.Texts.Select(t => reference.Classify(t).Label).ToArray();
        var stats = factory.Services.GetRequiredService<MobileBertModels>().GetClassifier("sentiment") as BatchedClassifier;
        long batches0 = stats!.Stats.BatchCount, items0 = stats.Stats.ItemCount;
        var tasks = Enumerable.Range(0, 64).Select(i => Http.PostOk(_client, "/v1/models/sentiment/classify",
            new { texts = new[] { TestModels.Texts[i % 8], TestModels.Texts[(i + 3) % 8] } })).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(expected[i % 8], (string?)results[i]["results"]![0]!["label"]);
            Assert.Equal(expected[(i + 3) % 8], (string?)results[i]["results"]![1]!["label"]);
        }
        long batches = stats.Stats.BatchCount - batches0, items = stats.Stats.ItemCount - items0;
        Assert.Equal(128, items);
        Assert.True(batches < items, $"{items} inputs ran in {batches} batches: requests were not coalesced");
    }
}

/// <summary>The API key: /v1/* needs it, health and metrics do not.</summary>
public class ApiKeyTests(KeyedSampleAppFactory factory) : IClassFixture<KeyedSampleAppFactory>
{
    readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task V1NeedsTheBearerKey()
    {
        using var none = await _client.GetAsync("/v1/models");
        await Http.AssertProblem(none, 401, "Authorization");
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());
        foreach (var wrong in new[] { "nope", KeyedSampleAppFactory.Key + "x", KeyedSampleAppFactory.Key[..^1] })
        {
            using var bad = new HttpRequestMessage(HttpMethod.Post,
                "/v1/models/sentiment/classify") { Content = Http.Json(new { texts = new[] { "a" } }) };
            Http.Bearer(bad, wrong);
            await Http.AssertProblem(await _client.SendAsync(bad), 401, "Authorization");
        }
        using var ok = new HttpRequestMessage(HttpMethod.Post,
            "/v1/models/sentiment/classify") { Content = Http.Json(new { texts = new[] { "a" } }) };
        Http.Bearer(ok, KeyedSampleAppFactory.Key);
        Assert.True((await _client.SendAsync(ok)).IsSuccessStatusCode);
        Assert.True((await _client.GetAsync("/healthz")).IsSuccessStatusCode);
        Assert.True((await _client.GetAsync("/metrics")).IsSuccessStatusCode);
        Assert.True(Http.ApiKeyMatches($"Bearer {KeyedSampleAppFactory.Key}", KeyedSampleAppFactory.Key));
        Assert.False(Http.ApiKeyMatches("Bearer ", ""));
    }
}
