using System.Globalization;
using System.Text.Json.Nodes;

namespace MobileBert.PretrainingData;

/// <summary>Settings of <see cref="PretrainingDataBuilder"/> (defaults follow BERT's create_pretraining_data.py).</summary>
public sealed record PretrainingOptions
{
    /// <summary>Maximum tokens per example including [CLS], [SEP], [SEP]. BERT: 128.</summary>
    public int MaxSeqLength { get; init; } = 128;

    /// <summary>Probability that a chunk targets a random shorter length in [2, max−3]. BERT: 0.1.</summary>
    public double ShortSeqProbability { get; init; } = 0.1;

    /// <summary>Passes over the corpus, each with different pairs and masks. BERT: 10.</summary>
    public int DupeFactor { get; init; } = 10;

    /// <summary>Fraction of (non-special) tokens chosen for MLM. BERT: 0.15.</summary>
    public double MaskedLmProbability { get; init; } = 0.15;

    /// <summary>Upper bound on MLM positions per example. BERT: 20.</summary>
    public int MaxPredictionsPerSeq { get; init; } = 20;

    /// <summary>Mask all WordPieces of a word together (BERT's whole-word masking).</summary>
    public bool WholeWordMasking { get; init; }

    /// <summary>Seed of everything random (pairs, masks, held-out choice, shuffles). BERT: 12345.</summary>
    public long Seed { get; init; } = 12345;

    /// <summary>Fraction of documents held out for evaluation (0 = none). Ignored when <see cref="HeldOutDocuments"/> is set.</summary>
    public double HeldOutFraction { get; init; }

    /// <summary>Exact number of documents held out for evaluation (overrides <see cref="HeldOutFraction"/>).</summary>
    public int? HeldOutDocuments { get; init; }

    /// <summary>Examples per shard file.</summary>
    public int ExamplesPerShard { get; init; } = 100_000;

    /// <summary>How files become documents.</summary>
    public CorpusReadOptions Corpus { get; init; } = new();

    /// <summary>Worker threads for tokenization and example creation (null: all cores). Does not change the output.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>Checks ranges.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (MaxSeqLength < 8 || MaxSeqLength > 65535) throw new ArgumentException($"MaxSeqLength must be in [8, 65535]; got {MaxSeqLength}.");
        if (!(ShortSeqProbability >= 0 && ShortSeqProbability <= 1)) throw new ArgumentException(
            $"ShortSeqProbability must be in [0, 1]; got {ShortSeqProbability}.");
        if (DupeFactor < 1) throw new ArgumentException($"DupeFactor must be at least 1; got {DupeFactor}.");
        if (!(MaskedLmProbability > 0 && MaskedLmProbability < 1)) throw new ArgumentException(
            $"MaskedLmProbability must be in (0, 1); got {MaskedLmProbability}.");
        if (MaxPredictionsPerSeq < 1) throw new ArgumentException($"MaxPredictionsPerSeq must be at least 1; got {MaxPredictionsPerSeq}.");
        if (!(HeldOutFraction >= 0 && HeldOutFraction < 1)) throw new ArgumentException($"HeldOutFraction must be in [0, 1); got {HeldOutFraction}.");
        if (HeldOutDocuments is < 0) throw new ArgumentException($"HeldOutDocuments must not be negative; got {HeldOutDocuments}.");
        if (ExamplesPerShard < 1) throw new ArgumentException($"ExamplesPerShard must be at least 1; got {ExamplesPerShard}.");
        if (MaxDegreeOfParallelism is < 1) throw new ArgumentException($"MaxDegreeOfParallelism must be at least 1; got {MaxDegreeOfParallelism}.");
        if (Corpus.BlankLinesBetweenDocuments < 1) throw new ArgumentException("Corpus.BlankLinesBetweenDocuments must be at least 1.");
    }

    /// <summary>The settings that determine the output (recorded in the manifest and part of its reuse key).</summary>
    public JsonObject ToJson() => new()
    {
        ["maxSeqLength"] = MaxSeqLength,
        ["shortSeqProbability"] = ShortSeqProbability,
        ["dupeFactor"] = DupeFactor,
        ["maskedLmProbability"] = MaskedLmProbability,
        ["maxPredictionsPerSeq"] = MaxPredictionsPerSeq,
        ["wholeWordMasking"] = WholeWordMasking,
        ["seed"] = Seed,
        ["heldOutFraction"] = HeldOutFraction,
        ["heldOutDocuments"] = HeldOutDocuments,
        ["examplesPerShard"] = ExamplesPerShard,
        ["skipBadFiles"] = Corpus.SkipBadFiles,
        ["blankLinesBetweenDocuments"] = Corpus.BlankLinesBetweenDocuments,
        ["stripVerseNumbers"] = Corpus.StripVerseNumbers,
        ["minSentencesPerDocument"] = Corpus.MinSentencesPerDocument,
    };

    internal string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"seq {MaxSeqLength}, dupe {DupeFactor}, mask {MaskedLmProbability}, seed {Seed}");
}
