using System.Runtime.InteropServices;

namespace MobileBert.Text;

/// <summary>
/// BERT WordPiece tokenizer equal to HuggingFace's (slow, pure-Python) <c>BertTokenizer</c>, with character offsets.
/// </summary>
/// <remarks>
/// <para>Basic tokenization (special-token split, text cleaning, CJK split, NFC, lowercasing, accent stripping,
/// punctuation split) is a C# port of HF's <c>BasicTokenizer</c> (<see cref="BertPreTokenizer"/>), because
/// Microsoft.ML.Tokenizers' <c>BertTokenizer</c> differs from HF on several inputs (the <c>HfDiffers_*</c> tests).
/// Whitespace-separated words of printable ASCII, Latin-1, Latin Extended-A/B letters and General Punctuation take a fast
/// path (table lookups for kind and normalized char, no string per word) that gives the same tokens; other words go through
/// the general port. The WordPiece step is HF's greedy
/// longest-match-first <c>WordpieceTokenizer</c>, looking spans up in the vocabulary without allocating, for words up to
/// <see cref="MaxInputCharsPerWord"/> code points (longer words become <c>[UNK]</c>, counting code points as Python
/// does rather than UTF-16 chars).</para>
/// <para>Offsets are UTF-16 indices into the original string, so <c>text[Start..End]</c> is the source of a token.</para>
/// <para>Instances are immutable and thread-safe.</para>
/// </remarks>
public sealed partial class WordPieceTokenizer
{
    /// <summary>HF's <c>max_input_chars_per_word</c>.</summary>
    public const int MaxInputCharsPerWord = 100;

    private const string ContinuingPrefix = "##";
    private const string Unk = "[UNK]", Sep = "[SEP]", Pad = "[PAD]", Cls = "[CLS]", Mask = "[MASK]";

    private readonly Dictionary<string, int> _tokenToId;
    private readonly string[] _idToToken;
    private readonly VocabTable _wholeWords;
    private readonly VocabTable _continuations; // "##ing" as "ing"
    private readonly int[] _asciiPunctuationIds; // per ASCII char: the id of the one-char word it makes, or [UNK]
    private readonly BertPreTokenizer _preTokenizer;

    private WordPieceTokenizer(Dictionary<string, int> tokenToId, string[] idToToken, bool lowerCase)
    {
        _tokenToId = tokenToId;
        _idToToken = idToToken;
        _wholeWords = new VocabTable(tokenToId);
        // "##ing" is looked up as "ing" after the first piece of a word, so no "##" + span string is built.
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in tokenToId)
        {
            if (token.StartsWith(ContinuingPrefix, StringComparison.Ordinal))
            {
                continuations[token[ContinuingPrefix.Length..]] = id;
            }
        }

