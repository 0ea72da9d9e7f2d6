using MobileBert.Kernels;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.Training;

/// <summary>
/// Backward kernels against central finite differences of independent double-precision reference forwards, on random
/// shapes: L = Σ w∘f(x) for random w, so dL/dy = w and the analytic dL/dx must equal the numeric one.
/// </summary>
public class KernelBackwardTests
{
    const double H = 1e-6;

    static double[] Randn(Random r, int n, double scale = 1)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = scale * Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        return a;
    }
    static float[] F(double[] x) => Array.ConvertAll(x, v => (float)v);
    static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }

    /// <summary>Numeric gradient of L(x) = w·f(x) for every coordinate of x.</summary>
    static double[] NumericGrad(double[] x, Func<double[], double[]> f, double[] w)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + H; double lp = Dot(w, f(x));
            x[i] = keep - H; double lm = Dot(w, f(x));
            x[i] = keep;
            g[i] = (lp - lm) / (2 * H);
        }
        return g;
    }

    static void Close(string what, double[] expected, ReadOnlySpan<float> actual, double rel = 1e-4)
    {
        double max = expected.Max(Math.Abs), diff = 0;
        for (int i = 0; i < expected.Length; i++) diff = Math.Max(diff, Math.Abs(expected[i] - actual[i]));
        Assert.True(diff <= rel * max + 1e-7, $"{what}: max|diff| {diff:g3} vs max|ref| {max:g3}");
    }

    static double[] LayerNormRef(double[] x, double[] g, double[] b, int rows, int dim, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double m = 0; for (int i = 0; i < dim; i++) m += x[r * dim + i]; m /= dim;
            double v = 0; for (int i = 0; i < dim; i++) v += (x[r * dim + i] - m) * (x[r * dim + i] - m); v /= dim;
            double s = 1 / Math.Sqrt(v + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i] - m) * s * g[i] + b[i];
        }
        return y;
    }

    [Theory]
    [InlineData(3, 7, 1e-12)]
    [InlineData(5, 33, 1e-5)]
    [InlineData(2, 64, 1e-2)]
    public void LayerNormMatchesFiniteDifferences(int rows, int dim, double eps)
    {
        var rng = new Random(rows * 100 + dim);
        var x = Randn(rng, rows * dim, 2); for (int i = 0; i < x.Length; i++) x[i] += 3;   // offset: centring matters
        var g = Randn(rng, dim); var b = Randn(rng, dim); var w = Randn(rng, rows * dim);
        var xf = F(x); var gf = F(g); var bf = F(b);
        x = Array.ConvertAll(xf, v => (double)v); g = Array.ConvertAll(gf, v => (double)v); b = Array.ConvertAll(bf, v => (double)v);
        var y = new float[x.Length]; var mean = new float[rows]; var rstd = new float[rows];
        Norms.LayerNorm(xf, y, gf, bf, rows, dim, (float)eps, mean, rstd);
        var dx = new float[x.Length]; var dg = new float[dim]; var db = new float[dim];
        NormsBackward.LayerNorm(F(w), xf, mean, rstd, gf, dx, dg, db, rows, dim);
        Close("dx", NumericGrad(x, xx => LayerNormRef(xx, g, b, rows, dim, eps), w), dx, 1e-4);
        Close("dgamma", NumericGrad(g, gg => LayerNormRef(x, gg, b, rows, dim, eps), w), dg);
        Close("dbeta", NumericGrad(b, bb => LayerNormRef(x, g, bb, rows, dim, eps), w), db);
        // Parameter gradients accumulate, dx accumulates on request.
        NormsBackward.LayerNorm(F(w), xf, mean, rstd, gf, dx, dg, db, rows, dim, accumulate: true);
        Close("dbeta accumulated", NumericGrad(b, bb => LayerNormRef(x, g, bb, rows, dim, eps)).Select(v => 2 * v).ToArray(), db);
        Close("dx accumulated", NumericGrad(x, xx => LayerNormRef(xx, g, b, rows, dim, eps), w).Select(v => 2 * v).ToArray(), dx, 1e-4);

        double[] NumericGrad(double[] p, Func<double[], double[]> f, double[]? ww = null) => KernelBackwardTests.NumericGrad(p, f, ww ?? w);
    }

    [Fact]
    public void NoNormMatchesFiniteDifferences()
    {
        var rng = new Random(5);
        int rows = 4, dim = 9;
        var x = Randn(rng, rows * dim, 30); var g = Randn(rng, dim); var b = Randn(rng, dim); var w = Randn(rng, rows * dim);
        double[] Ref(double[] xx, double[] gg, double[] bb) { var y = new double[xx.Length];
            for (int i = 0; i < y.Length; i++) y[i] = xx[i] * gg[i % dim] + bb[i % dim]; return y; }
        var dx = new float[x.Length]; var dg = new float[dim]; var db = new float[dim];
        NormsBackward.NoNorm(F(w), F(x), F(g), dx, dg, db, rows, dim);
        Close("dx", NumericGrad(x, xx => Ref(xx, g, b), w), dx);
        Close("dgamma", NumericGrad(g, gg => Ref(x, gg, b), w), dg, 1e-5);
        Close("dbeta", NumericGrad(b, bb => Ref(x, g, bb), w), db);
    }

    [Fact]
    public void MaskedSoftmaxMatchesFiniteDifferences()
    {
        var rng = new Random(11);
        int rows = 5, cols = 8;
        var x = Randn(rng, rows * cols, 3); var w = Randn(rng, rows * cols);
        var mask = new float[cols]; mask[2] = float.MinValue; mask[7] = float.MinValue;          // two masked keys (HF mask)
        double[] Ref(double[] xx)
        {
            var y = new double[xx.Length];
            for (int r = 0; r < rows; r++)
            {
                double mx = double.NegativeInfinity;
                for (int j = 0; j < cols; j++) mx = Math.Max(mx, xx[r * cols + j] + mask[j]);
                double z = 0; for (int j = 0; j < cols; j++) z += Math.Exp(xx[r * cols + j] + mask[j] - mx);
                for (int j = 0; j < cols; j++) y[r * cols + j] = Math.Exp(xx[r * cols + j] + mask[j] - mx) / z;
            }
            return y;
        }
        var p = F(x);
        Softmax.RowsWithAdditiveMask(p, mask, rows, cols);
        var dx = new float[x.Length];
        SoftmaxBackward.Rows(p, F(w), dx, rows, cols);
        Close("dscores", NumericGrad(x, Ref, w), dx);
        for (int r = 0; r < rows; r++) { Assert.Equal(0f, dx[r * cols + 2]); Assert.Equal(0f, dx[r * cols + 7]); }
        // In place (dx aliases dp).
        var dp = F(w);
        SoftmaxBackward.Rows(p, dp, dp, rows, cols);
        Assert.Equal(dx, dp);
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluNew)]
    [InlineData(Activation.Tanh)]
    public void ActivationsMatchFiniteDifferences(Activation kind)
    {
        var rng = new Random((int)kind + 3);
        var x = Randn(rng, 600, 3).Concat([0.5, -0.5, 1e-4, -1e-4, 7, -7, 12, -12]).ToArray();
        for (int i = 0; i < x.Length; i++) if (kind == Activation.Relu && Math.Abs(x[i]) < 1e-3) x[i] = 0.37;   // keep off the kink
        var w = Randn(rng, x.Length);
        double Act(double v) => kind switch
        {
            Activation.Relu => Math.Max(v, 0),
            Activation.Gelu => 0.5 * v * (1 + Model.NaiveMobileBert.Erf(v / Math.Sqrt(2))),
            Activation.GeluNew => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
            _ => Math.Tanh(v),
        };
        var xf = F(x); x = Array.ConvertAll(xf, v => (double)v);
        var y = (float[])xf.Clone(); Activations.Apply(kind, y);
        var g = F(w);
        ActivationsBackward.Backward(kind, xf, y, g);
        Close(kind.ToString(), NumericGrad(x, xx => xx.Select(Act).ToArray(), w), g, 2e-6);
    }

    [Fact]
    public void TrigramAndEmbeddingScatterMatchFiniteDifferences()
    {
        var rng = new Random(17);
        int batch = 2, seq = 5, dim = 3, vocab = 6;
        var table = Randn(rng, vocab * dim);
        int[] ids = [0, 3, 3, 5, 1, 2, 0, 0, 4, 3];                  // repeated ids, padding id 0
        var w = Randn(rng, batch * seq * 3 * dim);
        double[] Ref(double[] t)
        {
            var y = new double[batch * seq * 3 * dim];
            for (int b = 0; b < batch; b++)
                for (int s = 0; s < seq; s++)
                    for (int i = 0; i < dim; i++)
                    {
                        int o = (b * seq + s) * 3 * dim;
                        if (s + 1 < seq) y[o + i] = t[ids[b * seq + s + 1] * dim + i];
                        y[o + dim + i] = t[ids[b * seq + s] * dim + i];
                        if (s > 0) y[o + 2 * dim + i] = t[ids[b * seq + s - 1] * dim + i];
                    }
            return y;
        }
        var dwords = new float[batch * seq * dim];
        EmbeddingBackward.Trigram(F(w), dwords, batch, seq, dim);
        var dtable = new float[vocab * dim];
        EmbeddingBackward.ScatterAdd(ids, dwords, dim, dtable, paddingId: -1);
        Close("dtable", NumericGrad(table, Ref, w), dtable);
        // padding_idx: row 0 gets nothing from the lookup; the other rows are unchanged.
        var dpad = new float[vocab * dim];
        EmbeddingBackward.ScatterAdd(ids, dwords, dim, dpad, paddingId: 0);
        Assert.All(dpad[..dim], v => Assert.Equal(0f, v));
        Assert.Equal(dtable[dim..], dpad[dim..]);
    }

    [Fact]
    public void CrossEntropyMatchesFiniteDifferencesAndIgnoresLabels()
    {
        var rng = new Random(23);
        int rows = 6, classes = 5;
        var x = Randn(rng, rows * classes, 2);
        x[3] = 3e4; x[4] = -3e4;                                     // huge logits stay finite
        int[] labels = [2, -100, 0, 4, -100, 1];
        double Ref(double[] xx)
        {
            double s = 0; int n = 0;
            for (int r = 0; r < rows; r++)
            {
                if (labels[r] == -100) continue;
                double mx = double.NegativeInfinity; for (int j = 0; j < classes; j++) mx = Math.Max(mx, xx[r * classes + j]);
                double z = 0; for (int j = 0; j < classes; j++) z += Math.Exp(xx[r * classes + j] - mx);
                s += mx + Math.Log(z) - xx[r * classes + labels[r]]; n++;
            }
            return s / n;
        }
        var xf = F(x); x = Array.ConvertAll(xf, v => (double)v);
        var d = new float[x.Length];
        double loss = Losses.CrossEntropy(xf, labels, rows, classes, d, threads: 2);
        Assert.True(Math.Abs(Ref(x) - loss) <= 1e-6 * Math.Abs(Ref(x)), $"loss {loss} vs {Ref(x)}");
        Close("dlogits", NumericGrad(x, xx => [Ref(xx)], [1.0]), d, 1e-5);
        for (int j = 0; j < classes; j++) { Assert.Equal(0f, d[1 * classes + j]); Assert.Equal(0f, d[4 * classes + j]); }
        // In place, scaled, single-threaded: same gradient × scale.
        var inPlace = (float[])xf.Clone();
        Assert.Equal(loss, Losses.CrossEntropy(inPlace, labels, rows, classes, inPlace, scale: 0.5f), 12);
        for (int i = 0; i < d.Length; i++) Assert.Equal(0.5f * d[i], inPlace[i], 1e-7f);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(xf, [5, 0, 0, 0, 0, 0], rows, classes));
        Assert.Equal(0.0, Losses.CrossEntropy(xf, Enumerable.Repeat(-100, rows).ToArray(), rows, classes));
    }

    [Fact]
    public void MeanSquaredErrorMatchesFiniteDifferences()
    {
        var rng = new Random(29);
        var p = F(Randn(rng, 7)); var t = F(Randn(rng, 7));
        var x = Array.ConvertAll(p, v => (double)v);
        double Ref(double[] xx) { double s = 0; for (int i = 0; i < xx.Length; i++) s += (xx[i] - t[i]) * (xx[i] - t[i]); return s / xx.Length; }
        var d = new float[7];
        Assert.Equal(Ref(x), Losses.MeanSquaredError(p, t, d), 12);
        Close("dpred", NumericGrad(x, xx => [Ref(xx)], [1.0]), d, 1e-6);
    }

    [Theory]
    [InlineData(7, 3)]
    [InlineData(5, 77)]
    [InlineData(33, 200)]
    public void ColumnSumsAccumulate(int rows, int cols)
    {
        var rng = new Random(rows + cols);
        var x = F(Randn(rng, rows * cols)); var sums = F(Randn(rng, cols));
        var expected = new double[cols];
        for (int j = 0; j < cols; j++) { expected[j] = sums[j]; for (int r = 0; r < rows; r++) expected[j] += x[r * cols + j]; }
        Reductions.AddColumnSums(x, rows, cols, sums);
        Close("column sums", expected, sums, 1e-6);
    }

    [Fact]
    public void DropoutIsSeededScaledAndItsOwnBackward()
    {
        var a = Enumerable.Repeat(1f, 20000).ToArray(); var b = (float[])a.Clone(); var c = (float[])a.Clone();
        Dropout.Apply(a, 0.25f, seed: 42, stream: 7); Dropout.Apply(b, 0.25f, seed: 42, stream: 7); Dropout.Apply(c, 0.25f, seed: 43, stream: 7);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        int dropped = a.Count(v => v == 0f);
        Assert.InRange(dropped, 4600, 5400);                          // ≈ 25 %
        Assert.All(a, v => Assert.True(v == 0f || Math.Abs(v - 1f / 0.75f) < 1e-6));
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i] != 0f, Dropout.Keep(0.25f, 42, 7, i));
        // An offset slice sees the same mask.
        var tail = Enumerable.Repeat(1f, 100).ToArray();
        Dropout.Apply(tail, 0.25f, 42, 7, firstIndex: 500);
        Assert.Equal(a.AsSpan(500, 100).ToArray(), tail);
        var z = Enumerable.Repeat(3f, 10).ToArray(); Dropout.Apply(z, 0f, 1, 1);
        Assert.All(z, v => Assert.Equal(3f, v));
    }
    [Theory]
    [InlineData(1, 0, 1)] [InlineData(17, 3, 1)] [InlineData(1000, 0, 1)] [InlineData(16384, 16384, 1)] [InlineData(70001, 12345, 2)] [InlineData(
    300000, 5, 3)]
    public void RecordedDropoutMaskIsBitIdenticalToDropoutApply(int n, long first, int threads)
    {
        var rng = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expect = (float[])x.Clone();
        Dropout.Apply(expect, 0.1f, seed: 9, stream: 4, firstIndex: first);
        var got = (float[])x.Clone();
        var keep = new uint[DropoutBackward.Words(n)];
        DropoutBackward.ApplyAndRecord(got, 0.1f, 9, 4, first, keep, threads);
        Assert.Equal(expect, got);                                        // forward: same values, +0 for dropped
        for (int i = 0; i < n; i++) Assert.Equal(Dropout.Keep(0.1f, 9, 4, first + i), (keep[i >> 5] >> (i & 31) & 1) != 0);
        // Backward: the recorded mask applied to a gradient = Dropout.Apply on it; offset slices read the right bits.
        var g = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var gExpect = (float[])g.Clone();
        Dropout.Apply(gExpect, 0.1f, 9, 4, first);
        var gGot = new float[n];
        DropoutBackward.ApplyRecorded(g, gGot, 0.1f, keep, 0);
        Assert.Equal(gExpect, gGot);
        if (n > 40)
        {
            var part = new float[n - 37];
            DropoutBackward.ApplyRecorded(g.AsSpan(37), part, 0.1f, keep, 37);
            Assert.Equal(gExpect.AsSpan(37).ToArray(), part);
        }
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(5, 7)] [InlineData(128, 128)] [InlineData(3, 37)]
    public void SoftmaxBackwardRowsScaledEqualsRowsThenScale(int rows, int cols)
    {
        var rng = new Random(rows * 31 + cols);
        var p = Enumerable.Range(0, rows * cols).Select(_ => (float)rng.NextDouble()).ToArray();
        var dp = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expect = new float[rows * cols];
        SoftmaxBackward.Rows(p, dp, expect, rows, cols);
        System.Numerics.Tensors.TensorPrimitives.Multiply(expect, 0.176776695f, expect);
        var got = (float[])dp.Clone();
        SoftmaxBackward.RowsScaled(p, got, got, rows, cols, 0.176776695f);
        Assert.Equal(expect, got);
    }
}
