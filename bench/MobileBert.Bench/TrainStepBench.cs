using System.Diagnostics;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Training;
using MobileBert.Training.Optimizers;

namespace MobileBert.Bench;

/// <summary>
/// `train-step` benchmark: the pre-training step of `bench --train` (forward with MLM at masked positions, loss,
/// ZeroGrad, backward, clipping, AdamW) split into phases, each timed in wall time AND process CPU time (all threads;
/// steadier than wall time on a shared machine), plus managed allocation and GC counts per step.
/// To compare two builds on a shared machine, run them alternately and compare the CPU columns.
/// </summary>
static class TrainStepBench
{
    static readonly string[] Phases = ["forward", "loss", "zerograd", "backward", "clip", "optimizer"];

    public static int Run(string[] args)
    {
        string preset = "mobilebert";
        int batch = 8, seq = 128, threads = 2, steps = 12, warmup = 2;
        int[] variants = [0];
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--preset": preset = args[++i]; break;
                case "--batch": batch = int.Parse(args[++i]); break;
                case "--seq": seq = int.Parse(args[++i]); break;
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--steps": steps = int.Parse(args[++i]); break;
                case "--warmup": warmup = int.Parse(args[++i]); break;
                default: Console.Error.WriteLine($"train-step: unknown option {args[i]}"); return 2;
            }
        }
        var model = new MobileBertModel(Presets.All[preset](), ModelHeads.Pretraining) { Threads = threads };
        model.InitializeWeights(seed: 1234);
        var opt = OptimizerFactory.Create("adamw", model.Store, threads: threads);
        var rng = new Random(11);
        var (input, labels, nsp, positions) = RandomBatch(rng, batch, seq, model.Config.VocabSize);
        Console.WriteLine($"train-step: {preset} batch {batch} seq {seq} threads {threads}; {positions.Length} masked positions; load " +
            $"average {Load()}");

        int nv = variants.Length;
        var wall = new List<double[]>[nv]; var cpu = new List<double[]>[nv];
        var alloc = new List<long>[nv];
        for (int v = 0; v < nv; v++) { wall[v] = []; cpu[v] = []; alloc[v] = []; }
        int gc0 = GC.CollectionCount(0), gc1 = GC.CollectionCount(1), gc2 = GC.CollectionCount(2);
        for (int s = 0; s < warmup + steps * nv; s++)
        {
            int vi = s < warmup ? s % nv : (s - warmup) % nv;
            if (s == warmup) { gc0 = GC.CollectionCount(0); gc1 = GC.CollectionCount(1); gc2 = GC.CollectionCount(2); }
            var w = new double[Phases.Length]; var c = new double[Phases.Length];
            long a0 = GC.GetTotalAllocatedBytes(false);
            int ph = 0;
            long t = Stopwatch.GetTimestamp(); double ct = CpuTime.ProcessSeconds();
            void Mark() { long t1 = Stopwatch.GetTimestamp(); double c1 = CpuTime.ProcessSeconds(); w[ph] = (t1 - t) / (double)Stopwatch.Frequency;
                c[ph] = c1 - ct; ph++; t = t1; ct = c1; }
            var output = model.Forward(input, new ForwardOptions { Training = true, KeepForBackward = true, Seed = (ulong)s, MlmPositions = positions,
                Heads = ModelHeads.Pretraining });
            Mark();
            var loss = Losses.Pretraining(output, labels, nsp, overwriteLogits: true, threads: threads);
            Mark();
            model.ZeroGrad();
            Mark();
            model.Backward(output, loss.Gradients);
            Mark();
            GradientClipper.ClipGlobalNorm(model.Store, 1.0, opt.Groups, threads: threads);
            Mark();
            opt.Step(1e-4);
            Mark();
            if (s < warmup) continue;
            wall[vi].Add(w); cpu[vi].Add(c); alloc[vi].Add(GC.GetTotalAllocatedBytes(false) - a0);
        }
        Console.WriteLine($"GCs during timed steps: gen0 {GC.CollectionCount(0) - gc0}, gen1 {GC.CollectionCount(1) - gc1}, " +
            $"gen2 {GC.CollectionCount(2) - gc2}; load average {Load()}");
        Console.WriteLine();
        Console.WriteLine($"{"",-10}" + string.Join("", variants.Select(v => $"{"v" + v + " wall ms",14}{"(min)",8}{"cpu ms",10}")));
        for (int p = 0; p <= Phases.Length; p++)
        {
            string name = p < Phases.Length ? Phases[p] : "step";
            var line = $"{name,-10}";
            for (int v = 0; v < nv; v++)
            {
                double Pick(double[] x) => p < Phases.Length ? x[p] : x.Sum();
                var ws = wall[v].Select(Pick).ToList(); var cs = cpu[v].Select(Pick).ToList();
                line += $"{1000 * Median(ws),14:F1}{1000 * ws.Min(),8:F1}{1000 * Median(cs),10:F1}";
            }
            Console.WriteLine(line);
        }
        for (int v = 0; v < nv; v++)
        {
            double med = Median(wall[v].Select(x => x.Sum()).ToList());
            Console.WriteLine($"v{variants[v]}: median {med:F3} s/step = {batch / med:F2} seq/s (min {wall[v].Min(x => x.Sum()):F3} s); median " +
                $"CPU {Median(cpu[v].Select(x => x.Sum()).ToList()):F3} s/step; " +
                $"allocated {Median(alloc[v].Select(x => (double)x).ToList()) / 1e6:F2} MB/step");
        }
        return 0;
    }

    static double Median(List<double> x) { x.Sort(); return x[x.Count / 2]; }

    static string Load() { try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; } catch (IOException) { return "n/a"; } }

    static (ModelInput, int[], int[], int[]) RandomBatch(Random rng, int b, int s, int vocab)
    {
        // As `bench --train`: 15 % masked, at most 20 predictions per sequence; NSP labels 50/50.
        var ids = new int[b * s]; var labels = Enumerable.Repeat(-100, b * s).ToArray(); var types = new int[b * s];
        for (int r = 0; r < b; r++)
        {
            for (int t = 0; t < s; t++) { ids[r * s + t] = rng.Next(1000, vocab); types[r * s + t] = t < s / 2 ? 0 : 1; }
            int preds = Math.Min(20, (int)Math.Round(0.15 * s));
            foreach (int t in Enumerable.Range(1, s - 2).OrderBy(_ => rng.Next()).Take(preds)) labels[r * s + t] = ids[r * s + t];
        }
        var positions = Enumerable.Range(0, b * s).Where(i => labels[i] != -100).ToArray();
        return (new ModelInput(b, s, ids, null, types), labels, Enumerable.Range(0, b).Select(_ => rng.Next(2)).ToArray(), positions);
    }
}
