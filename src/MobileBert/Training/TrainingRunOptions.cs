using System.Text.Json.Nodes;
using MobileBert.Training.Optimizers;

namespace MobileBert.Training;

/// <summary>
/// The settings every training run shares (pre-training, distillation, fine-tuning; <see cref="TrainingHarness"/> reads
/// them). Defaults are pre-training's; a run's record changes the ones its recipe differs in. How long a run is and how
/// its warm-up is measured (steps, stages, epochs) is each run's own.
/// </summary>
public abstract record TrainingRunOptions
{
    /// <summary>Run folder: checkpoints, metrics.csv, curves.png and the final model folder.</summary>
    public required string OutputDir { get; init; }
    /// <summary>Sequences (or task features) per step.</summary>
    public int Batch { get; init; } = 16;
    /// <summary>Maximum sequence length (tokens incl. special tokens).</summary>
    public int Seq { get; init; } = 128;
    /// <summary>Peak learning rate (after warm-up; then linear decay to 0).</summary>
    public double Lr { get; init; } = 1e-3;
    /// <summary>"lamb" (the MobileBERT reference) or "adamw" (<see cref="OptimizerFactory"/>).</summary>
    public string Optimizer { get; init; } = "lamb";
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Global gradient-norm clipping (<see cref="GradientClipper"/>).</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Initialisation, batch order and dropout masks (<see cref="TrainingHarness.StepSeed"/>).</summary>
    public long Seed { get; init; } = 42;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>A metrics.csv row (and a progress report) every N steps.</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>An evaluation every N steps (0: only where the run always evaluates).</summary>
    public int EvalEvery { get; init; } = 200;
    /// <summary>A checkpoint every N steps (0: only at the ends of stages or epochs).</summary>
    public int CheckpointEvery { get; init; } = 200;
    /// <summary>Newest checkpoints kept.</summary>
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Continue from the newest complete checkpoint in <see cref="OutputDir"/>.</summary>
    public bool Resume { get; init; }

    /// <summary>Checks the shared settings; each message names the command-line option.</summary>
    protected void ValidateShared()
    {
        Positive(Batch, nameof(Batch)); Positive(Seq, nameof(Seq)); Positive(LogEvery, nameof(LogEvery));
        Positive(KeepCheckpoints, nameof(KeepCheckpoints));
        if (!(Lr > 0) || !double.IsFinite(Lr)) throw new SettingException($"Lr must be a positive number, got {Lr}.", nameof(Lr));
        OptimizerFactory.Check(Optimizer);
        if (Seq < 8) throw new SettingException($"Seq must be at least 8, got {Seq}.", nameof(Seq));
    }

    protected static void Positive(long value, string name)
    {
        if (value <= 0) throw new SettingException($"{name} must be positive, got {value}.", name);
    }

    /// <summary>Adds the shared settings that change the curve to a resume fingerprint.</summary>
    protected void AddSharedFingerprint(JsonObject f)
    {
        f["batch"] = Batch; f["seq"] = Seq; f["lr"] = Lr; f["weight_decay"] = WeightDecay; f["max_grad_norm"] = MaxGradNorm; f["seed"] = Seed;
    }
}
