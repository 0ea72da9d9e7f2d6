using System.Diagnostics;
using MobileBert.Inference;
using MobileBert.Model;

namespace MobileBert.FineTuning;

/// <summary>Forward-pass latency of a model: median (and p10/p90) over repeated runs after warm-up.</summary>
public sealed record LatencyResult(int Batch, int Seq, int Threads, double MedianMs, double P10Ms, double P90Ms, int Runs)
{
    public double SequencesPerSecond => Batch / (MedianMs / 1000.0);
}

public static class Latency
{
    /// <summary>
    /// Times several models side by side: after <paramref name="warmup"/> runs each, <paramref name="rounds"/> rounds in which
    /// every model runs <paramref name="runsPerRound"/> times in turn (the same random batch for all, as <see cref="Measure"/>),
    /// so a busy spell of a shared machine slows all of them alike. Returns each model's median, p10 and p90 over its runs.
    /// </summary>
    public static LatencyResult[] MeasureInterleaved(IReadOnlyList<MobileBertModel> models, int batch, int seq, int threads, int rounds = 5,
        int runsPerRound = 3, int warmup = 2)
    {
        var engines = models.Select(m => new InferenceEngine(m, new InferenceOptions { Threads = threads })).ToArray();
        try
        {
            var inputs = models.Select(m => RandomInput(m.Config.VocabSize, batch, seq)).ToArray();
            var times = models.Select(_ => new List<double>()).ToArray();
            for (int m = 0; m < models.Count; m++) for (int i = 0; i < warmup; i++) engines[m].Run(inputs[m]);
            for (int r = 0; r < rounds; r++)
                for (int m = 0; m < models.Count; m++)
                    for (int i = 0; i < runsPerRound; i++)
                    {
                        var sw = Stopwatch.StartNew();
                        engines[m].Run(inputs[m]);
                        times[m].Add(sw.Elapsed.TotalMilliseconds);
                    }
            return [.. times.Select(t => Summarise(t, batch, seq, threads))];
        }
        finally { foreach (var e in engines) e.Dispose(); }
    }

    static ModelInput RandomInput(int vocab, int batch, int seq)
    {
        var rng = new Random(1234);
        var ids = new int[batch * seq];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % seq == 0 ? 101 : i % seq == seq - 1 ? 102 : rng.Next(1000, Math.Min(vocab, 30000));
        return new ModelInput(batch, seq, ids);
    }

    static LatencyResult Summarise(List<double> times, int batch, int seq, int threads)
    {
        times.Sort();
        double Q(double q) => times[(int)Math.Clamp(Math.Round(q * (times.Count - 1)), 0, times.Count - 1)];
        return new LatencyResult(batch, seq, threads, Q(0.5), Q(0.1), Q(0.9), times.Count);
    }

    /// <summary>
    /// Runs the model's inference forward on a fixed random batch (seeded token ids, full attention)
    /// <paramref name="warmup"/> times, then at least <paramref name="minRuns"/> times and until <paramref name="minSeconds"/> have passed.
    /// The forward is the fast executor (<see cref="InferenceEngine"/>: backbone, pooler and classifier — what
    /// <c>TextClassifier</c> serves with); <paramref name="reference"/> times <see cref="MobileBertModel.Forward"/> with every head instead.
    /// </summary>
    public static LatencyResult Measure(MobileBertModel model, int batch, int seq, int threads, int warmup = 2, int minRuns = 5,
        double minSeconds = 2.0, int maxRuns = 1000, bool reference = false)
    {
        var input = RandomInput(model.Config.VocabSize, batch, seq);
        int saved = model.Threads;
        model.Threads = threads;
        using var engine = reference ? null : new InferenceEngine(model, new InferenceOptions { Threads = threads });
        void Forward() { if (engine is null) model.Forward(input); else engine.Run(input); }
        try
        {
            for (int i = 0; i < warmup; i++) Forward();
            var times = new List<double>();
            var total = Stopwatch.StartNew();
            while ((times.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds) && times.Count < maxRuns)
            {
                var sw = Stopwatch.StartNew();
                Forward();
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            return Summarise(times, batch, seq, threads);
        }
        finally { model.Threads = saved; }
    }
}
