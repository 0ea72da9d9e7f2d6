using MobileBert.Tasks.Classification;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Tasks.Classification;

public class FeaturizeAndSubmitTests
{
    static readonly Lazy<WordPieceTokenizer> Tok = new(() => WordPieceTokenizer.FromVocabFile(TestPaths.Vocab));
    static string Dir(string task) => Path.Combine(TestPaths.RepoRoot, "data", "glue-samples", task);

    static TaskDataset Pairs(params (string A, string B, string Label)[] rows) =>
        new(GlueTasks.Rte, rows.Select((r, i) => new TaskExample(i.ToString(), r.A, r.B, GlueTasks.Rte.LabelToId(r.Label), null, i + 2)).ToArray(),
        "mem", []);

    [Fact]
    public void Featurize_TruncatesLongestFirst_AndCounts()
    {
        string longA = string.Join(' ', Enumerable.Repeat("alpha", 30));
        var data = Pairs(("short one", "short two", "entailment"), (longA, "beta gamma", "not_entailment"), ("x", longA, "entailment"));
        var f = new Featurizer(Tok.Value, maxSequenceLength: 16).Featurize(data);
        Assert.Equal(2, f.TruncatedCount);
        Assert.Equal([false, true, true], f.Features.Select(x => x.Truncated));
        Assert.All(f.Features, x => Assert.True(x.Input.Length <= 16));
        Assert.Equal(Tok.Value.Encode("short one", "short two").InputIds, f.Features[0].Input.InputIds);
        // longest-first: the short pair side survives intact
        var t1 = f.Features[1].Input;
        Assert.Equal(16, t1.Length);
        Assert.Equal(["beta", "gamma", "[SEP]"], t1.Tokens[^3..]);
        Assert.Equal(Enumerable.Repeat(1, 3).ToArray(), t1.TokenTypeIds[^3..]);
        Assert.Equal(["[CLS]", "x", "[SEP]"], f.Features[2].Input.Tokens[..3]);
        Assert.Equal([0, 1, 0], f.Features.Select(x => x.LabelId!.Value));
    }

    [Fact]
    public void Batches_PadAndCarryLabels_BucketingKeepsEveryExampleOnce()
    {
        var rows = Enumerable.Range(0, 11).Select(i => (string.Join(' ', Enumerable.Repeat("word", 1 + (i * 7) % 5)), "pair",
            i % 3 == 0 ? "entailment" : "not_entailment")).ToArray();
        var f = new Featurizer(Tok.Value, 32).Featurize(Pairs(rows));

        var plain = TaskBatcher.Batches(f, 4).ToList();
        Assert.Equal([4, 4, 3], plain.Select(b => b.Size));
        Assert.Equal(Enumerable.Range(0, 11), plain.SelectMany(b => b.ExampleIndices));
        var b0 = plain[0];
        int s = b0.Input.Seq;
        Assert.Equal(f.Features.Take(4).Max(x => x.Input.Length), s);
        for (int r = 0; r < 4; r++)
        {
            var x = f.Features[b0.ExampleIndices[r]].Input;
            Assert.Equal(x.InputIds, b0.Input.InputIds[(r * s)..(r * s + x.Length)]);
            Assert.All(b0.Input.AttentionMask[(r * s + x.Length)..((r + 1) * s)], m => Assert.Equal(0, m));
            Assert.Equal(f.Features[b0.ExampleIndices[r]].LabelId, b0.LabelIds![r]);
        }
        Assert.Null(b0.Targets);

        var opts = new BatchingOptions { Shuffle = true, Seed = 7, BucketByLength = true, BucketWindowBatches = 2 };
        var bucketed = TaskBatcher.Batches(f, 4, opts).ToList();
        Assert.Equal(Enumerable.Range(0, 11), bucketed.SelectMany(b => b.ExampleIndices).Order());
        Assert.All(bucketed, b => Assert.Equal(b.ExampleIndices.Select(i => f.Features[i].LabelId!.Value), b.LabelIds!));
        Assert.Equal(bucketed.SelectMany(b => b.ExampleIndices), TaskBatcher.Batches(f, 4, opts).SelectMany(b => b.ExampleIndices)); // deterministic

        var sorted = TaskBatcher.Batches(f, 4, new BatchingOptions { BucketByLength = true }).SelectMany(b => b.ExampleIndices).Select(
            i => f.Features[i].Input.Length).ToArray();
        Assert.Equal(sorted.Order(), sorted);
        Assert.Equal(32, TaskBatcher.Batches(f, 4, new BatchingOptions { PadToLength = 32 }).First().Input.Seq);
        Assert.Equal(2, TaskBatcher.Batches(f, 4, new BatchingOptions { DropLast = true }).Count());
    }

