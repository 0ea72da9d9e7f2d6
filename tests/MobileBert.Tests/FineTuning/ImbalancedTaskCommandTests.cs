using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

/// <summary>An imbalanced task (~7 % positives) through the command line: the best checkpoint is chosen by the minority
/// class's F1 (not accuracy), --class-weight and --select-by are applied, evaluate --output writes every label's
/// probability; --recipe pretrained sets the learning rate by model size; --teacher runs task distillation.</summary>
[Collection("Console")]   // its commands write progress to the process-wide Console.Error, which Console tests capture
public class ImbalancedTaskCommandTests
{
    static int Cli(params string[] args) => TaskCommandTests.Cli(args);

    /// <summary>The sentiment split with only every 13th positive sentence kept (~7 % positives).</summary>
    static (string Train, string Dev) ImbalancedFiles()
    {
        var files = FineTuneTestData.SentimentFiles();
        string Thin(string path)
        {
            int positives = 0;
            var kept = File.ReadLines(path).Where(l => !l.Contains("\"label\":\"positive\"") || positives++ % 13 == 0).ToArray();
            var outPath = Path.Combine(Path.GetDirectoryName(path)!, "imbalanced-" + Path.GetFileName(path));
            File.WriteAllLines(outPath, kept);
            return outPath;
        }
        return (Thin(files.Train), Thin(files.Dev));
    }

    static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Fact]
    public void TheBestCheckpointOfAnImbalancedTaskIsTheMinorityF1sBestAndEvaluateWritesProbabilities()
    {
        var (train, dev) = ImbalancedFiles();
        var dir = TestPaths.NewTempDir();
        var model = Path.Combine(dir, "model");
        string[] common = ["finetune", "--init-config", "mobilebert-micro", "--vocab", TestPaths.Vocab, "--task", "jsonl", "--train", train,
            "--dev", dev,
            "--seq", "48", "--threads", "2", "--seed", "7"];
        Assert.Equal(0, Cli([.. common, "--out", model, "--epochs", "1", "--lr", "2e-3", "--eval-every", "10", "--class-weight", "balanced"]));

        var results = Json(Path.Combine(model, FineTuningRun.EvalResultsFile));
        Assert.Equal("f1", results["selected_by"]!.GetValue<string>());
        Assert.Equal("positive", TaskInfo.Load(model).PositiveLabel);
        var history = results["history"]!.AsArray().Select(h => (Step: h!["step"]!.GetValue<long>(),
            F1: h["metrics"]!["values"]!["f1"]!.GetValue<double>())).ToArray();
        Assert.True(history.Length >= 4);
        Assert.True(history.Select(h => h.F1).Distinct().Count() > 1, "the minority F1 never changed: the selection is not exercised");
        var best = history.First(h => h.F1 == history.Max(x => x.F1));
        Assert.Equal(best.Step, results["best_step"]!.GetValue<long>());
        Assert.Equal(best.F1, results["best"]!["values"]!["f1"]!.GetValue<double>());
        var state = Json(Directory.GetDirectories(Path.Combine(model, "checkpoints")).Select(d => Path.Combine(d, FineTuningRun.StateFile)).First());
        Assert.Equal(2, state["fingerprint"]!["class_weights"]!.AsArray().Count);

        // evaluate --output: one line per dev example, every label's probability, the label is the most probable one.
        var preds = Path.Combine(dir, "preds", "dev.jsonl");
        Assert.Equal(0, Cli("evaluate", "--model", model, "--data", dev, "--out", Path.Combine(dir, "eval"), "--output", preds));
        var lines = File.ReadAllLines(preds).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        Assert.Equal(File.ReadAllLines(dev).Length, lines.Length);
        foreach (var o in lines)
        {
            var p = o["probabilities"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>());
            Assert.Equal(["negative", "positive"], p.Keys);
            Assert.Equal(1.0, p.Values.Sum(), 5);
            Assert.Equal(p.MaxBy(kv => kv.Value).Key, o["label"]!.GetValue<string>());
            Assert.Equal(p[o["label"]!.GetValue<string>()], o["probability"]!.GetValue<double>());
        }
        // The F1 evaluate reports is the minority class's, from these predictions.
        var m = Json(Path.Combine(dir, "eval", TaskEvaluation.MetricsFile))["metrics"]!;
        int tp = lines.Count(o => o["label"]!.GetValue<string>() == "positive" && o["gold"]!.GetValue<string>() == "positive");
        int fp = lines.Count(o => o["label"]!.GetValue<string>() == "positive" && o["gold"]!.GetValue<string>() == "negative");
        int fn = lines.Count(o => o["label"]!.GetValue<string>() == "negative" && o["gold"]!.GetValue<string>() == "positive");
        Assert.Equal(tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn), m["f1"]!.GetValue<double>(), 9);

        // --teacher with --select-by and --recipe pretrained (micro model: lr 1e-3), options override the recipe (1 epoch).
        var student = Path.Combine(dir, "student");
        Assert.Equal(0, Cli([.. common, "--out", student, "--recipe", "pretrained", "--epochs", "1", "--teacher", model, "--kd-alpha", "0.6",
            "--kd-temperature", "3", "--kd-layers", "0.5", "--select-by", "mcc"]));
        Assert.Equal("mcc", Json(Path.Combine(student, FineTuningRun.EvalResultsFile))["selected_by"]!.GetValue<string>());
        var fp2 = Json(Directory.GetDirectories(Path.Combine(student, "checkpoints")).Select(d => Path.Combine(d,
            FineTuningRun.StateFile)).First())["fingerprint"]!;
        Assert.Equal((1e-3, 1, 0.6, 3.0, 0.5), (fp2["lr"]!.GetValue<double>(), fp2["epochs"]!.GetValue<int>(), fp2["kd_alpha"]!.GetValue<double>(),
            fp2["kd_temperature"]!.GetValue<double>(), fp2["kd_layers"]!.GetValue<double>()));
        Assert.True(File.Exists(Path.Combine(student, TeacherLogits.FileName)));

        // Bad values are one-line errors (exit code 1).
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "x"), "--select-by", "pearson"]));
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "y"), "--class-weight", "1,2,3"]));
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "z"), "--kd-alpha", "1.5", "--teacher", model]));
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "w"), "--recipe", "fast"]));
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "v"), "--kd-temperature", "3"]));   // without --teacher
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "u"), "--kd-layers", "1"]));   // without --teacher
        Assert.Equal(1, Cli([.. common, "--out", Path.Combine(dir, "t"), "--kd-layers", "-1", "--teacher", model]));
    }
}
