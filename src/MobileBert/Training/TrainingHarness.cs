using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Model;
using MobileBert.Reporting;
using MobileBert.Training.Optimizers;
using MobileBert.Training.Pretraining;

namespace MobileBert.Training;

/// <summary>The checkpoint a run resumes from: its folder, its trainer_state.json and its step.</summary>
public sealed record ResumePoint(string Path, JsonObject State, long Step);

/// <summary>What the harness passes a run at a logging step: the window since the last row.</summary>
/// <param name="Step">Steps done (1-based: the step just trained).</param>
/// <param name="Seconds">Wall time of the window.</param>
/// <param name="WindowSteps">Steps in the window.</param>
/// <param name="Items">Tokens or examples the window's steps reported.</param>
/// <param name="Evaluate">Whether this row carries an evaluation.</param>
public readonly record struct LogWindow(long Step, long Steps, double Seconds, long WindowSteps, long Items, bool Evaluate)
{
    public double ItemsPerSecond => Items / Math.Max(1e-9, Seconds);
    public TimeSpan Eta => TimeSpan.FromSeconds(Seconds / WindowSteps * (Steps - Step));
}

/// <summary>The curves.png of a run: title, panels (title → metrics.csv columns), and for staged runs the stage names.</summary>
public sealed record CurveSpec(string Title, IReadOnlyList<(string Title, string[] Columns)> Panels, PlotOptions? Options = null,
    IReadOnlyList<string>? StageNames = null);

/// <summary>What a run supplies to <see cref="TrainingHarness.Train"/>: its step, its metrics row (and evaluation), its checkpoint.</summary>
public sealed record TrainingLoop
{
    /// <summary>Total steps of the run.</summary>
    public required long Steps { get; init; }
    /// <summary>Trains the batch of 0-based step s; returns the tokens (or examples) it processed, for the throughput.</summary>
    public required Func<long, long> Step { get; init; }
    /// <summary>Whether step s (1-based) ends a stage or epoch: always logged and checkpointed. The last step always is.</summary>
    public Func<long, bool>? PeriodEnd { get; init; }
    /// <summary>Evaluate at every period end (fine-tuning: every epoch); otherwise at the last step and every EvalEvery steps.</summary>
    public bool EvaluateAtPeriodEnds { get; init; }
    /// <summary>false: never evaluate (a task without a dev set).</summary>
    public bool CanEvaluate { get; init; } = true;
    /// <summary>The window's metrics.csv row; runs the evaluation when <see cref="LogWindow.Evaluate"/> and reports progress.</summary>
    public required Func<LogWindow, Dictionary<string, double>> Log { get; init; }
    /// <summary>Writes the checkpoint's files into the (temporary) folder; returns the trainer_state.json fields besides step and
    /// fingerprint.</summary>
    public required Func<string, JsonObject> Save { get; init; }
    /// <summary>Called with (step, folder) once a checkpoint is published.</summary>
    public Action<long, string>? Saved { get; init; }
}

