using MobileBert.Text;

namespace MobileBert.PretrainingData;

/// <summary>A document as WordPiece ids: all sentences concatenated, with sentence boundaries.</summary>
public sealed class TokenizedDocument
{
    public TokenizedDocument(int corpusIndex, int[] tokens, int[] sentenceStarts)
    {
        CorpusIndex = corpusIndex;
        Tokens = tokens;
        SentenceStarts = sentenceStarts;
    }

    /// <summary>Index of the source in <see cref="CorpusReadResult.Documents"/>.</summary>
    public int CorpusIndex { get; }

    /// <summary>Ids of all sentences, in order.</summary>
    public int[] Tokens { get; }

    /// <summary>Start of each sentence in <see cref="Tokens"/>, plus a final entry = <c>Tokens.Length</c>.</summary>
    public int[] SentenceStarts { get; }

    public int SentenceCount => SentenceStarts.Length - 1;

    public ReadOnlySpan<int> Sentence(int i) => Tokens.AsSpan(SentenceStarts[i], SentenceStarts[i + 1] - SentenceStarts[i]);

    /// <summary>Tokens of sentences [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public ReadOnlySpan<int> Sentences(int start, int end) => Tokens.AsSpan(SentenceStarts[start], SentenceStarts[end] - SentenceStarts[start]);

    /// <summary>Tokenizes a document (sentences that produce no token are dropped). Null if nothing is left.</summary>
    public static TokenizedDocument? Create(int corpusIndex, IReadOnlyList<string> sentences, WordPieceTokenizer tokenizer) =>
        Create(corpusIndex, sentences, new CachedWordPiece(tokenizer));

    internal static TokenizedDocument? Create(int corpusIndex, IReadOnlyList<string> sentences, CachedWordPiece tokenizer)
    {
        var tokens = new List<int>();
        var starts = new List<int> { 0 };
        foreach (string s in sentences)
        {
            int before = tokens.Count;
            tokenizer.Encode(s, tokens);
            if (tokens.Count > before) starts.Add(tokens.Count);
        }
        return starts.Count == 1 ? null : new TokenizedDocument(corpusIndex, tokens.ToArray(), starts.ToArray());
    }
}

/// <summary>
/// <see cref="WordPieceTokenizer.Tokenize"/> with a per-word cache. BERT's basic tokenizer splits on whitespace first
/// and treats each whitespace-separated word independently (special tokens contain no space), so tokenizing the
/// space-separated words one by one gives exactly the ids of tokenizing the whole sentence. Thread-safe.
/// </summary>
internal sealed class CachedWordPiece
{
    private const int MaxEntries = 2_000_000;
    private readonly WordPieceTokenizer _tokenizer;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public CachedWordPiece(WordPieceTokenizer tokenizer) => _tokenizer = tokenizer;

    public void Encode(string sentence, List<int> output)
    {
        foreach (Range r in sentence.AsSpan().Split(' '))
        {
            (int off, int len) = r.GetOffsetAndLength(sentence.Length);
            if (len == 0) continue;
            string word = sentence.Substring(off, len);
            if (!_cache.TryGetValue(word, out int[]? ids))
            {
                int[] encoded = _tokenizer.Encode(word, maxLength: int.MaxValue).InputIds;
                ids = encoded[1..^1];
                if (_cache.Count < MaxEntries) _cache.TryAdd(word, ids);
            }
            output.AddRange(ids);
        }
    }
}

/// <summary>
/// BERT create_pretraining_data.py's pair and mask generation, made parallel-safe: every (split, round, document)
/// draws from its own <see cref="DeterministicRandom"/> stream.
/// </summary>
/// <remarks>
/// Differences from BERT, all deliberate: the short target length is re-drawn for every chunk (BERT draws it once per
/// document, which makes the short-sequence rate depend on document lengths); the random segment comes from a
/// uniformly chosen <em>other</em> document (BERT retries 10 times); the number of predictions is
/// <c>round(p × non-special tokens)</c> (BERT counts [CLS]/[SEP] too); random replacement tokens never are the five
/// special tokens.
/// </remarks>
internal sealed class ExampleFactory
{
    private readonly PretrainingOptions _o;
    private readonly bool[] _isContinuation;
    private readonly int _vocabSize, _cls, _sep, _mask, _pad, _unk;

    public ExampleFactory(WordPieceTokenizer tokenizer, PretrainingOptions options)
    {
        _o = options;
        _vocabSize = tokenizer.VocabSize;
        _cls = tokenizer.ClsId; _sep = tokenizer.SepId; _mask = tokenizer.MaskId; _pad = tokenizer.PadId; _unk = tokenizer.UnkId;
        _isContinuation = new bool[_vocabSize];
        for (int id = 0; id < _vocabSize; id++) _isContinuation[id] = tokenizer.IdToToken(id).StartsWith("##", StringComparison.Ordinal);
    }

    private bool IsSpecial(int id) => id == _cls || id == _sep || id == _mask || id == _pad || id == _unk;

    private int DrawTarget(DeterministicRandom rng, int maxNum) =>
        rng.NextDouble() < _o.ShortSeqProbability ? rng.NextInt(2, maxNum) : maxNum;

