using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Training;
using MobileBert.Training.Pretraining;
using Xunit;

namespace MobileBert.Tests.Training;

public class PretrainingRunTests
{
    /// <summary>A ~60 KB slice of a bundled novel: enough documents for NSP and a held-out split, fast to shard.</summary>
    internal static string SmallCorpus()
    {
        var dir = TestPaths.NewTempDir();
        var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "data", "corpus", "austen", "persuasion.txt"));
        File.WriteAllText(Path.Combine(dir, "slice.txt"), text[..60_000]);
        return dir;
    }

    internal static PretrainOptions Options(string corpus, string outDir, bool resume = false) => new()
    {
        Config = Presets.MobileBertMicro(), Data = [corpus], OutputDir = outDir, VocabPath = TestPaths.Vocab,
        Steps = 24, Batch = 4, Seq = 32, Lr = 2e-3, Warmup = 4, Seed = 7, Threads = 2,
        LogEvery = 4, EvalEvery = 8, EvalBatches = 2, CheckpointEvery = 8, KeepCheckpoints = 2, DupeFactor = 2, HeldOutFraction = 0.1,
            Resume = resume,
    };

    [Fact]
    public void KilledRunResumesToTheSameWeightsAndCurve()
    {
        var corpus = SmallCorpus();
        var straight = TestPaths.NewTempDir();
        var a = PretrainingRun.Run(Options(corpus, straight));
        Assert.Equal(24, a.Steps);

        // Same run, "killed" after step 12 (checkpoint at 8 exists), then resumed.
        var broken = TestPaths.NewTempDir();
        using (var cts = new CancellationTokenSource())
        {
            Assert.Throws<OperationCanceledException>(() => PretrainingRun.Run(
                Options(corpus, broken), p => { if (p.Step >= 12) cts.Cancel(); }, cts.Token));
        }
        Assert.Equal(8, new RunDirectory(broken, 2).Latest()!.Value.Step);
        Assert.Throws<SettingException>(() => PretrainingRun.Run(Options(corpus, broken)));   // refuses to overwrite without Resume
        var b = PretrainingRun.Run(Options(corpus, broken, resume: true));
        Assert.True(b.Resumed); Assert.Equal(8, b.ResumedFromStep);

        var wa = ModelFolder.Load(straight).Store.Data;
        var wb = ModelFolder.Load(broken).Store.Data;
        Assert.Equal(wa, wb);                                                     // bit-identical weights
        var ma = MetricsLog.Load(Path.Combine(straight, PretrainingRun.MetricsFile));
        var mb = MetricsLog.Load(Path.Combine(broken, PretrainingRun.MetricsFile));
        Assert.Equal(ma.Series("loss", out var sa), mb.Series("loss", out var sb));
        Assert.Equal(sa, sb);
        Assert.Equal(ma.Series("eval_mlm_acc", out _), mb.Series("eval_mlm_acc", out _));
        Assert.True(File.Exists(Path.Combine(broken, PretrainingRun.CurvesFile)));
        Assert.Equal(2, new RunDirectory(broken, 2).List().Count);               // keeps the last K
    }

    [Fact]
    public void ResumeWithDifferentSettingsIsRefusedNamingTheField()
    {
        var corpus = SmallCorpus();
        var dir = TestPaths.NewTempDir();
        PretrainingRun.Run(Options(corpus, dir) with { Steps = 8 });
        var e = Assert.Throws<ArgumentException>(() => PretrainingRun.Run(Options(corpus, dir, resume: true) with { Steps = 8, Batch = 8 }));
        Assert.Contains("'batch'", e.Message);
    }

    [Fact]
    public void LossGoesDownAndTheOutputIsAModelFolder()
    {
        var corpus = SmallCorpus();
        var dir = TestPaths.NewTempDir();
        var r = PretrainingRun.Run(Options(corpus, dir) with { Steps = 60, Lr = 5e-3, EvalEvery = 60, CheckpointEvery = 60 });
        var log = MetricsLog.Load(Path.Combine(dir, PretrainingRun.MetricsFile));
        var loss = log.Series("loss", out _);
        Assert.True(loss[^1] < loss[0] - 1.0, $"training loss {loss[0]:F3} → {loss[^1]:F3} should fall by > 1 nat");
        var model = ModelFolder.Load(dir);
        Assert.Equal(ModelHeads.Pretraining, model.Heads);
        Assert.True(File.Exists(Path.Combine(dir, "vocab.txt")));
        Assert.InRange(r.FinalEval.NspAccuracy, 0, 1);
    }

    [Fact]
    public void DivergenceStopsWithTheStepNamed()
    {
        var corpus = SmallCorpus();
        var dir = TestPaths.NewTempDir();
        var e = Assert.Throws<TrainingDivergedException>(() => PretrainingRun.Run(
            Options(corpus, dir) with { Lr = 1e30, Warmup = 0, Optimizer = "adamw", MaxGradNorm = double.PositiveInfinity }));
        Assert.Matches(@"step \d+", e.Message);
    }

    [Fact]
    public void BadCorpusPathIsAClearError()
    {
        var dir = TestPaths.NewTempDir();
        var e = Assert.ThrowsAny<Exception>(() => PretrainingRun.Run(Options(Path.Combine(dir, "missing"), Path.Combine(dir, "out"))));
        Assert.Contains("missing", e.Message);
    }
}
