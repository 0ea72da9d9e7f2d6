using System.CommandLine;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Export;

/// <summary>`mobilebert export-onnx` end to end (the command is invoked directly, as CliApp would).</summary>
[Collection("Console")]   // redirects the process-wide Console.Error
public class ExportOnnxCommandTests
{
    static int Invoke(params string[] args) => new RootCommand { ExportOnnxCommand.Create() }.Parse(args).Invoke();

    [Fact]
    public void ExportsAModelFolderThatOnnxRuntimeRuns()
    {
        var (model, input) = GoldenForwardTests.LoadGolden("tiny");
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir);
        var path = Path.Combine(dir, "model.onnx");
        Assert.Equal(0, Invoke("export-onnx", "--model", dir, "--out", path));
        var ours = OrtRunner.Ours(model.Forward(input));
        var ort = OrtRunner.Run(File.ReadAllBytes(path), input);
        foreach (var (k, v) in ours) Tolerance.AssertClose(k, v, ort[k], 1e-4);

        var q = Path.Combine(dir, "model.int8.onnx");
        Assert.Equal(0, Invoke("export-onnx", "--model", dir, "--out", q, "--int8", "--opset", "13"));
        Assert.True(new FileInfo(q).Length < new FileInfo(path).Length);
        var ort8 = OrtRunner.Run(File.ReadAllBytes(q), input);
        Assert.True(OrtRunner.RelativeError(ours["last_hidden_state"], ort8["last_hidden_state"]) <= OnnxExportTests.Int8Bound("last_hidden_state"));
    }

    [Fact]
    public void BadRequestsExitWithOneLineErrors()
    {
        var (model, _) = GoldenForwardTests.LoadGolden("tiny");
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir);
        var err = Console.Error;
        var sw = new StringWriter();
        Console.SetError(sw);
        try
        {
            Assert.Equal(1, Invoke("export-onnx", "--model", dir, "--out", Path.Combine(dir, "x.onnx"), "--opset", "11"));
            Assert.Equal(1, Invoke("export-onnx", "--model", Path.Combine(dir, "missing"), "--out", Path.Combine(dir, "x.onnx")));
            Assert.Equal(1, Invoke("export-onnx", "--model", dir, "--out", Path.Combine(dir, "x.onnx"), "--per-column"));
        }
        finally { Console.SetError(err); }
        var text = sw.ToString();
        Assert.Contains("error: export-onnx: ONNX opset 11 is not supported", text);
        Assert.Contains("missing", text);
        Assert.Contains("--per-column needs --int8", text);
        Assert.False(File.Exists(Path.Combine(dir, "x.onnx")));
    }
}
