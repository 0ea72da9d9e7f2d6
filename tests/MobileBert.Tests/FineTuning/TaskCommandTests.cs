using System.CommandLine;
using System.Text.Json.Nodes;
using MobileBert.Cli;
using MobileBert.FineTuning;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

/// <summary>finetune → evaluate → predict through the command line (the commands as CliApp registers them).</summary>
[Collection("Console")]   // its commands write progress to the process-wide Console.Error, which Console tests capture
public class TaskCommandTests
{
    internal static int Cli(params string[] args)
    {
        var root = new RootCommand { FinetuneCommand.Create(), EvaluateCommand.Create(), PredictCommand.Create() };
        return root.Parse(args).Invoke();
    }

    [Fact]
    public void ClassificationRoundTripWritesMetricsAndJsonlPredictionsWithTheSavedLabels()
    {
        var files = FineTuneTestData.SentimentFiles(maxTrain: 600);
        var dir = TestPaths.NewTempDir();
        var model = Path.Combine(dir, "model");
        Assert.Equal(0, Cli("finetune", "--init-config", "mobilebert-micro", "--vocab", TestPaths.Vocab, "--task", "jsonl", "--train", files.Train,
            "--dev", files.Dev,
            "--out", model, "--epochs", "2", "--batch", "32", "--lr", "2e-3", "--seq", "48", "--threads", "2", "--seed", "7"));
        Assert.Equal(["negative", "positive"], TaskInfo.Load(model).Labels);

        var evalDir = Path.Combine(dir, "eval");
        Assert.Equal(0, Cli("evaluate", "--model", model, "--data", files.Test, "--out", evalDir));
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(evalDir, "metrics.json")))!;
        Assert.Equal("acc", metrics["main_metric"]!.GetValue<string>());
        Assert.Equal(300, metrics["examples"]!.GetValue<int>());
        double acc = metrics["metrics"]!["acc"]!.GetValue<double>();
        Assert.InRange(acc, 0, 1);
        var preds = File.ReadAllLines(Path.Combine(evalDir, "predictions.jsonl"));
        Assert.Equal(300, preds.Length);
        Assert.Equal(acc, preds.Select(l => JsonNode.Parse(l)!).Count(o => o["label"]!.GetValue<string>() == o["gold"]!.GetValue<string>()) / 300.0,
            9);

        // predict: plain text lines and JSON lines, in batches of 4.
        var input = Path.Combine(dir, "in.txt");
        File.WriteAllLines(input, ["I love this phone, it works great.", "{\"id\":\"x7\",\"text\":\"Terrible, it broke after a day.\"}",
            "Great food.", "Worst service ever.", "ok"]);
        var output = Path.Combine(dir, "out.jsonl");
        Assert.Equal(0, Cli("predict", "--model", model, "--input", input, "--output", output, "--batch", "4"));
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        Assert.Equal(5, lines.Length);
        Assert.Equal("x7", lines[1]["id"]!.GetValue<string>());
        foreach (var o in lines)
        {
            var p = o["probabilities"]!.AsObject();
            Assert.Equal(["negative", "positive"], p.Select(kv => kv.Key));
            Assert.Equal(1.0, p.Sum(kv => kv.Value!.GetValue<double>()), 4);
            Assert.Contains(o["label"]!.GetValue<string>(), new[] { "negative", "positive" });
        }
        // The predictions agree with the library API.
        var api = TextClassifier.Load(model).Classify("I love this phone, it works great.");
        Assert.Equal(api.Label, lines[0]["label"]!.GetValue<string>());
        Assert.Equal(api.Probability, lines[0]["probability"]!.GetValue<double>(), 5);

        // A bad input line is an error naming the line (exit code 1), nothing written silently.
        var bad = Path.Combine(dir, "bad.txt");
        File.WriteAllLines(bad, ["fine", "", "also fine"]);
        Assert.Equal(1, Cli("predict", "--model", model, "--input", bad, "--output", Path.Combine(dir, "bad.jsonl")));
        var e = Assert.Throws<InputException>(() => PredictCommand.Run(model, new StringReader("fine\n\nalso fine\n"), "in", TextWriter.Null,
            new PredictorOptions()));
        Assert.StartsWith("in:2:", e.Message);
    }

    [Fact]
    public void BadTrainingRowsFailTheCommandUnlessSkipped()
    {
        var dir = TestPaths.NewTempDir();
        var train = Path.Combine(dir, "train.csv");
        File.WriteAllText(train, "text,label\ngood,pos\nbad,neg,oops\n" + string.Concat(
            Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? $"fine {i},pos\n" : $"awful {i},neg\n")));
        string[] args = ["finetune", "--init-config", "mobilebert-micro", "--vocab", TestPaths.Vocab, "--task", "csv", "--train", train, "--out",
            Path.Combine(dir, "m"), "--epochs", "1", "--batch", "8", "--seq", "16", "--threads", "1"];
        Assert.Equal(1, Cli(args));
        Assert.False(File.Exists(Path.Combine(dir, "m", "model.safetensors")));
        Assert.Equal(0, Cli([.. args, "--skip-bad-rows"]));
        Assert.True(File.Exists(Path.Combine(dir, "m", "model.safetensors")));
    }

    [Fact]
    public void SquadRoundTripWritesOfficialPredictionsAndAnswersJsonQuestions()
    {
        var file = SquadFineTuneTests.Subset("train-v2-subset.json", 4);
        var dir = TestPaths.NewTempDir();
        var model = Path.Combine(dir, "qa");
        Assert.Equal(0, Cli("finetune", "--init-config", "mobilebert-micro", "--vocab", TestPaths.Vocab, "--task", "squad2", "--train", file, "--dev",
            file,
            "--out", model, "--epochs", "1", "--batch", "8", "--lr", "1e-3", "--seq", "96", "--doc-stride", "32", "--max-query-length", "24",
            "--threads", "2"));
        var evalDir = Path.Combine(dir, "eval");
        Assert.Equal(0, Cli("evaluate", "--model", model, "--data", file, "--out", evalDir, "--task", "squad2"));
        foreach (var f in new[] { "metrics.json", "predictions.json", "null_odds.json", "nbest_predictions.json" }) Assert.True(
            File.Exists(Path.Combine(evalDir, f)), f);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(evalDir, "metrics.json")))!["metrics"]!;
        Assert.NotNull(metrics["HasAns_f1"]);
        Assert.NotNull(metrics["best_f1"]);
        var predictions = JsonNode.Parse(File.ReadAllText(Path.Combine(evalDir, "predictions.json")))!.AsObject();
        Assert.Equal(TaskData.LoadSquad(file, true).Examples.Count, predictions.Count);
        // A wrong --task is refused.
        Assert.Equal(1, Cli("evaluate", "--model", model, "--data", file, "--out", evalDir, "--task", "squad1"));

        var context = "A lexicographer is a person who writes dictionaries. A secularist is an advocate of secularism.";
        var input = Path.Combine(dir, "q.jsonl");
        File.WriteAllLines(input, [new JsonObject { ["id"] = "q1", ["question"] = "How is a lexicographer defined?",
            ["context"] = context }.ToJsonString()]);
        var output = Path.Combine(dir, "a.jsonl");
        Assert.Equal(0, Cli("predict", "--model", model, "--input", input, "--output", output, "--top-k", "2"));
        var a = JsonNode.Parse(File.ReadAllLines(output).Single())!;
        Assert.Equal("q1", a["id"]!.GetValue<string>());
        int start = a["start"]!.GetValue<int>(), end = a["end"]!.GetValue<int>();
        Assert.Equal(context[start..end], a["answer"]!.GetValue<string>());
        Assert.InRange(a["answers"]!.AsArray().Count, 1, 2);
    }

    [Fact]
    public void GlueTestPredictionsAreWrittenInTheSubmissionFormat()
    {
        var glue = Path.Combine(TestPaths.RepoRoot, "data", "glue-samples");
        var dir = TestPaths.NewTempDir();
        var model = Path.Combine(dir, "mnli");
        Assert.Equal(0, Cli("finetune", "--init-config", "mobilebert-micro", "--vocab", TestPaths.Vocab, "--task", "mnli", "--train",
            Path.Combine(glue, "MNLI", "train.tsv"),
            "--dev", Path.Combine(glue, "MNLI", "dev_matched.tsv"), "--out", model, "--epochs", "1", "--batch", "8", "--seq", "64", "--threads",
            "2"));
        var sub = Path.Combine(dir, "submission");
        Assert.Equal(0, Cli("predict", "--model", model, "--glue-test", Path.Combine(glue, "MNLI"), "--output", sub));
        foreach (var (f, test) in new[] { ("MNLI-m.tsv", "MNLI/test_matched.tsv"), ("MNLI-mm.tsv", "MNLI/test_mismatched.tsv"),
            ("AX.tsv", "AX/AX.tsv") })
        {
            var lines = File.ReadAllLines(Path.Combine(sub, f));
            Assert.Equal("index\tprediction", lines[0]);
            Assert.Equal(File.ReadAllLines(Path.Combine(glue, test)).Count(l => l.Length > 0) - 1, lines.Length - 1);
            Assert.All(lines.Skip(1), l => Assert.Contains(l.Split('\t')[1], new[] { "entailment", "neutral", "contradiction" }));
        }
    }

    [Fact]
    public void PredictReadsTextPairsAsTsvOrJsonAndWritesScoresForRegression()
    {
        var info = new TaskInfo
        {
            Task = "csv", Name = "similarity", Kind = TaskInfoKind.Regression, TextColumn = "a", PairColumn = "b", LabelColumn = "score",
            Metrics = ["pearson", "spearmanr", "corr", "mse"], MainMetric = "corr", MaxSeqLength = 32,
        };
        var model = MobileBert.Tests.Api.PredictorTests.RandomTaskFolder(info);
        var sw = new StringWriter();
        int n = PredictCommand.Run(model, new StringReader("A man eats.\tSomeone is eating.\n{\"text\":\"A dog runs.\",\"text_pair\":\"A cat " +
            "sleeps.\",\"id\":3}\n"), "in", sw, new PredictorOptions { BatchSize = 1 });
        Assert.Equal(2, n);
        var lines = sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        var c = TextClassifier.Load(model);
        Assert.Equal(c.Classify("A man eats.", "Someone is eating.").Score!.Value, lines[0]["score"]!.GetValue<float>(), 5);
        Assert.Equal("3", lines[1]["id"]!.GetValue<string>());
        Assert.Null(lines[0]["label"]);
        var e = Assert.Throws<InputException>(() => PredictCommand.Run(model, new StringReader("only one text\n"), "pairs.txt", TextWriter.Null,
            new PredictorOptions()));
        Assert.StartsWith("pairs.txt:1:", e.Message);
    }
}