    /// <summary>All examples of one document for one round (BERT create_instances_from_document).</summary>
    public List<PretrainingExample> FromDocument(IReadOnlyList<TokenizedDocument> docs, int docIndex, DeterministicRandom rng)
    {
        var result = new List<PretrainingExample>();
        TokenizedDocument doc = docs[docIndex];
        int maxNum = _o.MaxSeqLength - 3;
        int target = DrawTarget(rng, maxNum);
        int n = doc.SentenceCount, chunkStart = 0, currentLength = 0;
        var a = new List<int>(maxNum);
        var b = new List<int>(maxNum);
        for (int i = 0; i < n; i++)
        {
            currentLength += doc.SentenceStarts[i + 1] - doc.SentenceStarts[i];
            if (i != n - 1 && currentLength < target) continue;

            int chunkLen = i - chunkStart + 1;
            int aEnd = chunkLen >= 2 ? rng.NextInt(1, chunkLen - 1) : 1;
            a.Clear(); b.Clear();
            a.AddRange(doc.Sentences(chunkStart, chunkStart + aEnd));
            ExampleProvenance prov;
            bool isRandomNext = chunkLen == 1 || rng.NextDouble() < 0.5;
            if (isRandomNext)
            {
                int targetB = target - a.Count;
                int r = rng.NextInt(0, docs.Count - 2);
                if (r >= docIndex) r++;
                TokenizedDocument other = docs[r];
                int rStart = rng.NextInt(0, other.SentenceCount - 1), rEnd = rStart;
                while (rEnd < other.SentenceCount)
                {
                    b.AddRange(other.Sentence(rEnd));
                    rEnd++;
                    if (b.Count >= targetB) break;
                }

                prov = new ExampleProvenance(doc.CorpusIndex, chunkStart, chunkStart + aEnd, other.CorpusIndex, rStart, rEnd, target);
                i -= chunkLen - aEnd; // put the unused sentences back
            }
            else
            {
                b.AddRange(doc.Sentences(chunkStart + aEnd, i + 1));
                prov = new ExampleProvenance(doc.CorpusIndex, chunkStart, chunkStart + aEnd, doc.CorpusIndex, chunkStart + aEnd, i + 1, target);
            }

            result.Add(WithProvenance(Build(a, b, isRandomNext, maxNum, rng), prov));
            chunkStart = i + 1;
            currentLength = 0;
            target = DrawTarget(rng, maxNum);
        }

        return result;
    }

    private static PretrainingExample WithProvenance(PretrainingExample e, ExampleProvenance p) =>
        new(e.InputIds, e.TokenTypeIds, e.MaskedPositions, e.MaskedLabelIds, e.NextSentenceLabel) { Provenance = p };

    private PretrainingExample Build(List<int> a, List<int> b, bool isRandomNext, int maxNum, DeterministicRandom rng)
    {
        // BERT truncate_seq_pair: drop from the longer segment (A on ties), from the front or the back at random.
        int aLo = 0, aHi = a.Count, bLo = 0, bHi = b.Count;
        while ((aHi - aLo) + (bHi - bLo) > maxNum)
        {
            bool truncA = aHi - aLo >= bHi - bLo;
            bool front = rng.NextDouble() < 0.5;
            if (truncA) { if (front) aLo++; else aHi--; }
            else { if (front) bLo++; else bHi--; }
        }

        int lenA = aHi - aLo, lenB = bHi - bLo, len = lenA + lenB + 3;
        var ids = new int[len];
        var types = new int[len];
        ids[0] = _cls;
        for (int k = 0; k < lenA; k++) ids[1 + k] = a[aLo + k];
        ids[lenA + 1] = _sep;
        for (int k = 0; k < lenB; k++) ids[lenA + 2 + k] = b[bLo + k];
        ids[len - 1] = _sep;
        for (int k = lenA + 2; k < len; k++) types[k] = 1;

        (int[] positions, int[] labels) = Mask(ids, lenA, rng);
        return new PretrainingExample(ids, types, positions, labels, isRandomNext ? 1 : 0);
    }

    /// <summary>BERT create_masked_lm_predictions (in place on <paramref name="ids"/>).</summary>
    private (int[] Positions, int[] Labels) Mask(int[] ids, int lenA, DeterministicRandom rng)
    {
        int len = ids.Length;
        var groups = new List<(int Start, int Count)>(len);
        int candidates = 0;
        for (int p = 1; p < len - 1; p++)
        {
            if (p == lenA + 1 || IsSpecial(ids[p])) continue;
            candidates++;
            if (_o.WholeWordMasking && groups.Count > 0 && (uint)ids[p] < (uint)_vocabSize && _isContinuation[ids[p]]
                && groups[^1].Start + groups[^1].Count == p)
            {
                groups[^1] = (groups[^1].Start, groups[^1].Count + 1);
            }
            else
            {
                groups.Add((p, 1));
            }
        }

        if (candidates == 0) return ([], []);
        int numToPredict = Math.Min(_o.MaxPredictionsPerSeq, Math.Max(1, (int)Math.Round(
            candidates * _o.MaskedLmProbability, MidpointRounding.ToEven)));
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(groups));
        var chosen = new List<(int Pos, int Label)>(numToPredict);
        foreach ((int start, int count) in groups)
        {
            if (chosen.Count >= numToPredict) break;
            if (chosen.Count + count > numToPredict) continue;
            for (int p = start; p < start + count; p++)
            {
                int original = ids[p];
                if (rng.NextDouble() < 0.8) ids[p] = _mask;
                else if (rng.NextDouble() >= 0.5) ids[p] = RandomToken(rng); // else: keep the original (10 %)
                chosen.Add((p, original));
            }
        }

        chosen.Sort((x, y) => x.Pos.CompareTo(y.Pos));
        return (chosen.Select(c => c.Pos).ToArray(), chosen.Select(c => c.Label).ToArray());
    }

    private int RandomToken(DeterministicRandom rng)
    {
        int id;
        do id = rng.NextInt(0, _vocabSize - 1); while (IsSpecial(id));
        return id;
    }
}