        _continuations = new VocabTable(continuations);
        LowerCase = lowerCase;
        PadId = tokenToId[Pad];
        UnkId = tokenToId[Unk];
        ClsId = tokenToId[Cls];
        SepId = tokenToId[Sep];
        MaskId = tokenToId[Mask];
        _preTokenizer = new BertPreTokenizer([Unk, Sep, Pad, Cls, Mask], lowerCase);
        _asciiPunctuationIds = new int[128];
        for (int c = 0; c < 128; c++)
        {
            _asciiPunctuationIds[c] = SingleCharId(_preTokenizer.FastNormalized[c]);
        }
    }

    /// <summary>
    /// Loads a BERT <c>vocab.txt</c> (one token per line, id = line number).
    /// </summary>
    /// <param name="path">Path of the vocabulary file.</param>
    /// <param name="lowerCase">HF <c>do_lower_case</c>: lowercase and strip accents (uncased models); null: what the
    /// tokenizer_config.json beside the file says, true without one (<see cref="TokenizerConfig"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, has duplicate tokens, or lacks a special token.</exception>
    public static WordPieceTokenizer FromVocabFile(string path, bool? lowerCase = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"BERT vocabulary file not found: '{path}'.", path);
        }

        byte[] bytes = File.ReadAllBytes(path);
        var tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        var idToToken = new List<string>();
        using (var reader = new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true))
        {
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                int id = idToToken.Count;
                idToToken.Add(line);
                if (line.Length == 0)
                {
                    continue; // kept as an id so that line numbers stay ids
                }

                if (!tokenToId.TryAdd(line, id))
                {
                    throw new InvalidDataException(
                        $"BERT vocabulary file '{path}' has a duplicate token '{line}' on lines {tokenToId[line] + 1} and {id + 1}.");
                }
            }
        }

        if (tokenToId.Count == 0)
        {
            throw new InvalidDataException($"BERT vocabulary file '{path}' is empty.");
        }

        foreach (string special in new[] { Pad, Unk, Cls, Sep, Mask })
        {
            if (!tokenToId.ContainsKey(special))
            {
                throw new InvalidDataException(
                    $"BERT vocabulary file '{path}' does not contain the special token '{special}' (is it a WordPiece vocab.txt?).");
            }
        }

        return new WordPieceTokenizer(tokenToId, idToToken.ToArray(), lowerCase ?? TokenizerConfig.LowerCase(path));
    }

    /// <summary>Whether text is lowercased and accent-stripped (uncased model).</summary>
    public bool LowerCase { get; }

    /// <summary>Number of distinct tokens in the vocabulary (HF <c>vocab_size</c>).</summary>
    public int VocabSize => _tokenToId.Count;

    /// <summary>Id of <c>[PAD]</c>.</summary>
    public int PadId { get; }

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsId { get; }

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepId { get; }

    /// <summary>Id of <c>[UNK]</c>.</summary>
    public int UnkId { get; }

    /// <summary>Id of <c>[MASK]</c>.</summary>
    public int MaskId { get; }

    /// <summary>Id of a token, or <see cref="UnkId"/> if it is not in the vocabulary (as HF <c>convert_tokens_to_ids</c>).</summary>
    public int TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _tokenToId.TryGetValue(token, out int id) ? id : UnkId;
    }

    /// <summary>Token of an id.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not a line of the vocabulary file.</exception>
    public string IdToToken(int id)
    {
        if ((uint)id >= (uint)_idToToken.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_idToToken.Length}).");
        }

        return _idToToken[id];
    }

    /// <summary>WordPiece tokens of <paramref name="text"/> without <c>[CLS]</c>/<c>[SEP]</c> (HF <c>tokenize</c>).</summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<Piece>();
        TokenizeWithOffsets(text, pieces, int.MaxValue, Scratch.ForThread);
        return Tokens(pieces);
    }

    /// <summary>The tokens of <paramref name="text"/> through the general path only (no fast path), for tests.</summary>
    internal IReadOnlyList<(string Token, int Start, int End)> TokenizeGeneral(string text)
    {
        var pieces = new List<Piece>();
        foreach (PreToken word in _preTokenizer.PreTokenize(text))
        {
            if (word.IsSpecial)
            {
                pieces.Add(new Piece(_tokenToId[word.Text], word.CharStarts[0], word.CharEnds[0]));
            }
            else
            {
                AppendPieces(word.Text, word.CharStarts, word.CharEnds, word.CodePointCount, pieces);
            }
        }

        return pieces.Select(p => (_idToToken[p.Id], p.Start, p.End)).ToArray();
    }

    /// <summary><see cref="Tokenize"/> with each token's offsets (the path <see cref="Encode"/> takes), for tests.</summary>
    internal IReadOnlyList<(string Token, int Start, int End)> TokenizeWithOffsets(string text)
    {
        var pieces = new List<Piece>();
        TokenizeWithOffsets(text, pieces, int.MaxValue, Scratch.ForThread);
        return pieces.Select(p => (_idToToken[p.Id], p.Start, p.End)).ToArray();
    }

    private string[] Tokens(List<Piece> pieces)
    {
        var tokens = new string[pieces.Count];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = _idToToken[pieces[i].Id];
        }

        return tokens;
    }

    /// <summary>
    /// Encodes <paramref name="text"/> (and optionally <paramref name="textPair"/>) as
    /// <c>[CLS] A [SEP]</c> / <c>[CLS] A [SEP] B [SEP]</c>, truncated to at most <paramref name="maxLength"/> tokens.
    /// </summary>
    /// <param name="text">First segment; may be empty.</param>
    /// <param name="textPair">Optional second segment (an empty string still produces the pair layout, as HF).</param>
    /// <param name="maxLength">Maximum total number of tokens including <c>[CLS]</c>/<c>[SEP]</c>.</param>
    /// <param name="truncation">How to shorten too-long inputs.</param>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="maxLength"/> cannot hold the special tokens, or the strategy cannot make the input fit
    /// (e.g. <see cref="TruncationStrategy.OnlySecond"/> without a pair; HF would log an error and return an over-long result).
    /// </exception>
    public EncodedInput Encode(string text, string? textPair = null, int maxLength = 512,
        TruncationStrategy truncation = TruncationStrategy.LongestFirst)
    {
        ArgumentNullException.ThrowIfNull(text);
        int specialCount = textPair is null ? 2 : 3;
        if (maxLength < specialCount)
        {
            throw new ArgumentException(
                $"maxLength {maxLength} is too small: {(textPair is null ? "a single sequence" : "a pair")} needs {specialCount} special tokens.",
                nameof(maxLength));
        }

        if ((uint)truncation > (uint)TruncationStrategy.OnlySecond)
        {
            throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "Unknown truncation strategy.");
        }

        int[] ids = EncodeIds(text, textPair, maxLength, truncation, withOffsets: false, out _, out int firstSep);
        return new EncodedInput(ids, firstSep, new EncodedInput.EncodeCall(this, text, textPair, maxLength, truncation));
    }

    /// <summary>
    /// The offsets of <see cref="Encode"/> on the same (valid) arguments, by encoding again: <see cref="EncodedInput.Offsets"/>
    /// of an encoding builds them so on first read.
    /// </summary>
    internal (int Start, int End)[] EncodeOffsets(string text, string? textPair, int maxLength, TruncationStrategy truncation)
    {
        EncodeIds(text, textPair, maxLength, truncation, withOffsets: true, out var offsets, out _);
        return offsets!;
    }

    /// <summary>
    /// The ids of <see cref="Encode"/> (arguments already checked), the index of the first [SEP], and with
    /// <paramref name="withOffsets"/> each token's offsets ((0, 0) for [CLS]/[SEP]).
    /// </summary>
    private int[] EncodeIds(string text, string? textPair, int maxLength, TruncationStrategy truncation, bool withOffsets,
        out (int Start, int End)[]? offsets, out int firstSep)
    {
        // A single sequence keeps its first tokens, so tokenizing stops once it has as many as fit (OnlySecond reports how
        // many tokens too many there are, so it tokenizes everything).
        int specialCount = textPair is null ? 2 : 3;
        int budget = maxLength - specialCount;
        int limit = textPair is null && truncation != TruncationStrategy.OnlySecond ? budget : int.MaxValue;
        Scratch scratch = Scratch.ForThread;
        List<Piece> first = scratch.First;
        first.Clear();
        TokenizeWithOffsets(text, first, limit, scratch);
        List<Piece>? second = null;
        if (textPair is not null)
        {
            second = scratch.Second;
            second.Clear();
            TokenizeWithOffsets(textPair, second, int.MaxValue, scratch);
        }

        Truncate(first, second, budget, truncation);

        int total = first.Count + (second?.Count ?? 0) + specialCount;
        var ids = new int[total];                                 // [total]
        offsets = withOffsets ? new (int, int)[total] : null;     // [total]
        ids[0] = ClsId;
        firstSep = Place(first, ids, offsets, 1);
        ids[firstSep] = SepId;
        if (second is not null)
        {
            ids[Place(second, ids, offsets, firstSep + 1)] = SepId;
        }

        scratch.Release();
        return ids;
    }

    /// <summary>Writes the ids (and offsets, if given) of <paramref name="pieces"/> from index <paramref name="at"/>; returns the index
    /// after them.</summary>
    private static int Place(List<Piece> pieces, int[] ids, (int, int)[]? offsets, int at)
    {
        foreach (Piece p in CollectionsMarshal.AsSpan(pieces))
        {
            ids[at] = p.Id;
            if (offsets is not null)
            {
                offsets[at] = (p.Start, p.End);
            }

            at++;
        }

        return at;
    }

    /// <summary>HF <c>truncate_sequences</c> (stride 0) on token lists.</summary>
    private static void Truncate(List<Piece> first, List<Piece>? second, int budget, TruncationStrategy strategy)
    {
        int toRemove = first.Count + (second?.Count ?? 0) - budget;
        if (toRemove <= 0)
        {
            return;
        }

        switch (strategy)
        {
            case TruncationStrategy.LongestFirst when second is not null:
                // HF: for each token to remove, drop from the first if it is strictly longer, else from the pair.
                int a = first.Count, b = second.Count;
                for (int k = 0; k < toRemove; k++)
                {
                    if (a > b)
                    {
                        a--;
                    }
                    else
                    {
                        b--;
                    }
                }

                first.RemoveRange(a, first.Count - a);
                second.RemoveRange(b, second.Count - b);
                break;

            case TruncationStrategy.LongestFirst:
            case TruncationStrategy.OnlyFirst:
                if (toRemove > first.Count)
                {
                    throw new ArgumentException(
                        $"Cannot fit the input in maxLength with {strategy}: the second sequence alone needs {second!.Count} tokens " +
                        "more than allowed.");
                }

                first.RemoveRange(first.Count - toRemove, toRemove);
                break;

            case TruncationStrategy.OnlySecond:
                if (second is null)
                {
                    throw new ArgumentException(
                        $"The input needs {toRemove} fewer tokens but {nameof(TruncationStrategy.OnlySecond)} cannot truncate a single sequence.");
                }

                if (toRemove > second.Count)
                {
                    throw new ArgumentException(
                        $"Cannot fit the input in maxLength with {strategy}: the first sequence alone needs {toRemove - second.Count} " +
                        "tokens more than allowed.");
                }

                second.RemoveRange(second.Count - toRemove, toRemove);
                break;
        }
    }

    /// <summary>A token (its id; the text is the vocabulary entry) and its original [Start, End).</summary>
    private readonly record struct Piece(int Id, int Start, int End);

    /// <summary>Per-thread buffers of <see cref="Encode"/> (the tokenizer itself stays immutable and thread-safe).</summary>
    private sealed class Scratch
    {
        [ThreadStatic]
        private static Scratch? t_current;

        public static Scratch ForThread => t_current ??= new Scratch();

        public List<Piece> First { get; } = [];

        public List<Piece> Second { get; } = [];

        public List<PreToken> Words { get; } = [];

        /// <summary>One normalized run of word chars of the fast path (up to <see cref="MaxInputCharsPerWord"/> chars).</summary>
        public readonly char[] Chars = new char[MaxInputCharsPerWord];

        /// <summary>Empties the lists, dropping the storage a very long text made them grow to (a thread keeps the rest).</summary>
        public void Release()
        {
            foreach (List<Piece> list in (ReadOnlySpan<List<Piece>>)[First, Second])
            {
                list.Clear();
                if (list.Capacity > KeptCapacity)
                {
                    list.Capacity = KeptCapacity;
                }
            }
        }

        private const int KeptCapacity = 1024;
    }
}
