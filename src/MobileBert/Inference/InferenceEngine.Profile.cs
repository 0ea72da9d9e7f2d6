namespace MobileBert.Inference;

// Diagnostics for the `engine-profile` bench: wall, busy and thread-CPU time per parallel-region kind.
public sealed unsafe partial class InferenceEngine
{
    /// <summary>Diagnostics (bench only): when set, every run adds its region wall times and item busy times.</summary>
    internal EngineProfile? Profile;

    /// <summary>Layer <paramref name="l"/>'s planned dense layers and the norms its row-wise phase applies (bench only: the
    /// `engine-parts` bench times each on its own).</summary>
    internal (IReadOnlyList<LinearOp> Ops, IReadOnlyList<Model.Norm> Norms) LayerParts(int l)
    {
        var L = _layers[l];
        var norms = new List<Model.Norm>();
        if (L.LiNorm is not null) norms.Add(L.LiNorm);
        if (L.QkNorm is not null) norms.Add(L.QkNorm);
        norms.Add(L.AttnNorm);
        norms.AddRange(L.Ffns.Select(f => f.Norm));
        if (L.OutBottleneckNorm is not null) norms.Add(L.OutBottleneckNorm);
        return ([.. L.Ops()], norms);
    }

    /// <summary>Wall time per region kind (0 embeddings, 1 attention, 2 row-wise (column split: the whole forward), 3 heads)
    /// and summed busy time of the work items of each kind over all threads (column split also: 4 GEMM chunks,
    /// 5 row steps (norms, quantization), 6 waiting for a step to complete), in Stopwatch ticks.</summary>
    internal sealed class EngineProfile
    {
        public readonly long[] Wall = new long[8], Busy = new long[8], Regions = new long[8], Cpu = new long[8], Items = new long[8],
            CallerItems = new long[8], CallerCpu = new long[8];
        public int CallerThread;
        /// <summary>Optional: the calling thread's CPU time in ns (the bench supplies clock_gettime); then <see cref="Cpu"/>
        /// holds the CPU time of the items (busy minus time the thread was descheduled).</summary>
        public Func<long>? ThreadCpuNs;
        public readonly record struct Mark(long Wall, long Cpu);
        public Mark Start() => new(System.Diagnostics.Stopwatch.GetTimestamp(), ThreadCpuNs?.Invoke() ?? 0);
        public void Region(int kind, ref long t0)
        {
            long t = System.Diagnostics.Stopwatch.GetTimestamp();
            Wall[kind] += t - t0; Regions[kind]++; t0 = t;
        }
        public void Item(int kind, Mark m)
        {
            Interlocked.Add(ref Busy[kind], System.Diagnostics.Stopwatch.GetTimestamp() - m.Wall);
            Interlocked.Increment(ref Items[kind]);
            if (Environment.CurrentManagedThreadId == CallerThread) Interlocked.Increment(ref CallerItems[kind]);
            if (ThreadCpuNs is { } f)
            {
                long cpu = f() - m.Cpu;
                Interlocked.Add(ref Cpu[kind], cpu);
                if (Environment.CurrentManagedThreadId == CallerThread) Interlocked.Add(ref CallerCpu[kind], cpu);
            }
        }
        /// <summary>Two-block row regions: count, Σ |t0 − t1| / (t0 + t1), Σ share of rows in block 0.</summary>
        public long BalanceRegions;
        public double BalanceAbsRel, BalanceShare;
        public void Balance(long t0, long t1, int rows0)
        {
            if (t0 <= 0 || t1 <= 0) return;
            BalanceRegions++; BalanceAbsRel += Math.Abs(t0 - t1) / (double)(t0 + t1); BalanceShare += rows0;
        }
        public void Clear() { BalanceRegions = 0; BalanceAbsRel = 0; BalanceShare = 0; Array.Clear(Wall); Array.Clear(Busy); Array.Clear(Regions);
            Array.Clear(Cpu); Array.Clear(Items); Array.Clear(CallerItems); Array.Clear(CallerCpu); }
    }
}
