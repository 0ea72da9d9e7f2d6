using System.Diagnostics;
using System.Globalization;
using MobileBert.Inference;
using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Bench;

/// <summary>
/// `engine-parts`: the fp32 engine's layer taken apart, one thread. Times each planned dense layer of layer 0 on a block
/// of rows (GFLOP/s, % of the 1-thread FMA peak), the activation and every norm on the same block, one attention item
/// (sequence, head) on the engine's attention kernel, and compares their sum over the layers with the engine's own
/// 1-thread forward of batch 1 (what is left: embeddings, heads, hand-offs).
/// </summary>
internal static unsafe class EnginePartsBench
{
    public static int Run(string[] args)
    {
        string preset = "minilm-l6"; int seq = 128, rounds = 15; int[] rowsList = [128, 256];
        for (int i = 0; i < args.Length; i++)
            switch (args[i])
            {
                case "--preset": preset = args[++i]; break;
                case "--seq": seq = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--rows": rowsList = [.. args[++i].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))]; break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        if (!Presets.All.TryGetValue(preset, out var make)) throw new ArgumentException($"unknown preset '{preset}'");
        var c = make();
        var model = new MobileBertModel(c);
        model.InitializeWeights(seed: 1234);
        using var engine = new InferenceEngine(model, new InferenceOptions { Threads = 1 });
        double peak = GemmBench.PeakGflops(1);
        var (ops, norms) = engine.LayerParts(0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{preset}: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads of {c.AttentionHeadSize}, FFN " +
            $"{c.IntermediateSize} × {ops.Count(o => o.Name.Contains("intermediate"))}, {c.HiddenAct}, {norms[0].Kind}; 1 thread, FMA peak " +
            $"{peak:F1} GFLOP/s; best of {rounds} rounds"));
        var rng = new Random(1);
        foreach (int m in rowsList)
        {
            Console.WriteLine();
            Console.WriteLine($"block of {m} rows: part                                              µs   GFLOP/s  % peak   ns/value");
            double layer = 0;
            int width = Math.Max(c.IntermediateSize, ops.Max(o => Math.Max(o.In, o.Out)));
            var x = Rand(rng, m * width); var y = GC.AllocateArray<float>(m * width, pinned: true); var res = Rand(rng, m * width);
            float* px, py;
            fixed (float* p = x) px = p;   // pinned arrays: the pointers stay valid
            fixed (float* p = y) py = p;
            // Each dense layer alone (its weights stay in L2/L3 between calls), then all layers' in forward order (as in a
            // forward: every call finds its weights evicted by the other layers').
            var cold = new double[2, ops.Count];
            for (int r = 0; r < rounds; r++)
                for (int pf = 0; pf < 2; pf++)
                {
                    Gemm.PrefetchNextBlock = pf == 1;
                    for (int l = 0; l < c.NumHiddenLayers; l++)
                    {
                        var (lops, _) = engine.LayerParts(l);
                        for (int j = 0; j < lops.Count; j++)
                        {
                            long t0 = Stopwatch.GetTimestamp();
                            lops[j].Run(px, m, py);
                            cold[pf, j] += Stopwatch.GetElapsedTime(t0).TotalMicroseconds / rounds / c.NumHiddenLayers;
                        }
                    }
                }
            Gemm.PrefetchNextBlock = true;
            for (int j = 0; j < ops.Count; j++)
            {
                var op = ops[j];
                double us = Best(rounds, () => op.Run(px, m, py));
                layer += us;
                Line(ShortName(op.Name), us, 2.0 * m * op.In * op.Out, peak, 0);
                Line("  in forward order over the layers (mean)", cold[1, j], 2.0 * m * op.In * op.Out, peak, 0);
                Line("  … without prefetching the next B block", cold[0, j], 2.0 * m * op.In * op.Out, peak, 0);
            }
            var inner = new float[m * c.IntermediateSize];
            int ffns = ops.Count(o => o.Name.Contains("intermediate"));
            double act = Best(rounds, () => { x.AsSpan(0, inner.Length).CopyTo(inner); Activations.Apply(c.HiddenAct, inner); })
                - Best(rounds, () => x.AsSpan(0, inner.Length).CopyTo(inner));
            layer += act * ffns;
            Line($"activation {c.HiddenAct} [{m}, {c.IntermediateSize}] (× {ffns})", act, 0, peak, act * 1000 / inner.Length);
            foreach (var nm in norms)
            {
                double us = Best(rounds, () => nm.AddForward(x.AsSpan(0, m * nm.Dim), res.AsSpan(0, m * nm.Dim), y.AsSpan(0, m * nm.Dim), m));
                layer += us;
                Line($"norm {nm.Kind} + residual [{m}, {nm.Dim}]", us, 0, peak, us * 1000 / (m * nm.Dim));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  row-wise parts of one layer: {layer,10:F1} µs"));
        }
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  streaming read of 64 MB (the weights of a forward come from L3 or memory): {ReadBandwidth(rounds):F1} GB/s, 1 thread"));
        double attn = AttentionItem(c, seq, rounds);
        double attnFlops = 4.0 * seq * seq * c.AttentionHeadSize;
        Line($"attention item: {seq} queries × {seq} keys, head {c.AttentionHeadSize} (× {c.NumAttentionHeads} heads)", attn, attnFlops, peak, 0);
        // Sum over the layers for batch 1 × seq rows, next to the engine's own forward (same thread count).
        var ids = new int[seq];
        for (int i = 0; i < seq; i++) ids[i] = rng.Next(1000, c.VocabSize);
        var input = new ModelInput(1, seq, ids);
        double fwd = Best(rounds, () => engine.Run(input));
        double flops = FlopCount.Forward(c, 1, seq);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"engine forward, batch 1 × {seq}, 1 thread: {fwd / 1000,8:F2} ms = {flops / fwd / 1e3,6:F1} GFLOP/s " +
            $"({100 * flops / fwd / 1e3 / peak:F0} % peak)"));
        return 0;
    }

    /// <summary>"bert.encoder.layer.0.attention.self.query ‖ …key" → "attention.self.query ‖ key".</summary>
    static string ShortName(string name) => string.Join(" ‖ ", name.Split(" ‖ ").Select((p, i) =>
    {
        string s = p.Contains(".layer.0.") ? p[(p.IndexOf(".layer.0.", StringComparison.Ordinal) + 9)..] : p;
        return i == 0 ? s : s[(s.LastIndexOf('.') + 1)..];
    }));

    static void Line(string name, double us, double flops, double peak, double nsPerValue)
    {
        string g = flops > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{flops / us / 1e3,9:F1} {100 * flops / us / 1e3 / peak,6:F0} %")
            : new string(' ', 18);
        string v = nsPerValue > 0 ? string.Create(CultureInfo.InvariantCulture, $"{nsPerValue,10:F3}") : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-62} {us,9:F1} {g} {v}"));
    }

    /// <summary>GB/s of a sequential Vector512 read of 64 MB (best of <paramref name="rounds"/>).</summary>
    static double ReadBandwidth(int rounds)
    {
        const int n = 16 << 20;
        var a = GC.AllocateArray<float>(n, pinned: true);
        a.AsSpan().Fill(1f);
        double best = double.MaxValue;
        float sink = 0;
        fixed (float* p = a)
            for (int r = 0; r < Math.Min(rounds, 5); r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                var s0 = System.Runtime.Intrinsics.Vector512<float>.Zero; var s1 = s0;
                for (int i = 0; i < n; i += 32)
                {
                    s0 += System.Runtime.Intrinsics.Vector512.Load(p + i);
                    s1 += System.Runtime.Intrinsics.Vector512.Load(p + i + 16);
                }
                sink += System.Runtime.Intrinsics.Vector512.Sum(s0 + s1);
                best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
        GC.KeepAlive(sink);
        return 4.0 * n / best / 1e9;
    }

    /// <summary>One (sequence, head) item of the engine's attention kernel (small-head kernel where it applies).</summary>
    static double AttentionItem(MobileBertConfig c, int len, int rounds)
    {
        int d = c.AttentionHeadSize, t = c.TrueHiddenSize;
        var rng = new Random(3);
        var q = Rand(rng, len * t); var k = Rand(rng, len * t); var v = Rand(rng, len * t); var o = new float[len * t];
        if (!SmallHeadAttention.Supports(d))
        {
            Console.WriteLine($"  (head size {d}: the small-head attention kernel does not apply on this CPU; attention not timed)");
            return double.NaN;
        }
        var scratch = new float[SmallHeadAttention.ScratchFloats(len, d)];
        return Best(rounds, () =>
        {
            fixed (float* pq = q, pk = k, pv = v, po = o, ps = scratch)
                SmallHeadAttention.Run(pq, t, pk, t, pv, t, po, t, len, len, d, 1f / MathF.Sqrt(d), null, ps);
        });
    }

    /// <summary>Best time in µs per call over <paramref name="rounds"/> rounds of ≥ 2 ms of back-to-back calls, after warm-up.</summary>
    static double Best(int rounds, Action call)
    {
        var sw = Stopwatch.StartNew();
        int calls = 0;
        while (sw.ElapsedMilliseconds < 100 || calls < 3) { call(); calls++; }
        int batch = Math.Max(1, (int)(2.0 / (sw.Elapsed.TotalMilliseconds / calls)));
        double best = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch; i++) call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMicroseconds / batch);
        }
        return best;
    }

    /// <summary>Uniform values in [−1, 1) on the pinned heap (the bench takes their addresses once).</summary>
    static float[] Rand(Random rng, int n)
    {
        var a = GC.AllocateArray<float>(n, pinned: true);
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
