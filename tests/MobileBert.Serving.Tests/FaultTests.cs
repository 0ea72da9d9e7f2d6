using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace MobileBert.Serving.Tests;

/// <summary>The server under faults, on real loopback sockets; every loop is bounded in count and time.</summary>
[Collection(LoopbackCollection.Name)]
public class FaultTests
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AThousandConcurrentConnectionsAreAllAnswered()
    {
        await using var server = await LoopbackServer.StartAsync(o => { o.AddClassifier("m",
            TestModels.Classifier); o.MaxQueue = 4096; o.Threads = 1; });
        using var cancel = new CancellationTokenSource(Bound);
        const int n = 1000;
        var streams = new Stream[n];
        for (int i = 0; i < n; i++) streams[i] = await server.ConnectAsync();   // all 1,000 connections open at once
        try
        {
            var responses = await Task.WhenAll(streams.Select(async (s, i) =>
            {
                var body = Encoding.UTF8.GetBytes($"{{\"texts\":[\"{TestModels.Texts[i % TestModels.Texts.Length]}\"]}}");
                await s.WriteAsync(LoopbackServer.PostHead("/v1/models/m/classify", body.Length), cancel.Token);
                await s.WriteAsync(body, cancel.Token);
                return await LoopbackServer.ReadResponseAsync(s, cancel.Token);
            }));
            Assert.All(responses, r => Assert.True(r.Status == 200, r.Text));
            Assert.All(responses, r => Assert.Contains("\"label\":", r.Text));
            var stats = server.Classifier("m").Stats;
            Assert.Equal(n, stats.ItemCount);
            Assert.True(stats.BatchCount < n / 2, $"{n} inputs in {stats.BatchCount} batches");
        }
        finally { foreach (var s in streams) s.Dispose(); }
    }

    [Fact]
    public async Task AFullQueueAnswers503WithRetryAfter()
    {
        // Inputs wait up to 3 s for a batch of 64 that never fills: the queue of 8 stays full meanwhile.
        await using var server = await LoopbackServer.StartAsync(o =>
        {
            o.AddClassifier("m",
                TestModels.Classifier); o.MaxQueue = 8; o.Limits.MaxTextsPerRequest = 8; o.MaxBatch = 64; o.MaxWait = TimeSpan.FromSeconds(3);
        });
        using var client = server.Client();
        var four = new { texts = TestModels.Texts[..4] };
        var a = client.PostAsync("/v1/models/m/classify", Http.Json(four));
        var b = client.PostAsync("/v1/models/m/classify", Http.Json(four));
        Assert.True(SpinWait.SpinUntil(() => server.Classifier("m").QueueDepth == 8, 10_000));
        using var refused = await client.PostAsync("/v1/models/m/classify", Http.Json(new { texts = new[] { "one more" } }));
        Assert.Contains("queue is full", await Http.AssertProblem(refused, 503, null));
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, (await a).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await b).StatusCode);
    }

    [Fact]
    public async Task OversizedAndMalformedBodiesAreRefusedOnTheWire()
    {
        await using var server = await LoopbackServer.StartAsync(o => { o.AddClassifier("m",
            TestModels.Classifier); o.Limits.MaxBodyBytes = 64 * 1024; });
        using var cancel = new CancellationTokenSource(Bound);
        // Declared too large: refused before the body is read.
        await using (var s = await server.ConnectAsync())
        {
            await s.WriteAsync(LoopbackServer.PostHead("/v1/models/m/classify", 10_000_000), cancel.Token);
            await s.WriteAsync(new byte[4096], cancel.Token);
            var (status, text) = await LoopbackServer.ReadResponseAsync(s, cancel.Token);
            Assert.Equal(413, status);
            Assert.Contains("65536", text);
        }
        // Streamed (chunked, no length) past the limit.
        await using (var s = await server.ConnectAsync())
        {
            await s.WriteAsync(LoopbackServer.PostHead("/v1/models/m/classify", null, chunked: true), cancel.Token);
            var chunk = Encoding.ASCII.GetBytes($"2000\r\n{new string('x', 0x2000)}\r\n");
            try { for (int i = 0; i < 10; i++) await s.WriteAsync(chunk, cancel.Token); }
            catch (IOException) { }   // the server may stop reading once it has answered
            var (status, _) = await LoopbackServer.ReadResponseAsync(s, cancel.Token);
            Assert.Equal(413, status);
        }
        // Not HTTP at all, then a broken JSON body: 400s, and the server goes on serving.
        await using (var s = await server.ConnectAsync())
        {
            await s.WriteAsync(Encoding.ASCII.GetBytes("GARBAGE\r\n\r\n"), cancel.Token);
            Assert.Equal(400, (await LoopbackServer.ReadResponseAsync(s, cancel.Token)).Status);
        }
        await using (var s = await server.ConnectAsync())
        {
            var body = Encoding.UTF8.GetBytes("{\"texts\": [\"unterminated");
            await s.WriteAsync(LoopbackServer.PostHead("/v1/models/m/classify", body.Length), cancel.Token);
            await s.WriteAsync(body, cancel.Token);
            var (status, text) = await LoopbackServer.ReadResponseAsync(s, cancel.Token);
            Assert.Equal(400, status);
            Assert.Contains("\"field\":\"texts[0]\"", text);
        }
        using var client = server.Client();
        await Http.PostOk(client, "/v1/models/m/classify", new { texts = new[] { "still serving" } });
    }

    [Fact]
    public async Task SlowAndStalledClientsDoNotHoldUpOthers()
    {
        await using var server = await LoopbackServer.StartAsync(o => o.AddClassifier("m", TestModels.Classifier));
        using var cancel = new CancellationTokenSource(Bound);
        var body = Encoding.UTF8.GetBytes("{\"texts\":[\"a slow client sends this one byte at a time\"]}");
        await using var stalled = await server.ConnectAsync();
        await stalled.WriteAsync(LoopbackServer.PostHead("/v1/models/m/classify", body.Length), cancel.Token);
        await stalled.WriteAsync(body.AsMemory(0, 10), cancel.Token);   // and then nothing
        await using var slow = await server.ConnectAsync();
        var slowDone = Task.Run(async () =>
        {
            await slow.WriteAsync(LoopbackServer.PostHead("/v1/models/m/classify", body.Length), cancel.Token);
            for (int i = 0; i < body.Length; i += 6)
            {
                await slow.WriteAsync(body.AsMemory(i, Math.Min(6, body.Length - i)), cancel.Token);
                await Task.Delay(100, cancel.Token);                      // ≈ 1 s for the body
            }
            return await LoopbackServer.ReadResponseAsync(slow, cancel.Token);
        });
        using var client = server.Client();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++) await Http.PostOk(client, "/v1/models/m/classify", new { texts = new[] { TestModels.Texts[i % 8] } });
        var fast = sw.Elapsed;
        var (status, text) = await slowDone;
        Assert.Equal(200, status);
        Assert.Contains("\"label\":", text);
        Assert.True(fast < sw.Elapsed, $"20 requests took {fast}, the slow one {sw.Elapsed}: they waited for it");
    }

    [Fact]
    public async Task ADisconnectedClientsInputsAreDropped()
    {
        // Inputs wait up to 2 s for a batch that never fills; the client goes away first.
        await using var server = await LoopbackServer.StartAsync(o => { o.AddClassifier("m",
            TestModels.Classifier); o.MaxBatch = 64; o.MaxWait = TimeSpan.FromSeconds(2); });
        using var client = server.Client();
        var stats = server.Classifier("m").Stats;
        using (var gone = new CancellationTokenSource())
        {
            var request = client.PostAsync("/v1/models/m/classify", Http.Json(new { texts = TestModels.Texts[..3] }), gone.Token);
            Assert.True(SpinWait.SpinUntil(() => server.Classifier("m").QueueDepth == 3, 10_000));
            gone.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }
        Assert.True(SpinWait.SpinUntil(() => stats.DroppedCount == 3, 10_000), $"dropped {stats.DroppedCount}");
        Assert.Equal(0, stats.ItemCount);
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("mobilebert_dropped_inputs_total{model=\"m\"}", metrics);
        var ok = await Http.PostOk(client, "/v1/models/m/classify", new { texts = new[] { "next" } });
        Assert.Single(ok["results"]!.AsArray());
    }
}
