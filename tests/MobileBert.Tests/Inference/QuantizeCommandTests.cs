using System.CommandLine;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Inference;

[Collection("Console")]
public class QuantizeCommandTests
{
    static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { QuantizeCommand.Create() };
        var oldOut = Console.Out; var oldErr = Console.Error;
        var o = new StringWriter(); var e = new StringWriter();
        Console.SetOut(o); Console.SetError(e);
        try { return (root.Parse(args).Invoke(), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    [Fact]
    public void QuantizesMeasuresAndWritesALoadableFolder()
    {
        string tmp = TestPaths.NewTempDir();
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        c.VocabSize = 30522; c.MaxPositionEmbeddings = 64; c.Labels = ["negative", "positive"];
        var m = InferenceEngineTests.Build(c, 2);
        string src = Path.Combine(tmp, "fp32"), dst = Path.Combine(tmp, "int8");
        ModelFolder.Save(m, src, TestPaths.Vocab);
        string labelled = Path.Combine(tmp, "eval.json");
        File.WriteAllText(
            labelled,
            """[{"text":"great movie","class":1},{"text":"awful food","class":0},{"text":"","class":null},{"text":"fine","label":"positive"}]""");
        var (rc, stdout, stderr) = Run("quantize", "--model", src, "--out", dst, "--calibration", "2", "--seq", "16", "--per-layer",
            "--max-error", "0.0001", "--max-kept-layers", "1", "--eval", labelled);
        Assert.True(rc == 0, stderr);
        Assert.Contains("layer   0 alone int8", stdout);
        Assert.Contains("role qkv", stdout);
        Assert.Contains("accuracy on", stdout);
        Assert.Contains("3 examples", stdout);
        Assert.Contains("fp32 layers: ", stdout);
        var (model, q, meta) = QuantizedCheckpoint.Load(dst);
        Assert.Single(meta["fp32_layers"].Split(',', StringSplitOptions.RemoveEmptyEntries));   // --max-kept-layers 1 with an unreachable bound
        Assert.True(q.Count > 0);
        Assert.True(File.Exists(Path.Combine(dst, "vocab.txt")));
        using var engine = new InferenceEngine(model, new InferenceOptions { Quantized = q });
        Assert.Equal(2, engine.Run([new TokenSequence([101, 2000, 102])]).Logits.Length);
    }

    [Fact]
    public void TheInt8KernelFlagChoosesTheKernelAndNamesItselfWhenTheCpuLacksIt()
    {
        string tmp = TestPaths.NewTempDir();
        var c = ReferenceForwardTests.Make("tiny_shaped");
        c.VocabSize = 30522; c.MaxPositionEmbeddings = 64; c.Labels = ["negative", "positive"];
        string src = Path.Combine(tmp, "fp32"), labelled = Path.Combine(tmp, "eval.json");
        ModelFolder.Save(InferenceEngineTests.Build(c, 2), src, TestPaths.Vocab);
        File.WriteAllText(labelled, """[{"text":"great movie","class":1},{"text":"awful food","class":0}]""");
        foreach (var kernel in Enum.GetValues<MobileBert.Kernels.Int8Path>())
        {
            var (rc, stdout, stderr) = Run("quantize", "--model", src, "--eval", labelled, "--calibration", "1", "--seq", "8",
                "--int8-kernel", kernel.ToString());
            if (MobileBert.Kernels.Int8Gemm.IsSupported(kernel))
            {
                Assert.True(rc == 0, $"{kernel}: {stderr}");
                Assert.Contains("2 examples", stdout);
            }
            else
            {
                Assert.Equal(1, rc);
                Assert.Equal($"error: --int8-kernel {kernel} is not supported on this CPU", stderr.Split(';')[0]);
            }
        }
    }

    [Fact]
    public void BadArgumentsGiveOneLineErrors()
    {
        var (rc, _, err) = Run("quantize", "--model", "/nonexistent/x", "--out", "/tmp/never");
        Assert.Equal(1, rc); Assert.StartsWith("error: ", err);
        (rc, _, err) = Run("quantize", "--model", "/nonexistent/x");
        Assert.Equal(1, rc); Assert.Contains("--out", err);
    }
}
