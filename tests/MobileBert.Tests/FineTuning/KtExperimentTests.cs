using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using Xunit;

namespace MobileBert.Tests.FineTuning;

/// <summary>`experiment kt` at toy size: every method and the sentiment column end to end, then the same students against the
/// first run's teacher passed as an external `--teacher` (evaluated on the experiment's own held-out split).</summary>
public class KtExperimentTests
{
    static readonly DemoSettings TinyRecipe = DemoSettings.Quick with { FinetuneEpochs = 1, FinetuneBatch = 16, FinetuneSeq = 32, MaxTrain = 48 };

    static KtOptions Settings(string dir, string? teacher) => new()
    {
        OutputDir = Path.Combine(dir, "run"), ReportPath = Path.Combine(dir, "REPORT.md"),
        Data = [Path.Combine(TestPaths.RepoRoot, "data", "corpus", "austen")], VocabPath = TestPaths.Vocab,
        Seeds = [1], TeacherSteps = 3, TeacherLr = 2e-3, StepsPerLayer = 1, PdSteps = 2, Batch = 4, Seq = 32, Lr = 2e-3, Threads = 2, EvalBatches = 1,
        CommandLine = "experiment kt (test)", TeacherDir = teacher, Sentiment = Path.Combine(TestPaths.RepoRoot, "data", "sentiment"),
        Recipe = TinyRecipe,
    };

    static JsonObject Result(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Fact]
    public void EveryModelGetsAFineTunedSentimentAccuracyAndAnExternalTeacherIsEvaluatedOnTheExperimentsSplit()
    {
        string dir = TestPaths.NewTempDir();
        var s = Settings(Path.Combine(dir, "a"), null);
        KtExperiment.Run(s);
        string report = File.ReadAllText(s.ReportPath);
        Assert.DoesNotContain("pending", report);
        foreach (var (name, _) in KtExperiment.Methods) Assert.Contains($"| student, {name} |", report);
        Assert.Contains("| student architecture, no pre-training (random init) |", report);
        var results = new[] { Path.Combine(s.OutputDir, "teacher"), Path.Combine(s.OutputDir, "random-init") }
            .Concat(KtExperiment.Methods.Select(m => Path.Combine(s.OutputDir, m.Name.Replace(' ', '-') + "-seed1")))
            .Select(d => Result(Path.Combine(d, "result.json"))).ToList();
        Assert.All(results, r =>
        {
            double acc = r["sentiment_acc"]!.GetValue<double>();
            Assert.InRange(acc, 0, 1);
            Assert.NotNull(r["sentiment_dev_acc"]);
        });
        Assert.True(File.Exists(Path.Combine(s.OutputDir, "random-init", "sentiment", "config.json")));

        // A re-run reuses everything (no result changes).
        string before = File.ReadAllText(Path.Combine(s.OutputDir, "progressive-seed1", "result.json"));
        KtExperiment.Run(s);
        Assert.Equal(before, File.ReadAllText(Path.Combine(s.OutputDir, "progressive-seed1", "result.json")));

        // The first run's teacher as an external teacher: same held-out split, so the same held-out MLM accuracy.
        var ext = Settings(Path.Combine(dir, "b"), Path.Combine(s.OutputDir, "teacher")) with { Seeds = [1] };
        KtExperiment.Run(ext);
        var t0 = Result(Path.Combine(s.OutputDir, "teacher", "result.json"));
        var t1 = Result(Path.Combine(ext.OutputDir, "teacher", "result.json"));
        Assert.Equal(t0["mlm_acc"]!.GetValue<double>(), t1["mlm_acc"]!.GetValue<double>(), 6);
        // a continuous value: a different split would not match
        Assert.Equal(t0["mlm_loss"]!.GetValue<double>(), t1["mlm_loss"]!.GetValue<double>(), 4);
        Assert.True(t1["mlm_loss"]!.GetValue<double>() > 0);
        Assert.Equal(3, t1["steps"]!.GetValue<long>());
        Assert.Contains("pre-trained model folder", File.ReadAllText(ext.ReportPath));
    }
}
