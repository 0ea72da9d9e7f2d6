using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using MobileBert.Tasks.Classification;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.FineTuning;

public class FineTuneFingerprintTests
{
    /// <summary>A fine-tuning fingerprint names the optimizer only when it is not the default AdamW, so a run folder whose
    /// fingerprint has no "optimizer" resumes with AdamW and is refused with LAMB.</summary>
    [Fact]
    public void AFingerprintWithoutTheOptimizerResumesAsAdamW()
    {
        var files = FineTuneTestData.SentimentFiles(maxTrain: 64);
        var data = TaskData.LoadSequenceTask("jsonl", files.Train, files.Dev);
        var o = FineTuneTestData.MicroOptions(Path.Combine(TestPaths.NewTempDir(), "run"), epochs: 1);
        var a = FineTuningRun.Run(o, FineTuneTask.Sequence(data));
        var state = Path.Combine(new RunDirectory(o.OutputDir, 1).Latest()!.Value.Path, RunDirectory.StateFile);
        var json = JsonNode.Parse(File.ReadAllText(state))!.AsObject();
        Assert.True(json["fingerprint"]!.AsObject().Remove("optimizer"));
        File.WriteAllText(state, json.ToJsonString());

        var b = FineTuningRun.Run(o with { Resume = true }, FineTuneTask.Sequence(data));
        Assert.Equal((true, a.Steps, a.Steps), (b.Resumed, b.ResumedFromStep, b.Steps));
        var e = Assert.Throws<ArgumentException>(() => FineTuningRun.Run(o with { Resume = true, Optimizer = "lamb" }, FineTuneTask.Sequence(data)));
        Assert.Contains("'optimizer' was null in the checkpoint but is \"lamb\" now", e.Message);
    }
}
