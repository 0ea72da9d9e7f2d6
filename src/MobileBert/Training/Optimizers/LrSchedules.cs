namespace MobileBert.Training.Optimizers;

/// <summary>
/// A learning-rate schedule: a pure function of the step (0-based index of the optimizer step about to be taken; the
/// first step uses <c>At(0)</c>, as HF's LambdaLR and TF's global_step). No state, so resuming only needs the step.
/// </summary>
public abstract class LrSchedule
{
    public abstract double At(long step);

    /// <summary>Linear warm-up from 0 to <paramref name="peakLr"/> over <paramref name="warmupSteps"/>, then linear decay to
    /// <paramref name="endLr"/> at <paramref name="totalSteps"/> (HF get_linear_schedule_with_warmup when endLr = 0).</summary>
    public static WarmupPolynomialDecay Linear(double peakLr, long warmupSteps, long totalSteps, double endLr = 0) =>
        new(peakLr, warmupSteps, totalSteps, power: 1.0, endLr: endLr);

    public static ConstantSchedule Constant(double lr, long warmupSteps = 0) => new(lr, warmupSteps);

    static protected void CheckStep(long step) { if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Steps are ≥ 0."); }
    static protected void CheckLr(double lr, string name) { if (!double.IsFinite(lr)
        || lr < 0) throw new ArgumentOutOfRangeException(name, lr, "Learning rates must be finite and ≥ 0."); }
}

/// <summary>Constant learning rate, optionally after a linear warm-up (lr·step/warmup for step &lt; warmup).</summary>
public sealed class ConstantSchedule : LrSchedule
{
    public ConstantSchedule(double lr, long warmupSteps = 0)
    {
        CheckLr(lr, nameof(lr)); ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        Lr = lr; WarmupSteps = warmupSteps;
    }
    public double Lr { get; }
    public long WarmupSteps { get; }
    public override double At(long step)
    {
        CheckStep(step);
        return step < WarmupSteps ? Lr * step / WarmupSteps : Lr;
    }
}

/// <summary>
/// Linear warm-up then polynomial decay:
/// <code>
/// step &lt; warmup:  peak · step / warmup                                   (step 0 → 0, as HF and TF)
/// otherwise:       (peak − end) · (1 − f)^power + end,  f = min(1, progress)
///                  progress = (step − warmup) / (total − warmup)   (decayFromWarmupEnd, HF get_polynomial_decay_schedule_with_warmup)
///                           = step / total                         (otherwise: TF polynomial_decay over global_step, the BERT/MobileBERT reference)
/// step ≥ total:    end
/// </code>
/// power 1 is linear decay. The MobileBERT reference uses power 1, end = 1e-4 · peak, decayFromWarmupEnd false.
/// </summary>
public sealed class WarmupPolynomialDecay : LrSchedule
{
    public WarmupPolynomialDecay(double peakLr, long warmupSteps, long totalSteps, double power = 1.0, double endLr = 0.0,
        bool decayFromWarmupEnd = true)
    {
        CheckLr(peakLr, nameof(peakLr)); CheckLr(endLr, nameof(endLr));
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        if (totalSteps < warmupSteps || totalSteps <= 0) throw new ArgumentOutOfRangeException(
            nameof(totalSteps), totalSteps, $"totalSteps must be > 0 and ≥ warmupSteps ({warmupSteps}).");
        if (!double.IsFinite(power) || power <= 0) throw new ArgumentOutOfRangeException(nameof(power), power, "power must be finite and > 0.");
        PeakLr = peakLr; WarmupSteps = warmupSteps; TotalSteps = totalSteps; Power = power; EndLr = endLr; DecayFromWarmupEnd = decayFromWarmupEnd;
    }
    public double PeakLr { get; }
    public long WarmupSteps { get; }
    public long TotalSteps { get; }
    public double Power { get; }
    public double EndLr { get; }
    public bool DecayFromWarmupEnd { get; }

    public override double At(long step)
    {
        CheckStep(step);
        if (step < WarmupSteps) return PeakLr * step / WarmupSteps;
        if (step >= TotalSteps) return EndLr;
        double progress = DecayFromWarmupEnd ? (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps) : (double)step / TotalSteps;
        return (PeakLr - EndLr) * Math.Pow(1 - Math.Min(1, progress), Power) + EndLr;
    }
}

/// <summary>
/// Stage-wise training: each stage runs its own schedule from local step 0 for its number of steps (so warm-up restarts
/// at every stage boundary). Past the last stage, the last stage's schedule continues with its local step.
/// </summary>
public sealed class StagedSchedule : LrSchedule
{
    readonly (long Steps, LrSchedule Schedule)[] _stages;

    public StagedSchedule(params IEnumerable<(long Steps, LrSchedule Schedule)> stages)
    {
        _stages = [.. stages];
        if (_stages.Length == 0) throw new ArgumentException("At least one stage is needed.", nameof(stages));
        foreach (var (steps, schedule) in _stages)
        {
            if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(stages), steps, "Every stage needs > 0 steps.");
            ArgumentNullException.ThrowIfNull(schedule);
        }
    }

    /// <summary>The same schedule repeated: <paramref name="stages"/> stages of <paramref name="stepsPerStage"/> steps each.</summary>
    public static StagedSchedule Repeat(LrSchedule schedule, long stepsPerStage, int stages) =>
        new(Enumerable.Repeat((stepsPerStage, schedule), stages));

    public int StageCount => _stages.Length;

    /// <summary>Which stage a global step falls in, and the step local to that stage.</summary>
    public (int Stage, long LocalStep) Locate(long step)
    {
        CheckStep(step);
        for (int i = 0; i < _stages.Length - 1; i++)
        {
            if (step < _stages[i].Steps) return (i, step);
            step -= _stages[i].Steps;
        }
        return (_stages.Length - 1, step);
    }

    /// <summary>Global step at which stage <paramref name="stage"/> begins.</summary>
    public long StageStart(int stage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stage); ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(stage, _stages.Length);
        long s = 0;
        for (int i = 0; i < stage; i++) s += _stages[i].Steps;
        return s;
    }

    public override double At(long step)
    {
        var (stage, local) = Locate(step);
        return _stages[stage].Schedule.At(local);
    }
}

/// <summary>Restarts an inner schedule every <see cref="Period"/> steps: At(step) = inner.At(step mod period).</summary>
public sealed class RestartingSchedule : LrSchedule
{
    public RestartingSchedule(LrSchedule inner, long period)
    {
        ArgumentNullException.ThrowIfNull(inner); ArgumentOutOfRangeException.ThrowIfNegativeOrZero(period);
        Inner = inner; Period = period;
    }
    public LrSchedule Inner { get; }
    public long Period { get; }
    public override double At(long step) { CheckStep(step); return Inner.At(step % Period); }
}
