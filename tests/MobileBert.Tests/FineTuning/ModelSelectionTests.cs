using MobileBert.FineTuning;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.Metrics;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

/// <summary>Which dev metric picks the best checkpoint, the minority class of a user task, class weights and the recipe.</summary>
public class ModelSelectionTests
{
    /// <summary>A JSONL task file with <paramref name="yes"/> "yes" rows and <paramref name="no"/> "no" rows (labels sort to no = 0, yes =
    /// 1).</summary>
    internal static string YesNoFile(int yes, int no, string? dir = null)
    {
        var path = Path.Combine(dir ?? TestPaths.NewTempDir(), "train.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, yes + no).Select(i => $"{{\"text\":\"row {i}\",\"label\":\"{(i < yes ? "yes" : "no")}\"}}"));
        return path;
    }

    [Fact]
    public void ABinaryUserTaskWithAMinorityClassReportsAndSelectsByThatClassesF1()
    {
        // 93 % "yes": the minority class "no" is label id 0, so F1 is about id 0, not id 1.
        var data = TaskData.LoadSequenceTask("jsonl", YesNoFile(93, 7), null);
        Assert.Equal(["no", "yes"], data.Definition.Labels);
        Assert.Equal(0, data.Definition.PositiveLabelId);
        var info = TaskInfo.FromDefinition("jsonl", data.Definition, 64);
        Assert.Equal("no", info.PositiveLabel);
        var dir = TestPaths.NewTempDir();
        info.Save(dir);
        Assert.Equal(0, TaskInfo.Load(dir).ToDefinition().PositiveLabelId);   // evaluate scores the same F1 later
        // All-"yes" predictions: accuracy 0.93, F1 of the minority 0 (what accuracy-based selection used to keep).
        var labels = data.Train.LabelIds();
        var allYes = labels.Select(_ => 1).ToArray();
        var m = TaskMetrics.Compute(data.Definition, allYes, labels);
        Assert.Equal(0.93, m.Values[MetricNames.Accuracy], 9);
        Assert.Equal(0, m.Values[MetricNames.F1]);
        Assert.Equal(0, m.Values[MetricNames.Matthews]);

        var balance = ClassBalance.Of(labels, 2);
        Assert.True(balance.IsImbalanced);
        var sel = ModelSelection.Resolve(null, info, balance);
        Assert.Equal(MetricNames.F1, sel.Metric);
        Assert.True(sel.HigherIsBetter);
        Assert.Contains("'no'", sel.Reason);
        Assert.Contains("7.0 %", sel.Reason);
    }

    [Fact]
    public void BalancedAndGlueTasksKeepTheirOfficialMetric()
    {
        var balanced = TaskData.LoadSequenceTask("jsonl", YesNoFile(55, 45), null);
        Assert.Equal(1, balanced.Definition.PositiveLabelId);
        var info = TaskInfo.FromDefinition("jsonl", balanced.Definition, 64);
        Assert.Equal(MetricNames.Accuracy, ModelSelection.Resolve(null, info, ClassBalance.Of(balanced.Train.LabelIds(), 2)).Metric);
        // CoLA (70 % acceptable) stays on its official MCC; STS-B on the correlation mean.
        var cola = TaskInfo.FromDefinition("cola", GlueTasks.Get("cola"), 64);
        Assert.Equal(MetricNames.Matthews, ModelSelection.Resolve(null, cola, new ClassBalance([30, 70])).Metric);
        var stsb = TaskInfo.FromDefinition("stsb", GlueTasks.Get("stsb"), 64);
        Assert.Equal(MetricNames.Correlation, ModelSelection.Resolve(null, stsb, null).Metric);
        // A three-class user task with a rare class: macro-F1.
        var three = TaskInfo.FromDefinition("csv", TaskDefinition.Classification("t", ["a", "b", "c"]), 64);
        Assert.Equal(MetricNames.MacroF1, ModelSelection.Resolve(null, three, new ClassBalance([50, 45, 5])).Metric);
        Assert.Equal(MetricNames.Accuracy, ModelSelection.Resolve(null, three, new ClassBalance([34, 33, 33])).Metric);
    }

    [Fact]
    public void SelectByNamesAnyReportedMetricOrIsAnErrorListingThem()
    {
        var info = TaskInfo.FromDefinition("jsonl", TaskDefinition.Classification("t", ["neg", "pos"]), 64);
        Assert.Equal(MetricNames.Accuracy, ModelSelection.Resolve("accuracy", info, null).Metric);
        Assert.Equal(MetricNames.Matthews, ModelSelection.Resolve("MCC", info, null).Metric);
        var loss = ModelSelection.Resolve("loss", info, null);
        Assert.False(loss.HigherIsBetter);
        Assert.True(loss.Better(0.3, 0.4));
        Assert.False(loss.Better(double.NaN, 0.4));
        var e = Assert.Throws<SettingException>(() => ModelSelection.Resolve("pearson", info, null));
        Assert.Equal("--select-by pearson: task 'jsonl' reports acc, f1, macro_f1, mcc, loss.", MobileBert.Cli.CliFlags.Message(e));
        var squad = TaskInfo.ForSquad(false, 384, new SquadSettings());
        Assert.Equal("exact_match", ModelSelection.Resolve("exact", squad, null).Metric);
        Assert.Equal("f1", ModelSelection.Resolve(null, squad, null).Metric);
        Assert.Equal("SelectBy loss: task 'squad1' reports exact_match, f1.",
            Assert.Throws<SettingException>(() => ModelSelection.Resolve("loss", squad, null)).Message);
        var regression = TaskInfo.FromDefinition("csv", TaskDefinition.Regression("r"), 64);
        Assert.False(ModelSelection.Resolve("mse", regression, null).HigherIsBetter);
        Assert.True(ModelSelection.Resolve(null, regression, null) is { Metric: MetricNames.Correlation, HigherIsBetter: true });
    }

    [Fact]
    public void ClassWeightsAreBalancedFromTheTrainingLabelsOrExplicit()
    {
        var info = TaskInfo.FromDefinition("jsonl", TaskDefinition.Classification("t", ["neg", "pos"]), 64);
        var balance = new ClassBalance([93, 7]);
        var w = ClassWeights.Resolve("balanced", info, balance)!;
        Assert.Equal(100.0 / (2 * 93), w[0], 6);
        Assert.Equal(100.0 / (2 * 7), w[1], 6);
        Assert.Equal([1f, 5f], ClassWeights.Resolve(" 1, 5 ", info, balance)!);
        Assert.Null(ClassWeights.Resolve(null, info, balance));
        Assert.Contains("2 labels (neg, pos", Assert.Throws<SettingException>(() => ClassWeights.Resolve("1,2,3", info, balance)).Message);
        Assert.Contains("label 'neg'", Assert.Throws<SettingException>(() => ClassWeights.Resolve("0,1", info, balance)).Message);
        Assert.Contains("label 'pos' has no training example", Assert.Throws<InvalidDataException>(() => ClassWeights.Resolve("balanced", info,
            new ClassBalance([10, 0]))).Message);
        var reg = TaskInfo.FromDefinition("stsb", GlueTasks.Get("stsb"), 64);
        Assert.Contains("regression", Assert.Throws<SettingException>(() => ClassWeights.Resolve("balanced", reg, null)).Message);
    }

    [Fact]
    public void ThePretrainedRecipeScalesTheLearningRateWithModelSize()
    {
        Assert.Equal(5e-5, FineTuneRecipe.Pretrained(110_000_000).Lr);
        Assert.Equal(1e-4, FineTuneRecipe.Pretrained(25_000_000).Lr);
        Assert.Equal(3e-4, FineTuneRecipe.Pretrained(4_400_000).Lr);
        var micro = FineTuneRecipe.Resolve("pretrained", FineTuneTestData.Micro());
        Assert.Equal(1e-3, micro.Lr);
        Assert.Equal((3, 32, 0.1, 0.01), (micro.Epochs, micro.Batch, micro.WarmupProportion, micro.WeightDecay));
        Assert.Same(FineTuneRecipe.Default, FineTuneRecipe.Resolve(null, null));
        Assert.Contains("pretrained", Assert.Throws<SettingException>(() => FineTuneRecipe.Resolve("fast", null)).Message);
    }
}
