namespace MobileBert.Tensors;

/// <summary>
/// Named scratch buffers reused across forward passes, so steady-state inference does not churn the GC with
/// megabyte-sized activations. A buffer is only valid until the next request for the same key.
/// In <see cref="Fresh"/> mode every request returns a new exact-size array (used when activations must outlive the
/// call: traces, hidden states, backward caches).
/// </summary>
public sealed class Workspace
{
    readonly Dictionary<string, float[]> _buffers = new(StringComparer.Ordinal);

    /// <summary>A workspace that never reuses memory.</summary>
    public static Workspace NewFresh() => new() { Fresh = true };

    public bool Fresh { get; private init; }

    /// <summary>Bytes currently held.</summary>
    public long Bytes => _buffers.Values.Sum(b => (long)b.Length * sizeof(float));

    /// <summary>An array of at least <paramref name="length"/> floats (exactly that many in fresh mode). Contents are undefined.</summary>
    public float[] Array(string key, int length)
    {
        if (Fresh) return new float[length];
        if (_buffers.TryGetValue(key, out var b) && b.Length >= length) return b;
        b = GC.AllocateUninitializedArray<float>(length);
        _buffers[key] = b;
        return b;
    }

    /// <summary>A span of exactly <paramref name="length"/> floats backed by <see cref="Array"/>.</summary>
    public Span<float> Span(string key, int length) => Array(key, length).AsSpan(0, length);
}
