namespace MobileBert.PretrainingData;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small PRNG whose sequence is fixed by this code (not by the .NET
/// version), so pre-training data is reproducible everywhere. Not thread-safe; derive one per work item with
/// <see cref="Derive"/> to stay deterministic under any degree of parallelism.
/// </summary>
internal sealed class DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public DeterministicRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>A generator for a sub-stream named by <paramref name="parts"/> (e.g. seed, split, round, document).</summary>
    public static DeterministicRandom Derive(ulong seed, params ReadOnlySpan<ulong> parts) => new(Mix(seed, parts));

    public static ulong Mix(ulong seed, params ReadOnlySpan<ulong> parts)
    {
        ulong h = seed ^ 0x6A09E667F3BCC908UL;
        h = SplitMix(ref h);
        foreach (ulong p in parts)
        {
            h ^= p + 0x9E3779B97F4A7C15UL + (h << 6) + (h >> 2);
            h = SplitMix(ref h);
        }
        return h;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [<paramref name="minInclusive"/>, <paramref name="maxInclusive"/>] (unbiased).</summary>
    public int NextInt(int minInclusive, int maxInclusive)
    {
        if (maxInclusive < minInclusive) throw new ArgumentOutOfRangeException(nameof(maxInclusive));
        ulong range = (ulong)((long)maxInclusive - minInclusive) + 1;
        // Lemire's multiply-shift with rejection.
        ulong x = NextUInt64();
        UInt128 m = (UInt128)x * range;
        ulong low = (ulong)m;
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold)
            {
                x = NextUInt64();
                m = (UInt128)x * range;
                low = (ulong)m;
            }
        }
        return (int)((long)minInclusive + (long)(ulong)(m >> 64));
    }

    /// <summary>Fisher–Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(0, i);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
