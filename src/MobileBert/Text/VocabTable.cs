using System.Numerics;
using System.Runtime.CompilerServices;

namespace MobileBert.Text;

/// <summary>
/// Token → id lookup by <see cref="ReadOnlySpan{T}"/> of chars for the WordPiece hot loop: an open-addressing table
/// (linear probing, at most half full) with an inlined multiplicative hash, so a probe is one or two slot reads and one
/// ordinal compare — no string is built and no comparer is called through an interface. A bit filter of ≈ 16 bits per
/// token (64 KB for a 30k vocabulary, small enough to stay in cache) rules out most absent spans without touching the table,
/// which the greedy match asks about for every too-long prefix it tries.
/// </summary>
internal sealed class VocabTable
{
    private readonly Entry[] _slots; // [power of two]; Key null = empty
    private readonly int _mask;
    private readonly ulong[] _filter; // one bit per top-bits hash value of a token: a clear bit rules a span out (≈ 16 bits per token)
    private readonly int _filterShift; // 32 − log2(filter bits)

    private struct Entry
    {
        public string? Key;
        public uint Hash;
        public int Id;
    }

    /// <param name="tokens">Distinct tokens and their ids.</param>
    public VocabTable(IEnumerable<KeyValuePair<string, int>> tokens)
    {
        var items = tokens.ToArray();
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, items.Length * 2));
        _slots = new Entry[size];
        _mask = size - 1;
        int filterBits = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024, items.Length * 16));
        _filter = new ulong[filterBits / 64];
        _filterShift = 32 - BitOperations.Log2((uint)filterBits);
        foreach (var (key, id) in items)
        {
            uint hash = Hash(key);
            int i = (int)(hash & (uint)_mask);
            while (_slots[i].Key is not null)
            {
                if (_slots[i].Key == key)
                {
                    throw new ArgumentException($"duplicate token '{key}'.", nameof(tokens));
                }

                i = (i + 1) & _mask;
            }

            _slots[i] = new Entry { Key = key, Hash = hash, Id = id };
            uint bit = hash >> _filterShift;
            _filter[bit >> 6] |= 1UL << (int)bit;
        }

        MaxLength = items.Length == 0 ? 0 : items.Max(t => t.Key.Length);
    }

    /// <summary>Length of the longest token: a longer span is never found.</summary>
    public int MaxLength { get; }

    /// <summary>
    /// The longest prefix of <paramref name="word"/> that is in the table (WordPiece's greedy match): its length and
    /// id, or 0. The hash of every prefix comes from one pass over the word, so each shorter candidate costs a bit test in
    /// the small filter, and a probe of the table only when the bit is set.
    /// </summary>
    [SkipLocalsInit] // every state read was written first
    public int LongestPrefix(ReadOnlySpan<char> word, out int id)
    {
        int n = Math.Min(word.Length, MaxLength);
        Span<uint> states = n <= 256 ? stackalloc uint[n] : new uint[n];
        uint state = Seed;
        for (int k = 0; k < n; k++)
        {
            states[k] = state = Step(state, word[k]);
        }

        ulong[] filter = _filter;
        int shift = _filterShift;
        for (int length = n; length > 0; length--)
        {
            uint hash = Final(states[length - 1]), bit = hash >> shift;
            if ((filter[bit >> 6] & (1UL << (int)bit)) != 0 && Find(word[..length], hash, out id))
            {
                return length;
            }
        }

        id = -1;
        return 0;
    }

    private bool Find(ReadOnlySpan<char> token, uint hash, out int id)
    {
        Entry[] slots = _slots;
        for (int i = (int)(hash & (uint)_mask); ; i = (i + 1) & _mask)
        {
            ref Entry e = ref slots[i];
            if (e.Key is null)
            {
                id = -1;
                return false;
            }

            if (e.Hash == hash && token.SequenceEqual(e.Key))
            {
                id = e.Id;
                return true;
            }
        }
    }

    private const uint Seed = 0x811C9DC5u;

    private static uint Step(uint state, char c) => (BitOperations.RotateLeft(state, 5) ^ c) * 0x9E3779B1u;

    private static uint Final(uint state) => state ^ (state >> 15);

    private static uint Hash(ReadOnlySpan<char> s)
    {
        uint state = Seed;
        foreach (char c in s)
        {
            state = Step(state, c);
        }

        return Final(state);
    }
}
