using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>Outcome of a global-norm clip.</summary>
/// <param name="Norm">Global L2 norm of the gradients before clipping (NaN/∞ when a gradient is not finite).</param>
/// <param name="Scale">Factor the gradients were multiplied by (1 = unchanged).</param>
/// <param name="NonFiniteParameter">Name of the first parameter with a NaN/Inf gradient (null when all are finite); the
/// gradients were then left untouched and no step must be taken.</param>
/// <param name="NonFiniteIndex">Element index of that value inside the parameter (−1 when finite).</param>
public readonly record struct ClipResult(double Norm, double Scale, string? NonFiniteParameter = null, int NonFiniteIndex = -1)
{
    public bool IsFinite => NonFiniteParameter is null;
    public bool Clipped => Scale < 1;
}

/// <summary>Thrown when a gradient holds NaN or ±Inf; names the parameter (the step must be skipped).</summary>
public sealed class NonFiniteGradientException : MobileBertException
{
    public NonFiniteGradientException(string parameterName, int index, float value)
        : base($"Gradient of '{parameterName}' is not finite ({value} at element {index}); the optimizer step was not applied.")
    {
        ParameterName = parameterName; Index = index; Value = value;
    }
    public string ParameterName { get; }
    public int Index { get; }
    public float Value { get; }
}

/// <summary>
/// Global-norm gradient clipping over the contiguous gradient buffer (one pass, double accumulation, chunked over
/// threads with partial sums added in a fixed order, so the norm never depends on the thread count).
/// <para>Clipping rule: scale = maxNorm / (norm + epsilon), applied when &lt; 1. epsilon = 0 is TF's
/// <c>tf.clip_by_global_norm</c> (the BERT/MobileBERT reference, clip_norm 1.0); epsilon = 1e-6 is torch's
/// <c>clip_grad_norm_</c>.</para>
/// </summary>
public static class GradientClipper
{
    const int ChunkFloats = 1 << 16;

    /// <summary>
    /// Computes the global L2 norm of the gradients and scales them so it is at most <paramref name="maxNorm"/>.
    /// With <paramref name="groups"/>, only non-frozen parameters are measured and scaled; otherwise the whole buffer.
    /// Throws <see cref="NonFiniteGradientException"/> (gradients untouched) when any value is NaN/Inf.
    /// </summary>
    /// <returns>The pre-clip norm and the applied scale.</returns>
    public static ClipResult ClipGlobalNorm(ParameterStore store, double maxNorm, ParameterGroups? groups = null, double epsilon = 0, int threads = 1)
    {
        var r = TryClipGlobalNorm(store, maxNorm, groups, epsilon, threads);
        if (!r.IsFinite) throw NonFinite(store, r.NonFiniteParameter!, r.NonFiniteIndex);
        return r;
    }

    /// <summary>As <see cref="ClipGlobalNorm"/>, but a NaN/Inf gradient is reported in the result
    /// (<see cref="ClipResult.NonFiniteParameter"/>) instead of thrown; the gradients are then left untouched.</summary>
    public static ClipResult TryClipGlobalNorm(ParameterStore store, double maxNorm, ParameterGroups? groups = null, double epsilon = 0,
        int threads = 1)
    {
        if (double.IsNaN(maxNorm) || maxNorm <= 0) throw new ArgumentOutOfRangeException(
            nameof(maxNorm), maxNorm, "maxNorm must be > 0 (∞ for no clipping).");
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be ≥ 0.");
        var ranges = Ranges(store, groups);
        double norm = Math.Sqrt(SumOfSquares(store, ranges, threads));
        if (!double.IsFinite(norm))
        {
            var (name, index) = FindNonFinite(store, groups) ?? (Padding, -1);
            return new ClipResult(norm, 1, name, index);
        }
        double scale = maxNorm / (norm + epsilon);
        if (scale >= 1) return new ClipResult(norm, 1);
        var g = store.Grad!; float f = (float)scale;
        var chunks = Chunk(ranges);
        ParallelFor.Run(chunks.Count, threads, c => OptimizerKernels.Scale(g.AsSpan((int)chunks[c].Start, chunks[c].Length), f));
        return new ClipResult(norm, scale);
    }

    /// <summary>Global L2 norm of the gradients (of the non-frozen parameters when <paramref name="groups"/> is given);
    /// throws <see cref="NonFiniteGradientException"/> on NaN/Inf.</summary>
    public static double GlobalNorm(ParameterStore store, ParameterGroups? groups = null, int threads = 1)
    {
        double norm = Math.Sqrt(SumOfSquares(store, Ranges(store, groups), threads));
        if (!double.IsFinite(norm))
        {
            var (name, index) = FindNonFinite(store, groups) ?? (Padding, -1);
            throw NonFinite(store, name, index);
        }
        return norm;
    }

    /// <summary>The first parameter (store order) whose gradient holds NaN/Inf, and the element index; null if none.</summary>
    public static (string Name, int Index)? FindNonFinite(ParameterStore store, ParameterGroups? groups = null)
    {
        if (store.Grad is null) throw new InvalidOperationException("Gradients are not allocated.");
        for (int i = 0; i < store.Parameters.Count; i++)
        {
            var p = store.Parameters[i];
            if (groups is not null && groups[i].Frozen) continue;
            int k = OptimizerKernels.IndexOfNonFinite(store.GradSpan(p));
            if (k >= 0) return (p.Name, k);
        }
        return null;
    }

    const string Padding = "(padding between parameters)";

    static NonFiniteGradientException NonFinite(ParameterStore store, string name, int index) =>
        new(name, index, index >= 0 && store.TryGet(name, out var p) ? store.GradSpan(p)[index] : float.NaN);

    readonly record struct Range(long Start, int Length);

    static List<(long Start, long End)> Ranges(ParameterStore store, ParameterGroups? groups)
    {
        var grad = store.Grad ?? throw new InvalidOperationException("Gradients are not allocated.");
        if (groups is null) return [(0, grad.Length)];
        if (!ReferenceEquals(groups.Store, store)) throw new ArgumentException("The parameter groups belong to another store.", nameof(groups));
        var list = new List<(long Start, long End)>();
        for (int i = 0; i < store.Parameters.Count; i++)
        {
            var p = store.Parameters[i];
            if (groups[i].Frozen || p.Length == 0) continue;
            if (list.Count > 0 && i > 0 && list[^1].End == store.Parameters[i - 1].Offset + store.Parameters[i - 1].Length && !groups[i - 1].Frozen)
                list[^1] = (list[^1].Start, p.Offset + p.Length);
            else list.Add((p.Offset, p.Offset + p.Length));
        }
        return list;
    }

    static List<Range> Chunk(List<(long Start, long End)> ranges)
    {
        var chunks = new List<Range>();
        foreach (var (start, end) in ranges)
            for (long s = start; s < end; s += ChunkFloats) chunks.Add(new Range(s, (int)Math.Min(ChunkFloats, end - s)));
        return chunks;
    }

    static double SumOfSquares(ParameterStore store, List<(long Start, long End)> ranges, int threads)
    {
        var g = store.Grad!;
        var chunks = Chunk(ranges);
        var partial = new double[chunks.Count];
        ParallelFor.Run(chunks.Count, threads, c => partial[c] = OptimizerKernels.SumOfSquares(g.AsSpan((int)chunks[c].Start, chunks[c].Length)));
        double sum = 0;
        foreach (var x in partial) sum += x;
        return sum;
    }
}
