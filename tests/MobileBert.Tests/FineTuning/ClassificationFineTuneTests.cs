using System.Diagnostics;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tasks.Classification;
using Xunit;
using Xunit.Abstractions;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

/// <summary>One micro fine-tune on the sentiment split, shared by the tests that inspect its output folder.</summary>
public sealed class SentimentFineTuneFixture
{
    public SentimentFineTuneFixture()
    {
        Files = FineTuneTestData.SentimentFiles();
        OutDir = Path.Combine(TestPaths.NewTempDir(), "sentiment-micro");
        var data = TaskData.LoadSequenceTask("jsonl", Files.Train, Files.Dev);
        var sw = Stopwatch.StartNew();
        Result = FineTuningRun.Run(FineTuneTestData.MicroOptions(OutDir), FineTuneTask.Sequence(data),
            p => Log.Add($"[{p.Phase}] {p.Message} step {p.Step} loss {p.Loss:F4} {p.Eval}"));
        Seconds = sw.Elapsed.TotalSeconds;
    }

    public (string Train, string Dev, string Test) Files { get; }
    public string OutDir { get; }
    public FineTuneResult Result { get; }
    public double Seconds { get; }
    public List<string> Log { get; } = [];
}

public class ClassificationFineTuneTests(SentimentFineTuneFixture run, ITestOutputHelper output) : IClassFixture<SentimentFineTuneFixture>
{
    [Fact]
    public void MicroModelFromScratchBeatsChanceOnTheSentimentSplit()
    {
        foreach (var l in run.Log) output.WriteLine(l);
        output.WriteLine($"{run.Seconds:F1} s");
        Assert.NotNull(run.Result.Best);
        Assert.Equal("acc", run.Result.Best!.MainMetric);
        // 300 balanced dev sentences: chance is 0.5 (σ ≈ 0.03); a learning model is well above it.
        Assert.True(run.Result.Best.Main > 0.62, $"dev accuracy {run.Result.Best.Main:F3}");
        // The held-out test split, evaluated from the saved folder, agrees that it learned.
        var model = ModelFolder.Load(run.OutDir);
        var info = TaskInfo.Load(run.OutDir);
        var test = TaskData.LoadForTask(info, run.Files.Test);
        var feats = new Featurizer(MobileBert.Text.WordPieceTokenizer.FromVocabFile(Path.Combine(run.OutDir, "vocab.txt")),
            info.MaxSeqLength).Featurize(test);
        var (m, _) = SequenceEvaluator.Evaluate(model, feats);
        output.WriteLine($"test: {m}");
        Assert.True(m.Main > 0.6, $"test accuracy {m.Main:F3}");
    }

    [Fact]
    public void OutputFolderIsAModelFolderWithTheLabelMapAndTaskJson()
    {
        var config = ConfigJson.Load(Path.Combine(run.OutDir, "config.json"));
        Assert.Equal(["negative", "positive"], config.Labels);
        Assert.Equal("single_label_classification", config.ProblemType);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(run.OutDir, "config.json")))!;
        Assert.Equal("positive", json["id2label"]!["1"]!.GetValue<string>());
        Assert.Equal(["MobileBertForSequenceClassification"], config.Architectures);
        var info = TaskInfo.Load(run.OutDir);
        Assert.Equal(TaskInfoKind.Classification, info.Kind);
        Assert.Equal(48, info.MaxSeqLength);
        Assert.Equal(["negative", "positive"], info.Labels);
        Assert.True(File.Exists(Path.Combine(run.OutDir, "vocab.txt")));
        Assert.True(File.Exists(Path.Combine(run.OutDir, FineTuningRun.MetricsFile)));
        Assert.True(File.Exists(Path.Combine(run.OutDir, FineTuningRun.CurvesFile)));
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(run.OutDir, FineTuningRun.EvalResultsFile)))!;
        Assert.Equal(3, results["history"]!.AsArray().Count);   // one dev evaluation per epoch
        // The saved model is the best epoch's: re-evaluating it reproduces the best dev accuracy.
        var model = ModelFolder.Load(run.OutDir);
        var dev = TaskData.LoadForTask(info, run.Files.Dev);
        var feats = new Featurizer(MobileBert.Text.WordPieceTokenizer.FromVocabFile(Path.Combine(run.OutDir, "vocab.txt")),
            info.MaxSeqLength).Featurize(dev);
        Assert.Equal(run.Result.Best!.Main, SequenceEvaluator.Evaluate(model, feats).Metrics.Main, 12);
    }

    [Fact]
    public void TheSentimentSplitIsFixedAndDisjoint()
    {
        var a = SentimentSplit.Load(FineTuneTestData.SentimentDir);
        var b = SentimentSplit.Load(FineTuneTestData.SentimentDir);
        Assert.Equal((2400, 300, 300), (a.Train.Count, a.Dev.Count, a.Test.Count));
        Assert.Equal(a.Test, b.Test);
        Assert.Equal(3, a.Notes.Count);   // each file's empty placeholder row is reported, not silently dropped
        foreach (var src in SentimentSplit.Sources) Assert.Equal(100, a.Test.Count(r => r.Source == src));
        Assert.Equal(1500, a.Train.Concat(a.Dev).Concat(a.Test).Count(r => r.Label == "positive"));
        // Pinned: the first test sentence of the split (guards against accidental re-shuffles).
        Assert.Equal("amazon", a.Test[0].Source);
    }
}
