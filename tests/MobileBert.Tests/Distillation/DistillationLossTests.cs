using MobileBert.Distillation;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.Distillation;

/// <summary>Each knowledge-transfer loss against an independent float64 reference (written from the definitions in
/// docs/DISTILLATION.md), its gradient against central finite differences of that reference, masks and padding.</summary>
public class DistillationLossTests
{
    internal static float[] Random(Random rng, int n, double scale, double offset = 0) => [.. Enumerable.Range(0,
        n).Select(_ => (float)(offset + scale * (2 * rng.NextDouble() - 1)))];

    /// <summary>Central differences of a double function at x (float inputs promoted to double).</summary>
    internal static double[] NumericGradient(Func<double[], double> f, float[] x, double h)
    {
        var xd = x.Select(v => (double)v).ToArray();
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = xd[i];
            xd[i] = keep + h; double up = f(xd);
            xd[i] = keep - h; double down = f(xd);
            xd[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    internal static void AssertClose(double[] expected, float[] actual, double relTol, string what)
    {
        double max = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relTol * max + 1e-9,
                $"{what}[{i}]: expected {expected[i]:G6}, got {actual[i]:G6} (max |ref| {max:G4})");
    }

    // ---------- feature-map transfer ----------

    static (double Mse, double Mean, double Var) RefFeatureMap(double[] t, double[] s, int rows, int hidden, int[] mask)
    {
        double mse = 0, mean = 0, vr = 0; int n = 0;
        for (int r = 0; r < rows; r++)
        {
            if (mask[r] == 0) continue;
            n++;
            var tr = t.AsSpan(r * hidden, hidden).ToArray(); var sr = s.AsSpan(r * hidden, hidden).ToArray();
            double mt = tr.Average(), ms = sr.Average();
            double vt = tr.Select(x => (x - mt) * (x - mt)).Average(), vs = sr.Select(x => (x - ms) * (x - ms)).Average();
            for (int k = 0; k < hidden; k++)
            {
                double a = (sr[k] - ms) / Math.Sqrt(vs + DistillationLosses.FeatureNormEps),
                    b = (tr[k] - mt) / Math.Sqrt(vt + DistillationLosses.FeatureNormEps);
                mse += (a - b) * (a - b);
            }
            mean += (mt - ms) * (mt - ms); vr += Math.Abs(vt - vs);
        }
        return (mse / (n * hidden), mean / n, vr / n);
    }

    [Theory]
    [InlineData(100, 5000, 5)]   // the recipe
    [InlineData(1, 0, 0)]        // each term alone
    [InlineData(0, 1, 0)]
    [InlineData(0, 0, 1)]
    public void FeatureMapMatchesFloat64ReferenceWithPadding(double wf, double wm, double wv)
    {
        var rng = new Random(1);
        int rows = 6, hidden = 8;
        var t = Random(rng, rows * hidden, 3, 0.5); var s = Random(rng, rows * hidden, 2, -0.3);
        int[] mask = [1, 1, 0, 1, 1, 0];
        var w = new LossWeights { FeatureMap = wf, Mean = wm, Variance = wv };
        var grad = new float[rows * hidden];
        Array.Fill(grad, 0.25f);                                                      // gradients are ADDED
        var loss = DistillationLosses.FeatureMap(t, s, rows, hidden, mask, w, grad, threads: 2);
        var td = t.Select(v => (double)v).ToArray();
        var r = RefFeatureMap(td, s.Select(v => (double)v).ToArray(), rows, hidden, mask);
        Assert.Equal(r.Mse, loss.Mse, 1e-9); Assert.Equal(r.Mean, loss.Mean, 1e-9); Assert.Equal(r.Var, loss.Variance, 1e-9);
        Assert.Equal(wf * r.Mse + wm * r.Mean + wv * r.Var, loss.Total, 1e-6);
        var num = NumericGradient(x => { var q = RefFeatureMap(td, x, rows, hidden, mask); return wf * q.Mse + wm * q.Mean + wv * q.Var; }, s, 1e-5);
        AssertClose(num, [.. grad.Select(g => g - 0.25f)], 1e-4, "dStudent");
        for (int k = 0; k < hidden; k++) { Assert.Equal(0.25f, grad[2 * hidden + k]); Assert.Equal(0.25f, grad[5 * hidden + k]); }   // padded tokens
        // Padding content does not change the loss.
        var s2 = (float[])s.Clone(); s2[2 * hidden + 3] = 1e4f;
        Assert.Equal(loss.Total, DistillationLosses.FeatureMap(t, s2, rows, hidden, mask, w).Total, 12);
    }

    [Fact]
    public void FeatureMapIsZeroForAnAffinelyEquivalentStudentOnlyInTheMseTerm()
    {
        var rng = new Random(2);
        var t = Random(rng, 4 * 16, 1);
        var s = t.Select(v => 3 * v + 2).ToArray();   // same normalised map, different mean / variance
        var l = DistillationLosses.FeatureMap(t, s, 4, 16, null, new LossWeights());
        Assert.True(l.Mse < 1e-8, $"mse {l.Mse}");
        Assert.True(l.Mean > 1 && l.Variance > 0.1);
    }

    // ---------- attention transfer ----------

    static float[] MaskedSoftmaxProbs(Random rng, int b, int heads, int s, int[] mask, double scale)
    {
        var p = new float[b * heads * s * s];
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < s; i++)
                {
                    var logits = Enumerable.Range(0, s).Select(j => mask[bi * s + j] == 0 ? double.NegativeInfinity
                        : scale * (2 * rng.NextDouble() - 1)).ToArray();
                    double max = logits.Max(), z = logits.Sum(x => Math.Exp(x - max));
                    for (int j = 0; j < s; j++) p[((bi * heads + h) * s + i) * s + j] = (float)(Math.Exp(logits[j] - max) / z);
                }
        return p;
    }

