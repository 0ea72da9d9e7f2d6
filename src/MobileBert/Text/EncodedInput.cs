namespace MobileBert.Text;

/// <summary>
/// The result of <see cref="WordPieceTokenizer.Encode"/>: <c>[CLS] A [SEP]</c> or <c>[CLS] A [SEP] B [SEP]</c>, unpadded.
/// </summary>
/// <param name="Tokens">WordPiece tokens including the special tokens.</param>
/// <param name="InputIds">Vocabulary ids of <paramref name="Tokens"/>.</param>
/// <param name="TokenTypeIds">0 for <c>[CLS]</c>, the first segment and its <c>[SEP]</c>; 1 for the pair segment and its <c>[SEP]</c>.</param>
/// <param name="AttentionMask">All ones (no padding is added).</param>
/// <param name="Offsets">
/// For each token, the <c>[Start, End)</c> UTF-16 index range in the original string of the segment it came from
/// (<c>text</c> or <c>textPair</c>; see <see cref="SequenceIds"/>). Special tokens added by encoding get <c>(0, 0)</c>.
/// Wordpieces of one word get the sub-ranges they cover, even when normalization changed lengths.
/// </param>
public sealed record EncodedInput(string[] Tokens, int[] InputIds, int[] TokenTypeIds, int[] AttentionMask, (int Start, int End)[] Offsets)
{
    /// <summary>Per token: -1 for added special tokens ([CLS]/[SEP]), 0 for tokens of <c>text</c>, 1 for tokens of <c>textPair</c>.</summary>
    public int[] SequenceIds { get; init; } = [];

    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;
}
