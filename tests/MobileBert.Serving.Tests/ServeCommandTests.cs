using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using MobileBert.Tests;
using Xunit;

namespace MobileBert.Serving.Tests;

/// <summary>`mobilebert serve` as a process: refusing to start on a bad model folder, and draining on SIGTERM.</summary>
[Collection(LoopbackCollection.Name)]
public class ServeCommandTests
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AModelFolderThatFailsToLoadStopsTheStartWithTheReason()
    {
        string missing = Path.Combine(TestPaths.NewTempDir(), "no-such-model");
        using (var p = new ServeProcess("--model", $"good={TestModels.Classifier}", "--model", $"bad={missing}", "--urls", "http://127.0.0.1:0"))
        {
            Assert.Equal(1, await p.ExitCode(Bound));
            Assert.Contains($"error: model 'bad' ({missing}): the folder does not exist.", p.StdErr);
            Assert.DoesNotContain("listening", p.StdOut);
            Assert.DoesNotContain("   at ", p.StdErr);   // no stack trace
            Assert.DoesNotContain("fail:", p.StdErr);    // nor the host's own start-up failure log before the one-line error
        }
        string broken = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(TestModels.Classifier)) File.Copy(f, Path.Combine(broken, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(broken, "model.safetensors"), "not a safetensors file");
        using (var p = new ServeProcess("--model", $"broken={broken}", "--urls", "http://127.0.0.1:0"))
        {
            Assert.Equal(1, await p.ExitCode(Bound));
            Assert.Contains($"error: model 'broken' ({broken}): ", p.StdErr);
            Assert.Contains("model.safetensors", p.StdErr);
            Assert.DoesNotContain("fail:", p.StdErr);
        }
        using (var p = new ServeProcess("--model", "nameonly", "--urls", "http://127.0.0.1:0"))
        {
            Assert.Equal(1, await p.ExitCode(Bound));
            Assert.Contains("error: --model 'nameonly': expected NAME=DIR.", p.StdErr);
        }
        // An int8 kernel this CPU lacks (if any) is refused before anything loads, named by its flag.
        foreach (var kernel in Enum.GetValues<MobileBert.Kernels.Int8Path>().Where(k => !MobileBert.Kernels.Int8Gemm.IsSupported(k)).Take(1))
        {
            using var p = new ServeProcess("--model", $"good={TestModels.Classifier}", "--int8-kernel", kernel.ToString(), "--urls",
                "http://127.0.0.1:0");
            Assert.Equal(1, await p.ExitCode(Bound));
            Assert.Contains($"error: --int8-kernel {kernel} is not supported on this CPU", p.StdErr);
            Assert.DoesNotContain("   at ", p.StdErr);
        }
    }

    /// <summary>Clients keep the server busy; SIGTERM arrives; every request sent before it is answered 200, the
    /// process exits 0, and requests after it are refused or not connected — never cut off mid-way.</summary>
    [Fact]
    public async Task SigtermUnderLoadDrainsEveryAcceptedRequest()
    {
        using var server = new ServeProcess("--model", $"m={TestModels.Classifier}", "--urls", "http://127.0.0.1:0", "--threads", "1", "--max-batch",
            "4");
        var address = await server.Listening(Bound);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 16 }) { BaseAddress = address, Timeout = Bound };
        var outcomes = new ConcurrentBag<(long Sent, long Done, int Status, string? Error)>();
        long signalled = long.MaxValue;
        var clock = Stopwatch.StartNew();
        var body = new { texts = TestModels.Texts };   // 8 texts per request: each takes a couple of batches
        var clients = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 400 && clock.Elapsed < Bound; i++)
            {
                long sent = clock.ElapsedTicks;
                if (sent - Stopwatch.Frequency > Interlocked.Read(ref signalled)) break;   // 1 s after the signal: done
                try
                {
                    using var r = await client.PostAsync("/v1/models/m/classify", Http.Json(body));
                    await r.Content.ReadAsStringAsync();
                    outcomes.Add((sent, clock.ElapsedTicks, (int)r.StatusCode, null));
                }
                catch (HttpRequestException e) { outcomes.Add((sent, clock.ElapsedTicks, 0, e.Message)); await Task.Delay(20); }
            }
        })).ToArray();
        Assert.True(SpinWait.SpinUntil(() => outcomes.Count(o => o.Status == 200) >= 50, 30_000),
            $"the load did not start: {string.Join("; ", outcomes.Take(3).Select(o => $"{o.Status} {o.Error}"))} {server.StdErr}");
        long before = clock.ElapsedTicks;
        server.Terminate();
        Interlocked.Exchange(ref signalled, clock.ElapsedTicks);
        Assert.Equal(0, await server.ExitCode(Bound));
        await Task.WhenAll(clients);
        var early = outcomes.Where(o => o.Sent < before).ToArray();
        Assert.All(early, o => Assert.True(o.Status == 200, $"a request sent before SIGTERM got {o.Status} {o.Error}"));
        long after = Interlocked.Read(ref signalled);
        Assert.Contains(early, o => o.Done > after);   // some were in flight at the signal, and were answered
        Assert.All(outcomes, o => Assert.True(o.Status is 200 or 503 or 0, $"status {o.Status}"));
        Assert.Contains("stopped:", server.StdOut);
        Assert.Contains(" 0 dropped", server.StdOut);
    }
}
