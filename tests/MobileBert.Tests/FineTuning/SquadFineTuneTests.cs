using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using Xunit;
using Xunit.Abstractions;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

public class SquadFineTuneTests(ITestOutputHelper output)
{
    /// <summary>The first <paramref name="paragraphs"/> paragraphs of a bundled wordnet-qa file, as a SQuAD file.</summary>
    public static string Subset(string file, int paragraphs)
    {
        var root = JsonNode.Parse(File.ReadAllText(FineTuneTestData.WordnetQa(file)))!;
        var ps = root["data"]![0]!["paragraphs"]!.AsArray();
        while (ps.Count > paragraphs) ps.RemoveAt(ps.Count - 1);
        var path = Path.Combine(TestPaths.NewTempDir(), Path.GetFileNameWithoutExtension(file) + $"-{paragraphs}.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    public static FineTuneOptions SquadOptions(string outDir, int epochs) => FineTuneTestData.MicroOptions(outDir, epochs) with
    {
        Batch = 8, Lr = 3e-3, Seq = 96, Squad = new SquadSettings { DocStride = 32, MaxQueryLength = 24 }, LogEvery = 5, WarmupProportion = 0.05,
    };

    [Fact]
    public void SquadV1FineTuneLearnsItsTrainingParagraphs()
    {
        var file = Subset("train-v1-subset.json", 12);   // 24 questions
        var train = TaskData.LoadSquad(file, v2: false);
        // The untrained model's score on the same questions (the bar to clear).
        var opts0 = SquadOptions(Path.Combine(TestPaths.NewTempDir(), "untrained"), 1);
        var task0 = FineTuneTask.Squad(train, train, v2: false);
        task0.Prepare(MobileBert.Text.WordPieceTokenizer.FromVocabFile(TestPaths.Vocab), opts0);
        var untrained = task0.Evaluate(TaskModels.ForFineTuning(null, opts0.Config, task0.Info(opts0), 7), 16);
        output.WriteLine($"untrained: {untrained}");
        var losses = new List<double>();
        var outDir = Path.Combine(TestPaths.NewTempDir(), "squad");
        var result = FineTuningRun.Run(SquadOptions(outDir, 12), FineTuneTask.Squad(train, train, v2: false), p =>
        {
            if (p.Phase == "train") losses.Add(p.Loss);
            if (p.Phase is "eval" or "data" && (p.Eval is not null || p.Message is not null)) output.WriteLine($"{p.Step}: {p.Message}{p.Eval}");
        });
        output.WriteLine(string.Join(" ", losses.Select(l => l.ToString("F3"))));
        Assert.True(losses[^1] < 0.6 * losses[0], $"loss {losses[0]:F3} → {losses[^1]:F3}");
        Assert.True(result.Best!.Values["exact_match"] > 0, $"EM {result.Best.Values["exact_match"]}");
        Assert.True(result.Best.Values["f1"] > untrained.Values["f1"] + 20, $"F1 {result.Best.Values["f1"]} vs untrained {untrained.Values["f1"]}");
        Assert.True(result.Last!.Values["f1"] > untrained.Values["f1"] + 20,
            $"final F1 {result.Last.Values["f1"]} vs untrained {untrained.Values["f1"]}");
        var info = TaskInfo.Load(outDir);
        Assert.Equal(TaskInfoKind.QuestionAnswering, info.Kind);
        Assert.Equal(32, info.Squad!.DocStride);
        Assert.Equal(96, info.MaxSeqLength);
    }

    [Fact]
    public void SquadV1RejectsUnanswerableQuestionsNamingOne()
    {
        var e = Assert.Throws<InvalidDataException>(() => TaskData.LoadSquad(FineTuneTestData.WordnetQa("dev-v2.json"), v2: false));
        Assert.Contains("dev-v2.json", e.Message);
        Assert.Contains("squad2", e.Message);
    }
}
