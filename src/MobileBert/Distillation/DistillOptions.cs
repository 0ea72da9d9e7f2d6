using System.Text.Json.Nodes;
using MobileBert.Model;
using MobileBert.Training;
using MobileBert.Training.Pretraining;

namespace MobileBert.Distillation;

/// <summary>Settings of a knowledge-transfer run (teacher → student), or of the from-scratch baseline; the shared ones are in
/// <see cref="CorpusRunOptions"/> and <see cref="TrainingRunOptions"/>.</summary>
public sealed record DistillOptions : CorpusRunOptions
{
    public DistillOptions() { Batch = 8; }

    /// <summary>Teacher model folder (config.json + model.safetensors with the MLM head). Not used by
    /// <see cref="DistillStrategy.Scratch"/>.</summary>
    public string? TeacherDir { get; init; }
    public required MobileBertConfig StudentConfig { get; init; }
    public DistillStrategy Strategy { get; init; } = DistillStrategy.Progressive;
    public int StepsPerLayer { get; init; } = 100;
    /// <summary>Steps of the embedding stage, which runs when the student's embedding cannot be copied from the teacher (a plain
    /// BERT teacher); null = <see cref="StepsPerLayer"/>.</summary>
    public int? EmbeddingSteps { get; init; }
    public int PdSteps { get; init; } = 100;
    /// <summary>Warm-up as a fraction of each stage (restarts at every stage).</summary>
    public double WarmupFraction { get; init; } = 0.1;
    /// <summary>Seed of the pre-training shards (masking, NSP pairs, held-out split); the same value as the teacher's
    /// pre-training run reuses its shards (see <see cref="DataDir"/>). <see cref="TrainingRunOptions.Seed"/> seeds the
    /// student initialisation, dropout masks and batch order.</summary>
    public long DataSeed { get; init; } = 42;
    /// <summary>Where the shards are built or reused (default OUT/data).</summary>
    public string? DataDir { get; init; }
    public bool FreezeLower { get; init; }
    /// <summary>LayerNorm teacher → NoNorm student: re-fit the student's embedding NoNorm γ/β to the teacher's embedding
    /// LayerNorm on training data instead of keeping the copied γ/β (<see cref="StudentInit.FitEmbeddingNorm"/>). On by
    /// default: without it the student's embedding output is orders of magnitude smaller than the teacher's.</summary>
    public bool FitEmbeddingNorm { get; init; } = true;
    /// <summary>A plain BERT teacher and a narrower trigram student: initialise the student's word embedding and transformation
    /// from the teacher's table (<see cref="EmbeddingProjection"/>) instead of randomly; the embedding stage trains either.</summary>
    public bool ProjectEmbeddings { get; init; } = true;
    public LossWeights Weights { get; init; } = new();
    /// <summary>"s:t,…" pairs or a list of teacher layers; null = <see cref="LayerMap.Default"/>.</summary>
    public string? LayerMapSpec { get; init; }
    /// <summary>Student dropout during transfer. The reference runs the student with is_training = False during
    /// distillation (no dropout), so the default is off.</summary>
    public bool Dropout { get; init; }

    public void Validate()
    {
        ValidateCorpusRun();
        if (StepsPerLayer < 0) throw new SettingException($"StepsPerLayer must be ≥ 0, got {StepsPerLayer}.", nameof(StepsPerLayer));
        if (EmbeddingSteps < 0) throw new SettingException($"EmbeddingSteps must be ≥ 0, got {EmbeddingSteps}.", nameof(EmbeddingSteps));
        if (PdSteps < 0) throw new SettingException($"PdSteps must be ≥ 0, got {PdSteps}.", nameof(PdSteps));
        if (Seq > StudentConfig.MaxPositionEmbeddings) throw new SettingException(
            $"Seq {Seq} exceeds the student's max_position_embeddings = {StudentConfig.MaxPositionEmbeddings}.", nameof(Seq));
        if (Strategy != DistillStrategy.Scratch && string.IsNullOrEmpty(TeacherDir))
            throw new SettingException("TeacherDir is required for the progressive, joint and auxiliary strategies.", nameof(TeacherDir));
        Weights.Validate();
        StudentConfig.Validate();
    }

    /// <summary>The settings a resumed run must share with its checkpoint.</summary>
    public JsonObject Fingerprint(MobileBertConfig? teacherConfig)
    {
        var teacherWeights = TeacherDir is null ? null
            : new FileInfo(Checkpoints.ModelFolder.WeightsPathOf(TeacherDir) ?? Path.Combine(TeacherDir, Checkpoints.ModelFolder.WeightsFile));
        var fingerprint = new JsonObject
        {
            ["student_config"] = JsonNode.Parse(ConfigJson.ToJson(StudentConfig)),
            ["teacher_config"] = teacherConfig is null ? null : JsonNode.Parse(ConfigJson.ToJson(teacherConfig)),
            ["teacher_weights_bytes"] = teacherWeights is { Exists: true } ? teacherWeights.Length : null,
            ["strategy"] = Strategy.ToString().ToLowerInvariant(), ["steps_per_layer"] = StepsPerLayer, ["pd_steps"] = PdSteps,
            ["embedding_steps"] = EmbeddingSteps, ["warmup_fraction"] = WarmupFraction, ["data_seed"] = DataSeed,
            ["freeze_lower"] = FreezeLower, ["fit_embedding_norm"] = FitEmbeddingNorm, ["project_embeddings"] = ProjectEmbeddings,
            ["weights"] = new JsonObject
            {
                ["fmt"] = Weights.FeatureMap, ["mean"] = Weights.Mean, ["var"] = Weights.Variance, ["at"] = Weights.Attention,
                ["alpha"] = Weights.Alpha, ["temperature"] = Weights.Temperature,
            },
            ["layer_map"] = LayerMapSpec, ["dropout"] = Dropout,
        };
        AddCorpusFingerprint(fingerprint);
        return fingerprint;
    }
}

/// <summary>What a distillation run reports as it goes: phases "setup", "data", "stage", "train", "eval", "checkpoint", "done".</summary>
public sealed record DistillProgress : TrainingProgress
{
    public DistillStage? Stage { get; init; }
    public int StageCount { get; init; }
    public long StageStep { get; init; }
    /// <summary>Window averages of the loss terms (total, fmt_mse, fmt_mean, fmt_var, at, mlm, kd, nsp, mlm_acc, nsp_acc).</summary>
    public IReadOnlyDictionary<string, double>? Terms { get; init; }
    public double TokensPerSecond { get; init; }
    public EvalResult? Eval { get; init; }
    /// <summary>Held-out feature-map and attention losses against the teacher (at evaluations; null without a teacher).</summary>
    public TransferEval? Transfer { get; init; }
}

/// <summary>What a finished run produced.</summary>
/// <param name="FinalEval">Held-out MLM/NSP metrics of the student (null when it has no MLM head: a teacher without one).</param>
public sealed record DistillResult(string OutputDir, long Steps, EvalResult? FinalEval, double SecondsTraining, bool Resumed, long ResumedFromStep,
    long StudentParameters)
{
    /// <summary>Held-out feature-map and attention losses against the teacher (null without a teacher).</summary>
    public TransferEval? FinalTransfer { get; init; }
    /// <summary>Whether the plan ended with pre-training distillation (false: the teacher has no MLM head).</summary>
    public bool PredictionDistillation { get; init; } = true;
    /// <summary>Whether the plan began with the embedding stage (the student's embedding was not copied).</summary>
    public bool EmbeddingStage { get; init; }
}
