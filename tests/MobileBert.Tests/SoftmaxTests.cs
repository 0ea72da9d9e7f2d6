using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class SoftmaxTests
{
    private static double[] RefSoftmaxRow(ReadOnlySpan<float> v)
    {
        double m = double.NegativeInfinity;
        foreach (float f in v) m = Math.Max(m, f);
        var e = new double[v.Length];
        double s = 0;
        for (int j = 0; j < v.Length; j++) { e[j] = Math.Exp(v[j] - m); s += e[j]; }
        for (int j = 0; j < v.Length; j++) e[j] /= s;
        return e;
    }

    /// <summary>Unit roundoff of float32 (2⁻²⁴).</summary>
    private const double U = 1.0 / (1 << 24);
    /// <summary>Error of a float exp in ULPs (TensorPrimitives.Exp: ≤ 1 ULP scalar, a few ULPs on its SIMD paths).</summary>
    private const double ExpUlps = 4;

    /// <summary>
    /// Relative error bound of a softmax output from its float normaliser: Σ of <paramref name="cols"/> positive terms
    /// summed in float (γ₍ₙ₋₁₎ ≈ (n − 1)·u for sequential summation, the scalar path; SIMD lanes only lower it), then the
    /// reciprocal and the multiply (2u). The rounding of x − max adds 2u·|x − max| per element (after exp).
    /// </summary>
    private static double SumRelTol(int cols) => (Math.Max(cols - 1, 0) + 2) * U;

    private static void CheckRows(float[] input, float[] output, int rows, int cols, string what)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = input.AsSpan(r * cols, cols);
            var expected = RefSoftmaxRow(row);
            float max = float.NegativeInfinity;
            foreach (float f in row) max = Math.Max(max, f);
            double sumTol = SumRelTol(cols);
            for (int j = 0; j < cols; j++)
            {
                float o = output[r * cols + j];
                Assert.False(float.IsNaN(o), $"{what}: NaN at [{r},{j}]");
                double tol = (ExpUlps * U + 2 * U * Math.Abs((double)row[j] - max) + sumTol) * expected[j] + 1e-40;
                KernelTestUtil.Close(expected[j], o, tol, $"{what} [{r},{j}] cols={cols}");
            }
            double sum = 0;
            for (int j = 0; j < cols; j++) sum += output[r * cols + j];
            Assert.InRange(sum, 1 - sumTol - ExpUlps * U, 1 + sumTol + ExpUlps * U);
        }
    }

    [Fact]
    public void Rows_MatchesDoubleReference()
    {
        var rng = new Random(20);
        foreach (int cols in KernelTestUtil.Dims)
            foreach (double std in new[] { 1.0, 5.0, 30.0 })
            {
                const int rows = 5;
                var x = KernelTestUtil.Normal(rng, rows * cols, 3, std);
                var y = (float[])x.Clone();
                Softmax.Rows(y, rows, cols);
                CheckRows(x, y, rows, cols, $"std={std}");
            }
    }

    [Fact]
    public void Rows_LargeValues_DoNotOverflow()
    {
        float[] x = [1e4f, 1e4f - 1, 1e4f - 2, -1e4f, 3e38f, 3e38f];
        var y = (float[])x.Clone();
        Softmax.Rows(y, 2, 3);
        CheckRows(x, y, 1, 3, "large");
        Assert.Equal(0f, y[3]);
        Assert.Equal(0.5f, y[4]);
        Assert.Equal(0.5f, y[5]);
    }

    [Fact]
    public void Rows_AllNegativeInfinity_IsUniform_NotNaN()
    {
        foreach (int cols in KernelTestUtil.Dims)
        {
            var x = Enumerable.Repeat(float.NegativeInfinity, 2 * cols).ToArray();
            x[cols] = 0f; // second row has one finite entry
            Softmax.Rows(x, 2, cols);
            for (int j = 0; j < cols; j++) Assert.Equal(1f / cols, x[j]);
            Assert.Equal(1f, x[cols]);
            for (int j = 1; j < cols; j++) Assert.Equal(0f, x[cols + j]);
        }
    }

    [Theory]
    [InlineData(float.MinValue)] // HuggingFace: (1 − mask)·torch.finfo(float32).min
    [InlineData(-10000f)]        // original TF MobileBERT
    public void RowsWithAdditiveMask_SomeMasked(float maskValue)
    {
        var rng = new Random(21);
        foreach (int cols in KernelTestUtil.Dims)
        {
            const int rows = 6;
            var s = KernelTestUtil.Normal(rng, rows * cols, 0, 4);
            var mask = new float[cols];
            for (int j = 0; j < cols; j++) mask[j] = j % 3 == 1 ? maskValue : 0f;
            var y = (float[])s.Clone();
            Softmax.RowsWithAdditiveMask(y, mask, rows, cols);
            var added = new float[rows * cols];
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++) added[r * cols + j] = s[r * cols + j] + mask[j]; // float add, as PyTorch
            CheckRows(added, y, rows, cols, $"mask={maskValue}");
            if (maskValue == float.MinValue && cols > 1)
                for (int r = 0; r < rows; r++)
                    for (int j = 1; j < cols; j += 3) Assert.Equal(0f, y[r * cols + j]);
        }
    }

    [Fact]
    public void RowsWithAdditiveMask_AllMasked_IsUniform()
    {
        var rng = new Random(22);
        foreach (int cols in KernelTestUtil.Dims)
        {
            const int rows = 3;
            var s = KernelTestUtil.Normal(rng, rows * cols, 0, 4);
            s[0] = -1e38f; // s + float.MinValue overflows to −∞ for this entry
            var mask = Enumerable.Repeat(float.MinValue, cols).ToArray();
            Softmax.RowsWithAdditiveMask(s, mask, rows, cols);
            for (int i = 0; i < rows * cols; i++)
            {
                Assert.False(float.IsNaN(s[i]));
                if (cols == 1 || i >= cols) Assert.Equal(1f / cols, s[i], 1e-7f);
            }
            if (cols > 1)
            {
                // Row 0: one entry is −∞, the rest are all float.MinValue → uniform over the rest, like PyTorch.
                Assert.Equal(0f, s[0]);
                for (int j = 1; j < cols; j++) Assert.Equal(1f / (cols - 1), s[j], 1e-7f);
            }
        }

        // Every entry overflows to −∞ → uniform, no NaN.
        var t = Enumerable.Repeat(-2e38f, 7).ToArray();
        Softmax.RowsWithAdditiveMask(t, Enumerable.Repeat(float.MinValue, 7).ToArray(), 1, 7);
        Assert.All(t, v => Assert.Equal(1f / 7, v));
    }

    [Fact]
    public void RowsWithAdditiveMask_NoMask_EqualsRows()
    {
        var s = KernelTestUtil.Normal(new Random(23), 4 * 33, 0, 3);
        var a = (float[])s.Clone();
        var b = (float[])s.Clone();
        Softmax.RowsWithAdditiveMask(a, new float[33], 4, 33);
        Softmax.Rows(b, 4, 33);
        Assert.Equal(b, a);
    }

    [Fact]
    public void ArgumentChecks()
    {
        var ex = Assert.Throws<ArgumentException>(() => Softmax.Rows(new float[11], 3, 4));
        Assert.Equal("x", ex.ParamName);
        Assert.Contains("12", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Softmax.RowsWithAdditiveMask(new float[12], new float[3], 3, 4));
        Assert.Equal("additiveMask", ex.ParamName);
        Assert.Contains("4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Softmax.RowsWithAdditiveMask(new float[10], new float[4], 3, 4));
        Assert.Equal("scores", ex.ParamName);
    }
}
