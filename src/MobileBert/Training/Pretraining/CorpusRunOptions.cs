using System.Text.Json.Nodes;

namespace MobileBert.Training.Pretraining;

/// <summary>
/// The settings of a run that trains on a pre-training corpus (<see cref="PretrainOptions"/>, the distillation options):
/// the corpus, the vocabulary, held-out evaluation, and how <see cref="CorpusShards"/> builds the shards.
/// </summary>
public abstract record CorpusRunOptions : TrainingRunOptions
{
    /// <summary>Corpus files or folders (.txt, .json, .jsonl).</summary>
    public required IReadOnlyList<string> Data { get; init; }
    public required string VocabPath { get; init; }
    /// <summary>Held-out batches per evaluation (fixed, in order).</summary>
    public int EvalBatches { get; init; } = 20;
    public int MaxPredictions { get; init; } = 20;
    public int DupeFactor { get; init; } = 5;
    public double HeldOutFraction { get; init; } = 0.02;
    public bool WholeWordMasking { get; init; }
    public bool SkipBadFiles { get; init; }
    /// <summary>Blank lines that end a document in .txt files (2 = chapters/sections separated by two blank lines).</summary>
    public int BlankLinesBetweenDocuments { get; init; } = 1;

    /// <summary>The shared checks plus the corpus run's: evaluation and checkpoint cadence positive, some data.</summary>
    protected void ValidateCorpusRun()
    {
        ValidateShared();
        Positive(EvalEvery, nameof(EvalEvery)); Positive(EvalBatches, nameof(EvalBatches)); Positive(CheckpointEvery, nameof(CheckpointEvery));
        if (Data.Count == 0) throw new SettingException("Data needs at least one file or folder.", nameof(Data));
    }

    /// <summary>Adds the shared settings and the data settings to a resume fingerprint (a resumed run must read the same shards).</summary>
    protected void AddCorpusFingerprint(JsonObject f)
    {
        AddSharedFingerprint(f);
        f["optimizer"] = Optimizer;
        f["max_predictions"] = MaxPredictions; f["dupe_factor"] = DupeFactor; f["held_out_fraction"] = HeldOutFraction;
        f["whole_word_masking"] = WholeWordMasking; f["blank_lines_between_documents"] = BlankLinesBetweenDocuments;
    }
}
