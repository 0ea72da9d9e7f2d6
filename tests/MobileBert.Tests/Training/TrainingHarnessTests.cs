using System.Text.Json.Nodes;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.Training;

/// <summary>The harness's cadence, retention and resume on a loop without a model (a step adds its index to a running sum).</summary>
public class TrainingHarnessTests
{
    sealed record Options : TrainingRunOptions;

    static readonly CurveSpec Curves = new("test", [("Sum", ["sum"])]);

    /// <summary>Runs 12 steps with a period end at step 6, stopping (like a kill) before step <paramref name="stopAt"/>.</summary>
    static (TrainingHarness Harness, List<(long Step, bool Eval)> Rows, List<long> Saves) Run(Options o, long stopAt = long.MaxValue)
    {
        var h = TrainingHarness.Open(o, new JsonObject { ["lr"] = o.Lr }, Curves);
        long sum = h.Resume?.State["sum"]!.GetValue<long>() ?? 0;
        List<(long, bool)> rows = []; List<long> saves = [];
        using var cts = new CancellationTokenSource();
        var loop = new TrainingLoop
        {
            Steps = 12, PeriodEnd = s => s == 6,
            Step = s => { if (s + 1 >= stopAt) cts.Cancel(); sum += s; return 10; },
            Log = w => { rows.Add((w.Step, w.Evaluate)); return new Dictionary<string, double> { ["sum"] = sum, ["items"] = w.Items }; },
            Save = dir => new JsonObject { ["sum"] = sum },
            Saved = (s, _) => saves.Add(s),
        };
        try { h.Train(loop, cts.Token); } catch (OperationCanceledException) { }
        return (h, rows, saves);
    }

    [Fact]
    public void LogsEvaluatesAndCheckpointsOnTheCadenceKeepingTheNewest()
    {
        var o = new Options { OutputDir = TestPaths.NewTempDir(), LogEvery = 4, EvalEvery = 5, CheckpointEvery = 5, KeepCheckpoints = 2 };
        var (h, rows, saves) = Run(o);
        // The period end (6) logs and saves; evaluations every 5 steps and at the end only.
        Assert.Equal(new (long, bool)[] { (4, false), (5, true), (6, false), (8, false), (10, true), (12, true) }, rows);
        Assert.Equal(new long[] { 5, 6, 10, 12 }, saves);
        Assert.Equal(new long[] { 10, 12 }, new RunDirectory(o.OutputDir, 2).List().Select(c => c.Step));
        Assert.Equal(12, h.Step);
        Assert.Equal(40, h.Metrics.Series("items", out _)[0]);                                  // 4 steps × 10 items
        Assert.True(File.Exists(Path.Combine(o.OutputDir, RunDirectory.MetricsFile)));
        Assert.True(File.Exists(Path.Combine(o.OutputDir, RunDirectory.CurvesFile)));
    }

    [Fact]
    public void AKilledRunResumesFromTheNewestCheckpointOnTheSameCurve()
    {
        var straight = new Options { OutputDir = TestPaths.NewTempDir(), LogEvery = 2, CheckpointEvery = 4 };
        Run(straight);
        var broken = straight with { OutputDir = TestPaths.NewTempDir() };
        Run(broken, stopAt: 7);                                                                         // killed after step 6 (checkpoint at 6)
        var e = Assert.Throws<SettingException>(() => Run(broken));
        Assert.Contains("set Resume", e.Message);
        Assert.Contains("set --resume", MobileBert.Cli.CliFlags.Message(e));
        var (h, _, saves) = Run(broken with { Resume = true });
        Assert.Equal((6L, 6L), (h.ResumedFrom, h.Resume!.Step));
        Assert.Equal(new long[] { 8, 12 }, saves);
        static IEnumerable<string> Curve(string dir) =>
            File.ReadAllLines(Path.Combine(dir, RunDirectory.MetricsFile)).Select(l => string.Join(",", l.Split(',').Take(2)));   // step, sum
        Assert.Equal(Curve(straight.OutputDir), Curve(broken.OutputDir));
    }

    [Fact]
    public void ResumeIsRefusedNamingTheChangedSettingOrTheBrokenStateFile()
    {
        var o = new Options { OutputDir = TestPaths.NewTempDir(), CheckpointEvery = 4 };
        Run(o);
        var e = Assert.Throws<ArgumentException>(() => Run(o with { Resume = true, Lr = 0.5 }));
        Assert.Contains("cannot resume: 'lr' was 0.001 in the checkpoint but is 0.5 now", e.Message);

        var state = Path.Combine(new RunDirectory(o.OutputDir, 2).Latest()!.Value.Path, RunDirectory.StateFile);
        File.WriteAllText(state, """{"step": 12}""");
        var bad = Assert.Throws<InvalidDataException>(() => Run(o with { Resume = true }));
        Assert.Equal($"{state}: cannot resume: no 'fingerprint'.", bad.Message);
    }
}
