namespace MobileBert.Tensors;

/// <summary>
/// The model's one activation store: named float buffers kept across forward passes. The eval forward takes its scratch
/// from a workspace (so steady-state inference does not churn the GC with megabyte-sized activations); a forward that keeps
/// its activations for the backward pass writes them to the workspaces of a <see cref="Model.ForwardCache"/> (one per layer,
/// plus embeddings, heads and the backward's gradient scratch), where the backward pass reads them back by the same keys.
/// In <see cref="Fresh"/> mode every request returns a new array (activations that must outlive the call).
/// </summary>
public sealed class Workspace
{
    readonly Dictionary<string, float[]> _buffers = new(StringComparer.Ordinal);

    /// <summary>A workspace that never reuses memory.</summary>
    public static Workspace NewFresh() => new() { Fresh = true };

    public bool Fresh { get; private init; }

    /// <summary>Bytes currently held.</summary>
    public long Bytes => _buffers.Values.Sum(b => (long)b.Length * sizeof(float));

    /// <summary>The buffer of EXACTLY <paramref name="length"/> floats under <paramref name="key"/>: the same array on every
    /// request while the length stays the same (reallocated when it changes). Contents are undefined.</summary>
    public float[] Get(string key, int length)
    {
        if (Fresh) return GC.AllocateUninitializedArray<float>(length);
        if (_buffers.TryGetValue(key, out var b) && b.Length == length) return b;
        b = GC.AllocateUninitializedArray<float>(length);
        _buffers[key] = b;
        return b;
    }

    /// <summary>Like <see cref="Get"/> but zero-filled.</summary>
    public float[] Zeroed(string key, int length) { var b = Get(key, length); System.Array.Clear(b); return b; }
}
