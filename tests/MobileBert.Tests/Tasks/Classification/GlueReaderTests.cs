using System.Text;
using MobileBert.Tasks.Classification;
using Xunit;

namespace MobileBert.Tests.Tasks.Classification;

public class GlueReaderTests
{
    static string Dir(string task) => Path.Combine(TestPaths.RepoRoot, "data", "glue-samples", task);

    static void AssertExample(TaskExample e, string text, string? pair, string? label, TaskDefinition task)
    {
        Assert.Equal(text, e.Text);
        Assert.Equal(pair, e.TextPair);
        if (label is null) { Assert.False(e.HasLabel); return; }
        if (task.Kind == TaskKind.Regression) Assert.Equal(float.Parse(label, System.Globalization.CultureInfo.InvariantCulture), e.Target);
        else Assert.Equal(label, task.IdToLabel(e.LabelId!.Value));
    }

    [Fact]
    public void CoLA_NoHeaderTrainDev_HeaderTest()
    {
        var t = GlueTasks.CoLA;
        var train = GlueReader.Load(t, Dir("CoLA"), GlueSplit.Train);
        Assert.Equal(4, train.Count);
        AssertExample(train.Examples[0], "The cat sat on the warm mat.", null, "1", t);
        AssertExample(train.Examples[1], "Cat the mat on sat.", null, "0", t);
        Assert.Equal(1, train.Examples[0].Line); // no header: first line is data
        Assert.Equal([1, 0, 1, 0], train.LabelIds());
        Assert.Equal(3, GlueReader.Load(t, Dir("CoLA"), GlueSplit.Dev).Count);
        var test = GlueReader.Load(t, Dir("CoLA"), GlueSplit.Test);
        Assert.Equal(["0", "1"], test.Examples.Select(e => e.Id));
        AssertExample(test.Examples[1], "Rained it day all.", null, null, t);
        Assert.False(test.IsLabelled);
    }

    [Fact]
    public void Sst2_QuotesAreText()
    {
        var train = GlueReader.Load(GlueTasks.Sst2, Dir("SST-2"), GlueSplit.Train);
        Assert.Equal(3, train.Count);
        AssertExample(train.Examples[2], "the cast is \"terrific\" ", null, "1", GlueTasks.Sst2);
        var test = GlueReader.Load(GlueTasks.Sst2, Dir("SST-2"), GlueSplit.Test);
        AssertExample(test.Examples[0], "a small , quiet gem . ", null, null, GlueTasks.Sst2);
        Assert.Equal("0", test.Examples[0].Id);
    }

    [Fact]
    public void Mrpc_BomHeader_LabelFromQualityColumn()
    {
        Assert.Equal(0xEF, File.ReadAllBytes(Path.Combine(Dir("MRPC"), "train.tsv"))[0]); // the sample really has a BOM
        var t = GlueTasks.Mrpc;
        var train = GlueReader.Load(t, Dir("MRPC"), GlueSplit.Train);
        Assert.Equal(3, train.Count);
        AssertExample(train.Examples[0], "The company said profits rose 5 percent.", "Profits at the company climbed 5 percent, it said.", "1", t);
        AssertExample(train.Examples[1], "The mayor will speak on Monday.", "The mayor spoke about taxes last year.", "0", t);
        var test = GlueReader.Load(t, Dir("MRPC"), GlueSplit.Test);
        Assert.Equal(["0", "1"], test.Examples.Select(e => e.Id));
        AssertExample(test.Examples[1], "Sales were flat.", "It snowed in the north.", null, t);
    }

    [Fact]
    public void StsB_FloatScores()
    {
        var t = GlueTasks.StsB;
        var train = GlueReader.Load(t, Dir("STS-B"), GlueSplit.Train);
        Assert.Equal([4.75f, 0f, 3.8f], train.Targets());
        AssertExample(train.Examples[0], "A man is playing a guitar.", "A man plays the guitar.", "4.750", t);
        Assert.Equal(2, GlueReader.Load(t, Dir("STS-B"), GlueSplit.Dev).Count);
        var test = GlueReader.Load(t, Dir("STS-B"), GlueSplit.Test);
        AssertExample(test.Examples[0], "A child is swimming.", "A kid swims in a pool.", null, t);
    }

    [Fact]
    public void Qqp_IdColumn_UnbalancedQuotes()
    {
        var t = GlueTasks.Qqp;
        var train = GlueReader.Load(t, Dir("QQP"), GlueSplit.Train);
        Assert.Equal(["10", "11", "12"], train.Examples.Select(e => e.Id));
        AssertExample(train.Examples[0], "How do I learn \"C#\" quickly?", "What is the fastest way to learn C#?", "1", t);
        AssertExample(train.Examples[2], "What's a \"good\" book?", "\"What book should I read next?", "1", t);
        var test = GlueReader.Load(t, Dir("QQP"), GlueSplit.Test);
        AssertExample(test.Examples[1], "What is \"love\"?", "How do I bake bread?", null, t);
    }

