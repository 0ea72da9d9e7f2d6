namespace MobileBert.PretrainingData;

/// <summary>Where the two segments of an in-memory example came from (not stored in shards).</summary>
/// <param name="DocumentA">Index (in the corpus' document list) of segment A's document.</param>
/// <param name="SentenceStartA">First sentence of A's chunk.</param>
/// <param name="SentenceEndA">One past A's last sentence (A may have been truncated within these sentences).</param>
/// <param name="DocumentB">Index of segment B's document (= <paramref name="DocumentA"/> for an actual next segment).</param>
/// <param name="SentenceStartB">First sentence of B (before truncation).</param>
/// <param name="SentenceEndB">One past B's last sentence.</param>
/// <param name="TargetLength">The target token count drawn for this chunk (&lt; max when a short sequence was drawn).</param>
public sealed record ExampleProvenance(int DocumentA, int SentenceStartA, int SentenceEndA, int DocumentB, int SentenceStartB, int SentenceEndB,
    int TargetLength);

/// <summary>
/// One masked-LM + next-sentence example: <c>[CLS] A [SEP] B [SEP]</c>, unpadded, with masking already applied.
/// </summary>
public sealed class PretrainingExample
{
    /// <summary>HF's ignore index for unmasked positions in dense labels.</summary>
    public const int IgnoreLabel = -100;

    public PretrainingExample(int[] inputIds, int[] tokenTypeIds, int[] maskedPositions, int[] maskedLabelIds, int nextSentenceLabel)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(tokenTypeIds);
        ArgumentNullException.ThrowIfNull(maskedPositions);
        ArgumentNullException.ThrowIfNull(maskedLabelIds);
        if (tokenTypeIds.Length != inputIds.Length) throw new ArgumentException("Token types and input ids differ in length.");
        if (maskedPositions.Length != maskedLabelIds.Length) throw new ArgumentException("Masked positions and labels differ in length.");
        if (nextSentenceLabel is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(nextSentenceLabel));
        InputIds = inputIds;
        TokenTypeIds = tokenTypeIds;
        MaskedPositions = maskedPositions;
        MaskedLabelIds = maskedLabelIds;
        NextSentenceLabel = nextSentenceLabel;
    }

    /// <summary>Token ids after masking, including [CLS]/[SEP]; length ≤ max sequence length.</summary>
    public int[] InputIds { get; }

    /// <summary>0 for [CLS] A [SEP], 1 for B [SEP].</summary>
    public int[] TokenTypeIds { get; }

    /// <summary>Ascending positions chosen for the MLM loss.</summary>
    public int[] MaskedPositions { get; }

    /// <summary>Original token id at each of <see cref="MaskedPositions"/>.</summary>
    public int[] MaskedLabelIds { get; }

    /// <summary>HF convention: 0 = B is the actual next segment, 1 = B is a random segment.</summary>
    public int NextSentenceLabel { get; }

    /// <summary>Source of the segments, when created in memory (null for examples read from shards).</summary>
    public ExampleProvenance? Provenance { get; init; }

    public int Length => InputIds.Length;

    /// <summary>Dense MLM labels of length <paramref name="seqLength"/>: the original id at masked positions, −100 elsewhere.</summary>
    public int[] DenseMlmLabels(int seqLength)
    {
        if (seqLength < Length) throw new ArgumentOutOfRangeException(nameof(seqLength), seqLength, $"The example has {Length} tokens.");
        var labels = new int[seqLength];
        Array.Fill(labels, IgnoreLabel);
        for (int i = 0; i < MaskedPositions.Length; i++) labels[MaskedPositions[i]] = MaskedLabelIds[i];
        return labels;
    }

    /// <summary>The token ids before masking (masked positions restored to their labels).</summary>
    public int[] OriginalInputIds()
    {
        int[] ids = (int[])InputIds.Clone();
        for (int i = 0; i < MaskedPositions.Length; i++) ids[MaskedPositions[i]] = MaskedLabelIds[i];
        return ids;
    }

    /// <summary>Same tokens, types, masks and label (provenance ignored).</summary>
    public bool ContentEquals(PretrainingExample other) =>
        other is not null && NextSentenceLabel == other.NextSentenceLabel && InputIds.AsSpan().SequenceEqual(other.InputIds)
        && TokenTypeIds.AsSpan().SequenceEqual(other.TokenTypeIds) && MaskedPositions.AsSpan().SequenceEqual(other.MaskedPositions)
        && MaskedLabelIds.AsSpan().SequenceEqual(other.MaskedLabelIds);
}
