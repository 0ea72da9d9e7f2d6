using MobileBert.Model;
using MobileBert.Training.Optimizers;

namespace MobileBert.Distillation;

/// <summary>How knowledge is transferred (MobileBERT §3.5, Figure 3), plus the baseline without a teacher.</summary>
public enum DistillStrategy
{
    /// <summary>L stages, stage l trains student layer l on its FMT + AT losses (layer l ×3, earlier layers ×0.3 or
    /// frozen, later layers not updated, warm-up restarting each stage); then pre-training distillation (PD).</summary>
    Progressive,
    /// <summary>Stage 1: FMT + AT of all layers together; stage 2: PD.</summary>
    Joint,
    /// <summary>One stage: FMT + AT of all layers plus PD, summed.</summary>
    Auxiliary,
    /// <summary>No teacher: MLM + NSP from a random initialisation (the baseline of the knowledge-transfer experiment).</summary>
    Scratch,
}

/// <summary>What a stage optimises.</summary>
public enum StageKind
{
    /// <summary>Feature-map + attention transfer only (student embeddings and heads frozen, no heads run).</summary>
    LayerWise,
    /// <summary>Pre-training distillation: α·MLM + (1−α)·KD + NSP over the whole student (α = 1 without a teacher).</summary>
    Prediction,
    /// <summary>Layer-wise losses of all layers + PD.</summary>
    Auxiliary,
}

/// <summary>One stage of a plan: global steps [Start, Start + Steps).</summary>
/// <param name="Layers">Student layers whose layer-wise losses count (empty for PD and the embedding stage).</param>
/// <param name="Depth">Student layers that run forward/backward (progressive stage l: l + 1).</param>
/// <param name="EmbeddingLoss">The feature-map loss of hidden state 0 (the embedding output) counts too.</param>
/// <param name="TrainsEmbeddings">Layer-wise stages: the embedding tensors are trained (×1) instead of frozen.</param>
public sealed record DistillStage(int Index, string Name, StageKind Kind, long Start, long Steps, int[] Layers, int Depth, int? TrainedLayer,
    bool EmbeddingLoss = false, bool TrainsEmbeddings = false)
{
    public long End => Start + Steps;
    public bool HasLayerWise => Kind is StageKind.LayerWise or StageKind.Auxiliary;
    public bool HasPrediction => Kind is StageKind.Prediction or StageKind.Auxiliary;
}

/// <summary>
/// The stages of a strategy, their learning-rate schedule (every stage restarts its own linear warm-up and linear decay,
/// <see cref="StagedSchedule"/>) and the per-parameter learning-rate multipliers of each stage. Pure functions of the
/// options: a resumed run rebuilds the same plan.
/// </summary>
public sealed class DistillPlan
{
    public const double CurrentLayerMultiplier = 3.0, EarlierLayerMultiplier = 0.3;

    DistillPlan(DistillStrategy strategy, IReadOnlyList<DistillStage> stages, StagedSchedule schedule, bool freezeLower)
    {
        Strategy = strategy; Stages = stages; Schedule = schedule; FreezeLower = freezeLower;
    }

    public DistillStrategy Strategy { get; }
    public IReadOnlyList<DistillStage> Stages { get; }
    public StagedSchedule Schedule { get; }
    public bool FreezeLower { get; }
    public long TotalSteps => Stages[^1].End;

