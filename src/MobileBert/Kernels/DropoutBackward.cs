using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>
/// Dropout with the keep-mask recorded as bits, so the backward pass applies the same mask without re-hashing every
/// element (<see cref="Dropout"/>'s counter-based hash is the expensive part: ~10 ns per element, scalar).
/// Results are bit-identical to <see cref="Dropout.Apply"/>: kept elements become x·(1/(1−p)), dropped ones +0.
/// Bit layout: element i (relative to the span) is bit (i &amp; 31) of word i / 32; a record of n elements needs
/// <see cref="Words"/>(n) words.
/// </summary>
public static unsafe class DropoutBackward
{
    const int Chunk = 1024;

    /// <summary>Words of a keep-mask for <paramref name="count"/> elements (one spare word: readers load 64 bits at a time).</summary>
    public static int Words(long count) => checked((int)((count + 31) / 32 + 1));

    /// <summary>
    /// As <see cref="Dropout.Apply"/>(x, p, seed, stream, firstIndex), and records the keep-mask of x's elements in
    /// <paramref name="keep"/> (≥ <see cref="Words"/>(x.Length) words, bit 0 = x[0]). With p = 0 nothing happens.
    /// Large spans are split into blocks on <paramref name="threads"/> threads (the mask does not depend on it).
    /// </summary>
    public static void ApplyAndRecord(Span<float> x, float p, ulong seed, ulong stream, long firstIndex, Span<uint> keep, int threads = 1)
    {
        if (p <= 0f) return;
        if (!(p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1).");
        KernelArgs.Length("DropoutBackward.ApplyAndRecord", keep.Length, Words(x.Length), nameof(keep), "Words(x.Length)");
        fixed (float* px = x)
        fixed (uint* pk = keep)
        {
            new Span<uint>(pk, Words(x.Length)).Clear();
            var job = new RecordJob
            {
                X = px, Keep = pk, N = x.Length, P = p, Seed = seed, Stream = stream, First = firstIndex,
                Key = StreamKey(seed, stream), Threshold = (uint)Math.Min(Math.Round(p * 16777216.0), 16777215),
            };
            int blocks = (x.Length + Block - 1) / Block;
            ParallelFor.Run(blocks, x.Length >= 4 * Block ? threads : 1, ref job);
        }
    }

    // Dropout's mask hash (SplitMix64 finaliser over a Weyl sequence), mirrored for the vectorised path.
    const ulong Golden = 0x9E3779B97F4A7C15UL;

    static ulong StreamKey(ulong seed, ulong stream) => MixScalar(seed * Golden ^ MixScalar(stream + 0x632BE59BD9B4E019UL));

    static ulong MixScalar(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >> 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ (z >> 27)) * Vector512.Create(0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    const int Block = 16 * Chunk;   // a multiple of 32: blocks write disjoint mask words

    struct RecordJob : IParallelBody
    {
        public float* X; public uint* Keep; public int N; public float P; public ulong Seed, Stream; public long First;
        public ulong Key; public uint Threshold;

        /// <summary>Keep bits of elements index .. index+15 (bit j = element index + j).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly uint Mask16(long index)
        {
            var lane = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
            var phi = Vector512.Create(Golden);
            var key = Vector512.Create(Key);
            var thr = Vector512.Create((ulong)Threshold);
            var i0 = Vector512.Create((ulong)index) + lane;
            var lo = Vector512.GreaterThanOrEqual(Mix(key + i0 * phi) >> 40, thr).ExtractMostSignificantBits();
            var hi = Vector512.GreaterThanOrEqual(Mix(key + (i0 + Vector512.Create(8UL)) * phi) >> 40, thr).ExtractMostSignificantBits();
            return (uint)(lo | hi << 8);
        }

        [SkipLocalsInit]
        public readonly void Invoke(int block)
        {
            float* ones = stackalloc float[Chunk];
            float scale = 1f / (1f - P);                   // as Dropout.Apply
            int end = Math.Min(N, (block + 1) * Block);
            int start = block * Block;
            if (Vector512.IsHardwareAccelerated && Avx512DQ.IsSupported)
            {
                // Vectorised copy of Dropout's counter hash (8 lanes of SplitMix64; the test against Dropout.Keep pins it).
                int i = start;
                for (; i + 16 <= end; i += 16)
                {
                    uint bits = Mask16(First + i);
                    Keep[i >> 5] |= bits << (i & 31);
                }
                if (i < end)
                    for (int c = i; c < end; c++)
                        if (Dropout.Keep(P, Seed, Stream, First + c)) Keep[c >> 5] |= 1u << (c & 31);
                Apply(X + start, X + start, end - start, scale, Keep, start);
                return;
            }
            for (int c0 = start; c0 < end; c0 += Chunk)
            {
                int len = Math.Min(Chunk, end - c0);
                // The mask of this chunk = Dropout.Apply on ones: kept → 1·scale = scale exactly, dropped → 0.
                var m = new Span<float>(ones, len);
                m.Fill(1f);
                Dropout.Apply(m, P, Seed, Stream, First + c0);
                uint* pk = Keep;
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; i + 16 <= len; i += 16)   // c0 + i is a multiple of 16: the 16 bits stay within one word
                        pk[(c0 + i) >> 5] |= (uint)Vector512.GreaterThan(Vector512.Load(ones + i), Vector512<float>.Zero)
                            .ExtractMostSignificantBits() << ((c0 + i) & 31);
                for (; i < len; i++)
                    if (ones[i] != 0f) pk[(c0 + i) >> 5] |= 1u << ((c0 + i) & 31);
                Apply(X + c0, X + c0, len, scale, Keep, c0);
            }
        }
    }

    /// <summary>
    /// y = keep ? x·(1/(1−p)) : 0 element-wise with the mask recorded by <see cref="ApplyAndRecord"/>, element i using bit
    /// <paramref name="firstBit"/> + i. y may alias x. With p = 0, y = x.
    /// </summary>
    public static void ApplyRecorded(ReadOnlySpan<float> x, Span<float> y, float p, ReadOnlySpan<uint> keep, long firstBit)
    {
        KernelArgs.Length("DropoutBackward.ApplyRecorded", y.Length, x.Length, nameof(y), "x.Length");
        if (p <= 0f) { x.CopyTo(y); return; }
        KernelArgs.Length("DropoutBackward.ApplyRecorded", keep.Length, Words(firstBit + x.Length), nameof(keep), "Words(firstBit + x.Length)");
        float scale = 1f / (1f - p);                       // as Dropout.Apply
        fixed (float* px = x, py = y)
        fixed (uint* pk = keep)
            Apply(px, py, x.Length, scale, pk, firstBit);
    }

    /// <summary>Pointer core of <see cref="ApplyRecorded"/> (no checks): y[i] = bit(firstBit + i) ? x[i]·scale : 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Apply(float* x, float* y, int n, float scale, uint* keep, long firstBit)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var lanes = Vector512.Create(1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u, 32768u);
            var vs = Vector512.Create(scale);
            for (; i + 16 <= n; i += 16)
            {
                long b = firstBit + i;
                uint bits = (uint)(*(ulong*)(keep + (b >> 5)) >> (int)(b & 31)) & 0xFFFF;
                var m = Vector512.Equals(Vector512.Create(bits) & lanes, lanes).AsSingle();
                Vector512.ConditionalSelect(m, Vector512.Load(x + i) * vs, Vector512<float>.Zero).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            long b = firstBit + i;
            y[i] = (keep[b >> 5] >> (int)(b & 31) & 1) != 0 ? x[i] * scale : 0f;
        }
    }
}
