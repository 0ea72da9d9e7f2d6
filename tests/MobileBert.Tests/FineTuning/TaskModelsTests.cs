using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

public class TaskModelsTests
{
    [Fact]
    public void FineTuningFromAPretrainingFolderKeepsEveryBackboneTensorAndTheNspPoolerAndAddsAFreshHead()
    {
        var dir = TestPaths.NewTempDir();
        var pre = new MobileBertModel(FineTuneTestData.Micro(), ModelHeads.Pretraining);
        pre.InitializeWeights(11);
        ModelFolder.Save(pre, dir, TestPaths.Vocab);
        var info = new TaskInfo { Task = "csv", Name = "t", Kind = TaskInfoKind.Classification, Labels = ["a", "b", "c"], MainMetric = "acc" };
        var m = TaskModels.ForFineTuning(dir, null, info, seed: 5);
        Assert.Equal(["a", "b", "c"], m.Config.Labels);
        foreach (var p in m.Store.Parameters.Where(p => p.Name.StartsWith("mobilebert.", StringComparison.Ordinal)))
            Assert.True(m.Store.Span(p).SequenceEqual(pre.Store.Span(pre.Store[p.Name])), p.Name);
        var w = m.Store.Span(m.Store["classifier.weight"]);
        Assert.Equal(3 * m.Config.HiddenSize, w.Length);
        Assert.Contains(w.ToArray(), x => x != 0);

        // Re-fine-tuning a fine-tuned folder with the same labels keeps its head; other labels get a fresh one.
        var ft = TestPaths.NewTempDir();
        ModelFolder.Save(m, ft, TestPaths.Vocab);
        var again = TaskModels.ForFineTuning(ft, null, info, seed: 99);
        Assert.True(again.Store.Span(again.Store["classifier.weight"]).SequenceEqual(w));
        var other = TaskModels.ForFineTuning(ft, null, info with { Labels = ["x", "y", "z"] }, seed: 99);
        Assert.False(other.Store.Span(other.Store["classifier.weight"]).SequenceEqual(w));
    }
}
