using MobileBert.Tasks.Classification;
using MobileBert.Tasks.Metrics;
using Xunit;

namespace MobileBert.Tests.Tasks.Metrics;

public class MetricsTests
{
    const double Tol = 1e-12;

    [Fact]
    public void Accuracy_HandComputed()
    {
        Assert.Equal(0.75, ClassificationMetrics.Accuracy([1, 0, 1, 1], [1, 0, 0, 1]), Tol);
        Assert.Equal(1.0, ClassificationMetrics.Accuracy([2, 0, 1], [2, 0, 1]), Tol);
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy([1], [1, 0]));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy([], []));
    }

    [Fact]
    public void F1_Binary_HandComputed()
    {
        // TP=1 FP=1 FN=1 -> 2/(2+1+1)
        Assert.Equal(0.5, ClassificationMetrics.F1([1, 0, 1, 0], [1, 1, 0, 0]), Tol);
        // TP=2 FP=0 FN=1 -> 4/5
        Assert.Equal(0.8, ClassificationMetrics.F1([1, 1, 0, 0], [1, 1, 1, 0]), Tol);
        Assert.Equal(2.0 / 3, ClassificationMetrics.Precision([1, 1, 1, 0], [1, 1, 0, 0]), Tol);
        Assert.Equal(1.0, ClassificationMetrics.Recall([1, 1, 1, 0], [1, 1, 0, 0]), Tol);
    }

    [Fact]
    public void F1_NoPositivePredictions_IsZero_AsSklearn()
    {
        Assert.Equal(0.0, ClassificationMetrics.F1([0, 0, 0], [1, 0, 1]));
        Assert.Equal(0.0, ClassificationMetrics.Precision([0, 0, 0], [1, 0, 1]));
        // no positive anywhere: sklearn zero_division -> 0
        Assert.Equal(0.0, ClassificationMetrics.F1([0, 0], [0, 0]));
        Assert.Equal(1.0, ClassificationMetrics.F1([1, 0], [1, 0]));
    }

    [Fact]
    public void MacroF1_HandComputed()
    {
        // each class: TP=1 FP=1 FN=1 -> 0.5
        Assert.Equal(0.5, ClassificationMetrics.MacroF1([0, 1, 1, 2, 2, 0], [0, 0, 1, 1, 2, 2]), Tol);
        // class 0: 2/(2+2+0)=0.5, classes 1 and 2: 0 -> 1/6
        Assert.Equal(1.0 / 6, ClassificationMetrics.MacroF1([0, 0, 0], [0, 1, 2]), Tol);
        // class 1 only predicted, never true: still averaged (sklearn labels = union) -> (2/3 + 0)/2
        Assert.Equal(1.0 / 3, ClassificationMetrics.MacroF1([0, 1], [0, 0]), Tol);
    }

    [Fact]
    public void Matthews_HandComputed()
    {
        // TP=2 TN=2 FP=1 FN=1: (4-1)/sqrt(3^4) = 1/3
        Assert.Equal(1.0 / 3, ClassificationMetrics.MatthewsCorrelation([1, 1, 0, 0, 0, 1], [1, 1, 1, 0, 0, 0]), Tol);
        // sklearn docstring example (+1/-1 mapped to 1/0): -1/3
        Assert.Equal(-1.0 / 3, ClassificationMetrics.MatthewsCorrelation([1, 0, 1, 1], [1, 1, 1, 0]), Tol);
        // multi-class: c=3 s=6, Σtp=12, Σp²=Σt²=12 -> (18-12)/(36-12) = 0.25
        Assert.Equal(0.25, ClassificationMetrics.MatthewsCorrelation([0, 1, 1, 2, 2, 0], [0, 0, 1, 1, 2, 2]), Tol);
        Assert.Equal(1.0, ClassificationMetrics.MatthewsCorrelation([0, 1, 1, 0], [0, 1, 1, 0]), Tol);
        Assert.Equal(-1.0, ClassificationMetrics.MatthewsCorrelation([1, 0, 0, 1], [0, 1, 1, 0]), Tol);
    }

    [Fact]
    public void Matthews_Degenerate_IsZero()
    {
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([1, 1, 1, 1], [1, 0, 1, 0])); // constant predictions
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([0, 0, 0], [1, 0, 1]));
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([1, 0, 1], [1, 1, 1]));       // constant labels
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([1, 1], [1, 1]));             // all correct but one class
    }

    [Fact]
    public void Pearson_HandComputed()
    {
        Assert.Equal(0.9647638212377322, RegressionMetrics.Pearson([1, 2, 3, 4], [2, 4, 5, 9]), Tol); // 11/sqrt(130)
        Assert.Equal(1.0, RegressionMetrics.Pearson([1e8 + 1, 1e8 + 2, 1e8 + 3], [5, 6, 7]), 1e-9);
        Assert.Equal(-1.0, RegressionMetrics.Pearson([1, 2, 3], [3, 2, 1]), Tol);
        Assert.Throws<ArgumentException>(() => RegressionMetrics.Pearson([1], [1]));
    }

    [Fact]
    public void Pearson_And_Spearman_ZeroVariance_AreNaN_AsScipy()
    {
        Assert.True(double.IsNaN(RegressionMetrics.Pearson([2, 2, 2], [1, 2, 3])));
        Assert.True(double.IsNaN(RegressionMetrics.Pearson([1, 2, 3], [0, 0, 0])));
        Assert.True(double.IsNaN(RegressionMetrics.Spearman([4, 4, 4], [1, 2, 3])));
    }

    [Fact]
    public void AverageRanks_Ties_AsScipyRankdata()
    {
        Assert.Equal([1.0, 2.5, 2.5, 4.0], RegressionMetrics.AverageRanks([1, 2, 2, 3]));
        Assert.Equal([4.0, 2.0, 2.0, 2.0, 5.0], RegressionMetrics.AverageRanks([7, 1, 1, 1, 9]));
    }

    [Fact]
    public void Spearman_WithTies_HandComputed()
    {
        // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4] -> 4.5/sqrt(4.5*5) = 3/sqrt(10)
        Assert.Equal(0.9486832980505138, RegressionMetrics.Spearman([1, 2, 2, 3], [1, 3, 2, 4]), Tol);
        // monotone but non-linear -> 1
        Assert.Equal(1.0, RegressionMetrics.Spearman([1, 2, 3, 4], [1, 8, 27, 64]), Tol);
        Assert.Equal(SpearmanReference([0.5, 3, 3, 1, 3, 2], [0.1, 0.2, 0.2, 0.3, 0.9, 0.9]),
            RegressionMetrics.Spearman([0.5, 3, 3, 1, 3, 2], [0.1, 0.2, 0.2, 0.3, 0.9, 0.9]), Tol);
    }

    /// <summary>Independent O(n²) reference: rank = (#less) + (#equal + 1)/2, then the textbook Pearson formula.</summary>
    static double SpearmanReference(double[] x, double[] y)
    {
        double[] Rank(double[] v) => v.Select(a => v.Count(b => b < a) + (v.Count(b => b == a) + 1) / 2.0).ToArray();
        double[] rx = Rank(x), ry = Rank(y);
        int n = x.Length;
        double sx = rx.Sum(), sy = ry.Sum(), sxy = rx.Zip(ry, (a, b) => a * b).Sum(), sxx = rx.Sum(a => a * a), syy = ry.Sum(a => a * a);
        return (n * sxy - sx * sy) / Math.Sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
    }

    [Fact]
    public void Compute_Glue_NamesAndMainMetric()
    {
        var mrpc = TaskMetrics.Compute(GlueTasks.Mrpc, [1, 0, 1, 0], [1, 1, 0, 0]);
        Assert.Equal(0.5, mrpc.Values["acc"], Tol);
        Assert.Equal(0.5, mrpc.Values["f1"], Tol);
        Assert.Equal(0.5, mrpc.Values["acc_and_f1"], Tol);
        Assert.Equal("acc_and_f1", mrpc.MainMetric);

        var cola = TaskMetrics.Compute(GlueTasks.CoLA, [1, 1, 1], [1, 0, 1]);
        Assert.Equal(["mcc"], cola.Values.Keys);
        Assert.Equal(0.0, cola.Main);

        var sts = TaskMetrics.Compute(GlueTasks.StsB, new double[] { 1, 2, 2, 3 }, new double[] { 1, 3, 2, 4 });
        Assert.Equal(0.9486832980505138, sts.Values["spearmanr"], Tol);
        Assert.Equal((sts.Values["pearson"] + sts.Values["spearmanr"]) / 2, sts.Main, Tol);
        Assert.Equal("corr", sts.MainMetric);

        Assert.Equal(2.0 / 3, TaskMetrics.Compute(GlueTasks.Mnli, [0, 1, 2], [0, 1, 1]).Values["mnli/acc"], Tol);
        Assert.Equal(1.0 / 3, TaskMetrics.Compute(GlueTasks.MnliMismatched, [0, 0, 2], [0, 1, 1]).Values["mnli-mm/acc"], Tol);
        Assert.Throws<ArgumentException>(() => TaskMetrics.Compute(GlueTasks.StsB, [1, 0], [1, 0]));
        Assert.Throws<ArgumentException>(() => TaskMetrics.Compute(GlueTasks.Sst2, new double[] { 1, 0 }, new double[] { 1, 0 }));
    }

    [Fact]
    public void Compute_GenericMultiClass_HasMacroF1_AndLogits()
    {
        var task = TaskDefinition.Classification("topics", ["a", "b", "c"]);
        Assert.Equal(["acc", "macro_f1", "mcc"], task.Metrics);
        // logits argmax: rows -> 0, 1, 1 (tie picks first), 2
        float[] logits = [3, 1, 0, 0, 2, 1, 0, 5, 5, 0, 0, 9];
        Assert.Equal([0, 1, 1, 2], ClassificationMetrics.Argmax(logits, 3));
        var r = TaskMetrics.FromLogits(task, logits, labelIds: [0, 1, 2, 2]);
        Assert.Equal(0.75, r.Values["acc"], Tol);
        Assert.Equal((1 + 2.0 / 3 + 2.0 / 3) / 3, r.Values["macro_f1"], Tol);
        Assert.Equal(0.7, r.Values["mcc"], Tol);   // (c·s − Σ t_k p_k) / √((s² − Σ p_k²)(s² − Σ t_k²)) = (12 − 5) / 10
        Assert.Equal(0.75, r.Main, Tol);
    }
}
