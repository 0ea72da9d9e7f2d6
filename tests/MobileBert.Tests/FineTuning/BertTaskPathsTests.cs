using System.CommandLine;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Inference;
using MobileBert.Cli;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.FineTuning;

/// <summary>A plain BERT folder through every user path: finetune → evaluate → predict → quantize → predict (int8) →
/// export-onnx → bench, and the question-answering API; all through the commands as CliApp registers them.</summary>
[Collection("Console")]   // its commands write progress to the process-wide Console.Error, which Console tests capture
public class BertTaskPathsTests
{
    static int Cli(params string[] args)
    {
        var root = new RootCommand
        {
            FinetuneCommand.Create(), EvaluateCommand.Create(), PredictCommand.Create(), QuantizeCommand.Create(), ExportOnnxCommand.Create(),
                BenchCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }

    /// <summary>A small pre-trained-style BERT folder (MLM + NSP heads, bert.* names, the BERT uncased vocab).</summary>
    static string BertFolder(ModelHeads heads)
    {
        var c = MobileBertConfig.Bert(hidden: 32, layers: 2, heads: 2, intermediate: 64);
        c.MaxPositionEmbeddings = 64;
        var model = new MobileBertModel(c, heads);
        model.InitializeWeights(3);
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir, TestPaths.Vocab);
        return dir;
    }

    [Fact]
    public void ClassificationFineTunePredictQuantizeAndExport()
    {
        var files = FineTuneTestData.SentimentFiles(maxTrain: 200);
        var dir = TestPaths.NewTempDir();
        var tuned = Path.Combine(dir, "tuned");
        Assert.Equal(0, Cli("finetune", "--model", BertFolder(ModelHeads.Pretraining), "--task", "jsonl", "--train", files.Train, "--dev", files.Dev,
            "--out", tuned, "--epochs", "1", "--batch", "16", "--lr", "1e-3", "--seq", "32", "--threads", "2", "--seed", "1"));
        var config = ConfigJson.Load(Path.Combine(tuned, ModelFolder.ConfigFile));
        Assert.True(config.IsBert);
        Assert.Equal(["BertForSequenceClassification"], config.Architectures);
        using (var f = SafeTensorsFile.Open(Path.Combine(tuned, ModelFolder.WeightsFile)))
            Assert.Contains("bert.encoder.layer.1.output.LayerNorm.weight", f.Names);

        Assert.Equal(0, Cli("evaluate", "--model", tuned, "--data", files.Test, "--out", Path.Combine(dir, "eval")));
        var input = Path.Combine(dir, "in.txt");
        File.WriteAllLines(input, ["I love this phone.", "Terrible, it broke after a day."]);
        string fp32Out = Path.Combine(dir, "fp32.jsonl"), int8Out = Path.Combine(dir, "int8.jsonl"), int8 = Path.Combine(dir, "int8");
        Assert.Equal(0, Cli("predict", "--model", tuned, "--input", input, "--output", fp32Out));
        Assert.Equal(0, Cli("quantize", "--model", tuned, "--out", int8, "--calibration", "4", "--seq", "16", "--threads", "2"));
        Assert.Equal(0, Cli("predict", "--model", int8, "--input", input, "--output", int8Out));
        var a = File.ReadAllLines(fp32Out).Select(l => JsonNode.Parse(l)!["probability"]!.GetValue<double>()).ToArray();
        var b = File.ReadAllLines(int8Out).Select(l => JsonNode.Parse(l)!["probability"]!.GetValue<double>()).ToArray();
        for (int i = 0; i < a.Length; i++) Assert.InRange(Math.Abs(a[i] - b[i]), 0, 0.02);

        foreach (var folder in new[] { tuned, int8 })   // bench times what users deploy, the int8 folder included
            Assert.Equal(0, Cli("bench", "--model", folder, "--batch", "2", "--seq", "16", "--warmup", "0", "--iterations", "1", "--min-seconds",
                "0"));

        var onnx = Path.Combine(dir, "model.onnx");
        Assert.Equal(0, Cli("export-onnx", "--model", tuned, "--out", onnx));
        Assert.True(new FileInfo(onnx).Length > 1000);
    }

    [Fact]
    public void QuestionAnswererRunsOnABertQaFolderAndItsInt8Copy()
    {
        var dir = BertFolder(ModelHeads.QuestionAnswering);
        const string context = "The cat sat on the mat. The dog slept in the garden all day.";
        using var qa = QuestionAnswerer.Load(dir);
        var answers = qa.Answer(context, "Where did the dog sleep?", 3);
        Assert.NotEmpty(answers);
        Assert.All(answers, x => Assert.Equal(context[x.Start..x.End], x.Text));
        var model = ModelFolder.Load(dir);
        var q = Path.Combine(TestPaths.NewTempDir(), "int8");
        QuantizedCheckpoint.Save(model, QuantizedWeights.Quantize(model), q, TestPaths.Vocab);
        using var qa8 = QuestionAnswerer.Load(q);
        Assert.True(qa8.IsQuantized);
        Assert.NotEmpty(qa8.Answer(context, "Where did the dog sleep?", 3));
    }
}
