using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MobileBert.Checkpoints;
using MobileBert.Text;

namespace MobileBert.Bench;

/// <summary>
/// `serve-load --soak-minutes M`: one `serve` process with batching on (--max-batch 32) under N closed-loop clients for M
/// minutes, short and long texts alternating, sampling the server's RSS (/proc), managed heap after its last GC, GC
/// committed memory and thread count (/metrics) every few seconds. Reports each sample, the least-squares slope (MB/min) over the
/// last 8 minutes and the maximum; memory is flat when the slopes stay near zero.
/// </summary>
public static partial class ServeLoadBench
{
    /// <summary>One memory sample of the server.</summary>
    sealed record MemorySample(double Minutes, double RssMb, double HeapMb, double CommittedMb, int Threads, long Requests, int Errors);

    const double SlopeWindowMinutes = 8;

    static int Soak(string cli, string preset, int threads, int clients, double minutes, double sampleSeconds, string outPath)
    {
        string dir = CreateModelFolder(preset);
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        string[] texts = [.. Texts(tokenizer, 16), .. Texts(tokenizer, 126)];
        Console.WriteLine(Inv($"serve-load soak: preset {preset}, {threads} engine threads, {clients} clients, batching on, {minutes:0.#} min, ")
            + Inv($"a sample every {sampleSeconds:0.#} s"));
        using var server = StartServer(cli, dir, threads, maxBatch: 32);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { Timeout = TimeSpan.FromSeconds(120) };
        var bodies = Bodies(texts);
        var url = new Uri(server.Address, "/v1/models/m/classify");
        RunCell(client, server, bodies, 4, 1, 64);   // warm-up: JIT, engine buffers

        long requests = 0;
        int errors = 0;
        var samples = new List<MemorySample>();
        var sw = Stopwatch.StartNew();
        double total = minutes * 60;
        var load = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int k = c; sw.Elapsed.TotalSeconds < total; k += clients)
            {
                if (!await Post(client, url, bodies[k % bodies.Length])) Interlocked.Increment(ref errors);
                Interlocked.Increment(ref requests);
            }
        })).ToArray();

        for (double next = 0; next <= total; next += sampleSeconds)
        {
            var wait = TimeSpan.FromSeconds(next) - sw.Elapsed;
            if (wait > TimeSpan.Zero) Thread.Sleep(wait);
            var (heap, committed, threadCount) = server.GcMemory(client);
            var s = new MemorySample(sw.Elapsed.TotalMinutes, server.RssMb(), heap, committed, threadCount, Interlocked.Read(ref requests),
                Volatile.Read(ref errors));
            samples.Add(s);
            Console.WriteLine(Inv($"  {s.Minutes,5:0.00} min  RSS {s.RssMb,6:0.0} MB  heap after GC {s.HeapMb,6:0.0} MB  GC committed ")
                + Inv($"{s.CommittedMb,6:0.0} MB  threads {s.Threads}  requests {s.Requests}  errors {s.Errors}"));
        }
        Task.WaitAll(load);
        server.Stop();

        string report = SoakReport(preset, threads, clients, minutes, sampleSeconds, samples);
        Console.WriteLine();
        Console.WriteLine(report);
        if (outPath.Length > 0) File.WriteAllText(outPath, report);
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        return 0;
    }

    static string SoakReport(string preset, int threads, int clients, double minutes, double sampleSeconds, List<MemorySample> samples)
    {
        double from = samples[^1].Minutes - SlopeWindowMinutes;
        var window = samples.Where(s => s.Minutes >= from).ToArray();
        var last = samples[^1];
        var sb = new StringBuilder();
        sb.AppendLine(Inv($"`serve-load --soak-minutes {minutes:0.#} --preset {preset} --threads {threads} --clients {clients} ")
            + Inv($"--sample-seconds {sampleSeconds:0.#}` — batching on, short and long texts alternating"));
        sb.AppendLine();
        sb.AppendLine(Inv($"{last.Requests} requests ({last.Requests / (last.Minutes * 60):0.0} req/s), {last.Errors} errors, ")
            + Inv($"{samples.Count} samples"));
        sb.AppendLine();
        sb.AppendLine($"| server memory | first sample MB | last MB | max MB | slope over the last {SlopeWindowMinutes:0} min (MB/min) |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var (name, value) in new (string, Func<MemorySample, double>)[]
            { ("RSS", s => s.RssMb), ("managed heap after GC", s => s.HeapMb), ("GC committed", s => s.CommittedMb) })
            sb.AppendLine(Inv($"| {name} | {value(samples[0]):0.0} | {value(last):0.0} | {samples.Max(value):0.0} | ")
                + Inv($"{Slope(window, value):+0.00;-0.00} |"));
        sb.AppendLine();
        sb.AppendLine(Inv($"Threads: {samples[0].Threads} at the first sample, {last.Threads} at the last, {samples.Max(s => s.Threads)} at most."));
        return sb.ToString();
    }

    /// <summary>Least-squares slope of <paramref name="value"/> against minutes (MB/min).</summary>
    static double Slope(IReadOnlyList<MemorySample> samples, Func<MemorySample, double> value)
    {
        double mx = samples.Average(s => s.Minutes), my = samples.Average(value);
        double sxy = samples.Sum(s => (s.Minutes - mx) * (value(s) - my)), sxx = samples.Sum(s => (s.Minutes - mx) * (s.Minutes - mx));
        return sxx == 0 ? 0 : sxy / sxx;
    }

    sealed partial class ServerProcess
    {
        /// <summary>
        /// From /metrics (the System.Runtime meter): the managed heap after the server's last GC (all generations: live
        /// objects plus fragmentation, without the garbage allocated since, so a sample does not depend on when the GC
        /// last ran) and the memory the GC had committed then, in MB, and the process's thread count.
        /// </summary>
        public (double HeapMb, double CommittedMb, int Threads) GcMemory(HttpClient client)
        {
            string metrics = client.GetStringAsync(new Uri(Address, "/metrics")).GetAwaiter().GetResult();
            var sizes = HeapAfterGc().Matches(metrics);
            double heap = sizes.Count == 0 ? double.NaN : sizes.Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            double Value(Regex r) =>
                r.Match(metrics) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
            const double Mb = 1024 * 1024;
            return (heap / Mb, Value(Committed()) / Mb, (int)Value(ThreadCount()));
        }

        [GeneratedRegex(@"^system_runtime_dotnet_gc_last_collection_heap_size\{gc_heap_generation=""\w+""\} (\S+)$", RegexOptions.Multiline)]
        private static partial Regex HeapAfterGc();

        [GeneratedRegex(@"^system_runtime_dotnet_gc_last_collection_memory_committed_size (\S+)$", RegexOptions.Multiline)]
        private static partial Regex Committed();

        [GeneratedRegex(@"^process_num_threads (\S+)$", RegexOptions.Multiline)]
        private static partial Regex ThreadCount();
    }
}
