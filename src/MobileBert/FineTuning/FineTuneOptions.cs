using System.Text.Json.Nodes;
using MobileBert.Model;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>Settings of a fine-tuning run (HF run_glue / run_qa defaults unless noted).</summary>
public sealed record FineTuneOptions
{
    /// <summary>Pre-trained (or already fine-tuned) model folder to start from. Null: random initialisation of <see cref="Config"/> (the no-pre-training baseline).</summary>
    public string? ModelDir { get; init; }
    /// <summary>Config of a randomly initialised model (used only when <see cref="ModelDir"/> is null).</summary>
    public MobileBertConfig? Config { get; init; }
    /// <summary>WordPiece vocab; default MODEL/vocab.txt.</summary>
    public string? VocabPath { get; init; }
    public required string OutputDir { get; init; }
    public int Epochs { get; init; } = 3;
    public int Batch { get; init; } = 32;
    public double Lr { get; init; } = 5e-5;
    /// <summary>Maximum sequence length (tokens incl. special tokens). SQuAD: window length.</summary>
    public int Seq { get; init; } = 128;
    public long Seed { get; init; } = 42;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Linear warm-up over this fraction of all steps, then linear decay to 0.</summary>
    public double WarmupProportion { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Override the config's dropout during training (null: the config's).</summary>
    public float? HiddenDropout { get; init; }
    public float? AttentionDropout { get; init; }
    /// <summary>Shuffle, then sort windows of 50 batches by length (less padding; HF group_by_length).</summary>
    public bool GroupByLength { get; init; } = true;
    public int LogEvery { get; init; } = 10;
    /// <summary>Extra evaluations every N steps (0: only at the end of each epoch).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Extra checkpoints every N steps (0: only at the end of each epoch).</summary>
    public int CheckpointEvery { get; init; }
    public int KeepCheckpoints { get; init; } = 1;
    public int EvalBatch { get; init; } = 64;
    public bool Resume { get; init; }
    /// <summary>SQuAD: doc stride, query length, n-best, answer length, v2 null threshold.</summary>
    public SquadSettings Squad { get; init; } = new();
    /// <summary>Dev metric that picks the best checkpoint (null: <see cref="ModelSelection"/>'s per-task default).</summary>
    public string? SelectBy { get; init; }
    /// <summary>"balanced" or one weight per label ("1,5"); null: unweighted cross-entropy (<see cref="ClassWeights"/>).</summary>
    public string? ClassWeight { get; init; }
    /// <summary>Task distillation: a fine-tuned teacher model folder whose logits are soft targets (<see cref="TrainingObjective"/>).</summary>
    public string? TeacherDir { get; init; }
    /// <summary>Weight α of the distillation term (the labels get 1 − α).</summary>
    public double KdAlpha { get; init; } = DefaultKdAlpha;
    public const double DefaultKdAlpha = 0.5;
    /// <summary>Distillation temperature T.</summary>
    public double KdTemperature { get; init; } = DefaultKdTemperature;
    public const double DefaultKdTemperature = 2;

    public void Validate()
    {
        void Positive(long v, string name) { if (v <= 0) throw new ArgumentException($"--{name} must be positive, got {v}."); }
        Positive(Epochs, "epochs"); Positive(Batch, "batch"); Positive(Seq, "seq"); Positive(LogEvery, "log-every"); Positive(KeepCheckpoints, "keep-checkpoints"); Positive(EvalBatch, "eval-batch");
        if (!(Lr > 0) || !double.IsFinite(Lr)) throw new ArgumentException($"--lr must be a positive number, got {Lr}.");
        if (WarmupProportion is < 0 or >= 1) throw new ArgumentException($"--warmup must be in [0, 1), got {WarmupProportion}.");
        if (EvalEvery < 0 || CheckpointEvery < 0) throw new ArgumentException("--eval-every and --checkpoint-every must be ≥ 0.");
        if (ModelDir is null && Config is null) throw new ArgumentException("Give a model folder (--model) or a config for random initialisation.");
        if (Seq < 8) throw new ArgumentException($"--seq must be at least 8, got {Seq}.");
        if (!(KdAlpha >= 0 && KdAlpha <= 1)) throw new ArgumentException($"--kd-alpha must be in [0, 1], got {KdAlpha}.");
        if (!(KdTemperature > 0) || !double.IsFinite(KdTemperature))
            throw new ArgumentException($"--kd-temperature must be a positive number, got {KdTemperature}.");
        if (Squad.DocStride <= 0 || Squad.MaxQueryLength <= 0 || Squad.MaxAnswerLength <= 0 || Squad.NBestSize <= 0)
            throw new ArgumentException("--doc-stride, --max-query-length, --max-answer-length and --n-best must be positive.");
    }

    /// <summary>Settings a resumed run must share with its checkpoint.</summary>
    public JsonObject Fingerprint() => new()
    {
        ["epochs"] = Epochs, ["batch"] = Batch, ["lr"] = Lr, ["seq"] = Seq, ["seed"] = Seed, ["warmup_proportion"] = WarmupProportion,
        ["weight_decay"] = WeightDecay, ["max_grad_norm"] = MaxGradNorm, ["hidden_dropout"] = HiddenDropout, ["attention_dropout"] = AttentionDropout,
        ["group_by_length"] = GroupByLength, ["eval_every"] = EvalEvery,
        ["doc_stride"] = Squad.DocStride, ["max_query_length"] = Squad.MaxQueryLength,
        ["kd_alpha"] = TeacherDir is null ? null : KdAlpha, ["kd_temperature"] = TeacherDir is null ? null : KdTemperature,
    };
}

/// <summary>What a fine-tuning run reports as it goes.</summary>
public sealed record FineTuneProgress
{
    /// <summary>"data", "train", "eval", "checkpoint", "done".</summary>
    public required string Phase { get; init; }
    public string? Message { get; init; }
    public long Step { get; init; }
    public long Steps { get; init; }
    public int Epoch { get; init; }
    public int Epochs { get; init; }
    public double Loss { get; init; }
    /// <summary>Training accuracy over the logging window (classification), else NaN.</summary>
    public double TrainAccuracy { get; init; } = double.NaN;
    public double LearningRate { get; init; }
    public double ExamplesPerSecond { get; init; }
    public TimeSpan Eta { get; init; }
    public EvalMetrics? Eval { get; init; }
    public bool IsBest { get; init; }
}

/// <summary>What a finished run produced. <see cref="OutputDir"/> is a model folder holding the best checkpoint.</summary>
public sealed record FineTuneResult(string OutputDir, TaskInfo Task, long Steps, EvalMetrics? Best, long BestStep, EvalMetrics? Last,
    double SecondsTraining, double ExamplesPerSecond, bool Resumed, long ResumedFromStep, long Parameters);
