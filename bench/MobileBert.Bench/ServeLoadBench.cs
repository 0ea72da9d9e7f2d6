using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Text;
using MobileBert.Tasks;
using static MobileBert.Bench.BenchMath;

namespace MobileBert.Bench;

/// <summary>
/// `serve-load`: `mobilebert serve` (its own process, 127.0.0.1) under N closed-loop clients, each sending one text per
/// request for a fixed time (or request count), with dynamic batching on (--max-batch 32) and off (--max-batch 1), short
/// (~16 tokens) and long (~128 tokens) texts. Reports throughput, p50/p99 latency, the server's mean batch size (from
/// /metrics) and RSS, next to the offline engine's batch-32 throughput on the same texts.
/// </summary>
public static partial class ServeLoadBench
{
    sealed record Cell(string Texts, int Clients, string Batching, int Requests, double Seconds, double P50, double P99, double MeanBatch,
        double RssMb, int Errors, double ServerCpuMs, double ClientCpuMs, double[] Latencies)
    {
        public double Throughput => Requests / Seconds;

        /// <summary>Cells of the same (texts, clients, batching) run in slices, as one: totals, percentiles of all requests.</summary>
        public static Cell Merge(IReadOnlyList<Cell> parts)
        {
            var all = parts.SelectMany(p => p.Latencies).Order().ToArray();
            int n = parts.Sum(p => p.Requests);
            double W(Func<Cell, double> f) => parts.Sum(p => f(p) * p.Requests) / Math.Max(1, n);
            return new Cell(parts[0].Texts, parts[0].Clients, parts[0].Batching, n, parts.Sum(p => p.Seconds), Percentile(all, 0.5),
                Percentile(all, 0.99), W(p => p.MeanBatch), parts.Max(p => p.RssMb), parts.Sum(p => p.Errors), W(p => p.ServerCpuMs),
                W(p => p.ClientCpuMs), all);
        }
    }

