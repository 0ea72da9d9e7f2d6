using MobileBert.FineTuning;
using MobileBert.Tasks.Classification;
using MobileBert.Tests.FineTuning;
using MobileBert.Tests.Training;
using MobileBert.Training;
using MobileBert.Training.Pretraining;
using Xunit;

namespace MobileBert.Tests.Hardening;

/// <summary>
/// A run killed between writing a checkpoint and its curve, or while deleting an old checkpoint, resumes on the same loss
/// curve and leaves no debris. The kill is simulated by making ROOT/metrics.csv a folder, so saving the curve fails at
/// the first checkpoint: the checkpoint must not be published ahead of its curve.
/// </summary>
public class RunDurabilityTests
{
    static PretrainOptions Pretrain(string corpus, string outDir, bool resume = false) => PretrainingRunTests.Options(corpus, outDir, resume) with
    {
        Steps = 16, LogEvery = 2, EvalBatches = 1, CheckpointEvery = 4, DupeFactor = 1,
    };

    /// <summary>Leaves what a killed run leaves: temp files of the curve and of best/, a half-deleted checkpoint in the trash, a temp
    /// checkpoint.</summary>
    static void PlantDebris(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "checkpoints", ".trash-step-0000001-0123"));
        File.WriteAllText(Path.Combine(root, "checkpoints", ".trash-step-0000001-0123", "config.json"), "{}");
        Directory.CreateDirectory(Path.Combine(root, "checkpoints", ".tmp-step-0000099-abcd"));
        File.WriteAllText(Path.Combine(root, "metrics.csv.tmp-0a1b"), "step\n");
        Directory.CreateDirectory(Path.Combine(root, "best.tmp-0a1b"));
    }

    static void AssertNoDebris(string root)
    {
        Assert.DoesNotContain(Directory.GetFileSystemEntries(root), p => Path.GetFileName(p).Contains(".tmp-")
            || Path.GetFileName(p).StartsWith(".trash-"));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.Combine(root, "checkpoints")), p => !Path.GetFileName(p).StartsWith("step-"));
    }

    [Fact]
    public void PretrainingNeverPublishesACheckpointAheadOfItsCurve()
    {
        var corpus = PretrainingRunTests.SmallCorpus();
        var straight = TestPaths.NewTempDir();
        PretrainingRun.Run(Pretrain(corpus, straight));

        var broken = TestPaths.NewTempDir();
        Directory.CreateDirectory(Path.Combine(broken, PretrainingRun.MetricsFile));   // the curve cannot be written: "killed" there
        Assert.ThrowsAny<IOException>(() => PretrainingRun.Run(Pretrain(corpus, broken)));
        Assert.Null(new RunDirectory(broken, 2).Latest());                              // no checkpoint without its curve
        Directory.Delete(Path.Combine(broken, PretrainingRun.MetricsFile));
        PlantDebris(broken);
        PretrainingRun.Run(Pretrain(corpus, broken, resume: true));

        Assert.Equal(File.ReadAllText(Path.Combine(straight, PretrainingRun.MetricsFile)).Split('\n').Select(
            l => string.Join(",", l.Split(',').Take(2))),
            // step, loss
            File.ReadAllText(Path.Combine(broken, PretrainingRun.MetricsFile)).Split('\n').Select(l => string.Join(",", l.Split(',').Take(2))));
        AssertNoDebris(broken);
        Assert.Equal(2, new RunDirectory(broken, 2).List().Count);
    }

    [Fact]
    public void ResumeReadsTheCurveStoredInTheCheckpoint()
    {
        var corpus = PretrainingRunTests.SmallCorpus();
        var dir = TestPaths.NewTempDir();
        using (var cts = new CancellationTokenSource())
            Assert.Throws<OperationCanceledException>(() => PretrainingRun.Run(
                Pretrain(corpus, dir), p => { if (p.Step >= 10) cts.Cancel(); }, cts.Token));
        var ck = new RunDirectory(dir, 2).Latest()!.Value;
        Assert.Equal(8, ck.Step);
        var own = MetricsLog.Load(Path.Combine(ck.Path, RunDirectory.MetricsFile));
        Assert.Equal(8, own.Rows[^1]["step"]);
        File.Delete(Path.Combine(dir, PretrainingRun.MetricsFile));   // the shared curve is lost: the checkpoint's copy restores it
        var straight = TestPaths.NewTempDir();
        PretrainingRun.Run(Pretrain(corpus, straight));
        PretrainingRun.Run(Pretrain(corpus, dir, resume: true));
        Assert.Equal(MetricsLog.Load(Path.Combine(straight, PretrainingRun.MetricsFile)).Series("loss", out var a),
            MetricsLog.Load(Path.Combine(dir, PretrainingRun.MetricsFile)).Series("loss", out var b));
        Assert.Equal(a, b);
    }

    [Fact]
    public void FineTuningNeverPublishesACheckpointAheadOfItsCurve()
    {
        var files = FineTuneTestData.SentimentFiles(maxTrain: 128);   // 4 steps per epoch
        var data = TaskData.LoadSequenceTask("jsonl", files.Train, files.Dev);
        FineTuneOptions Options(string dir) => FineTuneTestData.MicroOptions(dir, epochs: 2) with { CheckpointEvery = 2, LogEvery = 1 };
        var straight = Path.Combine(TestPaths.NewTempDir(), "straight");
        FineTuningRun.Run(Options(straight), FineTuneTask.Sequence(data));

        var broken = Path.Combine(TestPaths.NewTempDir(), "broken");
        Directory.CreateDirectory(Path.Combine(broken, FineTuningRun.MetricsFile));
        Assert.ThrowsAny<IOException>(() => FineTuningRun.Run(Options(broken), FineTuneTask.Sequence(data)));
        Assert.Null(new RunDirectory(broken, 2).Latest());
        Directory.Delete(Path.Combine(broken, FineTuningRun.MetricsFile));
        PlantDebris(broken);
        FineTuningRun.Run(Options(broken) with { Resume = true }, FineTuneTask.Sequence(data));
        string Curve(string d) => string.Join("\n", File.ReadAllLines(Path.Combine(d, FineTuningRun.MetricsFile)).Select(
            l => string.Join(",", l.Split(',').Take(4))));
        Assert.Equal(Curve(straight), Curve(broken));
        AssertNoDebris(broken);
    }

    [Fact]
    public void PruningRenamesBeforeDeletingAndLeavesOnlyCompleteCheckpoints()
    {
        var root = TestPaths.NewTempDir();
        var run = new RunDirectory(root, keep: 2);
        for (long step = 1; step <= 4; step++)
            run.Save(step, dir => File.WriteAllText(Path.Combine(dir, "weights.bin"), $"{step}"));
        Assert.Equal([3L, 4L], run.List().Select(x => x.Step));
        Assert.Equal(["step-0000003", "step-0000004"], Directory.GetDirectories(run.CheckpointsDir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void SkipBadRowsSkipsUnknownDevLabelsAndReportsThem()
    {
        var dir = TestPaths.NewTempDir();
        var train = Path.Combine(dir, "train.jsonl"); var dev = Path.Combine(dir, "dev.jsonl");
        File.WriteAllText(train, "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\",\"label\":\"y\"}\n");
        File.WriteAllText(dev, "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"c\",\"label\":\"z\"}\n{\"text\":\"d\",\"label\":\"y\"}\n");
        Assert.Throws<DataFormatException>(() => TaskData.LoadSequenceTask("jsonl", train, dev));
        var d = TaskData.LoadSequenceTask("jsonl", train, dev, new TaskDataOptions { SkipBadRows = true });
        Assert.Equal(2, d.Dev!.Count);
        var skipped = Assert.Single(d.Dev.Skipped);
        Assert.Equal(2, skipped.Line);
        Assert.Contains("unknown label 'z'", TaskData.DescribeSkipped(dev, d.Dev.Skipped));
    }
}
