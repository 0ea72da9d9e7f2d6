using System.Diagnostics;
using MobileBert.FineTuning;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.FineTuning;

public class DemoTests(ITestOutputHelper output)
{
    /// <summary>`demo --quick` end to end (target well under 60 s), then a rerun that skips every finished stage.</summary>
    [Fact]
    public void QuickDemoRunsEndToEndAndARerunSkipsFinishedStages()
    {
        var dir = Path.Combine(TestPaths.NewTempDir(), "demo");
        var lines = new List<string>();
        var sw = Stopwatch.StartNew();
        var report = Demo.Run(new DemoOptions { OutputDir = dir, Quick = true, Threads = 2, RepoRoot = TestPaths.RepoRoot,
            Log = l => { lock (lines) lines.Add(l); } });
        double first = sw.Elapsed.TotalSeconds;
        foreach (var l in lines) output.WriteLine(l);
        output.WriteLine($"first run {first:F1} s");

        Assert.True(File.Exists(report.ReportPath));
        Assert.Contains("| Teacher (IB-BERT-style)", report.Markdown);
        Assert.Contains("| Baseline (student config)", report.Markdown);

        Assert.Equal(3, report.Rows.Count);
        Assert.NotNull(report.Rows[0].TestAccuracy);
        Assert.NotNull(report.Rows[2].TestAccuracy);
        Assert.Null(report.Rows[1].TestAccuracy);                        // no student without knowledge transfer
        Assert.True(report.Rows[1].NonEmbeddingParameters < report.Rows[0].NonEmbeddingParameters / 3);   // the student is much smaller
        Assert.All(report.Rows, r => Assert.True(r.Batch1!.MedianMs > 0 && r.Batch32!.MedianMs > 0));
        Assert.True(File.Exists(Path.Combine(dir, "teacher-sentiment", "task.json")));
        Assert.True(TextClassifier.Load(Path.Combine(dir, "teacher-sentiment")).Labels.SequenceEqual(["negative", "positive"]));

        lines.Clear();
        var again = Demo.Run(new DemoOptions { OutputDir = dir, Quick = true, Threads = 2, RepoRoot = TestPaths.RepoRoot,
            Log = l => { lock (lines) lines.Add(l); } });
        Assert.All(again.Stages, s => Assert.True(s.Skipped, s.Stage));
        Assert.Equal(report.Rows.Select(r => r.TestAccuracy), again.Rows.Select(r => r.TestAccuracy));
    }
}
