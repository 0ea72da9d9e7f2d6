using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>
/// Base of the optimizers: first/second-moment buffers laid out exactly like <see cref="ParameterStore.Data"/> (one
/// contiguous float[] each, padding included), a per-parameter step counter (a parameter frozen for a while keeps its own
/// bias-correction clock, like torch's per-parameter state), <see cref="Groups"/> for learning-rate multipliers and
/// freezing, and exact save/load (<see cref="OptimizerState"/>).
/// <para>A step does not check the gradients: call <see cref="GradientClipper.ClipGlobalNorm"/> (which throws on NaN/Inf
/// and names the parameter) first, or use <see cref="ClipAndStep"/>.</para>
/// </summary>
public abstract class Optimizer
{
    /// <summary>Work is cut into chunks of this many floats (fixed, so results never depend on the thread count).</summary>
    internal const int ChunkFloats = 1 << 15;

    private protected Optimizer(ParameterStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!store.IsAllocated) throw new ArgumentException("The parameter store is not allocated.", nameof(store));
        Store = store;
        Groups = new ParameterGroups(store);
        FirstMoment = new float[store.Data.Length];
        SecondMoment = new float[store.Data.Length];
        ParameterSteps = new long[store.Parameters.Count];
    }

    /// <summary>"adamw" or "lamb" (stored in state files).</summary>
    public abstract string Kind { get; }
    public ParameterStore Store { get; }
    public ParameterGroups Groups { get; }
    /// <summary>Number of <see cref="Step"/> calls applied so far (the global step).</summary>
    public long StepCount { get; internal set; }
    /// <summary>Threads for the update loops (≤ 0: all cores). Results are bit-identical for any value.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>First moments (Adam m / torch exp_avg), same layout as the store.</summary>
    public float[] FirstMoment { get; }
    /// <summary>Second moments (Adam v / torch exp_avg_sq), same layout as the store.</summary>
    public float[] SecondMoment { get; }
    internal long[] ParameterSteps { get; }

    public ReadOnlySpan<float> FirstMomentOf(Parameter p) => FirstMoment.AsSpan((int)p.Offset, p.Length);
    public ReadOnlySpan<float> SecondMomentOf(Parameter p) => SecondMoment.AsSpan((int)p.Offset, p.Length);
    /// <summary>How many updates this parameter has received (frozen steps not counted).</summary>
    public long StepsOf(Parameter p) => ParameterSteps[Groups.IndexOf(p)];

    /// <summary>Applies one update with base learning rate <paramref name="lr"/> (each parameter uses lr × its multiplier).</summary>
    public void Step(double lr)
    {
        if (!double.IsFinite(lr) || lr < 0) throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate must be finite and ≥ 0.");
        if (Store.Grad is null) throw new InvalidOperationException("Gradients are not allocated (ParameterStore.AllocateGrad).");
        if (Store.Data.Length != FirstMoment.Length) throw new InvalidOperationException(
            "The store was re-allocated after the optimizer was created.");
        Apply(lr);
        var settings = Groups.Raw;
        for (int i = 0; i < settings.Length; i++) if (!settings[i].Frozen) ParameterSteps[i]++;
        StepCount++;
    }

    /// <summary>
    /// Checks the gradients of the trainable (non-frozen) parameters for NaN/Inf, clips their global L2 norm to
    /// <paramref name="maxGradNorm"/> (∞ = no clipping), then steps. A non-finite gradient throws
    /// <see cref="NonFiniteGradientException"/> naming the parameter, and nothing is updated.
    /// </summary>
    public ClipResult ClipAndStep(double lr, double maxGradNorm = double.PositiveInfinity)
    {
        var r = GradientClipper.ClipGlobalNorm(Store, maxGradNorm, Groups, threads: Threads);
        Step(lr);
        return r;
    }

    private protected abstract void Apply(double lr);

    /// <summary>Hyper-parameters as name → value for the state file.</summary>
    internal abstract IReadOnlyDictionary<string, double> HyperParameters();
    internal abstract void RestoreHyperParameters(IReadOnlyDictionary<string, double> values, string source);

    /// <summary>Saves moments, step counters, hyper-parameters and group settings (see <see cref="OptimizerState"/>).</summary>
    public void Save(string path) => OptimizerState.Save(this, path);
    /// <summary>Restores a state saved by <see cref="Save"/> for the same parameter layout; throws
    /// <see cref="OptimizerStateException"/> on any mismatch (optimizer kind, names, shapes).</summary>
    public void Load(string path) => OptimizerState.Load(this, path);

    /// <summary>A contiguous range of the buffers updated with one set of scalars (<paramref name="First"/>…<paramref name="Last"/> parameter
    /// indices).</summary>
    private protected readonly record struct Run(int First, int Last, long Start, long End);
    private protected readonly record struct Chunk(int Run, long Start, int Length);

    /// <summary>Coalesces consecutive non-frozen parameters for which <paramref name="same"/> holds into runs
    /// (padding between them is included: it holds zeros and stays zero).</summary>
    private protected List<Run> BuildRuns(Func<int, int, bool> same)
    {
        var ps = Store.Parameters; var settings = Groups.Raw;
        var runs = new List<Run>();
        for (int i = 0; i < ps.Count; i++)
        {
            if (settings[i].Frozen || ps[i].Length == 0) continue;
            if (runs.Count > 0 && runs[^1].Last == i - 1 && same(runs[^1].First, i))
                runs[^1] = runs[^1] with { Last = i, End = ps[i].Offset + ps[i].Length };
            else runs.Add(new Run(i, i, ps[i].Offset, ps[i].Offset + ps[i].Length));
        }
        return runs;
    }

    private protected static List<Chunk> Chunks(List<Run> runs)
    {
        var chunks = new List<Chunk>();
        for (int r = 0; r < runs.Count; r++)
            for (long s = runs[r].Start; s < runs[r].End; s += ChunkFloats)
                chunks.Add(new Chunk(r, s, (int)Math.Min(ChunkFloats, runs[r].End - s)));
        return chunks;
    }

    private protected void ForEach(int count, Action<int> body) => ParallelFor.Run(count, Threads, body);
}
