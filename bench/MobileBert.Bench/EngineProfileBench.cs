using System.Diagnostics;
using System.Globalization;
using MobileBert.Inference;
using MobileBert.Model;

namespace MobileBert.Bench;

/// <summary>
/// Where the fast engine's time goes: per-forward wall time of each parallel-region kind (embeddings, attention,
/// row-wise) and the summed busy time of its work items, fp32 and int8, for each thread count, interleaved.
/// </summary>
internal static class EngineProfileBench
{
    public static int Run(string[] args)
    {
        string preset = "mobilebert"; int batch = 1, seq = 128, repeats = 10; int[] threads = [1, 2]; bool int8 = true; string? caseSpec = null;
        int gapMs = 20;
        for (int i = 0; i < args.Length; i++)
            switch (args[i])
            {
                case "--preset": preset = args[++i]; break;
                case "--batch": batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seq": seq = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--repeats": repeats = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--threads": threads = [.. args[++i].Split(',').Select(int.Parse)]; break;
                case "--no-int8": int8 = false; break;
                case "--gap-ms": gapMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                // e.g. fp32:1:0:r,int8:2:0:c:128 (precision:threads:blockRows:r|c|a[:attentionChunk[:flags]]; flags: g = generic attention path
                // instead of SmallHeadAttention, n = no whole-sequence blocks, e = even 2-thread row split instead of the adaptive one,
                // p = GEMMs without prefetching the next weight block, w / v = automatic row blocks of up to 512 / 128 rows instead of 256)
                case "--cases": caseSpec = args[++i]; break;
                default: Console.Error.WriteLine($"engine-profile: unknown option {args[i]}"); return 2;
            }
        var c = Presets.All[preset]();
        var model = new MobileBertModel(c);
        model.InitializeWeights(seed: 1234);
        var engines = new List<(string Name, InferenceEngine E)> { ("fp32", new InferenceEngine(model)) };
        if (int8) engines.Add(("int8", new InferenceEngine(model, new InferenceOptions { Quantized = QuantizedWeights.Quantize(model) })));
        var rng = new Random(7);
        var ids = new int[batch * seq];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(1000, c.VocabSize);
        var input = new ModelInput(batch, seq, ids);
        var cases = caseSpec is null
            ? (from e in engines from t in threads from sp in new[] { WorkSplit.Rows, WorkSplit.Columns } select (Name: $"{e.Name}/{sp}", e.E, T: t,
            Block: 0, Split: sp, Chunk: 0, Flags: "")).ToList()
            : caseSpec.Split(',').Select(x => x.Split(':')).Select(x => (Name: string.Join("/", x), engines.First(e => e.Name == x[0]).E,
            T: int.Parse(x[1]), Block: int.Parse(x[2]),
                // split "rn": row blocks with the plain dynamic hand-out instead of per-thread ranges (flag 'a' below)
                Split: x[3] switch { "c" => WorkSplit.Columns, "r" or "rn" => WorkSplit.Rows, _ => WorkSplit.Auto },
                Chunk: x.Length > 4 ? int.Parse(x[4]) : 0,
                Flags: (x.Length > 5 ? x[5] : "") + (x[3] == "rn" ? "a" : ""))).ToList();
        var prof = cases.Select(_ => new InferenceEngine.EngineProfile { ThreadCpuNs = CpuTime.ThreadNanoseconds }).ToList();
        var totals = cases.Select(_ => new List<double>()).ToList();
        // Engines are shared between cases: every run first sets all of its case's settings.
        InferenceEngine Apply(int k)
        {
            var (_, e, t, b, sp, ch, flags) = cases[k];
            e.Threads = t; e.BlockRowsOption = b; e.Split = sp; e.AttentionChunk = ch > 0 ? ch : 128;
            e.UseSmallHeadAttention = !flags.Contains('g'); e.SequenceBlocks = !flags.Contains('n'); e.AdaptiveSplit = !flags.Contains('e');
            InferenceEngine.UseAffinity = !flags.Contains('a');
            MobileBert.Kernels.Gemm.PrefetchNextBlock = !flags.Contains('p');
            e.MaxBlockRows = flags.Contains('w') ? 512 : flags.Contains('v') ? 128 : 256;
            return e;
        }
        for (int k = 0; k < cases.Count; k++) { var e = Apply(k); e.Run(input); e.Run(input); }
        InferenceEngine.UseAffinity = true;
        for (int r = 0; r < repeats; r++)
            for (int k = 0; k < cases.Count; k++)
            {
                var e = Apply(k);
                e.Profile = prof[k];
                long t0 = Stopwatch.GetTimestamp();
                e.Run(input);
                totals[k].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                e.Profile = null;
                InferenceEngine.UseAffinity = true;
                Thread.Sleep(gapMs);
            }
        Console.WriteLine($"{preset} batch {batch} seq {seq}, {repeats} interleaved repeats {gapMs} ms apart; ms per forward (region wall | " +
            "item busy summed over " +
            $"threads)");
        Console.WriteLine("busy = wall time inside work items summed over threads; cpu = their thread CPU time (busy − cpu: descheduled by other " +
            "load)");
        Console.WriteLine("case              thr  median   min   | embed wall/busy | attention wall/busy/cpu | row-wise wall/busy/cpu | heads | " +
            "col-split busy/cpu: gemm       rows    wait");
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency / repeats;
        double Cpu(long ns) => ns / 1e6 / repeats;
        for (int k = 0; k < cases.Count; k++)
        {
            var p = prof[k]; var tt = totals[k].Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{cases[k].Name,-17} {cases[k].T,3} {tt[tt.Count / 2],7:F2} {tt[0],6:F2} | {Ms(p.Wall[0]),6:F2} {Ms(p.Busy[0]),6:F2} " +
                $"| {Ms(p.Wall[1]),6:F2} {Ms(p.Busy[1]),6:F2} {Cpu(p.Cpu[1]),6:F2} " +
                $"| {Ms(p.Wall[2]),6:F2} {Ms(p.Busy[2]),6:F2} {Cpu(p.Cpu[2]),6:F2} | {Ms(p.Wall[3]),5:F2} " +
                $"| {Ms(p.Busy[4]),6:F2} {Cpu(p.Cpu[4]),6:F2} {Ms(p.Busy[5]),5:F2} {Cpu(p.Cpu[5]),5:F2} {Ms(p.Busy[6]),5:F2} {Cpu(p.Cpu[6]),5:F2}"));
        }
        Console.WriteLine("items run by the calling thread / all items (2 threads, row blocks: 0.5 = both threads took one block; 1.0 = the caller " +
            "ran everything):");
        for (int k = 0; k < cases.Count; k++)
        {
            var p = prof[k];
            string balance = p.BalanceRegions > 0
                ? $"; 2-block regions: mean |t0 − t1| / (t0 + t1) {p.BalanceAbsRel / p.BalanceRegions:F3}, " +
                    $"mean rows in block 0 {p.BalanceShare / p.BalanceRegions:F1}"
                : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {cases[k].Name,-17} {cases[k].T}: embed {p.CallerItems[0]}/{p.Items[0]}, attention {p.CallerItems[1]}/{p.Items[1]}, " +
                $"row-wise {p.CallerItems[2]}/{p.Items[2]}, col-split gemm chunks {p.CallerItems[4]}/{p.Items[4]}; " +
                $"row-wise CPU caller / others {Cpu(p.CallerCpu[2]):F2} / {Cpu(p.Cpu[2] - p.CallerCpu[2]):F2} ms{balance}"));
        }
        return 0;
    }
}
