using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MobileBert.Checkpoints;
using MobileBert.Model;

namespace MobileBert.Cli;

/// <summary>`mobilebert bench --preset NAME|--model DIR --batch 1,32 --seq 128 --threads N`: forward-pass latency and throughput.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = $"Preset with random weights: {string.Join(", ", Presets.All.Keys)}." };
        var modelDir = new Option<string?>("--model") { Description = "Model folder instead of a preset (fp32, or int8 as written by quantize)." };
        var batch = new Option<string>("--batch") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,32" };
        var seq = new Option<string>("--seq") { Description = "Comma-separated sequence lengths.", DefaultValueFactory = _ => "128" };
        var threads = new Option<string>("--threads") { Description = "Comma-separated thread counts.",
            DefaultValueFactory = _ => Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up runs per case.", DefaultValueFactory = _ => 2 };
        var iterations = new Option<int>("--iterations") { Description = "Timed runs per case (at least).", DefaultValueFactory = _ => 10 };
        var minSeconds = new Option<double>("--min-seconds") { Description = "Keep timing a case until this much time has passed.",
            DefaultValueFactory = _ => 2.0 };
        var train = new Option<bool>("--train") { Description = "Time training steps (forward + backward + optimizer) instead of inference." };
        var optimizer = new Option<string>("--optimizer") { Description = "With --train: adamw | lamb.", DefaultValueFactory = _ => "adamw" };
        var engine = new Option<string>("--engine") { Description = "Inference path: fast (fused, pre-packed InferenceEngine) | reference " +
            "(model.Forward).", DefaultValueFactory = _ => "fast" };
        var cmd = new Command("bench", "Benchmark forward-pass latency (median, spread), sequences/s and GFLOP/s; with --train, training-step " +
            "throughput.") { preset, modelDir, batch, seq, threads, warmup, iterations, minSeconds, train, optimizer, engine };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            string? p = r.GetValue(preset), m = r.GetValue(modelDir);
            if ((p is null) == (m is null)) throw new InputException("bench: give exactly one of --preset or --model.");
            MobileBert.Inference.QuantizedWeights? int8 = null;
            MobileBertModel model;
            if (m is not null && MobileBert.Inference.QuantizedCheckpoint.IsQuantizedFolder(m))
            {
                if (r.GetValue(train) || r.GetValue(engine) != "fast")
                    throw new InputException($"{m}: an int8 folder (written by quantize) runs only on the fast engine; --train and --engine " +
                        $"reference need an fp32 folder.");
                (model, int8, _) = MobileBert.Inference.QuantizedCheckpoint.Load(m, floatWeights: false);
            }
            else model = m is not null ? ModelFolder.Load(m, new LoadOptions {
            Heads = r.GetValue(train) ? ModelHeads.Pretraining : null, InitializeMissingHeads = r.GetValue(train) })
            : CreatePreset(p!, r.GetValue(train));
            if (r.GetValue(train))
            {
                TrainBench.Run(model, p ?? m!, ParseList(r.GetValue(batch)!, "--batch"), ParseList(r.GetValue(seq)!, "--seq"),
                    ParseList(r.GetValue(threads)!, "--threads"),
                    r.GetValue(warmup), r.GetValue(iterations), r.GetValue(minSeconds), r.GetValue(optimizer)!, Console.Out);
                return 0;
            }
            string eng = r.GetValue(engine)!;
            if (eng is not ("fast" or "reference")) throw new InputException($"--engine must be fast or reference, got '{eng}'.");
            Run(model, p ?? m!, ParseList(r.GetValue(batch)!, "--batch"), ParseList(r.GetValue(seq)!, "--seq"),
                ParseList(r.GetValue(threads)!, "--threads"),
                r.GetValue(warmup), r.GetValue(iterations), r.GetValue(minSeconds), Console.Out, fast: eng == "fast", int8);
            return 0;
        }));
        return cmd;
    }

    static MobileBertModel CreatePreset(string name, bool pretrainingHeads)
    {
        if (!Presets.All.TryGetValue(name, out var make)) throw new InputException(
            $"bench: unknown preset '{name}'; presets: {string.Join(", ", Presets.All.Keys)}.");
        var model = new MobileBertModel(make(), pretrainingHeads ? ModelHeads.Pretraining : ModelHeads.None);
        model.InitializeWeights(seed: 1234);
        return model;
    }

    internal static int[] ParseList(string s, string option)
    {
        var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] <= 0)
                throw new InputException($"{option}: '{parts[i]}' is not a positive integer.");
        if (values.Length == 0) throw new InputException($"{option}: needs at least one value.");
        return values;
    }

    public sealed record Case(int Batch, int Seq, int Threads, double MedianMs, double P10Ms, double P90Ms, double MinMs, double MaxMs, int Runs,
        double SequencesPerSecond, double GflopPerSecond);

    public static List<Case> Run(MobileBertModel model, string name, int[] batches, int[] seqs, int[] threadCounts, int warmup, int iterations,
        double minSeconds,
        TextWriter output, bool fast = true, MobileBert.Inference.QuantizedWeights? int8 = null)
    {
        var c = model.Config;
        using var engine = fast ? new MobileBert.Inference.InferenceEngine(model, new() { Quantized = int8 }) : null;
        void Forward(ModelInput input)
        {
            if (engine is not null) engine.Run(input);
            else model.Forward(input, new ForwardOptions { Heads = ModelHeads.None });
        }
        output.WriteLine($"model: {name} ({MobileBertModel.CountParameters(c) / 1e6:F1}M backbone parameters, {c.NumHiddenLayers} layers, " +
            $"hidden {c.HiddenSize}, intra {c.IntraBottleneckSize}, {c.NormalizationType}/{c.HiddenAct})");
        string engineKind = fast ? "fast (InferenceEngine: pre-packed weights, fused epilogues)" : "reference (MobileBertModel.Forward)";
        output.WriteLine($"engine: {engineKind}{(int8 is null ? "" : ", int8")}");
        output.WriteLine($"machine: {Environment.ProcessorCount} logical cores, " +
            $".NET {Environment.Version}, {MobileBert.Kernels.SimdSupport.Describe()}");
        output.WriteLine();
        output.WriteLine("batch   seq  threads   median ms   p10–p90 ms        min–max ms        runs    seq/s   GFLOP/s");
        var rng = new Random(7);
        var results = new List<Case>();
        foreach (int s in seqs)
        {
            if (s > c.MaxPositionEmbeddings) throw new InputException($"--seq {s} exceeds max_position_embeddings = {c.MaxPositionEmbeddings}.");
            foreach (int b in batches)
            {
                var ids = new int[b * s];
                for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(Math.Min(1000, c.VocabSize - 1), c.VocabSize);
                var input = new ModelInput(b, s, ids);
                double flops = FlopCount.Forward(c, b, s);
                foreach (int t in threadCounts)
                {
                    model.Threads = t;
                    if (engine is not null) engine.Threads = t;
                    for (int w = 0; w < warmup; w++) Forward(input);
                    var times = new List<double>();
                    var total = Stopwatch.StartNew();
                    while (times.Count < iterations || total.Elapsed.TotalSeconds < minSeconds)
                    {
                        var sw = Stopwatch.StartNew();
                        Forward(input);
                        times.Add(sw.Elapsed.TotalMilliseconds);
                        if (times.Count >= 1000) break;
                    }
                    times.Sort();
                    double median = Percentile(times, 0.5);
                    var r = new Case(b, s, t, median, Percentile(times, 0.1), Percentile(times, 0.9), times[0], times[^1], times.Count,
                        b / (median / 1000), flops / (median / 1000) / 1e9);
                    results.Add(r);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{b,5} {s,5} {t,8} {median,11:F2}   {r.P10Ms,7:F2}–{r.P90Ms,-9:F2} {r.MinMs,7:F2}–{r.MaxMs,-9:F2} " +
                        $"{r.Runs,5} {r.SequencesPerSecond,8:F1} {r.GflopPerSecond,9:F1}"));
                }
            }
        }
        return results;
    }

    internal static double Percentile(List<double> sorted, double q)
    {
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
