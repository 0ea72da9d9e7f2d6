using System.Text.Json.Nodes;
using MobileBert.Model;
using MobileBert.Tasks;
using MobileBert.Training;

namespace MobileBert.FineTuning;

/// <summary>Settings of a fine-tuning run (HF run_glue / run_qa defaults unless noted); the shared ones are in
/// <see cref="TrainingRunOptions"/>, with the fine-tuning defaults set here.</summary>
public sealed record FineTuneOptions : TrainingRunOptions
{
    /// <summary>Batch 32, lr 5e-5, AdamW, one checkpoint kept; evaluations and checkpoints at the end of every epoch only.</summary>
    public FineTuneOptions() { Batch = 32; Lr = 5e-5; Optimizer = "adamw"; KeepCheckpoints = 1; EvalEvery = 0; CheckpointEvery = 0; }

    /// <summary>Pre-trained (or already fine-tuned) model folder to start from. Null: random initialisation of <see cref="Config"/>
    /// (the no-pre-training baseline).</summary>
    public string? ModelDir { get; init; }
    /// <summary>Config of a randomly initialised model (used only when <see cref="ModelDir"/> is null).</summary>
    public MobileBertConfig? Config { get; init; }
    /// <summary>WordPiece vocab; default MODEL/vocab.txt.</summary>
    public string? VocabPath { get; init; }
    public int Epochs { get; init; } = 3;
    /// <summary>Linear warm-up over this fraction of all steps, then linear decay to 0.</summary>
    public double WarmupProportion { get; init; } = 0.1;
    /// <summary>Override the config's dropout during training (null: the config's).</summary>
    public float? HiddenDropout { get; init; }
    public float? AttentionDropout { get; init; }
    /// <summary>Shuffle, then sort windows of 50 batches by length (less padding; HF group_by_length).</summary>
    public bool GroupByLength { get; init; } = true;
    public int EvalBatch { get; init; } = 64;
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
    /// <summary>Weight β of intermediate-layer distillation (<see cref="LayerDistillation"/>; 0: logits only). Needs a student
    /// as wide as the teacher.</summary>
    public double KdLayers { get; init; }

    public void Validate()
    {
        Positive(Epochs, nameof(Epochs));
        ValidateShared();
        Positive(EvalBatch, nameof(EvalBatch));
        if (WarmupProportion is < 0 or >= 1) throw new SettingException($"WarmupProportion must be in [0, 1), got {WarmupProportion}.",
            nameof(WarmupProportion));
        if (EvalEvery < 0 || CheckpointEvery < 0) throw new SettingException("EvalEvery and CheckpointEvery must be ≥ 0.", nameof(EvalEvery),
            nameof(CheckpointEvery));
        if (ModelDir is null && Config is null)
            throw new SettingException("Give a model folder (ModelDir) or a config for random initialisation (Config).",
            nameof(ModelDir), nameof(Config));
        if (!(KdAlpha >= 0 && KdAlpha <= 1)) throw new SettingException($"KdAlpha must be in [0, 1], got {KdAlpha}.", nameof(KdAlpha));
        if (!(KdTemperature > 0) || !double.IsFinite(KdTemperature))
            throw new SettingException($"KdTemperature must be a positive number, got {KdTemperature}.", nameof(KdTemperature));
        if (!(KdLayers >= 0) || !double.IsFinite(KdLayers))
            throw new SettingException($"KdLayers must be a finite number ≥ 0, got {KdLayers}.", nameof(KdLayers));
        if (Squad.DocStride <= 0 || Squad.MaxQueryLength <= 0 || Squad.MaxAnswerLength <= 0 || Squad.NBestSize <= 0)
            throw new SettingException("DocStride, MaxQueryLength, MaxAnswerLength and NBestSize must be positive.", "DocStride",
                "MaxQueryLength", "MaxAnswerLength", "NBestSize");
    }

    /// <summary>Settings a resumed run must share with its checkpoint (the optimizer only when it is not the default AdamW).</summary>
    public JsonObject Fingerprint()
    {
        var f = new JsonObject
        {
            ["epochs"] = Epochs, ["warmup_proportion"] = WarmupProportion, ["optimizer"] = Optimizer == "adamw" ? null : Optimizer,
            ["hidden_dropout"] = HiddenDropout, ["attention_dropout"] = AttentionDropout,
            ["group_by_length"] = GroupByLength, ["eval_every"] = EvalEvery,
            ["doc_stride"] = Squad.DocStride, ["max_query_length"] = Squad.MaxQueryLength,
            ["kd_alpha"] = TeacherDir is null ? null : KdAlpha, ["kd_temperature"] = TeacherDir is null ? null : KdTemperature,
            ["kd_layers"] = TeacherDir is null || KdLayers == 0 ? null : KdLayers,
        };
        AddSharedFingerprint(f);
        return f;
    }
}

/// <summary>What a fine-tuning run reports as it goes: phases "data", "train", "eval", "checkpoint", "done".</summary>
public sealed record FineTuneProgress : TrainingProgress
{
    public int Epoch { get; init; }
    public int Epochs { get; init; }
    public double Loss { get; init; }
    /// <summary>Training accuracy over the logging window (classification), else NaN.</summary>
    public double TrainAccuracy { get; init; } = double.NaN;
    public double ExamplesPerSecond { get; init; }
    public EvalMetrics? Eval { get; init; }
    public bool IsBest { get; init; }
}

/// <summary>What a finished run produced. <see cref="OutputDir"/> is a model folder holding the best checkpoint.</summary>
public sealed record FineTuneResult(string OutputDir, TaskInfo Task, long Steps, EvalMetrics? Best, long BestStep, EvalMetrics? Last,
    double SecondsTraining, double ExamplesPerSecond, bool Resumed, long ResumedFromStep, long Parameters);
