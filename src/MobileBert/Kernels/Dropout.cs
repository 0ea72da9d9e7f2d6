using System.Runtime.CompilerServices;

namespace MobileBert.Kernels;

/// <summary>
/// Inverted dropout with a counter-based mask: element i of stream s under seed k is kept iff
/// u(k, s, i) ≥ p, u uniform in [0,1) from a SplitMix64 hash, and kept values are scaled by 1/(1 − p). The mask is a
/// pure function of (seed, stream, index): nothing is stored, the backward pass regenerates it, results do not depend
/// on threading, and the same seed gives the same masks. Applying the same call to a gradient is the backward pass.
/// </summary>
public static class Dropout
{
    /// <summary>x[i] ← keep(i) ? x[i]/(1−p) : 0 for i in [0, x.Length), element indices offset by <paramref name="firstIndex"/>.</summary>
    public static void Apply(Span<float> x, float p, ulong seed, ulong stream, long firstIndex = 0)
    {
        if (p <= 0f) return;
        if (!(p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1).");
        uint threshold = Threshold(p);
        float scale = 1f / (1f - p);
        ulong key = StreamKey(seed, stream);
        for (int i = 0; i < x.Length; i++)
            x[i] = Bits(key, (ulong)(firstIndex + i)) >= threshold ? x[i] * scale : 0f;
    }

    /// <summary>Whether element <paramref name="index"/> of the stream is kept.</summary>
    public static bool Keep(float p, ulong seed, ulong stream, long index) => p <= 0f || Bits(StreamKey(seed, stream), (ulong)index) >= Threshold(p);

    /// <summary>A stream id from small integers (layer, site, …).</summary>
    public static ulong Stream(int a, int b, int c = 0) => ((ulong)(uint)a << 40) ^ ((ulong)(uint)b << 20) ^ (uint)c;

    static uint Threshold(float p) => (uint)Math.Min(Math.Round(p * 16777216.0), 16777215);   // 24-bit uniform

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong StreamKey(ulong seed, ulong stream) => Mix(seed * 0x9E3779B97F4A7C15UL ^ Mix(stream + 0x632BE59BD9B4E019UL));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Bits(ulong key, ulong index) => (uint)(Mix(key + index * 0x9E3779B97F4A7C15UL) >> 40);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
