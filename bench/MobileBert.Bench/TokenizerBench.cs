using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MobileBert.PretrainingData;
using MobileBert.Text;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;
using static MobileBert.Bench.BenchMath;

namespace MobileBert.Bench;

/// <summary>
/// `tokenizers`: our <see cref="WordPieceTokenizer.Encode"/> against Microsoft.ML.Tokenizers' <c>BertTokenizer</c> and the
/// FastBertTokenizer package on the same texts (bundled corpus sentences and paragraphs, sentiment sentences), same vocab,
/// lower-casing, ids with [CLS]/[SEP]. First checks that the three give the same ids and names why texts differ; then
/// times the texts where all three agree, the tokenizers interleaved in rounds (order rotated), and reports tokens/s,
/// bytes allocated per text and the per-round ratios (median). `--processes K` repeats the whole run in K fresh processes.
/// </summary>
public static class TokenizerBench
{
    /// <summary>A text set: the texts and the encoding limit (int.MaxValue: no truncation).</summary>
    sealed record TextSet(string Name, string[] Texts, int MaxTokens);

    /// <summary>One measured tokenizer: a name and "encode this text, return the number of ids".</summary>
    sealed record Contender(string Name, Func<string, int, int[]> Ids, Func<string, int, int> Count);

    /// <summary>Median over rounds of one (set, tokenizer) pair.</summary>
    sealed record Result(string Set, string Tokenizer, double TokensPerSecond, double BytesPerText, double RatioToOurs);

