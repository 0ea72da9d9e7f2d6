using System.Diagnostics;
using MobileBert.Kernels;

namespace MobileBert.Bench;

/// <summary>
/// `train-gemm` benchmark: Gemm.Multiply on the shapes a MobileBERT training step runs (8×128 tokens = 1024 rows):
/// forward Linear (No,Yes), input gradient dX = dY·W (No,No), weight gradient dW += dYᵀ·X (Yes,No, k = rows) and the
/// MLM head at 160 masked positions. Reports per call the minimum wall time over rounds and the median process CPU time
/// (all threads: steadier than wall time on a shared machine), and GFLOP/s at the minimum wall time. To compare two
/// builds on a shared machine run them alternately and compare the CPU columns.
/// </summary>
static class TrainGemmBench
{
    public static int Run(string[] args)
    {
        int threads = Environment.ProcessorCount, rounds = 9;
        int[] variants = [0];
        string? filter = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads" && i + 1 < args.Length) threads = int.Parse(args[++i]);
            else if (args[i] == "--rounds" && i + 1 < args.Length) rounds = int.Parse(args[++i]);
            else if (args[i] == "--filter" && i + 1 < args.Length) filter = args[++i];
            else { Console.Error.WriteLine($"train-gemm: unknown option {args[i]}"); return 2; }
        }
        const Transpose N = Transpose.No, Y = Transpose.Yes;
        var shapes = new List<(string name, int m, int n, int k, Transpose ta, Transpose tb, bool acc)>
        {
            ("fwd", 1024, 128, 512, N, Y, false), ("fwd", 1024, 512, 128, N, Y, false), ("fwd", 1024, 128, 128, N, Y, false),
            ("dX", 1024, 512, 128, N, N, false), ("dX", 1024, 128, 512, N, N, false), ("dX", 1024, 128, 128, N, N, false),
            ("dW", 128, 512, 1024, Y, N, true), ("dW", 512, 128, 1024, Y, N, true), ("dW", 128, 128, 1024, Y, N, true),
            ("mlm fwd", 160, 30522, 128, N, Y, false), ("mlm fwd", 160, 30522, 384, N, N, true),
            ("mlm dW", 30522, 128, 160, Y, N, true), ("mlm dX", 160, 128, 30522, N, N, false),
            ("mlm dW", 384, 30522, 160, Y, N, true), ("mlm dX", 160, 384, 30522, N, Y, false),
        };
        Console.WriteLine($"threads {threads}; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; rounds {rounds}");
        Console.WriteLine($"{"shape",-8} {"m",6} {"n",6} {"k",6} op   " + string.Join("", variants.Select(v => $"{"v" + v + " min µs",11}")) + " |"
            + string.Join("", variants.Select(v => $"{"v" + v + " cpu µs",11}")) + "   GFLOP/s (min wall)");
        var totals = new double[variants.Length]; var totalsCpu = new double[variants.Length];
        foreach (var (name, m, n, k, ta, tb, acc) in shapes)
        {
            if (filter != null && !filter.Split('|').Any(f => $"{name} {m}x{n}x{k}".StartsWith(f))) continue;
            var rng = new Random(1);
            var a = Rand(rng, m * k); var b = Rand(rng, k * n); var c = new float[m * n];
            void Call() => Gemm.Multiply(a, b, c, m, n, k, ta, tb, default, acc, threads);
            var samples = variants.Select(_ => new List<double>()).ToArray();
            var cpu = variants.Select(_ => new List<double>()).ToArray();
            for (int i = 0; i < 3; i++) Call();
            var sw = Stopwatch.StartNew(); int calls = 0;
            while (sw.Elapsed.TotalMilliseconds < 30) { Call(); calls++; }
            int batch = Math.Max(1, (int)(15 / (sw.Elapsed.TotalMilliseconds / calls)));
            for (int r = 0; r < rounds; r++)
                for (int i0 = 0; i0 < variants.Length; i0++)
                {
                    int vi = (r & 1) == 0 ? i0 : variants.Length - 1 - i0;
                    double c0 = CpuTime.ProcessSeconds();
                    long t0 = Stopwatch.GetTimestamp();
                    for (int i = 0; i < batch; i++) Call();
                    samples[vi].Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds / batch);
                    cpu[vi].Add((CpuTime.ProcessSeconds() - c0) * 1e6 / batch);
                }
            double flop = 2.0 * m * n * k;
            var med = samples.Select(x => x.Min()).ToArray();
            var medCpu = cpu.Select(Median).ToArray();
            for (int i = 0; i < med.Length; i++) totals[i] += med[i];
            string op = $"{(ta == Y ? "T" : "N")}{(tb == Y ? "T" : "N")}";
            Console.WriteLine($"{name,-8} {m,6} {n,6} {k,6} {op,-4} " + string.Join("", med.Select(x => $"{x,11:F1}")) + " |"
                + string.Join("", medCpu.Select(x => $"{x,11:F1}")) + "   " + string.Join(" → ", med.Select(x => $"{flop / x / 1e3:F1}")));
            for (int i = 0; i < medCpu.Length; i++) totalsCpu[i] += medCpu[i];
        }
        Console.WriteLine("total min wall µs: " + string.Join("  ", variants.Select(
            (v, i) => $"v{v} {totals[i]:F0} ({100 * (totals[i] / totals[0] - 1):+0;-0}%)")));
        Console.WriteLine("total median process-CPU µs: " + string.Join("  ",
            variants.Select((v, i) => $"v{v} {totalsCpu[i]:F0} ({100 * (totalsCpu[i] / totalsCpu[0] - 1):+0;-0}%)")));
        return 0;
    }

    static double Median(IEnumerable<double> x) => Median(x.ToList());

    static double Median(List<double> x) { var s = x.OrderBy(v => v).ToList(); return s[s.Count / 2]; }

    static float[] Rand(Random rng, int len) { var x = new float[len]; for (int i = 0; i < len;
        i++) x[i] = (float)(rng.NextDouble() * 2 - 1); return x; }
}
