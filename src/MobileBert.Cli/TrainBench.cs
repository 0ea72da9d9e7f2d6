using System.Diagnostics;
using System.Globalization;
using MobileBert.Model;
using MobileBert.PretrainingData;
using MobileBert.Training.Optimizers;
using MobileBert.Training.Pretraining;

namespace MobileBert.Cli;

/// <summary>`mobilebert bench --train`: pre-training step throughput (forward + backward + clipping + optimizer) on random batches
/// shaped like real ones (15 % masked, at most 20 predictions per sequence; NSP labels 50/50). Reports where the time goes.</summary>
public static class TrainBench
{
    public static void Run(MobileBertModel model, string name, int[] batches, int[] seqs, int[] threadCounts, int warmup, int iterations,
        double minSeconds, string optimizerName, TextWriter output)
    {
        var c = model.Config;
        var opt = OptimizerFactory.Create(optimizerName, model.Store);
        output.WriteLine($"train: {name} ({model.Store.Count / 1e6:F1}M parameters with MLM+NSP heads, {c.NumHiddenLayers} layers), " +
            $"optimizer {optimizerName}, masked LM decoded at masked positions only");
        output.WriteLine($"machine: {Environment.ProcessorCount} logical cores; load average {LoadAverage()}");
        output.WriteLine();
        output.WriteLine("batch   seq  threads   median s/step   p10–p90            seq/s   fwd+bwd GFLOP/s   (fwd ms / loss+bwd ms / clip+opt ms)");
        var rng = new Random(11);
        foreach (int s in seqs)
            foreach (int b in batches)
            {
                var batch = RandomBatch(rng, b, s, c.VocabSize);
                foreach (int t in threadCounts)
                {
                    model.Threads = t; opt.Threads = t;
                    var times = new List<double>(); double fwd = 0, bwd = 0, upd = 0; int timed = 0;
                    var total = Stopwatch.StartNew();
                    for (int i = 0; ; i++)
                    {
                        var (f, bw, u) = Step(model, opt, batch, (ulong)i);
                        if (i < warmup) { total.Restart(); continue; }
                        times.Add(f + bw + u); fwd += f; bwd += bw; upd += u; timed++;
                        if (times.Count >= iterations && total.Elapsed.TotalSeconds >= minSeconds) break;
                        if (times.Count >= 200) break;
                    }
                    times.Sort();
                    double median = BenchCommand.Percentile(times, 0.5);
                    double flops = 3 * FlopCount.Forward(c, b, s);          // backward ≈ 2× forward
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{b,5} {s,5} {t,8} {median,15:F3}   " +
                        $"{BenchCommand.Percentile(times, 0.1),7:F3}–{BenchCommand.Percentile(times, 0.9),-9:F3} " +
                        $"{b / median,8:F2} {flops / median / 1e9,17:F1}   " +
                        $"({fwd / timed * 1000:F0} / {bwd / timed * 1000:F0} / {upd / timed * 1000:F0})"));
                }
            }
    }

    static (double Fwd, double Bwd, double Upd) Step(MobileBertModel model, Optimizer opt, PretrainingBatch batch, ulong seed)
    {
        var sw = Stopwatch.StartNew();
        int n = 0; foreach (int y in batch.MlmLabels) if (y != -100) n++;
        var positions = new int[n]; n = 0;
        for (int i = 0; i < batch.MlmLabels.Length; i++) if (batch.MlmLabels[i] != -100) positions[n++] = i;
        var output = model.Forward(batch.Input, new ForwardOptions { Training = true, KeepForBackward = true, Seed = seed, MlmPositions = positions,
            Heads = ModelHeads.Pretraining });
        double f = sw.Elapsed.TotalSeconds; sw.Restart();
        var loss = MobileBert.Training.Losses.Pretraining(output, batch.MlmLabels, batch.NextSentenceLabels, overwriteLogits: true,
            threads: model.Threads);
        model.ZeroGrad();
        model.Backward(output, loss.Gradients);
        double b = sw.Elapsed.TotalSeconds; sw.Restart();
        GradientClipper.ClipGlobalNorm(model.Store, 1.0, opt.Groups, threads: model.Threads);
        opt.Step(1e-4);
        return (f, b, sw.Elapsed.TotalSeconds);
    }

    static PretrainingBatch RandomBatch(Random rng, int b, int s, int vocab)
    {
        var ids = new int[b * s]; var labels = Enumerable.Repeat(-100, b * s).ToArray(); var types = new int[b * s];
        for (int r = 0; r < b; r++)
        {
            for (int t = 0; t < s; t++) { ids[r * s + t] = rng.Next(1000, vocab); types[r * s + t] = t < s / 2 ? 0 : 1; }
            int preds = Math.Min(20, (int)Math.Round(0.15 * s));
            foreach (int t in Enumerable.Range(1, s - 2).OrderBy(_ => rng.Next()).Take(preds)) labels[r * s + t] = ids[r * s + t];
        }
        return new PretrainingBatch
        {
            Input = new ModelInput(b, s, ids, null, types), MlmLabels = labels,
            NextSentenceLabels = Enumerable.Range(0, b).Select(_ => rng.Next(2)).ToArray(), ExampleIndices = new int[b],
        };
    }

    static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; } catch (IOException) { return "n/a"; }
    }
}
