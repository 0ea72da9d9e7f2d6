using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class NormsTests
{
    private const float Eps = 1e-12f;

    /// <summary>Two-pass double LayerNorm of v (already the float sum x+res). Returns y plus mean/rstd per row.</summary>
    private static (double[] y, double[] mean, double[] rstd, double[] scale) RefLayerNorm(
        float[] v, float[] g, float[] b, int rows, int dim, double eps)
    {
        var y = new double[rows * dim];
        var scale = new double[rows * dim]; // |n·γ| + |β|: magnitude of the terms, for a relative tolerance
        var mean = new double[rows];
        var rstd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < dim; j++) s += v[r * dim + j];
            double m = s / dim, q = 0;
            for (int j = 0; j < dim; j++) { double d = v[r * dim + j] - m; q += d * d; }
            double rs = 1 / Math.Sqrt(q / dim + eps);
            mean[r] = m; rstd[r] = rs;
            for (int j = 0; j < dim; j++)
            {
                double t = (v[r * dim + j] - m) * rs * g[j];
                y[r * dim + j] = t + b[j];
                scale[r * dim + j] = Math.Abs(t) + Math.Abs(b[j]);
            }
        }
        return (y, mean, rstd, scale);
    }

    private static void CheckLayerNorm(float[] v, float[] g, float[] b, int rows, int dim, float[] y, float[] mean, float[] rstd, string what)
    {
        var (ry, rm, rr, sc) = RefLayerNorm(v, g, b, rows, dim, Eps);
        for (int i = 0; i < rows * dim; i++)
            KernelTestUtil.Close(ry[i], y[i], 3e-7 * sc[i] + 1e-30, $"{what} y[{i}] rows={rows} dim={dim}");
        for (int r = 0; r < rows; r++)
        {
            KernelTestUtil.Close(rm[r], mean[r], 1e-7 * Math.Abs(rm[r]) + 1e-30, $"{what} mean[{r}]");
            KernelTestUtil.Close(rr[r], rstd[r], 1e-7 * Math.Abs(rr[r]), $"{what} rstd[{r}]");
        }
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(10.0, 3.0)]
    [InlineData(1e4, 1.0)]      // large offset, small noise: naive one-pass float variance fails here
    [InlineData(-3e4, 0.01)]
    [InlineData(0.0, 5e3)]      // MobileBERT-scale activations
    public void LayerNorm_MatchesTwoPassDoubleReference(double offset, double std)
    {
        var rng = new Random(10);
        foreach (int dim in KernelTestUtil.Dims)
        {
            const int rows = 3;
            var x = KernelTestUtil.Normal(rng, rows * dim, offset, std);
            var g = KernelTestUtil.Normal(rng, dim, 1, 0.5);
            var b = KernelTestUtil.Normal(rng, dim, 0, 0.5);
            var y = new float[rows * dim];
            var mean = new float[rows];
            var rstd = new float[rows];
            Norms.LayerNorm(x, y, g, b, rows, dim, Eps, mean, rstd);
            CheckLayerNorm(x, g, b, rows, dim, y, mean, rstd, $"LN offset={offset} std={std}");
        }
    }

    [Fact]
    public void LayerNorm_LargeOffset_NormalisedOutputIsAccurate()
    {
        // 1e4 + noise in [-1, 1]: outputs with γ=1, β=0 must have mean ≈ 0 and variance ≈ 1 to float accuracy.
        var rng = new Random(11);
        const int dim = 512;
        var x = new float[dim];
        for (int j = 0; j < dim; j++) x[j] = 1e4f + (float)(2 * rng.NextDouble() - 1);
        var g = Enumerable.Repeat(1f, dim).ToArray();
        var b = new float[dim];
        var y = new float[dim];
        Norms.LayerNorm(x, y, g, b, 1, dim, Eps);
        double m = y.Average(v => (double)v);
        double var = y.Average(v => ((double)v - m) * ((double)v - m));
        Assert.InRange(m, -1e-6, 1e-6);
        Assert.InRange(var, 1 - 1e-6, 1 + 1e-6);
    }

    [Fact]
    public void AddLayerNorm_MatchesReference_AndSupportsAliasing()
    {
        var rng = new Random(12);
        foreach (int dim in KernelTestUtil.Dims)
        {
            const int rows = 4;
            var x = KernelTestUtil.Normal(rng, rows * dim, 100, 50);
            var res = KernelTestUtil.Normal(rng, rows * dim, -2e3, 20);
            var g = KernelTestUtil.Normal(rng, dim, 1, 0.5);
            var b = KernelTestUtil.Normal(rng, dim, 0, 0.5);
            var v = new float[rows * dim];
            for (int i = 0; i < v.Length; i++) v[i] = x[i] + res[i]; // float add, as PyTorch
            var y = new float[rows * dim];
            var mean = new float[rows];
            var rstd = new float[rows];
            Norms.AddLayerNorm(x, res, y, g, b, rows, dim, Eps, mean, rstd);
            CheckLayerNorm(v, g, b, rows, dim, y, mean, rstd, "AddLN");

            var xa = (float[])x.Clone();
            Norms.AddLayerNorm(xa, res, xa, g, b, rows, dim, Eps); // y aliases x
            Assert.Equal(y, xa);
            var ra = (float[])res.Clone();
            Norms.AddLayerNorm(x, ra, ra, g, b, rows, dim, Eps);   // y aliases residual
            Assert.Equal(y, ra);

            var ln = new float[rows * dim];
            Norms.LayerNorm(v, ln, g, b, rows, dim, Eps);
            Assert.Equal(ln, y); // fused == add then LayerNorm
        }
    }

    [Fact]
    public void LayerNorm_InPlace_EqualsOutOfPlace()
    {
        var rng = new Random(13);
        foreach (int dim in KernelTestUtil.Dims)
        {
            var x = KernelTestUtil.Normal(rng, 2 * dim, 5, 2);
            var g = KernelTestUtil.Normal(rng, dim, 1, 0.5);
            var b = KernelTestUtil.Normal(rng, dim);
            var y = new float[2 * dim];
            Norms.LayerNorm(x, y, g, b, 2, dim, Eps);
            Norms.LayerNorm(x, x, g, b, 2, dim, Eps);
            Assert.Equal(y, x);
        }
    }

    [Fact]
    public void NoNorm_And_AddNoNorm_AreBitExactFloatOps_AndSupportAliasing()
    {
        var rng = new Random(14);
        foreach (int dim in KernelTestUtil.Dims)
        {
            const int rows = 3;
            var x = KernelTestUtil.Normal(rng, rows * dim, 0, 1e3);
            var res = KernelTestUtil.Normal(rng, rows * dim, 0, 10);
            var g = KernelTestUtil.Normal(rng, dim, 1, 0.5);
            var b = KernelTestUtil.Normal(rng, dim, 0, 3);

            var y = new float[rows * dim];
            Norms.NoNorm(x, y, g, b, rows, dim);
            var y2 = new float[rows * dim];
            Norms.AddNoNorm(x, res, y2, g, b, rows, dim);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < dim; j++)
                {
                    int i = r * dim + j;
                    float p = x[i] * g[j];
                    Assert.Equal(p + b[j], y[i]);                 // PyTorch: x * weight + bias, two roundings
                    float s = x[i] + res[i];
                    float q = s * g[j];
                    Assert.Equal(q + b[j], y2[i]);
                    KernelTestUtil.Close((double)x[i] * g[j] + b[j], y[i], 2e-7 * (Math.Abs((double)x[i] * g[j]) + Math.Abs(b[j])),
                        "NoNorm vs double");
                }

            var xa = (float[])x.Clone();
            Norms.NoNorm(xa, xa, g, b, rows, dim);
            Assert.Equal(y, xa);
            xa = (float[])x.Clone();
            Norms.AddNoNorm(xa, res, xa, g, b, rows, dim);
            Assert.Equal(y2, xa);
            var ra = (float[])res.Clone();
            Norms.AddNoNorm(x, ra, ra, g, b, rows, dim);
            Assert.Equal(y2, ra);
        }
    }

    [Fact]
    public void Rows_Are_Independent_And_Only_Prefix_Is_Written()
    {
        // Spans longer than rows*dim are allowed; elements past rows*dim are untouched.
        const int rows = 2, dim = 7;
        var x = KernelTestUtil.Normal(new Random(15), rows * dim + 5);
        var y = Enumerable.Repeat(42f, rows * dim + 5).ToArray();
        var g = Enumerable.Repeat(1f, dim).ToArray();
        var b = new float[dim];
        Norms.LayerNorm(x, y, g, b, rows, dim, Eps);
        for (int i = rows * dim; i < y.Length; i++) Assert.Equal(42f, y[i]);
        var y1 = new float[dim];
        Norms.LayerNorm(x.AsSpan(dim, dim), y1, g, b, 1, dim, Eps);
        Assert.Equal(y1, y.AsSpan(dim, dim).ToArray());
    }

    [Fact]
    public void ArgumentChecks_NameArgumentAndExpectedSize()
    {
        var x = new float[12];
        var y = new float[12];
        var g = new float[4];
        var b = new float[4];
        var ex = Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x, y, g.AsSpan(0, 3), b, 3, 4, Eps));
        Assert.Equal("gamma", ex.ParamName);
        Assert.Contains("4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x, y, g, b.AsSpan(0, 2), 3, 4, Eps));
        Assert.Equal("beta", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x.AsSpan(0, 11), y, g, b, 3, 4, Eps));
        Assert.Equal("x", ex.ParamName);
        Assert.Contains("12", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x, y.AsSpan(0, 8), g, b, 3, 4, Eps));
        Assert.Equal("y", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x, y, g, b, 3, 4, Eps, new float[2]));
        Assert.Equal("mean", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x, y, g, b, 3, 4, Eps, default, new float[1]));
        Assert.Equal("rstd", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Norms.AddLayerNorm(x, x.AsSpan(0, 5), y, g, b, 3, 4, Eps));
        Assert.Equal("residual", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Norms.NoNorm(x, y, g.AsSpan(0, 1), b, 3, 4));
        Assert.Equal("gamma", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Norms.AddNoNorm(x, x, y.AsSpan(0, 3), g, b, 3, 4));
        Assert.Equal("y", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Norms.LayerNorm(x, y, g, b, 3, 0, Eps));
        Assert.Throws<ArgumentOutOfRangeException>(() => Norms.NoNorm(x, y, g, b, -1, 4));
    }
}
