using MobileBert.FineTuning;
using MobileBert.Tasks.Classification;
using Xunit;

namespace MobileBert.Tests.FineTuning;

public class ResumeTests
{
    static FineTuneOptions Options(string outDir) => FineTuneTestData.MicroOptions(outDir, epochs: 2) with { CheckpointEvery = 4, LogEvery = 2 };

    [Fact]
    public void AKilledAndResumedRunEndsBitIdenticalToAnUninterruptedOne()
    {
        var files = FineTuneTestData.SentimentFiles(maxTrain: 300);   // 10 steps per epoch
        var data = TaskData.LoadSequenceTask("jsonl", files.Train, files.Dev);
        var straight = Path.Combine(TestPaths.NewTempDir(), "straight");
        var a = FineTuningRun.Run(Options(straight), FineTuneTask.Sequence(data));
        Assert.Equal(20, a.Steps);

        var broken = Path.Combine(TestPaths.NewTempDir(), "broken");
        using (var cts = new CancellationTokenSource())
            Assert.Throws<OperationCanceledException>(() => FineTuningRun.Run(
                Options(broken), FineTuneTask.Sequence(data), p => { if (p.Step >= 14) cts.Cancel(); }, cts.Token));
        // Without Resume an existing run is not overwritten.
        var e = Assert.Throws<SettingException>(() => FineTuningRun.Run(Options(broken), FineTuneTask.Sequence(data)));
        Assert.Contains("--resume", MobileBert.Cli.CliFlags.Message(e));
        var b = FineTuningRun.Run(Options(broken) with { Resume = true }, FineTuneTask.Sequence(data));
        Assert.True(b.Resumed);
        Assert.Equal(12, b.ResumedFromStep);   // last checkpoint before the kill at 14
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(broken, "model.safetensors")));
        Assert.Equal(a.Best!.Values, b.Best!.Values);
        Assert.Equal(a.BestStep, b.BestStep);
        Assert.Equal(File.ReadAllText(Path.Combine(straight, FineTuningRun.EvalResultsFile)),
            File.ReadAllText(Path.Combine(broken, FineTuningRun.EvalResultsFile)));
        // The loss curve continues exactly: same logged rows.
        var ma = File.ReadAllLines(Path.Combine(straight, FineTuningRun.MetricsFile));
        var mb = File.ReadAllLines(Path.Combine(broken, FineTuningRun.MetricsFile));
        Assert.Equal(ma.Length, mb.Length);
        // step, epoch, lr, loss
        Assert.Equal(ma.Select(l => string.Join(",", l.Split(',').Take(4))), mb.Select(l => string.Join(",", l.Split(',').Take(4))));

        // A changed setting is refused, naming it.
        var c = Assert.Throws<ArgumentException>(() => FineTuningRun.Run(Options(broken) with { Resume = true, Lr = 1e-3 },
            FineTuneTask.Sequence(data)));
        Assert.Contains("'lr'", c.Message);
    }
}

public class BadRowsTests
{
    static string Write(string name, string text)
    {
        var p = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllText(p, text);
        return p;
    }

    [Fact]
    public void AMalformedCsvRowIsAnErrorNamingFileLineAndColumn()
    {
        var train = Write("train.csv", "text,label\ngood film,pos\nbad film,neg,extra\nfine,pos\n");
        var e = Assert.Throws<DataFormatException>(() => TaskData.LoadSequenceTask("csv", train, null));
        Assert.Equal(train, e.File);
        Assert.Equal(3, e.Line);
        Assert.Equal(3, e.Column);
        Assert.StartsWith($"{train}:3:3", e.Message);
    }

    [Fact]
    public void SkipBadRowsCountsAndReportsThem()
    {
        var train = Write("train.csv", "text,label\ngood film,pos\nbad film,neg,extra\nfine,pos\nawful,neg\n,neg\n");
        var d = TaskData.LoadSequenceTask("csv", train, null, new TaskDataOptions { SkipBadRows = true });
        Assert.Equal(3, d.Train.Count);
        Assert.Equal(2, d.Train.Skipped.Count);   // the malformed row and the empty text
        var line = TaskData.DescribeSkipped(d.Train.Source, d.Train.Skipped);
        Assert.Contains("2 row(s) skipped", line);
        Assert.Contains("line 3", line);
    }

    [Fact]
    public void AnUnknownDevLabelAndABadRegressionScoreNameTheirLine()
    {
        var train = Write("train.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\",\"label\":\"y\"}\n");
        var dev = Write("dev.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"c\",\"label\":\"z\"}\n");
        var e = Assert.Throws<DataFormatException>(() => TaskData.LoadSequenceTask("jsonl", train, dev));
        Assert.Equal(dev, e.File);
        Assert.Equal(2, e.Line);
        Assert.Contains("'z'", e.Message);
        var reg = Write("reg.csv", "sentence,score\nok,0.5\nnot ok,high\n");
        var r = Assert.Throws<DataFormatException>(() => TaskData.LoadSequenceTask(
            "csv", reg, null, new TaskDataOptions { Regression = true, TextColumn = "sentence", LabelColumn = "score" }));
        Assert.Equal(3, r.Line);
        Assert.Equal(2, r.Column);
    }

    [Fact]
    public void ABadJsonLineIsAnErrorNamingIt()
    {
        var train = Write("train.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\",\"label\":\n{\"text\":\"c\",\"label\":\"y\"}\n");
        var e = Assert.Throws<DataFormatException>(() => TaskData.LoadSequenceTask("jsonl", train, null));
        Assert.Equal(2, e.Line);
        Assert.Contains(train, e.Message);
    }
}