    static double RefAttention(double[] t, double[] st, int b, int s, int th, int sh, int[] mask)
    {
        // G = gcd(th, sh) groups of consecutive heads, each averaged, then KL(t ‖ s) per group and counted query row, over
        // non-masked keys (equal counts: one head per group).
        int groups = Gcd(th, sh);
        double Avg(double[] x, int heads, int bi, int g, int i, int j)
        {
            int per = heads / groups;
            return Enumerable.Range(g * per, per).Average(h => x[((bi * heads + h) * s + i) * s + j]);
        }
        double total = 0; int count = 0;
        for (int bi = 0; bi < b; bi++)
            for (int g = 0; g < groups; g++)
                for (int i = 0; i < s; i++)
                {
                    if (mask[bi * s + i] == 0) continue;
                    count++;
                    for (int j = 0; j < s; j++)
                    {
                        if (mask[bi * s + j] == 0) continue;
                        double pt = Avg(t, th, bi, g, i, j), ps = Avg(st, sh, bi, g, i, j);
                        if (pt > 0) total += pt * Math.Log(pt / ps);
                    }
                }
        return total / count;
    }

    static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    [Theory]
    [InlineData(2, 2)]
    [InlineData(4, 2)]    // 2 groups of 2 teacher heads, one student head each
    [InlineData(12, 4)]   // all-MiniLM-L6-v2 → its MobileBERT student: student head g ← mean of teacher heads 3g…3g+2
    [InlineData(6, 4)]    // 2 groups: 3 teacher heads vs 2 student heads
    [InlineData(3, 2)]    // coprime: the all-head averages
    [InlineData(2, 4)]    // more student heads: each teacher head supervises the mean of 2 student heads
    public void AttentionKlMatchesFloat64ReferenceWithPaddedQueriesAndKeys(int teacherHeads, int studentHeads)
    {
        var rng = new Random(3);
        int b = 2, s = 5;
        int[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
        var t = MaskedSoftmaxProbs(rng, b, teacherHeads, s, mask, 2);
        var st = MaskedSoftmaxProbs(rng, b, studentHeads, s, mask, 2);
        var grad = new float[st.Length];
        double loss = DistillationLosses.Attention(t, st, b, s, teacherHeads, studentHeads, mask, grad, scale: 1.0, threads: 2);
        var td = t.Select(v => (double)v).ToArray();
        Assert.Equal(RefAttention(td, st.Select(v => (double)v).ToArray(), b, s, teacherHeads, studentHeads, mask), loss, 1e-7);
        Assert.True(loss > 0);
        Assert.Equal(0, DistillationLosses.Attention(t, t, b, s, teacherHeads, teacherHeads, mask), 1e-7);
        var num = NumericGradient(x => RefAttention(td, x, b, s, teacherHeads, studentHeads, mask), st, 1e-7);
        for (int i = 0; i < st.Length; i++)
        {
            int j = i % s, q = i / s % s, bi = i / (s * s * studentHeads);
            if (mask[bi * s + j] == 0 || mask[bi * s + q] == 0) { Assert.Equal(0f, grad[i]); num[i] = 0; }   // masked keys, padded query rows
        }
        AssertClose(num, grad, 1e-4, "dStudentProbs");
        // Weight (scale) multiplies the gradient only.
        var g2 = new float[st.Length];
        DistillationLosses.Attention(t, st, b, s, teacherHeads, studentHeads, mask, g2, scale: 3.0);
        for (int i = 0; i < g2.Length; i++) Assert.Equal(3 * grad[i], g2[i], 1e-5 * Math.Max(1, Math.Abs(g2[i])));
    }

    // ---------- pre-training distillation ----------

    static double RefPrediction(double[] s, float[] t, int[] labels, int rows, int v, double[] nsp, int[] nspLabels, double alpha, double T)
    {
        double mlm = 0, kd = 0; int n = 0;
        for (int r = 0; r < rows; r++)
        {
            if (labels[r] == Losses.IgnoreIndex) continue;
            n++;
            var sr = s.AsSpan(r * v, v).ToArray(); var tr = t.AsSpan(r * v, v).ToArray().Select(x => (double)x).ToArray();
            double lse = Math.Log(sr.Sum(Math.Exp));
            mlm += lse - sr[labels[r]];
            double lsT = Math.Log(sr.Sum(x => Math.Exp(x / T))), ltT = Math.Log(tr.Sum(x => Math.Exp(x / T)));
            for (int k = 0; k < v; k++)
            {
                double lq = tr[k] / T - ltT, lp = sr[k] / T - lsT;
                kd += Math.Exp(lq) * (lq - lp);
            }
        }
        double ns = 0;
        for (int i = 0; i < nspLabels.Length; i++)
        {
            double lse = Math.Log(Math.Exp(nsp[2 * i]) + Math.Exp(nsp[2 * i + 1]));
            ns += lse - nsp[2 * i + nspLabels[i]];
        }
        return alpha * mlm / n + (1 - alpha) * T * T * kd / n + ns / nspLabels.Length;
    }

    [Theory]
    [InlineData(0.5, 1.0)]
    [InlineData(0.3, 2.0)]
    [InlineData(1.0, 1.0)]
    public void PredictionDistillationMatchesFloat64Reference(double alpha, double temperature)
    {
        var rng = new Random(4);
        int rows = 5, v = 7, b = 3;
        var s = Random(rng, rows * v, 3); var t = Random(rng, rows * v, 3);
        int[] labels = [2, Losses.IgnoreIndex, 6, 0, 3];
        var nsp = Random(rng, 2 * b, 2); int[] nspLabels = [0, 1, 1];
        var w = new LossWeights { Alpha = alpha, Temperature = temperature };
        var dS = new float[s.Length]; var dN = new float[nsp.Length];
        var loss = DistillationLosses.Prediction(s, t, labels, rows, v, nsp, nspLabels, w, dS, dN, threads: 2);
        var nd = nsp.Select(x => (double)x).ToArray(); var sd = s.Select(x => (double)x).ToArray();
        Assert.Equal(RefPrediction(sd, t, labels, rows, v, nd, nspLabels, alpha, temperature), loss.Total, 1e-5);
        Assert.Equal(4, loss.MlmCount);
        AssertClose(NumericGradient(x => RefPrediction(x, t, labels, rows, v, nd, nspLabels, alpha, temperature), s, 1e-6), dS, 1e-4, "dMlmLogits");
        AssertClose(NumericGradient(x => RefPrediction(sd, t, labels, rows, v, x, nspLabels, alpha, temperature), nsp, 1e-6), dN, 1e-4, "dNspLogits");
        for (int k = 0; k < v; k++) Assert.Equal(0f, dS[v + k]);                  // ignored row
        // The gradient may overwrite the student's logits.
        var inPlace = (float[])s.Clone();
        var again = DistillationLosses.Prediction(inPlace, t, labels, rows, v, nsp, nspLabels, w, inPlace, null);
        Assert.Equal(loss.Total, again.Total, 12);
        Assert.Equal(dS, inPlace);
        // With the teacher equal to the student the KD term vanishes.
        Assert.Equal(0, DistillationLosses.Prediction(s, s, labels, rows, v, nsp, nspLabels, w).Kd, 6);
    }
}