    static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    public static int Run(string[] args)
    {
        string preset = "mobilebert", cli = DefaultCli(), outPath = "", textsWanted = "short,long";
        int threads = 2, maxRequests = 4000, rounds = 3;
        double seconds = 8, soakMinutes = 0, sampleSeconds = 10;
        int[] clientCounts = [1, 8, 32, 128];
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--preset": preset = args[++i]; break;
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--max-requests": maxRequests = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--clients": clientCounts = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--cli": cli = args[++i]; break;
                case "--texts": textsWanted = args[++i]; break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--out": outPath = args[++i]; break;
                case "--soak-minutes": soakMinutes = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--sample-seconds": sampleSeconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"serve-load: unknown option {args[i]}"); return 2;
            }
        }
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine($"error: {cli}: not found; build the CLI first (dotnet build -c Release) or pass --cli.");
            return 1;
        }
        if (soakMinutes > 0) return Soak(cli, preset, threads, clientCounts[0], soakMinutes, sampleSeconds, outPath);

        string dir = CreateModelFolder(preset);
        var tokenizer = WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
        var wanted = textsWanted.Split(',');
        if (wanted.FirstOrDefault(w => w is not ("short" or "long")) is { } bad)
        {
            Console.Error.WriteLine($"error: --texts: '{bad}' is not short or long.");
            return 1;
        }
        var textSets = new (string Name, string[] Texts)[] { ("short", Texts(tokenizer, 16)), ("long", Texts(tokenizer, 126)) }
            .Where(t => wanted.Contains(t.Name)).ToArray();
        Console.WriteLine($"serve-load: preset {preset}, {threads} engine threads, {seconds:0.#} s or {maxRequests} requests per cell, clients " +
            $"{string.Join(",", clientCounts)}");
        foreach (var (name, texts) in textSets)
            Console.WriteLine($"  {name} texts: {texts.Average(t => tokenizer.Encode(t, null, 512).Length):0.0} tokens on average ([CLS] and " +
                $"[SEP] included)");

        // Both servers run side by side (only one is under load at a time); each (texts, clients) pair of cells runs
        // batching on then off back to back. At 32 clients (the goals' case) the offline engine, batching on and batching
        // off run in turn in --rounds slices of --seconds / rounds each, so that a slow minute of a shared host falls on
        // all three alike; the ratios are taken per round.
        var cells = new List<Cell>();
        var offline = new Dictionary<string, double>();
        var ratios = new Dictionary<string, (double OfOffline, double OnOff)[]>();
        using var on = StartServer(cli, dir, threads, maxBatch: 32);
        using var off = StartServer(cli, dir, threads, maxBatch: 1);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { Timeout = TimeSpan.FromSeconds(120) };
        foreach (var (name, texts) in textSets)
        {
            var bodies = Bodies(texts);
            // warm-up at the measured concurrency: JIT tiers, engine buffers, connections
            foreach (var server in new[] { on, off }) RunCell(client, server, bodies, 32, 2, 1024);
            foreach (int n in clientCounts)
            {
                int slices = n == 32 ? Math.Max(1, rounds) : 1;
                var parts = new List<(double Offline, Cell On, Cell Off)>();
                for (int r = 0; r < slices; r++)
                {
                    double rate = n == 32 ? Offline(dir, texts, threads, seconds / slices) : double.NaN;
                    var cOn = RunCell(client, on, bodies, n, seconds / slices, maxRequests / slices) with { Texts = name, Batching = "on" };
                    var cOff = RunCell(client, off, bodies, n, seconds / slices, maxRequests / slices) with { Texts = name, Batching = "off" };
                    parts.Add((rate, cOn, cOff));
                    if (n == 32)
                        Console.WriteLine(Inv($"  round {r + 1}, {name}: offline engine {rate:0.0} texts/s, served {cOn.Throughput:0.0} req/s ")
                            + Inv($"({cOn.Throughput / rate:P0}), batching off {cOff.Throughput:0.0} req/s"));
                }
                if (n == 32)
                {
                    offline[name] = parts.Sum(p => p.Offline) / parts.Count;
                    ratios[name] = parts.Select(p => (p.On.Throughput / p.Offline, p.On.Throughput / p.Off.Throughput)).ToArray();
                }
                foreach (var cell in new[] { Cell.Merge(parts.Select(p => p.On).ToList()), Cell.Merge(parts.Select(p => p.Off).ToList()) })
                {
                    cells.Add(cell);
                    Console.WriteLine(Inv($"  batching {cell.Batching,-3} {name,-5} {n,3} clients: {cell.Throughput,7:0.0} req/s  ")
                        + Inv($"p50 {cell.P50,7:0.0} ms  p99 {cell.P99,7:0.0} ms  batch {cell.MeanBatch,5:0.0}  RSS {cell.RssMb:0} MB  ")
                        + Inv($"errors {cell.Errors}  CPU ms/request: server {cell.ServerCpuMs:0.00}, load generator {cell.ClientCpuMs:0.00}"));
                }
            }
        }
        on.Stop(); off.Stop();
        var report = Report(preset, threads, seconds, maxRequests, rounds, offline, ratios, cells);
        Console.WriteLine();
        Console.WriteLine(report);
        if (outPath.Length > 0) File.WriteAllText(outPath, report);
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        return 0;
    }

    /// <summary>A random-weight classifier folder of the preset's shape (2 labels, 128 tokens), as `finetune` writes it.</summary>
    static string CreateModelFolder(string preset)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mobilebert-serve-load-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var info = new TaskInfo { Task = "csv", Name = "bench", Kind = TaskInfoKind.Classification, Labels = ["negative", "positive"],
            Metrics = ["acc"], MainMetric = "acc", MaxSeqLength = 128 };
        var model = TaskModels.ForFineTuning(null, Presets.Resolve(preset), info, seed: 1);
        ModelFolder.Save(model, dir, Path.Combine(RepoRoot(), "data", "vocab", "bert-base-uncased-vocab.txt"));
        info.Save(dir);
        return dir;
    }

    /// <summary>64 distinct texts of about <paramref name="tokens"/> tokens, cut from the bundled sentiment sentences.</summary>
    static string[] Texts(WordPieceTokenizer tokenizer, int tokens)
    {
        var sentences = JsonSerializer.Deserialize<JsonElement[]>(File.ReadAllText(Path.Combine(RepoRoot(), "data", "sentiment", "yelp.json")))!
            .Select(e => e.GetProperty("text").GetString()!).ToArray();
        var words = sentences.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var texts = new string[64];
        int w = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            var sb = new StringBuilder();
            while (tokenizer.Encode(sb.ToString(), null, 1024).Length < tokens)
            {
                string word = words[w++ % words.Length];
                if (tokenizer.Encode(sb + word, null, 1024).Length <= tokens + 2) sb.Append(word).Append(' ');
            }
            texts[i] = sb.ToString().Trim();
        }
        return texts;
    }

    /// <summary>Texts per second of TextClassifier.Classify in batches of 32 (the engine without HTTP), same texts.</summary>
    static double Offline(string dir, string[] texts, int threads, double seconds)
    {
        using var classifier = TextClassifier.Load(dir, new PredictorOptions { Threads = threads, BatchSize = 32 });
        var batch = texts.Take(32).ToArray();
        classifier.Classify(batch);
        int done = 0;
        double cpu0 = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds || done == 0) { classifier.Classify(batch); done += batch.Length; }
        double rate = done / sw.Elapsed.TotalSeconds;
        Console.WriteLine(Inv($"  offline CPU ms/text: {(Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds - cpu0) / done:0.00}"));
        return rate;
    }

    /// <summary>Closed-loop clients posting the pre-serialized <paramref name="bodies"/> in turn (one text each).</summary>
    static Cell RunCell(HttpClient client, ServerProcess server, byte[][] bodies, int clients, double seconds, int maxRequests)
    {
        var before = server.BatchTotals(client);
        double serverCpu0 = server.CpuMs(), clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
        var url = new Uri(server.Address, "/v1/models/m/classify");
        var latencies = new List<double>[clients];
        int issued = 0, errors = 0;
        var sw = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var mine = latencies[c] = [];
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                int k = Interlocked.Increment(ref issued);
                if (k > maxRequests) break;
                var start = Stopwatch.GetTimestamp();
                if (!await Post(client, url, bodies[k % bodies.Length])) Interlocked.Increment(ref errors);
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        double elapsed = sw.Elapsed.TotalSeconds;
        double serverCpu = server.CpuMs() - serverCpu0, clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds - clientCpu0;
        var after = server.BatchTotals(client);
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double meanBatch = (after.Sum - before.Sum) / Math.Max(1, after.Count - before.Count);
        int n = Math.Max(1, all.Length);
        return new Cell("", clients, "", all.Length, elapsed, Percentile(all, 0.5), Percentile(all, 0.99), meanBatch, server.RssMb(), errors,
            serverCpu / n, clientCpu / n, all);
    }

    static readonly System.Net.Http.Headers.MediaTypeHeaderValue Json = new("application/json");

    /// <summary>One load request: posts a pre-serialized body, reads the whole answer; true when it succeeded.</summary>
    static async Task<bool> Post(HttpClient client, Uri url, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = Json;
        using var r = await client.PostAsync(url, content);
        await r.Content.ReadAsByteArrayAsync();
        return r.IsSuccessStatusCode;
    }

    /// <summary>One classify request body per text, serialized once (the load generator then only sends bytes).</summary>
    static byte[][] Bodies(string[] texts) => texts.Select(t => JsonSerializer.SerializeToUtf8Bytes(new { texts = new[] { t } })).ToArray();

    static string Report(string preset, int threads, double seconds, int maxRequests, int rounds, Dictionary<string, double> offline,
        Dictionary<string, (double OfOffline, double OnOff)[]> ratios, List<Cell> cells)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Inv($"`serve-load --preset {preset} --threads {threads} --seconds {seconds:0.#} --max-requests {maxRequests} ")
            + Inv($"--rounds {rounds}` — one text per request, closed-loop clients on 127.0.0.1"));
        sb.AppendLine();
        sb.AppendLine("| texts | clients | batching | req/s | p50 ms | p99 ms | mean batch | server RSS MB | errors | server CPU ms/request | " +
            "load generator CPU ms/request |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in cells.OrderBy(c => c.Texts == "long").ThenBy(c => c.Clients).ThenBy(c => c.Batching == "off"))
            sb.AppendLine(Inv($"| {c.Texts} | {c.Clients} | {c.Batching} | {c.Throughput:0.0} | {c.P50:0.0} | {c.P99:0.0} | {c.MeanBatch:0.0} | ")
                + Inv($"{c.RssMb:0} | {c.Errors} | {c.ServerCpuMs:0.00} | {c.ClientCpuMs:0.00} |"));
        sb.AppendLine();
        sb.AppendLine("| texts | offline engine, batch 32 (texts/s, mean of rounds) | served, 32 clients, batching on | of offline: median " +
            "(rounds) | batching on / off at 32 clients: median (rounds) |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var (name, rate) in offline)
        {
            var on = cells.FirstOrDefault(c => c.Texts == name && c.Clients == 32 && c.Batching == "on");
            if (on is null || !ratios.TryGetValue(name, out var r)) continue;
            string Each(Func<(double OfOffline, double OnOff), string> f) => string.Join(", ", r.Select(f));
            sb.AppendLine(Inv($"| {name} | {rate:0.0} | {on.Throughput:0.0} | {Median(r.Select(x => x.OfOffline)):P0} ")
                + Inv($"({Each(x => Inv($"{x.OfOffline:P0}"))}) | {Median(r.Select(x => x.OnOff)):0.0}× ({Each(x => Inv($"{x.OnOff:0.0}×"))}) |"));
        }
        return sb.ToString();
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MobileBert.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (MobileBert.slnx) not found above " + AppContext.BaseDirectory +
            "; run it from the repository's build or pass --cli PATH/MobileBert.Cli.dll");
    }

    static string DefaultCli() => Path.Combine(RepoRoot(), "src", "MobileBert.Cli", "bin", "Release", "net10.0", "MobileBert.Cli.dll");

    static ServerProcess StartServer(string cli, string dir, int threads, int maxBatch) => new(cli,
        ["serve", "--model", $"m={dir}", "--urls", "http://127.0.0.1:0", "--threads", $"{threads}", "--max-batch", $"{maxBatch}", "--max-queue",
            "4096"]);

    /// <summary>The server process: its address, batch counters from /metrics, RSS from /proc.</summary>
    sealed partial class ServerProcess : IDisposable
    {
        readonly Process _process;

        public ServerProcess(string cli, string[] args)
        {
            var start = new ProcessStartInfo("dotnet", [cli, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
            _process = Process.Start(start)!;
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"  server: {e.Data}"); };
            _process.BeginErrorReadLine();
            var deadline = Stopwatch.StartNew();
            while (_process.StandardOutput.ReadLine() is { } line)
            {
                if (Listening().Match(line) is { Success: true } m) { Address = new Uri(m.Groups[1].Value); break; }
                if (deadline.Elapsed > TimeSpan.FromMinutes(2)) break;
            }
            if (Address is null) throw new InvalidOperationException("the server did not start");
            _ = _process.StandardOutput.ReadToEndAsync();
        }

        public Uri Address { get; } = null!;

        /// <summary>mobilebert_batch_size histogram sum and count.</summary>
        public (double Sum, double Count) BatchTotals(HttpClient client)
        {
            string metrics = client.GetStringAsync(new Uri(Address, "/metrics")).GetAwaiter().GetResult();
            double Value(string name) => Regex.Match(metrics, $@"^{name}\{{model=""m""\}} (\S+)$", RegexOptions.Multiline) is { Success: true } m
                ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            return (Value("mobilebert_batch_size_sum"), Value("mobilebert_batch_size_count"));
        }

        /// <summary>CPU time the server process has used (user + system, /proc/PID/stat, in clock ticks of 10 ms).</summary>
        public double CpuMs()
        {
            var fields = File.ReadAllText($"/proc/{_process.Id}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0;
        }

        public double RssMb()
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
                CultureInfo.InvariantCulture) / 1024;
        }

        public void Stop()
        {
            if (_process.HasExited) return;
            _process.Kill();   // the bench's own child, by its id
            _process.WaitForExit();
        }

        public void Dispose() { Stop(); _process.Dispose(); }

        [GeneratedRegex(@"^listening on (http://\S+)")]
        private static partial Regex Listening();
    }
}
