using System.Diagnostics;
using System.Text;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tests.Api;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.Hardening;

/// <summary>The `mobilebert` command on bad and unusual input: one `error:` line and exit code 1, or one output per line.</summary>
[Collection("Console")]
public class CliHardeningTests
{
    public static (int Rc, string Out, string Err) Cli(params string[] args)
    {
        var oldOut = Console.Out; var oldErr = Console.Error;
        var o = new StringWriter(); var e = new StringWriter();
        Console.SetOut(o); Console.SetError(e);
        try { return (CliApp.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    static readonly TaskInfo TwoLabels = new()
    {
        Task = "csv", Name = "moods", Kind = TaskInfoKind.Classification, Labels = ["neg", "pos"], Metrics = ["acc"], MainMetric = "acc",
            MaxSeqLength = 32,
    };

    public static string ClassifierFolder() => PredictorTests.RandomTaskFolder(TwoLabels);

    static string WriteFile(string name, string text)
    {
        var p = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllText(p, text, new UTF8Encoding(false));
        return p;
    }

    /// <summary>The `error:` line of captured stderr (other tests running in parallel may write progress lines to the
    /// same process-wide Console.Error, so the line is found rather than assumed first).</summary>
    public static string? ErrorLine(string err) => err.Split('\n').FirstOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal));

    static void AssertError(int rc, string err, params string[] parts)
    {
        Assert.Equal(1, rc);
        Assert.NotNull(ErrorLine(err));
        Assert.DoesNotContain("   at ", err);   // no stack trace
        foreach (var p in parts) Assert.Contains(p, err);
    }

    [Fact]
    public void EncodeReplacesALoneSurrogateAndRefusesABlankLineWithoutWritingOutput()
    {
        var model = ClassifierFolder();
        var output = Path.Combine(TestPaths.NewTempDir(), "out.safetensors");
        var ok = WriteFile("in.jsonl", "{\"text\":\"a\\ud800b\"}\n{\"text\":\"fine\"}\n");
        var (rc, _, err) = Cli("encode", "--model", model, "--input", ok, "--output", output, "--threads", "1");
        Assert.Equal(0, rc);
        Assert.Contains("warning: ", err);
        Assert.Contains("1 invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s)", err);
        using (var f = SafeTensorsFile.Open(output)) Assert.Equal(2, f["last_hidden_state"].Shape[0]);

        var blank = WriteFile("blank.jsonl", "{\"text\":\"a\"}\n\n{\"text\":\"b\"}\n");
        var output2 = Path.Combine(TestPaths.NewTempDir(), "out.safetensors");
        (rc, _, err) = Cli("encode", "--model", model, "--input", blank, "--output", output2);
        AssertError(rc, err, $"{blank}:2", "blank line");
        Assert.False(File.Exists(output2));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output2)!));
    }

    [Theory]
    [InlineData("-1", "--max-length must be at least 2")]
    [InlineData("100000", "exceeds the model's max_position_embeddings")]
    public void EncodeValidatesMaxLength(string value, string message)
    {
        var input = WriteFile("in.jsonl", "{\"text\":\"a\"}\n");
        var (rc, _, err) = Cli("encode", "--model", ClassifierFolder(), "--input", input, "--output",
            Path.Combine(TestPaths.NewTempDir(), "o.safetensors"), "--max-length", value);
        AssertError(rc, err, message);
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedAtLoadNamingTheTensorAndLeaveNoOutputFile()
    {
        var dir = ClassifierFolder();
        var m = ModelFolder.Load(dir);
        var p = m.Store["classifier.weight"];
        m.Store.Span(p)[3] = float.NaN;
        ModelFolder.Save(m, dir);
        var input = WriteFile("in.txt", "good\nbad\n");
        var outDir = TestPaths.NewTempDir();
        var (rc, _, err) = Cli("encode", "--model", dir, "--input", WriteFile("in.jsonl", "{\"text\":\"a\"}\n"), "--output",
            Path.Combine(outDir, "o.safetensors"));
        AssertError(rc, err, "'classifier.weight'", "non-finite");
        (rc, _, err) = Cli("predict", "--model", dir, "--input", input, "--output", Path.Combine(outDir, "p.jsonl"));
        AssertError(rc, err, "'classifier.weight'", "non-finite");
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public void PredictGivesOnePredictionPerLineWhateverTheCarriageReturnsAndSurrogates()
    {
        var model = ClassifierFolder();
        var lines = Enumerable.Range(0, 40).Select(i => i % 13 == 5 ? $"stray\rreturn {i}" : $"line {i}").ToList();
        lines[7] = "{\"text\":\"broken \\ud83d emoji\"}";
        var input = WriteFile("in.txt", string.Join("\n", lines) + "\r\n");
        var output = Path.Combine(TestPaths.NewTempDir(), "p.jsonl");
        var (rc, _, err) = Cli("predict", "--model", model, "--input", input, "--output", output, "--batch", "8");
        Assert.Equal(0, rc);
        Assert.Equal(40, File.ReadAllLines(output).Length);
        Assert.Contains("1 invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s)", err);
    }

    [Fact]
    public void PredictFailingMidFileLeavesNoPartialOutput()
    {
        var model = ClassifierFolder();
        var input = WriteFile("in.txt", string.Join("\n", Enumerable.Range(0, 30).Select(i => $"line {i}")) + "\n{\"text\": broken\n");
        var output = Path.Combine(TestPaths.NewTempDir(), "p.jsonl");
        var (rc, _, err) = Cli("predict", "--model", model, "--input", input, "--output", output, "--batch", "4");
        AssertError(rc, err, $"{input}:31", "invalid JSON");
        Assert.DoesNotContain("LineNumber", err);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!));
    }

    [Fact]
    public void AConfigThatDisagreesWithItsCheckpointFailsFastBeforeAllocating()
    {
        var dir = ClassifierFolder();
        var c = ConfigJson.Load(Path.Combine(dir, "config.json"));
        c.NumHiddenLayers = 1_000_000;
        ConfigJson.Save(c, Path.Combine(dir, "config.json"));
        var input = WriteFile("in.txt", "hello\n");
        var clock = Stopwatch.StartNew();
        var (rc, _, err) = Cli("predict", "--model", dir, "--input", input, "--output", Path.Combine(TestPaths.NewTempDir(), "p.jsonl"));
        AssertError(rc, err, "num_hidden_layers = 1000000", "holds 2 (encoder.layer.0 … encoder.layer.1)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");

        c.NumHiddenLayers = 2; c.IntermediateSize = 60_000_000;   // 2 layers × 2 FFNs × 2 × 32 × 6e7 floats = 61 GB ≫ memory
        ConfigJson.Save(c, Path.Combine(dir, "config.json"));
        (rc, _, err) = Cli("predict", "--model", dir, "--input", input, "--output", Path.Combine(TestPaths.NewTempDir(), "p.jsonl"));
        AssertError(rc, err, "weights need 62.4", "of memory is available");
    }

    [Fact]
    public void InitWithAMillionLayersIsRefusedBeforeBuildingThem()
    {
        var c = Presets.MobileBertMicro();
        c.NumHiddenLayers = 1_000_000;
        var config = Path.Combine(TestPaths.NewTempDir(), "huge.json");
        ConfigJson.Save(c, config);
        var outDir = Path.Combine(TestPaths.NewTempDir(), "m");
        var clock = Stopwatch.StartNew();
        var (rc, _, err) = Cli("init", "--preset", config, "--out", outDir);
        AssertError(rc, err, "weights need", "of memory is available");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")));
        c.NumHiddenLayers = 2; c.NumFeedforwardNetworks = int.MaxValue;
        ConfigJson.Save(c, config);
        (rc, _, err) = Cli("init", "--preset", config, "--out", outDir);
        AssertError(rc, err, "'num_feedforward_networks' = 2147483647 is more than 64");
    }

    [Fact]
    public void FinetuneAndDistillOnAMissingModelFolderSaySoAndCreateNothing()
    {
        var root = TestPaths.NewTempDir();
        var missing = Path.Combine(root, "no-such-model");
        var train = WriteFile("train.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\",\"label\":\"y\"}\n");
        var outDir = Path.Combine(root, "out");
        var (rc, _, err) = Cli("finetune", "--model", missing, "--task", "jsonl", "--train", train, "--out", outDir);
        AssertError(rc, err, $"{missing}: model folder does not exist");
        Assert.False(Directory.Exists(outDir));
        (rc, _, err) = Cli("distill", "--teacher", missing, "--student", "mobilebert-micro", "--data", train, "--out", outDir);
        AssertError(rc, err, $"{missing}: model folder does not exist");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void EvaluateAndQuantizeExplainWhatTheFolderLacks()
    {
        var plain = TestPaths.NewTempDir();
        ModelFolder.Save(new MobileBertModel(Presets.MobileBertMicro()), plain);   // no task.json, no vocab.txt
        var data = WriteFile("dev.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n");
        var (rc, _, err) = Cli("evaluate", "--model", plain, "--data", data);
        AssertError(rc, err, "not a fine-tuned model folder", "task.json");
        var q = Path.Combine(TestPaths.NewTempDir(), "q");
        (rc, _, err) = Cli("quantize", "--model", plain, "--out", q);
        AssertError(rc, err, "vocab.txt", "missing");
        Assert.False(Directory.Exists(q));
    }

    [Fact]
    public void HelpNamesTheToolMobilebert()
    {
        var (rc, stdout, _) = Cli("--help");
        Assert.Equal(0, rc);
        Assert.Contains("mobilebert [command] [options]", stdout);
        Assert.DoesNotContain("MobileBert.Cli", stdout);
    }
}