    [Fact]
    public void Mnli_AllFiles_GoldLabelNotLabel1()
    {
        var t = GlueTasks.Mnli;
        var train = GlueReader.Load(t, Dir("MNLI"), GlueSplit.Train);
        Assert.Equal(3, train.Count);
        AssertExample(train.Examples[0], "The old man walked slowly to the \"store\".", "The man went to the store.", "entailment", t);
        AssertExample(train.Examples[2], "I think we met at the fair.", "We both like fairs.", "neutral", t);
        var devM = GlueReader.Load(t, Dir("MNLI"), GlueSplit.Dev);
        // label2 is "neutral" but gold_label is "entailment"
        AssertExample(devM.Examples[0], "She smiled and waved.", "She waved.", "entailment", t);
        var devMm = GlueReader.Load(GlueTasks.MnliMismatched, Dir("MNLI"), GlueSplit.Dev);
        Assert.EndsWith("dev_mismatched.tsv", devMm.Source);
        Assert.Equal([2, 0], devMm.LabelIds()); // neutral, contradiction
        var testM = GlueReader.Load(t, Dir("MNLI"), GlueSplit.Test);
        AssertExample(testM.Examples[1], "It's \"cold\" there.", "It is hot there.", null, t);
        var testMm = GlueReader.Load(GlueTasks.MnliMismatched, Dir("MNLI"), GlueSplit.Test);
        Assert.EndsWith("test_mismatched.tsv", testMm.Source);
        Assert.Equal("We need your help.", testMm.Examples[0].Text);
    }

    [Fact]
    public void Qnli_Rte_Wnli_Ax()
    {
        var qnli = GlueReader.Load(GlueTasks.Qnli, Dir("QNLI"), GlueSplit.Train);
        AssertExample(qnli.Examples[1], "Who wrote the novel?", "The novel is set in a small town.", "not_entailment", GlueTasks.Qnli);
        Assert.Equal([0, 1], GlueReader.Load(GlueTasks.Qnli, Dir("QNLI"), GlueSplit.Dev).LabelIds());
        Assert.Equal(2, GlueReader.Load(GlueTasks.Qnli, Dir("QNLI"), GlueSplit.Test).Count);

        var rteDev = GlueReader.Load(GlueTasks.Rte, Dir("RTE"), GlueSplit.Dev); // CRLF sample
        Assert.Contains((byte)'\r', File.ReadAllBytes(rteDev.Source));
        AssertExample(rteDev.Examples[1], "The ball broke the window because it was fragile.", "The ball was fragile.", "not_entailment",
            GlueTasks.Rte);
        Assert.Equal(2, GlueReader.Load(GlueTasks.Rte, Dir("RTE"), GlueSplit.Train).Count);

        var wnli = GlueReader.Load(GlueTasks.Wnli, Dir("WNLI"), GlueSplit.Train);
        Assert.Equal([1, 0], wnli.LabelIds());
        AssertExample(GlueReader.Load(GlueTasks.Wnli, Dir("WNLI"), GlueSplit.Test).Examples[0], "Tom lent Bill money because he was rich.",
            "Tom was rich.", null, GlueTasks.Wnli);

        var ax = GlueReader.Load(GlueTasks.Ax, Dir("AX"), GlueSplit.Test);
        AssertExample(ax.Examples[1], "No dogs barked.", "Some dogs barked.", null, GlueTasks.Ax);
        Assert.Throws<ArgumentException>(() => GlueReader.Load(GlueTasks.Ax, Dir("AX"), GlueSplit.Train));
    }

    [Fact]
    public void EveryGlueTaskSampleLoads()
    {
        foreach (var t in GlueTasks.All.Where(t => t != GlueTasks.Ax))
        {
            string dir = Dir(t == GlueTasks.MnliMismatched ? "MNLI" : t.Name);
            foreach (var split in new[] { GlueSplit.Train, GlueSplit.Dev, GlueSplit.Test })
            {
                var d = GlueReader.Load(t, dir, split);
                Assert.True(d.Count >= 2, $"{t.Name} {split}");
                Assert.Empty(d.Skipped);
                Assert.Equal(split != GlueSplit.Test, d.IsLabelled);
                Assert.All(d.Examples, e => Assert.Equal(t.IsSentencePair, e.TextPair is not null));
                Assert.All(d.Examples, e => Assert.DoesNotContain('\r', e.Text + e.TextPair + e.Id));
            }
        }
    }

    static string Write(string name, string content, bool bom = false)
    {
        string path = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllBytes(path, [.. (bom ? new byte[] { 0xEF, 0xBB, 0xBF } : []), .. Encoding.UTF8.GetBytes(content)]);
        return path;
    }