    public static int Run(string[] args)
    {
        int rounds = 7, processes = 1, maxShort = 4000, maxLong = 600;
        double roundSeconds = 0.4;
        string outPath = "", only = "";
        bool child = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--round-seconds": roundSeconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--processes": processes = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--max-short": maxShort = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--max-long": maxLong = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--out": outPath = args[++i]; break;
                case "--child": child = true; break;
                case "--only": only = args[++i]; break;
                default: Console.Error.WriteLine($"tokenizers: unknown option {args[i]}"); return 2;
            }
        }

        string root = ServeLoadBench.RepoRoot(), vocab = Path.Combine(root, "data", "vocab", "bert-base-uncased-vocab.txt");
        var ours = WordPieceTokenizer.FromVocabFile(vocab);
        var sets = BuildSets(root, ours, maxShort, maxLong);
        var contenders = Contenders(vocab, ours);
        if (only.Length > 0) return Profile(sets, contenders, only, roundSeconds * rounds);
        if (!child) Console.WriteLine(Agreement(sets, contenders));
        var agreed = sets.Select(s => s with { Texts = s.Texts.Where(t => AllAgree(contenders, t, s.MaxTokens)).ToArray() }).ToArray();

        var perProcess = new List<Result[]>();
        if (processes <= 1) perProcess.Add(Measure(agreed, contenders, rounds, roundSeconds, child));
        else
        {
            string self = typeof(TokenizerBench).Assembly.Location;
            string[] childArgs = ["tokenizers", "--child", "--rounds", $"{rounds}", "--max-short", $"{maxShort}", "--max-long", $"{maxLong}",
                "--round-seconds", roundSeconds.ToString(CultureInfo.InvariantCulture)];
            for (int p = 0; p < processes; p++)
            {
                Console.WriteLine($"process {p + 1}/{processes} …");
                perProcess.Add(RunChild(self, childArgs));
            }
        }
        if (child)
        {
            Console.WriteLine("RESULTS " + JsonSerializer.Serialize(perProcess[0].Select(r => new[]
                { r.Set, r.Tokenizer, $"{r.TokensPerSecond}", $"{r.BytesPerText}", $"{r.RatioToOurs}" })));
            return 0;
        }
        string report = Report(agreed, contenders, perProcess, rounds);
        Console.WriteLine(report);
        if (outPath.Length > 0) File.WriteAllText(outPath, report);
        return 0;
    }

    static Contender[] Contenders(string vocab, WordPieceTokenizer ours)
    {
        var ml = MlBertTokenizer.Create(vocab, new Microsoft.ML.Tokenizers.BertOptions
        {
            LowerCaseBeforeTokenization = true, ApplyBasicTokenization = true, SplitOnSpecialTokens = true, IndividuallyTokenizeCjk = true,
            RemoveNonSpacingMarks = true,
        });
        var fast = new FastBertTokenizer.BertTokenizer();
        using (var reader = File.OpenText(vocab)) fast.LoadVocabulary(reader, convertInputToLowercase: true);
        long[] fastIds = new long[Limit(int.MaxValue)], fastMask = new long[Limit(int.MaxValue)];
        return
        [
            new("ours (WordPieceTokenizer.Encode)", (t, max) => ours.Encode(t, null, max).InputIds, (t, max) => ours.Encode(t, null, max).Length),
            new("Microsoft.ML.Tokenizers BertTokenizer",
                (t, max) => [.. ml.EncodeToIds(t, max, addSpecialTokens: true, out _, out _)],
                (t, max) => ml.EncodeToIds(t, max, addSpecialTokens: true, out _, out _).Count),
            // The span overload: Encode(text, maximumTokens) keeps the largest buffer it was given and stops truncating at a
            // smaller limit afterwards.
            new("FastBertTokenizer",
                (t, max) => fastIds.AsSpan(0, fast.Encode(t, fastIds.AsSpan(0, max), fastMask.AsSpan(0, max))).ToArray()
                    .Select(id => (int)id).ToArray(),
                (t, max) => fast.Encode(t, fastIds.AsSpan(0, max), fastMask.AsSpan(0, max))),
        ];
    }

    /// <summary>Short: corpus sentences and sentiment sentences; long: corpus paragraphs of ≥ 128 tokens, cut at 128 and whole.</summary>
    static TextSet[] BuildSets(string root, WordPieceTokenizer ours, int maxShort, int maxLong)
    {
        var corpus = CorpusReader.Read([Path.Combine(root, "data", "corpus")]);
        var sentiment = Directory.GetFiles(Path.Combine(root, "data", "sentiment"), "*.json").Order(StringComparer.Ordinal)
            .SelectMany(f => JsonSerializer.Deserialize<JsonElement[]>(File.ReadAllText(f))!.Select(e => e.GetProperty("text").GetString()!));
        var sentences = corpus.Documents.SelectMany(d => d.Sentences).Concat(sentiment).ToArray();
        var paragraphs = corpus.Documents.Select(d => string.Join(' ', d.Sentences)).Where(p => ours.Encode(p, null, 1024).Length >= 130).ToArray();
        var shortTexts = Every(sentences.Where(s => ours.Encode(s, null, 512).Length is >= 10 and <= 26).ToArray(), maxShort);
        var longTexts = Every(paragraphs, maxLong);
        return
        [
            new("short (≈16 tokens), max 128", shortTexts, 128),
            new("long (≥128 tokens), max 128", longTexts, 128),
            new("long, no truncation", longTexts, int.MaxValue),
        ];
    }

    static string[] Every(string[] texts, int max)
    {
        int step = Math.Max(1, texts.Length / max);
        return texts.Where((_, i) => i % step == 0).Take(max).ToArray();
    }

    /// <summary>FastBertTokenizer sizes its buffers by the limit: "no truncation" is 100k tokens for it and ML.</summary>
    static int Limit(int maxTokens) => Math.Min(maxTokens, 100_000);

    static bool AllAgree(Contender[] contenders, string text, int maxTokens)
    {
        int[] reference = contenders[0].Ids(text, Limit(maxTokens));
        return contenders.Skip(1).All(c => c.Ids(text, Limit(maxTokens)).AsSpan().SequenceEqual(reference));
    }

    /// <summary>Per set and peer: texts whose ids differ from ours, grouped by the first differing word's kind.</summary>
    static string Agreement(TextSet[] sets, Contender[] contenders)
    {
        var sb = new StringBuilder("Agreement with ours (ids, [CLS]/[SEP] included):\n");
        foreach (var set in sets)
        {
            foreach (var peer in contenders.Skip(1))
            {
                var reasons = new Dictionary<string, (int Count, string Example)>();
                foreach (string text in set.Texts)
                {
                    int[] a = contenders[0].Ids(text, Limit(set.MaxTokens)), b = peer.Ids(text, Limit(set.MaxTokens));
                    if (a.AsSpan().SequenceEqual(b)) continue;
                    var (reason, example) = Why(text, a, b, contenders[0], peer);
                    reasons[reason] = (reasons.GetValueOrDefault(reason).Count + 1, reasons.GetValueOrDefault(reason).Example ?? example);
                }
                int differ = reasons.Values.Sum(r => r.Count);
                sb.AppendLine(Inv($"  {set.Name}: {peer.Name} differs on {differ} of {set.Texts.Length} texts"));
                foreach (var (reason, (count, example)) in reasons.OrderByDescending(r => r.Value.Count))
                    sb.AppendLine(Inv($"    {count,5} × {reason}   e.g. …{example}…"));
            }
        }
        return sb.ToString();
    }

    /// <summary>Why two id lists differ: truncation only, or the character class at the first differing word.</summary>
    static (string Reason, string Example) Why(string text, int[] a, int[] b, Contender ours, Contender peer)
    {
        if (ours.Ids(text, 100_000).AsSpan().SequenceEqual(peer.Ids(text, 100_000)))
            return (Inv($"truncation only (ours {a.Length} ids, peer {b.Length}: the peer does not cut inside a word)"), "");
        int at = 0;
        while (at < a.Length && at < b.Length && a[at] == b[at]) at++;
        // Locate the differing token in the text by counting whitespace-separated words tokenized so far.
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        string? culprit = null;
        foreach (string w in words)
        {
            if (!ours.Ids(w, 100_000).AsSpan().SequenceEqual(peer.Ids(w, 100_000))) { culprit = w; break; }
        }
        if (culprit is null) return ("context-dependent (no single word differs)", Snip(text, 0));
        foreach (char c in culprit)
        {
            if (c < 128 && !char.IsLetterOrDigit(c)) return (Inv($"ASCII symbol '{c}'"), culprit);
        }
        foreach (char c in culprit)
        {
            if (c >= 128) return (Inv($"non-ASCII U+{(int)c:X4} ({CharUnicodeInfo.GetUnicodeCategory(c)})"), culprit);
        }
        return ("other", culprit);
    }

    static string Snip(string s, int at) => s.Substring(at, Math.Min(40, s.Length - at));

    /// <summary>Rounds over sets; in each round every tokenizer encodes the whole set (order rotated); medians per pair.</summary>
    static Result[] Measure(TextSet[] sets, Contender[] contenders, int rounds, double roundSeconds, bool quiet)
    {
        var results = new List<Result>();
        foreach (var set in sets)
        {
            int tokens = set.Texts.Sum(t => contenders[0].Count(t, Limit(set.MaxTokens)));
            foreach (var c in contenders) Pass(c, set);   // warm-up: JIT, buffers
            // Passes per round so that one tokenizer's pass takes ≈ roundSeconds.
            double oneSeconds = Time(contenders[0], set, 1).Seconds;
            int passes = Math.Max(1, (int)(roundSeconds / Math.Max(oneSeconds, 1e-6)));
            var rates = contenders.Select(_ => new List<double>()).ToArray();
            var bytes = contenders.Select(_ => new List<double>()).ToArray();
            var ratios = contenders.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < rounds; r++)
            {
                var rate = new double[contenders.Length];
                for (int k = 0; k < contenders.Length; k++)
                {
                    int c = (k + r) % contenders.Length;
                    var (seconds, allocated) = Time(contenders[c], set, passes);
                    rate[c] = tokens * passes / seconds;
                    rates[c].Add(rate[c]);
                    bytes[c].Add(allocated / (double)(set.Texts.Length * passes));
                }
                for (int c = 0; c < contenders.Length; c++) ratios[c].Add(rate[0] / rate[c]);
            }
            for (int c = 0; c < contenders.Length; c++)
            {
                results.Add(new Result(set.Name, contenders[c].Name, Median(rates[c]), Median(bytes[c]), Median(ratios[c])));
                if (!quiet) Console.WriteLine(Inv($"  {set.Name}: {contenders[c].Name}: {Median(rates[c]):N0} tokens/s, ")
                    + Inv($"{Median(bytes[c]):N0} B/text, ours/this {Median(ratios[c]):0.00}×"));
            }
        }
        return results.ToArray();
    }

    /// <summary>`--only NAME`: one tokenizer (name prefix: ours, Microsoft, Fast) on every set for a while, for a profiler.</summary>
    static int Profile(TextSet[] sets, Contender[] contenders, string only, double seconds)
    {
        var c = contenders.FirstOrDefault(c => c.Name.StartsWith(only, StringComparison.OrdinalIgnoreCase));
        if (c is null)
        {
            Console.Error.WriteLine($"error: --only {only}: no tokenizer named so (ours, Microsoft, Fast).");
            return 1;
        }
        foreach (var set in sets)
        {
            var sw = Stopwatch.StartNew();
            int passes = 0;
            for (; sw.Elapsed.TotalSeconds < seconds; passes++) Pass(c, set);
            Console.WriteLine(Inv($"  {set.Name}: {c.Name}: {passes} passes in {sw.Elapsed.TotalSeconds:0.0} s"));
        }
        return 0;
    }

    static void Pass(Contender c, TextSet set)
    {
        int limit = Limit(set.MaxTokens);
        foreach (string t in set.Texts) c.Count(t, limit);
    }

    static (double Seconds, long Allocated) Time(Contender c, TextSet set, int passes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int p = 0; p < passes; p++) Pass(c, set);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (seconds, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    static Result[] RunChild(string self, string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [self, .. args]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string line = output.Split('\n').Single(l => l.StartsWith("RESULTS ", StringComparison.Ordinal));
        return JsonSerializer.Deserialize<string[][]>(line["RESULTS ".Length..])!.Select(r => new Result(r[0], r[1],
            double.Parse(r[2], CultureInfo.InvariantCulture), double.Parse(r[3], CultureInfo.InvariantCulture),
            double.Parse(r[4], CultureInfo.InvariantCulture))).ToArray();
    }

    static string Report(TextSet[] sets, Contender[] contenders, List<Result[]> perProcess, int rounds)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Inv($"{perProcess.Count} process(es) × {rounds} rounds; per process the median over rounds, then the median over processes ")
            + "(ratio: ours' tokens/s ÷ this tokenizer's, taken in the same round)");
        sb.AppendLine();
        sb.AppendLine("| texts | tokenizer | tokens/s | bytes allocated / text | ours ÷ this (per-process ratios) |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var set in sets)
        {
            foreach (var c in contenders)
            {
                var mine = perProcess.Select(p => p.Single(r => r.Set == set.Name && r.Tokenizer == c.Name)).ToArray();
                string ratios = string.Join(", ", mine.Select(r => Inv($"{r.RatioToOurs:0.00}")));
                sb.AppendLine(Inv($"| {set.Name} ({set.Texts.Length} texts) | {c.Name} | {Median(mine.Select(r => r.TokensPerSecond)):N0} | ")
                    + Inv($"{Median(mine.Select(r => r.BytesPerText)):N0} | {Median(mine.Select(r => r.RatioToOurs)):0.00}× ({ratios}) |"));
            }
        }
        return sb.ToString();
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
