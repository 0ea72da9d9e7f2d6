using System.Text.Json.Nodes;
using MobileBert.Model;

namespace MobileBert.Training.Pretraining;

/// <summary>Settings of a masked-LM + next-sentence pre-training run (teacher or student from scratch).</summary>
public sealed record PretrainOptions : ICorpusShardSettings
{
    public required MobileBertConfig Config { get; init; }
    /// <summary>Corpus files or folders (.txt, .json, .jsonl).</summary>
    public required IReadOnlyList<string> Data { get; init; }
    public required string OutputDir { get; init; }
    public required string VocabPath { get; init; }
    public int Steps { get; init; } = 1000;
    public int Batch { get; init; } = 16;
    public int Seq { get; init; } = 128;
    /// <summary>Peak learning rate (after warm-up).</summary>
    public double Lr { get; init; } = 1e-3;
    /// <summary>"lamb" (the MobileBERT reference) or "adamw".</summary>
    public string Optimizer { get; init; } = "lamb";
    public int Warmup { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    public long Seed { get; init; } = 42;
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int LogEvery { get; init; } = 10;
    public int EvalEvery { get; init; } = 200;
    /// <summary>Held-out batches per evaluation (fixed, in order).</summary>
    public int EvalBatches { get; init; } = 20;
    public int CheckpointEvery { get; init; } = 200;
    public int KeepCheckpoints { get; init; } = 2;
    public bool Resume { get; init; }
    // Data preparation (ICorpusShardSettings).
    public int MaxPredictions { get; init; } = 20;
    public int DupeFactor { get; init; } = 5;
    public double HeldOutFraction { get; init; } = 0.02;
    public bool WholeWordMasking { get; init; }
    public bool SkipBadFiles { get; init; }
    /// <summary>Blank lines that end a document in .txt files (2 = chapters/sections separated by two blank lines).</summary>
    public int BlankLinesBetweenDocuments { get; init; } = 1;

    public void Validate()
    {
        void Positive(long v, string name) { if (v <= 0) throw new ArgumentException($"--{name} must be positive, got {v}."); }
        Positive(Steps, "steps"); Positive(Batch, "batch"); Positive(Seq, "seq"); Positive(LogEvery, "log-every");
        Positive(EvalEvery, "eval-every"); Positive(EvalBatches, "eval-batches"); Positive(CheckpointEvery, "checkpoint-every");
        Positive(KeepCheckpoints, "keep-checkpoints");
        if (!(Lr > 0) || !double.IsFinite(Lr)) throw new ArgumentException($"--lr must be a positive number, got {Lr}.");
        if (Warmup < 0) throw new ArgumentException($"--warmup must be ≥ 0, got {Warmup}.");
        if (Optimizer is not ("lamb" or "adamw")) throw new ArgumentException($"--optimizer must be lamb or adamw, got '{Optimizer}'.");
        if (Seq < 8) throw new ArgumentException($"--seq must be at least 8, got {Seq}.");
        if (Seq > Config.MaxPositionEmbeddings) throw new ArgumentException(
            $"--seq {Seq} exceeds the config's max_position_embeddings = {Config.MaxPositionEmbeddings}.");
        if (Data.Count == 0) throw new ArgumentException("--data needs at least one file or folder.");
        Config.Validate();
    }

    /// <summary>The settings a resumed run must share with the checkpoint (anything else would change the curve).</summary>
    public JsonObject Fingerprint()
    {
        var f = new JsonObject
        {
            ["config"] = JsonNode.Parse(ConfigJson.ToJson(Config)),
            ["steps"] = Steps, ["batch"] = Batch, ["seq"] = Seq, ["lr"] = Lr, ["optimizer"] = Optimizer, ["warmup"] = Warmup,
            ["weight_decay"] = WeightDecay, ["max_grad_norm"] = MaxGradNorm, ["seed"] = Seed,
        };
        CorpusShards.AddFingerprint(this, f);
        return f;
    }
}