    /// <param name="stepsPerLayer">Progressive: steps of each layer stage. Joint: the layer-wise stage has L × this.
    /// Auxiliary: its one stage has L × this + <paramref name="pdSteps"/> (equal compute across strategies).</param>
    /// <param name="warmupFraction">Each stage warms up linearly over this fraction of its steps, then decays linearly to 0.</param>
    /// <param name="embeddingSteps">&gt; 0 when the student's embedding is not a copy of the teacher's (a plain BERT teacher):
    /// a first stage trains only the student's embedding tensors on the feature-map loss of hidden state 0, and the later
    /// all-layer stages keep that loss (every strategy gets the same embedding stage, so their step counts stay equal).</param>
    /// <param name="teacherPredicts">false when the teacher has no MLM head (sentence-transformers models): PD is replaced by
    /// a stage of the same length that trains every backbone tensor on the layer-wise losses of all layers (and hidden
    /// state 0 with an embedding stage); auxiliary becomes that stage alone.</param>
    public static DistillPlan Create(DistillStrategy strategy, int studentLayers, long stepsPerLayer, long pdSteps, double lr,
        double warmupFraction = 0.1,
        bool freezeLower = false, long embeddingSteps = 0, bool teacherPredicts = true)
    {
        if (studentLayers <= 0) throw new ArgumentException("The student needs at least one layer.");
        if (stepsPerLayer < 0 || pdSteps < 0 || embeddingSteps < 0) throw new ArgumentException("Step counts must be ≥ 0.");
        if (!(warmupFraction >= 0 && warmupFraction <= 1)) throw new SettingException($"WarmupFraction must be in [0, 1], got {warmupFraction}.",
            "WarmupFraction");
        int L = studentLayers;
        int[] all = [.. Enumerable.Range(0, L)];
        var stages = new List<DistillStage>();
        long start = 0;
        bool embedding = embeddingSteps > 0 && strategy != DistillStrategy.Scratch;
        void Add(string name, StageKind kind, long steps, int[] layers, int depth, int? trained, bool embLoss = false, bool trainsEmb = false)
        {
            if (steps <= 0) return;
            stages.Add(new DistillStage(stages.Count, name, kind, start, steps, layers, depth, trained, embLoss, trainsEmb));
            start += steps;
        }
        // The last stage: PD, or (no teacher MLM head) all-layer feature transfer with every backbone tensor trained.
        void Final(long steps)
        {
            if (teacherPredicts) Add("pd", StageKind.Prediction, steps, [], L, null);
            else Add("all layers", StageKind.LayerWise, steps, all, L, null, embedding, trainsEmb: true);
        }
        if (embedding) Add("embedding", StageKind.LayerWise, embeddingSteps, [], 1, null, embLoss: true, trainsEmb: true);
        switch (strategy)
        {
            case DistillStrategy.Progressive:
                for (int l = 0; l < L; l++) Add($"layer {l}", StageKind.LayerWise, stepsPerLayer, [l], l + 1, l);
                Final(pdSteps);
                break;
            case DistillStrategy.Joint:
                Add("joint layer-wise", StageKind.LayerWise, stepsPerLayer * L, all, L, null, embedding);
                Final(pdSteps);
                break;
            case DistillStrategy.Auxiliary:
                if (teacherPredicts) Add("auxiliary", StageKind.Auxiliary, stepsPerLayer * L + pdSteps, all, L, null, embedding);
                else Add("auxiliary", StageKind.LayerWise, stepsPerLayer * L + pdSteps, all, L, null, embedding, trainsEmb: true);
                break;
            case DistillStrategy.Scratch:
                Add("scratch", StageKind.Prediction, stepsPerLayer * L + pdSteps, [], L, null);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(strategy));
        }
        if (stages.Count == 0) throw new SettingException("The plan has no steps: raise StepsPerLayer or PdSteps.", "StepsPerLayer", "PdSteps");
        var schedule = new StagedSchedule(stages.Select(s => (s.Steps, (LrSchedule)LrSchedule.Linear(lr, (long)Math.Ceiling(warmupFraction * s.Steps),
            s.Steps))));
        return new DistillPlan(strategy, stages, schedule, freezeLower);
    }

    public DistillStage StageAt(long step) => Stages[Schedule.Locate(step).Stage];

    /// <summary>
    /// The learning-rate multiplier of a (full-student) parameter in a stage; 0 = not updated (frozen, or its layer does
    /// not run in this stage). Layer-wise stages: embeddings, pooler and heads 0 (embeddings ×1 in a stage that trains
    /// them); the embedding stage: encoder layers 0; progressive stage l: layer l ×3, earlier layers ×0.3 (0 with
    /// FreezeLower), later layers 0; joint: every layer ×1. PD, auxiliary and scratch: everything ×1.
    /// </summary>
    public double Multiplier(DistillStage stage, string parameterName)
    {
        int layer = EncoderLayerOf(parameterName);
        if (stage.Kind != StageKind.LayerWise) return 1.0;
        if (layer < 0) return stage.TrainsEmbeddings && IsEmbedding(parameterName) ? 1.0 : 0.0;
        if (stage.Layers.Length == 0) return 0.0;
        if (stage.TrainedLayer is not int t) return 1.0;
        if (layer == t) return CurrentLayerMultiplier;
        if (layer < t) return FreezeLower ? 0.0 : EarlierLayerMultiplier;
        return 0.0;
    }

    static bool IsEmbedding(string name) => name.Contains("embeddings.", StringComparison.Ordinal);

    static readonly System.Text.RegularExpressions.Regex LayerIndex = new(@"(?:^|\.)encoder\.layer\.(\d+)\.",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>Encoder layer of a parameter name ("…encoder.layer.{l}.…"), −1 outside the encoder layers (as <see
    /// cref="ParameterSelector.EncoderLayerOf"/>).</summary>
    public static int EncoderLayerOf(string name)
    {
        var m = LayerIndex.Match(name);
        return m.Success ? int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    /// <summary>The learning rate a parameter of the full student gets at a global step (schedule × multiplier).</summary>
    public double LearningRate(long step, string parameterName) => Schedule.At(step) * Multiplier(StageAt(step), parameterName);

    /// <summary>Sets the optimizer groups of a stage's model (its store may be a truncated student).</summary>
    public void Configure(DistillStage stage, ParameterGroups groups)
    {
        groups.ResetLrAndFreezing();
        for (int i = 0; i < groups.Count; i++)
        {
            double m = Multiplier(stage, groups.Store.Parameters[i].Name);
            groups[i] = groups[i] with { LrMultiplier = m == 0 ? 1.0 : m, Frozen = m == 0 };
        }
    }

    /// <summary>Student model heads a stage needs.</summary>
    public static ModelHeads HeadsOf(DistillStage stage) => stage.HasPrediction ? ModelHeads.Pretraining : ModelHeads.None;
}
