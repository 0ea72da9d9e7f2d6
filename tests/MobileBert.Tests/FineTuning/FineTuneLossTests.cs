using MobileBert.FineTuning;
using MobileBert.Training;
using Xunit;
using static MobileBert.Tests.Distillation.DistillationLossTests;

namespace MobileBert.Tests.FineTuning;

/// <summary>The fine-tuning losses — class-weighted cross-entropy, the distillation KL, and their mix in
/// <see cref="TrainingObjective"/> — against independent float64 references written from the definitions, their
/// gradients against central finite differences of those references.</summary>
public class FineTuneLossTests
{
    /// <summary>PyTorch CrossEntropyLoss(weight=w, reduction='mean'): Σ w[y]·(lse(x) − x[y]) / Σ w[y] over non-ignored rows.</summary>
    static double RefWeightedCe(double[] x, int[] labels, int classes, float[]? w)
    {
        double num = 0, den = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            if (labels[r] == Losses.IgnoreIndex) continue;
            var row = x.AsSpan(r * classes, classes).ToArray();
            double m = row.Max(), lse = m + Math.Log(row.Sum(v => Math.Exp(v - m)));
            double wy = w is null ? 1 : w[labels[r]];
            num += wy * (lse - row[labels[r]]); den += wy;
        }
        return num / den;
    }

    /// <summary>(T²/rows)·Σ_r Σ_k q·(log q − log p), q = softmax(t/T), p = softmax(s/T); −∞ teacher logits have q = 0.</summary>
    static double RefKd(double[] s, float[] t, int rows, int classes, double T)
    {
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var sr = s.AsSpan(r * classes, classes).ToArray().Select(v => v / T).ToArray();
            var tr = t.AsSpan(r * classes, classes).ToArray().Select(v => v / T).ToArray();
            double ms = sr.Max(), mt = tr.Max();
            double lseS = ms + Math.Log(sr.Sum(v => Math.Exp(v - ms))), lseT = mt + Math.Log(tr.Sum(v => Math.Exp(v - mt)));
            for (int k = 0; k < classes; k++)
            {
                if (double.IsNegativeInfinity(tr[k])) continue;
                double logq = tr[k] - lseT, logp = sr[k] - lseS;
                total += Math.Exp(logq) * (logq - logp);
            }
        }
        return T * T * total / rows;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WeightedCrossEntropyMatchesFloat64Reference(bool weighted)
    {
        var rng = new Random(11);
        int rows = 7, k = 3;
        var x = Random(rng, rows * k, 3);
        int[] labels = [0, 2, Losses.IgnoreIndex, 1, 1, 0, 2];
        float[]? w = weighted ? [0.5f, 4f, 1.5f] : null;
        var d = new float[x.Length];
        double loss = Losses.CrossEntropy(x, labels, rows, k, d, scale: 0.7f, threads: 2, classWeights: w);
        var xd = x.Select(v => (double)v).ToArray();
        Assert.Equal(RefWeightedCe(xd, labels, k, w), loss, 1e-6);
        AssertClose(NumericGradient(v => 0.7 * RefWeightedCe(v, labels, k, w), x, 1e-4), d, 2e-4, "dLogits");
        for (int j = 0; j < k; j++) Assert.Equal(0f, d[2 * k + j]);   // ignored row
        // Equal weights are the unweighted loss; a weight count that does not match the classes is refused.
        Assert.Equal(Losses.CrossEntropy(x, labels, rows, k), Losses.CrossEntropy(x, labels, rows, k, classWeights: new float[] { 3, 3, 3 }), 6);
        Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(x, labels, rows, k, classWeights: new float[] { 1, 2 }));
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(2.0)]
    [InlineData(4.0)]
    public void SoftTargetKlMatchesFloat64ReferenceAndSkipsRuledOutClasses(double T)
    {
        var rng = new Random(12);
        int rows = 4, k = 5;
        var s = Random(rng, rows * k, 3); var t = Random(rng, rows * k, 4);
        t[1 * k + 3] = float.NegativeInfinity; t[1 * k + 4] = float.NegativeInfinity;   // a padded QA window: no teacher mass there
        var d = new float[s.Length];
        Array.Fill(d, 0.125f);                                                         // the gradient is ADDED
        double kd = Losses.SoftTargetKl(s, t, rows, k, T, d, scale: 0.5f);
        var sd = s.Select(v => (double)v).ToArray();
        Assert.Equal(RefKd(sd, t, rows, k, T), kd, 1e-6);
        AssertClose(NumericGradient(v => 0.5 * RefKd(v, t, rows, k, T), s, 1e-4), [.. d.Select(g => g - 0.125f)], 2e-4, "dStudent");
        Assert.True(double.IsFinite(kd) && d.All(float.IsFinite));
        // A student equal to its teacher has no distillation loss.
        Assert.True(Losses.SoftTargetKl(s.Take(k).ToArray(), s.Take(k).ToArray(), 1, k, T) < 1e-6);
    }

    [Theory]
    [InlineData(0.0, 2.0, false)]
    [InlineData(0.5, 2.0, false)]
    [InlineData(0.7, 3.0, true)]
    [InlineData(1.0, 1.0, true)]
    public void DistillationObjectiveMixesLabelsAndTeacherAsDefined(double alpha, double T, bool weighted)
    {
        var rng = new Random(13);
        int n = 6, k = 3;
        var teacherValues = Random(rng, n * k, 3);
        var teacher = new TeacherLogits(teacherValues, null, [.. Enumerable.Range(0, n + 1).Select(i => i * k)]);
        float[]? w = weighted ? [1f, 5f, 2f] : null;
        var objective = new TrainingObjective { ClassWeights = w, Teacher = teacher, KdAlpha = alpha, KdTemperature = T };
        int[] features = [4, 1, 5];           // batch rows → training features
        int[] labels = [2, 0, 1];
        var s = Random(rng, features.Length * k, 2);
        var d = new float[s.Length];
        double loss = objective.Classification(s, labels, features, k, d);
        var t = features.SelectMany(f => teacherValues.Skip(f * k).Take(k)).ToArray();
        double Ref(double[] x) => (1 - alpha) * RefWeightedCe(x, labels, k, w) + alpha * RefKd(x, t, features.Length, k, T);
        Assert.Equal(Ref(s.Select(v => (double)v).ToArray()), loss, 1e-6);
        AssertClose(NumericGradient(Ref, s, 1e-4), d, 2e-4, "dLogits");
        // Without a teacher α plays no part: plain (weighted) cross-entropy.
        var plain = new float[s.Length];
        Assert.Equal(Losses.CrossEntropy(s, labels, labels.Length, k, classWeights: w), (objective with { Teacher = null }).Classification(s,
            labels, features, k, plain), 9);
    }

    [Fact]
    public void RegressionDistillationIsMseToLabelsAndToTheTeacher()
    {
        var teacher = new TeacherLogits([0.5f, -1f, 2f, 0.25f], null, [0, 1, 2, 3, 4]);
        var objective = new TrainingObjective { Teacher = teacher, KdAlpha = 0.3 };
        float[] p = [0.1f, 1.5f], y = [0f, 2f];
        int[] features = [3, 0];
        var d = new float[2];
        double loss = objective.Regression(p, y, features, d);
        double Ref(double[] x) => 0.7 * ((x[0] - 0) * (x[0] - 0) + (x[1] - 2) * (x[1] - 2)) / 2           // labels 0, 2
            + 0.3 * ((x[0] - 0.25) * (x[0] - 0.25) + (x[1] - 0.5) * (x[1] - 0.5)) / 2;                      // teacher rows 3, 0
        Assert.Equal(Ref([0.1, 1.5]), loss, 6);
        AssertClose(NumericGradient(Ref, p, 1e-4), d, 1e-4, "dPredictions");
    }

    [Fact]
    public void QaTeacherRowsArePaddedWithNoProbability()
    {
        // Two features of 3 and 5 tokens in a batch padded to 5: the teacher's mass stays on each feature's real tokens.
        var teacher = new TeacherLogits([1f, 2f, 0f, 0.5f, 0.5f, 3f, -1f, 0f], [0f, 0f, 1f, 2f, 1f, 0f, 0f, 0f], [0, 3, 8]);
        var objective = new TrainingObjective { Teacher = teacher, KdAlpha = 1, KdTemperature = 1 };
        var s = new float[10];   // a uniform student
        var d = new float[10];
        double loss = objective.Classification(s, [0, 0], [0, 1], 5, d);
        Assert.True(double.IsFinite(loss));
        // The padded columns 3, 4 of row 0 get gradient T·(p − 0)/rows = 0.2/2 (pushed down), the real ones less or negative.
        Assert.Equal(0.1f, d[3], 5); Assert.Equal(0.1f, d[4], 5);
        Assert.Equal(0, d.Take(5).Sum(), 5);   // softmax gradients sum to zero per row
        var tooLong = new TeacherLogits(new float[6], null, [0, 6]);
        Assert.Throws<InvalidOperationException>(() => (objective with { Teacher = tooLong }).Classification(new float[5], [0], [0], 5,
            new float[5]));
    }
}