    [Fact]
    public void BomAndCrlf_AreHandled()
    {
        string path = Write("train.tsv", "sentence\tlabel\r\ngood \"film\t1\r\n\r\nbad\t0\r\n", bom: true);
        var d = GlueReader.ReadFile(GlueTasks.Sst2, path, labelled: true);
        Assert.Equal(["good \"film", "bad"], d.Examples.Select(e => e.Text));
        Assert.Equal([1, 0], d.LabelIds());
        Assert.Equal(4, d.Examples[1].Line);
        Assert.Equal([new SkippedRow(3, "empty line")], d.Skipped); // reported, not silent
    }

    [Fact]
    public void MalformedRow_ErrorNamesFileLineColumn()
    {
        string path = Write("dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two\n");
        var ex = Assert.Throws<DataFormatException>(() => GlueReader.ReadFile(GlueTasks.Rte, path, labelled: true));
        Assert.Equal(path, ex.File);
        Assert.Equal(3, ex.Line);
        Assert.Equal(3, ex.Column); // first missing column
        Assert.StartsWith($"{path}:3:3:", ex.Message);
        Assert.Contains("sentence2", ex.Message);

        string extra = Write("dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\textra\n");
        var ex2 = Assert.Throws<DataFormatException>(() => GlueReader.ReadFile(GlueTasks.Rte, extra, labelled: true));
        Assert.Equal((2, 5), (ex2.Line, ex2.Column));
    }

    [Fact]
    public void SkipBadRows_CountsAndReports()
    {
        string path =
            Write("train.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tq1\tq2\t0\n2\t3\t4\tbroken\n3\t5\t6\tq3\tq4\t1\n");
        var d = GlueReader.ReadFile(GlueTasks.Qqp, path, labelled: true, new GlueReadOptions { SkipBadRows = true });
        Assert.Equal(["1", "3"], d.Examples.Select(e => e.Id));
        var s = Assert.Single(d.Skipped);
        Assert.Equal(3, s.Line);
        Assert.Contains("found 4", s.Reason);
    }

    [Fact]
    public void UnknownLabel_And_WrongHeader_AreErrors()
    {
        string path = Write("dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq\ts\tentailed\n");
        var ex = Assert.Throws<DataFormatException>(() => GlueReader.ReadFile(GlueTasks.Qnli, path, labelled: true));
        Assert.Equal((2, 4), (ex.Line, ex.Column));
        Assert.Contains("'entailed'", ex.Message);

        // an RTE file given as QNLI: header lacks 'question'
        string rte = Path.Combine(Dir("RTE"), "train.tsv");
        var ex2 = Assert.Throws<DataFormatException>(() => GlueReader.ReadFile(GlueTasks.Qnli, rte, labelled: true));
        Assert.Equal(1, ex2.Line);
        Assert.Contains("'question'", ex2.Message);

        // CoLA rows with a bad label column
        string cola = Write("train.tsv", "src\t1\t\tfine\nsrc\tx\t*\tbad\n");
        var ex3 = Assert.Throws<DataFormatException>(() => GlueReader.ReadFile(GlueTasks.CoLA, cola, labelled: true));
        Assert.Equal((2, 2), (ex3.Line, ex3.Column));

        string sts =
            Write("dev.tsv",
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\tfour\n");
        var ex4 = Assert.Throws<DataFormatException>(() => GlueReader.ReadFile(GlueTasks.StsB, sts, labelled: true));
        Assert.Equal((2, 10), (ex4.Line, ex4.Column));
    }

    [Fact]
    public void TaskLookup_And_FileNames()
    {
        Assert.Same(GlueTasks.Sst2, GlueTasks.Get("sst2"));
        Assert.Same(GlueTasks.StsB, GlueTasks.Get("STS-B"));
        Assert.Same(GlueTasks.MnliMismatched, GlueTasks.Get("mnli_mismatched"));
        Assert.Throws<KeyNotFoundException>(() => GlueTasks.Get("squad"));
        Assert.Equal(["dev_matched.tsv"], GlueReader.FileNames(GlueTasks.Mnli, GlueSplit.Dev));
        Assert.Equal(["test_mismatched.tsv"], GlueReader.FileNames(GlueTasks.MnliMismatched, GlueSplit.Test));
        Assert.Equal(["contradiction", "entailment", "neutral"], GlueTasks.Mnli.Labels);
        Assert.Equal(["entailment", "not_entailment"], GlueTasks.Rte.Labels);
        Assert.Equal(TaskKind.Regression, GlueTasks.StsB.Kind);
        Assert.Equal(1, GlueTasks.StsB.NumLabels);
        Assert.Equal("mcc", GlueTasks.CoLA.MainMetric);
        Assert.False(GlueTasks.Sst2.IsSentencePair);
        Assert.True(GlueTasks.Qnli.IsSentencePair);
        Assert.Throws<FileNotFoundException>(() => GlueReader.Load(GlueTasks.Rte, TestPaths.NewTempDir(), GlueSplit.Train));
    }
}