/// <summary>
/// The skeleton every training run shares (pre-training, distillation, fine-tuning): the run folder and its atomic
/// checkpoints (<see cref="RunDirectory"/>: cleaned of what a killed run left, newest <c>KeepCheckpoints</c> kept), the
/// resume fingerprint (written into every checkpoint's trainer_state.json, checked on <c>--resume</c> naming the first
/// setting that differs), resume from the newest complete checkpoint with its metrics.csv rows, the log / evaluation /
/// checkpoint cadence, metrics.csv and curves.png, throughput and ETA. The run supplies what differs
/// (<see cref="TrainingLoop"/>): the step, the row and evaluation, the checkpoint's files.
/// </summary>
public sealed class TrainingHarness
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    readonly TrainingRunOptions _o;
    readonly RunDirectory _runDir;
    readonly JsonObject _fingerprint;
    readonly CurveSpec _curves;
    readonly Stopwatch _window = new();

    TrainingHarness(TrainingRunOptions o, RunDirectory runDir, JsonObject fingerprint, CurveSpec curves, ResumePoint? resume, MetricsLog metrics)
    {
        _o = o; _runDir = runDir; _fingerprint = fingerprint; _curves = curves;
        Resume = resume; Metrics = metrics; Step = ResumedFrom = resume?.Step ?? 0;
    }

    /// <summary>The checkpoint resumed from (null: a fresh run).</summary>
    public ResumePoint? Resume { get; }
    public MetricsLog Metrics { get; }
    /// <summary>Steps done.</summary>
    public long Step { get; private set; }
    public long ResumedFrom { get; }
    /// <summary>Wall time of the logged windows (checkpoints and set-up excluded).</summary>
    public double TrainSeconds { get; private set; }

    /// <summary>Opens the run folder: removes what a killed run left, refuses existing checkpoints without
    /// <see cref="TrainingRunOptions.Resume"/>, and with it reads the newest checkpoint's state, checks
    /// <paramref name="fingerprint"/> against it and restores the curve up to its step.</summary>
    public static TrainingHarness Open(TrainingRunOptions o, JsonObject fingerprint, CurveSpec curves)
    {
        var runDir = new RunDirectory(o.OutputDir, o.KeepCheckpoints);
        runDir.CleanStale();
        var latest = runDir.Latest();
        if (latest is not null && !o.Resume)
            throw new SettingException($"{o.OutputDir} already has checkpoints (latest {Path.GetFileName(latest.Value.Path)}); set Resume " +
                "to continue it or choose another OutputDir.", nameof(o.Resume), nameof(o.OutputDir));
        if (latest is not { } ck) return new TrainingHarness(o, runDir, fingerprint, curves, null, new MetricsLog());
        string statePath = Path.Combine(ck.Path, RunDirectory.StateFile);
        var state = JsonNode.Parse(File.ReadAllText(statePath)) as JsonObject
            ?? throw new InvalidDataException($"{statePath}: not a JSON object.");
        var saved = state["fingerprint"] as JsonObject ?? throw new InvalidDataException($"{statePath}: cannot resume: no 'fingerprint'.");
        RunDirectory.CheckFingerprint(fingerprint, saved, statePath);
        long step = state["step"]?.GetValue<long>() ?? throw new InvalidDataException($"{statePath}: cannot resume: no 'step'.");
        return new TrainingHarness(o, runDir, fingerprint, curves, new ResumePoint(ck.Path, state, step), runDir.LoadMetrics(ck.Path, step));
    }

    /// <summary>Runs <paramref name="loop"/> from <see cref="Step"/> to its last step: after each step a metrics row when
    /// a log or evaluation is due (every LogEvery steps, at period ends; evaluations every EvalEvery steps and at the end or
    /// every period end), then a checkpoint when due (every CheckpointEvery steps, at period ends).</summary>
    public void Train(TrainingLoop loop, CancellationToken cancel = default)
    {
        long windowSteps = 0, items = 0;
        _window.Restart();
        while (Step < loop.Steps)
        {
            cancel.ThrowIfCancellationRequested();
            items += loop.Step(Step);
            Step++; windowSteps++;
            bool end = Step == loop.Steps, periodEnd = end || loop.PeriodEnd?.Invoke(Step) == true;
            bool evaluate = loop.CanEvaluate && (Every(_o.EvalEvery) || (loop.EvaluateAtPeriodEnds ? periodEnd : end));
            if (Every(_o.LogEvery) || periodEnd || evaluate)
            {
                double seconds = _window.Elapsed.TotalSeconds;
                TrainSeconds += seconds;
                Metrics.Add(Step, loop.Log(new LogWindow(Step, loop.Steps, seconds, windowSteps, items, evaluate)));
                windowSteps = items = 0;
                _window.Restart();
            }
            if (Every(_o.CheckpointEvery) || periodEnd)
            {
                Checkpoint(loop);
                _window.Restart();
            }
        }
    }

    bool Every(int n) => n > 0 && Step % n == 0;

    /// <summary>Excludes the time since the last report from the window's throughput (a run's set-up between steps).</summary>
    public void RestartClock() => _window.Restart();

    void Checkpoint(TrainingLoop loop)
    {
        long step = Step;
        string path = _runDir.Save(step, dir =>
        {
            var fields = loop.Save(dir);
            var state = new JsonObject { ["step"] = step };
            foreach (var (key, value) in fields) state[key] = value?.DeepClone();
            state["fingerprint"] = _fingerprint.DeepClone();
            File.WriteAllText(Path.Combine(dir, RunDirectory.StateFile), state.ToJsonString(Indented));
        }, Metrics);
        SaveCurves();
        loop.Saved?.Invoke(step, path);
    }

    /// <summary>Writes OUT/metrics.csv and draws OUT/curves.png.</summary>
    public void SaveCurves()
    {
        Metrics.Save(Path.Combine(_o.OutputDir, RunDirectory.MetricsFile));
        Metrics.Plot(Path.Combine(_o.OutputDir, RunDirectory.CurvesFile), _curves.Title, _curves.Panels, _curves.Options, _curves.StageNames);
    }

    /// <summary>Dropout seed of a step: a pure function of (run seed, step), so a resumed run draws the same masks.</summary>
    public static ulong StepSeed(long seed, long step) => (ulong)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)step
        + 0x632BE59BD9B4E019UL) * 0xBF58476D1CE4E5B9UL;

    /// <summary>The end of every step: zero the gradients, backward from <paramref name="gradients"/>, clip the global norm
    /// (NaN/Inf → <see cref="TrainingDivergedException"/> naming the step and tensor), update. Returns the norm before clipping.</summary>
    public static double BackwardAndUpdate(MobileBertModel model, ModelOutput output, OutputGradients gradients, Optimizer optimizer,
        double maxGradNorm, double lr, long stepNumber)
    {
        model.ZeroGrad();
        model.Backward(output, gradients);
        double norm;
        try { norm = GradientClipper.ClipGlobalNorm(model.Store, maxGradNorm, optimizer.Groups, threads: model.Threads).Norm; }
        catch (NonFiniteGradientException e)
        {
            throw new TrainingDivergedException($"step {stepNumber}: gradient of '{e.ParameterName}' is {e.Value} at element {e.Index}; " +
                "stopped, the last checkpoint is kept.");
        }
        optimizer.Step(lr);
        return norm;
    }
}
