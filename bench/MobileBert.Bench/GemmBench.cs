using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MobileBert.Kernels;

namespace MobileBert.Bench;

/// <summary>
/// `gemm` benchmark: measures the machine's FMA peak (register-only loop of independent FMAs, 1 and N threads),
/// then times Gemm.Multiply on MobileBERT inference shapes (unpacked Linear layout No,Yes and pre-packed weights)
/// with warm-up and repeats, reporting the median, the spread, GFLOP/s and % of peak.
/// </summary>
static class GemmBench
{
    public static int Run(string[] args)
    {
        int maxThreads = Environment.ProcessorCount;
        bool quick = false, noPeak = false;
        string? filter = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads" && i + 1 < args.Length) maxThreads = int.Parse(args[++i]);
            else if (args[i] == "--quick") quick = true;
            else if (args[i] == "--no-peak") noPeak = true;
            else if (args[i] == "--no-prefetch") Gemm.PrefetchNextBlock = false;   // A/B: micro-kernels without weight prefetch
            else if (args[i] == "--filter" && i + 1 < args.Length) filter = args[++i];
            else { Console.Error.WriteLine($"gemm: unknown option {args[i]}"); return 2; }
        }
        int[] threadCounts = maxThreads > 1 ? [1, maxThreads] : [1];

        Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores, Vector512={Vector512.IsHardwareAccelerated}, " +
                          $"Vector256={Vector256.IsHardwareAccelerated}, FMA={System.Runtime.Intrinsics.X86.Fma.IsSupported}; GEMM " +
                          $"path {GemmKernels.Best}");
        Console.WriteLine();
        Console.WriteLine("FMA peak (register-only loop, 16 independent accumulators):");
        var peak = new Dictionary<int, double>();
        foreach (int t in threadCounts)
        {
            double p512 = Vector512.IsHardwareAccelerated && !noPeak ? MeasurePeak(t, wide: true) : 0;
            double p256 = noPeak ? 1 : MeasurePeak(t, wide: false);
            peak[t] = Math.Max(p512, p256);
            Console.WriteLine($"  threads={t}: Vector512 {p512,7:F1} GFLOP/s   Vector256 {p256,7:F1} GFLOP/s");
        }
        Console.WriteLine();

        foreach (int t in threadCounts.Where(t => t > 1))
        {
            var body = new NopBody();
            var (po, pmin, _) = Time(() => ParallelFor.Run(t, t, ref body), quick);
            Console.WriteLine($"ParallelFor.Run hand-off ({t} items, {t} threads, empty body): median {po:F2} µs, min {pmin:F2} µs");
            var busy = new BusyBody { Ticks = Stopwatch.Frequency * 3 / 1_000_000 };
            var (pb1, _, _) = Time(() => ParallelFor.Run(t, 1, ref busy), quick);
            var (pb2, _, _) = Time(() => ParallelFor.Run(t, t, ref busy), quick);
            Console.WriteLine($"ParallelFor.Run {t} items × 3 µs busy body: 1 thread {pb1:F2} µs, {t} threads {pb2:F2} µs");
            Console.WriteLine();
        }

        var shapes = new List<(string name, int m, int n, int k, Transpose tb)>();
        foreach (int m in new[] { 128, 4096 })
        {
            foreach (var (n, k) in new[] { (128, 512), (512, 128), (128, 128), (512, 512) })
                shapes.Add(($"linear", m, n, k, Transpose.Yes));
            shapes.Add(("attn QKᵀ", m, 128, 32, Transpose.Yes));
            shapes.Add(("attn P·V", m, 32, 128, Transpose.No));
        }
        foreach (var (n, k) in new[] { (128, 512), (512, 128) })
            shapes.Add(("linear m=1", 1, n, k, Transpose.Yes));
        // Plain BERT (all-MiniLM-L6-v2: hidden 384, FFN 1536): fused Q|K|V, attention output, FFN up and down.
        foreach (int m in new[] { 128, 4096 })
            foreach (var (n, k) in new[] { (1152, 384), (384, 384), (1536, 384), (384, 1536) })
                shapes.Add(("bert linear", m, n, k, Transpose.Yes));

        Console.WriteLine($"{"shape",-11} {"m",5} {"n",4} {"k",4} {"B",-6} {"thr",3} {"median µs",10} {"spread",13} {"GFLOP/s",8} {"% peak",7}");
        Console.WriteLine(new string('-', 79));
        foreach (var (name, m, n, k, tb) in shapes)
        {
            if (filter != null && !$"{name} {m}x{n}x{k}".Contains(filter)) continue;
            var rng = new Random(1);
            var a = Rand(rng, m * k); var b = Rand(rng, k * n); var bias = Rand(rng, n); var c = new float[m * n];
            var packed = name.Contains("linear") ? Gemm.Pack(b, k, n, tb) : null;
            foreach (int t in threadCounts)
            {
                string bl = tb == Transpose.Yes ? "No,Yes" : "No,No";
                Report(name, m, n, k, bl, t, peak[t], quick,
                    () => Gemm.Multiply(a, b, c, m, n, k, Transpose.No, tb, bias, threads: t));
                if (packed != null && t == 1)
                {
                    var dst = new float[(n + 31) / 32 * 32 * k];
                    var (pm, _, _) = Time(() => PackInto(b, k, n, tb, dst), quick);
                    Console.WriteLine($"{"  pack B",-11} {"",5} {n,4} {k,4} {tb,-6} {1,3} {pm,10:F1}   ({1000 * pm / (n * k):F2} ns/element)");
                }
                if (packed != null)
                    Report(name, m, n, k, "packed", t, peak[t], quick,
                        () => Gemm.Multiply(a, packed, c, m, bias: bias, threads: t));
            }
        }
        Console.WriteLine();
        Console.WriteLine("median µs: per call (median of repeats, each repeat averages ≥ 5 ms of back-to-back calls); spread: min–max of repeats.");
        return 0;
    }

    static unsafe void PackInto(float[] b, int k, int n, Transpose tb, float[] dst)
    {
        fixed (float* pb = b, pd = dst) GemmKernels.PackB(pb, k, n, tb, GemmKernels.PanelWidth(GemmKernels.Best), pd, 0, (n + 31) / 32);
    }

    struct BusyBody : IParallelBody
    {
        public long Ticks;
        public readonly void Invoke(int index) { long t0 = Stopwatch.GetTimestamp(); while (Stopwatch.GetTimestamp() - t0 < Ticks) { } }
    }

    struct NopBody : IParallelBody { public readonly void Invoke(int index) { } }

    static float[] Rand(Random rng, int len) { var x = new float[len]; for (int i = 0; i < len;
        i++) x[i] = (float)(rng.NextDouble() * 2 - 1); return x; }

    static void Report(string name, int m, int n, int k, string layout, int threads, double peak, bool quick, Action call)
    {
        var (median, min, max) = Time(call, quick);
        double gflops = 2.0 * m * n * k / median / 1e3;
        Console.WriteLine(
            $"{name,-11} {m,5} {n,4} {k,4} {layout,-6} {threads,3} {median,10:F1} {min,6:F1}–{max,-6:F1} {gflops,8:F1} {100 * gflops / peak,6:F0}%");
    }

    /// <summary>Warm up, then time `repeats` batches of calls; returns per-call µs (median, min, max).</summary>
    static (double median, double min, double max) Time(Action call, bool quick)
    {
        // Warm-up (JIT tiering, pack buffers, worker threads) and calibration of the batch size.
        var sw = Stopwatch.StartNew();
        int calls = 0;
        while (sw.Elapsed.TotalMilliseconds < (quick ? 50 : 200) || calls < 3) { call(); calls++; }
        double perCall = sw.Elapsed.TotalMilliseconds / calls;
        int batch = Math.Max(1, (int)((quick ? 2 : 5) / perCall));
        int repeats = quick ? 15 : 31;
        var samples = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch; i++) call();
            samples[r] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / batch;
        }
        Array.Sort(samples);
        return (samples[repeats / 2], samples[0], samples[^1]);
    }

    // ---------------------------------------------------------------- FMA peak

    /// <summary>GFLOP/s of a register-only FMA loop on `threads` threads (best of 9 runs: on a shared machine
    /// interference only ever lowers the rate).</summary>
    /// <summary>The fp32 FMA peak of <paramref name="threads"/> threads (the wider of the Vector512 and Vector256 probes).</summary>
    internal static double PeakGflops(int threads) => Math.Max(Vector512.IsHardwareAccelerated ? MeasurePeak(threads, wide: true) : 0,
        MeasurePeak(threads, wide: false));

    static double MeasurePeak(int threads, bool wide)
    {
        const long iters = 20_000_000;
        double best = 0;
        for (int rep = 0; rep < 9; rep++)
        {
            using var start = new Barrier(threads);
            var secs = new double[threads];
            var sinks = new float[threads];
            var ths = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                long t0 = Stopwatch.GetTimestamp();
                sinks[i] = wide ? Fma512(iters / threads / 4) : Fma256(iters / threads / 4);
                secs[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            })).ToArray();
            foreach (var th in ths) th.Start();
            foreach (var th in ths) th.Join();
            double s = secs.Max();   // all threads run concurrently; the slowest one bounds the aggregate rate
            double flops = (double)(iters / threads / 4) * threads * 16 * (wide ? 16 : 8) * 2;
            best = Math.Max(best, flops / s / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Fma512(long n)
    {
        var x = Vector512.Create(0.999f); var y = Vector512.Create(1e-6f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0 + y, a2 = a1 + y, a3 = a2 + y, a4 = a3 + y, a5 = a4 + y, a6 = a5 + y, a7 = a6 + y,
            a8 = a7 + y, a9 = a8 + y, a10 = a9 + y, a11 = a10 + y, a12 = a11 + y, a13 = a12 + y, a14 = a13 + y, a15 = a14 + y;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            a12 = Vector512.FusedMultiplyAdd(a12, x, y); a13 = Vector512.FusedMultiplyAdd(a13, x, y);
            a14 = Vector512.FusedMultiplyAdd(a14, x, y); a15 = Vector512.FusedMultiplyAdd(a15, x, y);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return Vector512.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Fma256(long n)
    {
        var x = Vector256.Create(0.999f); var y = Vector256.Create(1e-6f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0 + y, a2 = a1 + y, a3 = a2 + y, a4 = a3 + y, a5 = a4 + y, a6 = a5 + y, a7 = a6 + y,
            a8 = a7 + y, a9 = a8 + y, a10 = a9 + y, a11 = a10 + y, a12 = a11 + y, a13 = a12 + y, a14 = a13 + y, a15 = a14 + y;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
            a12 = Vector256.FusedMultiplyAdd(a12, x, y); a13 = Vector256.FusedMultiplyAdd(a13, x, y);
            a14 = Vector256.FusedMultiplyAdd(a14, x, y); a15 = Vector256.FusedMultiplyAdd(a15, x, y);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return Vector256.Sum(s);
    }
}
