namespace MobileBert.Text;

/// <summary>
/// The result of <see cref="WordPieceTokenizer.Encode"/>: <c>[CLS] A [SEP]</c> or <c>[CLS] A [SEP] B [SEP]</c>, unpadded.
/// </summary>
/// <remarks>
/// From <see cref="WordPieceTokenizer.Encode"/>, only <see cref="InputIds"/> is built by encoding; the other arrays are
/// built on first read (once, also under concurrent reads), so a caller that needs only ids (and type ids, the model's
/// inputs) does not pay for five more arrays per text: <see cref="Tokens"/>, <see cref="TokenTypeIds"/>,
/// <see cref="AttentionMask"/> and <see cref="SequenceIds"/> follow from the ids and the segment layout;
/// <see cref="Offsets"/> come from encoding the same text again (so such an input keeps its text and pair).
/// </remarks>
public sealed record EncodedInput
{
    private readonly int _firstSep; // index of the first [SEP] when the arrays are derived; -1 otherwise
    private readonly EncodeCall _call; // the encoding's arguments, when the arrays are derived
    private string[]? _tokens;
    private int[]? _tokenTypeIds, _attentionMask, _sequenceIds;
    private (int Start, int End)[]? _offsets;

    /// <param name="Tokens">WordPiece tokens including the special tokens.</param>
    /// <param name="InputIds">Vocabulary ids of <paramref name="Tokens"/>.</param>
    /// <param name="TokenTypeIds">0 for <c>[CLS]</c>, the first segment and its <c>[SEP]</c>; 1 for the pair segment and its <c>[SEP]</c>.</param>
    /// <param name="AttentionMask">All ones (no padding is added).</param>
    /// <param name="Offsets">See <see cref="Offsets"/>.</param>
    public EncodedInput(string[] Tokens, int[] InputIds, int[] TokenTypeIds, int[] AttentionMask, (int Start, int End)[] Offsets)
    {
        _tokens = Tokens;
        this.InputIds = InputIds;
        _tokenTypeIds = TokenTypeIds;
        _attentionMask = AttentionMask;
        _offsets = Offsets;
        _sequenceIds = [];
        _firstSep = -1;
    }

    /// <summary>
    /// <see cref="WordPieceTokenizer.Encode"/>'s result: its ids, of the standard layout (<c>[CLS]</c> at 0, the first
    /// <c>[SEP]</c> at <paramref name="firstSep"/>, a pair's <c>[SEP]</c> last), and its arguments; the other arrays are
    /// derived on first read.
    /// </summary>
    internal EncodedInput(int[] inputIds, int firstSep, EncodeCall call)
    {
        InputIds = inputIds;
        _firstSep = firstSep;
        _call = call;
    }

    /// <summary>The arguments of a <see cref="WordPieceTokenizer.Encode"/> call.</summary>
    internal readonly record struct EncodeCall(WordPieceTokenizer Tokenizer, string Text, string? TextPair, int MaxLength,
        TruncationStrategy Truncation)
    {
        /// <summary>The offsets of the encoding, by encoding again.</summary>
        public (int Start, int End)[] Offsets() => Tokenizer.EncodeOffsets(Text, TextPair, MaxLength, Truncation);
    }

    /// <summary>WordPiece tokens including the special tokens.</summary>
    public string[] Tokens
    {
        get => Derive(ref _tokens, static e => Array.ConvertAll(e.InputIds, e._call.Tokenizer.IdToToken));
        init => _tokens = value;
    }

    /// <summary>Vocabulary ids of <see cref="Tokens"/>.</summary>
    public int[] InputIds { get; init; }

    /// <summary>0 for <c>[CLS]</c>, the first segment and its <c>[SEP]</c>; 1 for the pair segment and its <c>[SEP]</c>.</summary>
    public int[] TokenTypeIds
    {
        get => Derive(ref _tokenTypeIds, static e => e.Layout(0, 0, 0, 1, 1));
        init => _tokenTypeIds = value;
    }

    /// <summary>All ones (no padding is added).</summary>
    public int[] AttentionMask
    {
        get => Derive(ref _attentionMask, static e => e.Layout(1, 1, 1, 1, 1));
        init => _attentionMask = value;
    }

    /// <summary>
    /// For each token, the <c>[Start, End)</c> UTF-16 index range in the original string of the segment it came from
    /// (<c>text</c> or <c>textPair</c>; see <see cref="SequenceIds"/>). Special tokens added by encoding get <c>(0, 0)</c>.
    /// Wordpieces of one word get the sub-ranges they cover, even when normalization changed lengths.
    /// </summary>
    public (int Start, int End)[] Offsets
    {
        get => Derive(ref _offsets, static e => e._call.Offsets());
        init => _offsets = value;
    }

    /// <summary>Per token: -1 for added special tokens ([CLS]/[SEP]), 0 for tokens of <c>text</c>, 1 for tokens of <c>textPair</c>.</summary>
    public int[] SequenceIds
    {
        get => Derive(ref _sequenceIds, static e => e.Layout(-1, 0, -1, 1, -1));
        init => _sequenceIds = value;
    }

    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;

    /// <summary>Per token of the derived layout: the value at [CLS], in the first segment, at its [SEP], in the pair, at the last [SEP].</summary>
    private int[] Layout(int cls, int first, int firstSep, int pair, int lastSep)
    {
        int n = InputIds.Length;
        var values = new int[n]; // [n]
        values.AsSpan(1, _firstSep - 1).Fill(first);
        values.AsSpan(_firstSep + 1).Fill(pair);
        values[0] = cls;
        values[_firstSep] = firstSep;
        if (_firstSep < n - 1)
        {
            values[n - 1] = lastSep;
        }

        return values;
    }

    /// <summary>
    /// A derived array, built and stored on first read (when two threads race, both get the one stored first); the stored
    /// value as it is (possibly null) for an input built with the public constructor.
    /// </summary>
    private T Derive<T>(ref T? field, Func<EncodedInput, T> build)
        where T : class => field ?? (_firstSep < 0 ? field! : Interlocked.CompareExchange(ref field, build(this), null) ?? field!);
}