    [Fact]
    public void Batches_Regression_CarryTargets()
    {
        var sts = GlueReader.Load(GlueTasks.StsB, Dir("STS-B"), GlueSplit.Train);
        var b = TaskBatcher.Batches(new Featurizer(Tok.Value, 64).Featurize(sts), 8).Single();
        Assert.Equal([4.75f, 0f, 3.8f], b.Targets!);
        Assert.Null(b.LabelIds);
        var test = TaskBatcher.Batches(new Featurizer(Tok.Value, 64).Featurize(GlueReader.Load(GlueTasks.StsB, Dir("STS-B"), GlueSplit.Test)), 8)
            .Single();
        Assert.Null(test.Targets);
    }

    [Fact]
    public void Submission_Format_LabelStringsAndScores()
    {
        Assert.Equal("index\tprediction\n0\tentailment\n1\tneutral\n2\tcontradiction\n",
            GlueSubmission.Format(GlueTasks.Mnli, ["0", "1", "2"], [1, 2, 0]));
        Assert.Equal("index\tprediction\n0\tnot_entailment\n1\tentailment\n",
            GlueSubmission.Format(GlueTasks.Rte, ["0", "1"], [1, 0]));
        Assert.Equal("index\tprediction\n5\t1\n6\t0\n", GlueSubmission.Format(GlueTasks.CoLA, ["5", "6"], [1, 0]));
        Assert.Equal("index\tprediction\n0\t3.142\n1\t0.000\n2\t5.000\n",
            GlueSubmission.Format(GlueTasks.StsB, ["0", "1", "2"], [3.14159f, -0.2f, 5.7f]));
        Assert.Throws<ArgumentException>(() => GlueSubmission.Format(GlueTasks.Rte, ["0", "0"], [1, 0]));
        Assert.Throws<ArgumentException>(() => GlueSubmission.Format(GlueTasks.Rte, ["0"], [1, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => GlueSubmission.Format(GlueTasks.Rte, ["0"], [2]));
        Assert.Throws<ArgumentException>(() => GlueSubmission.Format(GlueTasks.StsB, ["0"], [1]));
    }

    [Fact]
    public void Submission_FileNames_AndRoundTripFromTestSet()
    {
        Assert.Equal(["CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv", "QNLI.tsv", "RTE.tsv", "WNLI.tsv",
            "AX.tsv"],
            GlueTasks.All.Select(t => t.SubmissionFileName));
        string outDir = TestPaths.NewTempDir();
        var qqp = GlueReader.Load(GlueTasks.Qqp, Dir("QQP"), GlueSplit.Test);
        string path = GlueSubmission.Write(outDir, qqp, [1, 0]);
        Assert.Equal(Path.Combine(outDir, "QQP.tsv"), path);
        Assert.Equal("index\tprediction\n0\t1\n1\t0\n", File.ReadAllText(path));
        Assert.NotEqual(0xEF, File.ReadAllBytes(path)[0]);

        var mm = GlueReader.Load(GlueTasks.MnliMismatched, Dir("MNLI"), GlueSplit.Test);
        Assert.EndsWith("MNLI-mm.tsv", GlueSubmission.Write(outDir, mm, [2, 0]));
        Assert.Equal(["index\tprediction", "0\tneutral", "1\tcontradiction"], File.ReadAllLines(Path.Combine(outDir, "MNLI-mm.tsv")));

        var sts = GlueReader.Load(GlueTasks.StsB, Dir("STS-B"), GlueSplit.Test);
        GlueSubmission.Write(outDir, sts, [2.5f, 4f]);
        Assert.Equal("index\tprediction\n0\t2.500\n1\t4.000\n", File.ReadAllText(Path.Combine(outDir, "STS-B.tsv")));

        Assert.Throws<ArgumentException>(() => GlueSubmission.Write(outDir, TaskDefinition.Classification("mine", ["a", "b"]), ["0"], [1]));
    }
}
