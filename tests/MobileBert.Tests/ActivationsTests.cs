using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

internal static class KernelTestUtil
{
    public static readonly int[] Dims = [1, 3, 7, 17, 33, 64, 127, 130, 512];

    public static float[] Uniform(Random rng, int n, double lo, double hi)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return a;
    }

    public static float[] Normal(Random rng, int n, double mean = 0, double std = 1)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    public static void Close(double expected, float actual, double tol, string what)
    {
        double err = Math.Abs(actual - expected);
        if (!(err <= tol))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (|err| = {err:E3} > tol {tol:E3})");
    }

    /// <summary>erfc(z) in double to ~1e-15 relative: positive-term series for |z| &lt; 2.5, continued fraction beyond.</summary>
    public static double Erfc(double z)
    {
        if (double.IsNaN(z)) return double.NaN;
        if (z < 0) return 2.0 - Erfc(-z);
        if (z < 2.5) return 1.0 - Erf(z);
        // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + …))))), evaluated bottom-up.
        double f = z;
        for (int k = 300; k >= 1; k--) f = z + (k / 2.0) / f;
        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>erf(z) = 2/√π·exp(−z²)·Σ 2ⁿ z^(2n+1)/(1·3·…·(2n+1)) (all terms positive: no cancellation).</summary>
    public static double Erf(double z)
    {
        if (z < 0) return -Erf(-z);
        if (z >= 6) return 1.0 - Erfc(z);
        double term = z, sum = z, z2 = 2 * z * z;
        for (int n = 1; n < 500; n++)
        {
            term *= z2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-18) break;
        }
        return 2.0 / Math.Sqrt(Math.PI) * Math.Exp(-z * z) * sum;
    }

    /// <summary>Exact GELU x·Φ(x) in double.</summary>
    public static double Gelu(double x) => x * 0.5 * Erfc(-x / Math.Sqrt(2.0));

    /// <summary>HF gelu_new in double, written as x·σ(2u) ≡ 0.5·x·(1+tanh u) to avoid cancellation in the reference itself.</summary>
    public static double GeluNew(double x, out double twoU)
    {
        twoU = 2 * Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
        return x / (1 + Math.Exp(-twoU));
    }
}

public class ActivationsTests
{
    [Theory]
    [InlineData(0.1, 0.88753708398171511)]
    [InlineData(0.5, 0.47950012218695346)]
    [InlineData(1.0, 0.15729920705028513)]
    [InlineData(2.0, 0.0046777349810472658)]
    [InlineData(2.5, 0.00040695201744495894)]
    [InlineData(3.0, 2.2090496998585441e-5)]
    [InlineData(5.0, 1.5374597944280349e-12)]
    [InlineData(7.0, 4.1838256077794144e-23)]
    public void ReferenceErfc_MatchesHighPrecisionValues(double z, double expected)
    {
        // Values from mpmath (30 digits); validates the test's own reference (1e-12 is ample for float checks).
        Assert.True(Math.Abs(KernelTestUtil.Erfc(z) - expected) <= 1e-12 * expected, $"erfc({z}) = {KernelTestUtil.Erfc(z):R}");
        Assert.True(Math.Abs(KernelTestUtil.Erfc(-z) - (2 - expected)) <= 1e-15 * 2);
    }

    private static float[] GeluInputs(Random rng, int n)
    {
        var x = KernelTestUtil.Uniform(rng, n, -10, 10);
        // Sprinkle large magnitudes and specials.
        float[] specials = [0f, -0f, 1e-30f, -1e-30f, 1e-3f, -1e-3f, 13f, -13f, -14f, 20f, -20f, 1e4f, -1e4f, 1e30f, -1e30f, float.MaxValue,
            float.MinValue];
        for (int i = 0; i < n; i += 5) x[i] = specials[(i / 5) % specials.Length];
        return x;
    }

    /// <summary>The float GELU's error bound (Activations.Gelu): a few ulp of the result, plus one ulp of 1 times |x| — the
    /// rounding PyTorch's own float formula has — which matters only in the far negative tail where gelu(x) ≪ |x|; tiny
    /// absolute slack for results in the float subnormal range.</summary>
    static double GeluBound(double r, double x) => 4e-7 * Math.Abs(r) + 6e-8 * Math.Abs(x) + 1e-44;

    [Fact]
    public void Gelu_MatchesDoubleErfReference()
    {
        var rng = new Random(1);
        foreach (int n in KernelTestUtil.Dims.Append(1000).Append(4099))
        {
            var x = GeluInputs(rng, n);
            var y = (float[])x.Clone();
            Activations.Gelu(y);
            for (int i = 0; i < n; i++)
            {
                double r = KernelTestUtil.Gelu(x[i]);
                KernelTestUtil.Close(r, y[i], GeluBound(r, x[i]), $"gelu({x[i]:R}) n={n} i={i}");
            }
        }
    }

    [Fact]
    public void Gelu_DenseGrid_AndKnownValues()
    {
        var x = new float[4001];
        for (int i = 0; i < x.Length; i++) x[i] = -20f + i * 0.01f;
        var y = (float[])x.Clone();
        Activations.Gelu(y);
        for (int i = 0; i < x.Length; i++)
        {
            double r = KernelTestUtil.Gelu(x[i]);
            KernelTestUtil.Close(r, y[i], GeluBound(r, x[i]), $"gelu({x[i]:R})");
            if (x[i] > -2) KernelTestUtil.Close(r, y[i], 1e-6 * Math.Abs(r), $"gelu({x[i]:R}) relative");   // where gelu(x) is not tiny
        }
        // Agreement with PyTorch's float formula x·0.5·(1 + erf(x·(1/√2))) (each op rounded to float): the only
        // difference is PyTorch's 1+erf cancellation for negative x, bounded by ~1 ulp of 1 times |x|.
        for (int i = 0; i < x.Length; i++)
        {
            float torchLike = x[i] * 0.5f * (1f + (float)KernelTestUtil.Erf(x[i] * 0.70710677f));
            KernelTestUtil.Close(torchLike, y[i], 1.2e-7 * Math.Max(1.0, Math.Abs(x[i])), $"gelu vs torch-like formula at {x[i]:R}");
        }
        float[] k = [1f, -1f, 3f, -3f];
        Activations.Gelu(k);
        // x·Φ(x) from mpmath (30 digits)
        Assert.Equal(0.8413447460685429, k[0], GeluBound(0.8413447460685429, 1));
        Assert.Equal(-0.15865525393145707, k[1], GeluBound(0.15865525393145707, 1));
        Assert.Equal(2.9959503059051097, k[2], GeluBound(2.9959503059051097, 3));
        Assert.Equal(-0.0040496940948902836, k[3], GeluBound(0.0040496940948902836, 3));
        // Infinity keeps its value (Φ(∞) = 1, not ∞·0 through t = 1/(1 + ∞)); NaN stays NaN — on every lane of the vector path.
        var special = new float[35];
        for (int i = 0; i < special.Length; i++) special[i] = i % 2 == 0 ? float.PositiveInfinity : float.NaN;
        Activations.Gelu(special);
        for (int i = 0; i < special.Length; i++)
            Assert.True(i % 2 == 0 ? float.IsPositiveInfinity(special[i]) : float.IsNaN(special[i]), $"gelu of special value at {i}: {special[i]}");
    }

    [Fact]
    public void GeluNew_MatchesDoubleReference()
    {
        var rng = new Random(2);
        foreach (int n in KernelTestUtil.Dims.Append(1000))
        {
            var x = GeluInputs(rng, n);
            var y = (float[])x.Clone();
            Activations.GeluNew(y);
            for (int i = 0; i < n; i++)
            {
                double r = KernelTestUtil.GeluNew(x[i], out double twoU);
                double sigmaC = 1 / (1 + Math.Exp(twoU)); // 1 − σ(2u): sensitivity of the result to the float error in 2u
                double relTol = 6e-7 + 4e-7 * Math.Min(Math.Abs(twoU), 1e30) * sigmaC;
                KernelTestUtil.Close(r, y[i], relTol * Math.Abs(r) + 1e-44, $"gelu_new({x[i]:R}) n={n} i={i}");
            }
        }
    }

    [Fact]
    public void GeluNew_IsTheTanhFormula_NotExactGelu()
    {
        float[] x = [1f, -1f, 2f];
        Activations.GeluNew(x);
        // 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))) in double
        Assert.Equal(0.8411919906082768, x[0], 1e-7);
        Assert.Equal(-0.15880800939172324, x[1], 1e-7);
        Assert.Equal(1.954597694087775, x[2], 2e-7);
    }

    [Fact]
    public void Relu_EqualsTensorPrimitivesMaxBitForBit()
    {
        // The SIMD path must be the same function as TensorPrimitives.Max(x, 0): NaN propagates, relu(−0) = +0.
        float[] specials = [0f, -0f, float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, 1f, -1f,
            float.MaxValue, float.MinValue];
        var rng = new Random(5);
        foreach (int n in new[] { 1, 7, 15, 16, 17, 33, 100, 515 })
        {
            var x = new float[n];
            for (int i = 0; i < n; i++) x[i] = i % 3 == 0 ? specials[(i / 3) % specials.Length] : (float)(rng.NextDouble() * 4 - 2);
            var expected = new float[n];
            System.Numerics.Tensors.TensorPrimitives.Max(x, 0f, expected);
            var r = (float[])x.Clone();
            Activations.Relu(r);
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(r[i])
                    || (float.IsNaN(expected[i]) && float.IsNaN(r[i])),
                    $"n={n} relu({x[i]:R}) = {r[i]:R}, expected {expected[i]:R}");
        }
    }

    [Fact]
    public void Relu_And_Tanh_MatchReference()
    {
        var rng = new Random(3);
        foreach (int n in KernelTestUtil.Dims)
        {
            var x = KernelTestUtil.Uniform(rng, n, -10, 10);
            x[0] = 0f;
            var r = (float[])x.Clone();
            Activations.Relu(r);
            for (int i = 0; i < n; i++) Assert.Equal(Math.Max(x[i], 0f), r[i]);

            // Include tiny magnitudes (relative accuracy near 0 matters: tanh(x) ≈ x) and saturation.
            float[] specials = [0f, -0f, 1e-30f, -1e-12f, 1e-8f, 1e-5f, -3e-3f, 0.004f, -0.00401f, 0.01f, 0.55f, 9f, -10f, 30f, -1e4f,
                float.MaxValue];
            for (int i = 1; i < n; i += 3) x[i] = specials[(i / 3) % specials.Length];
            var t = (float[])x.Clone();
            Activations.Tanh(t);
            for (int i = 0; i < n; i++)
            {
                double e = Math.Tanh(x[i]);
                KernelTestUtil.Close(e, t[i], 1.2e-7 * Math.Abs(e) + 1e-44, $"tanh({x[i]:R})");
                Assert.Equal(float.IsNegative(x[i]), float.IsNegative(t[i]));
            }
        }
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluNew)]
    [InlineData(Activation.Tanh)]
    public void Apply_DispatchesToTheNamedKernel(Activation kind)
    {
        var x = KernelTestUtil.Uniform(new Random(4), 37, -4, 4);
        var a = (float[])x.Clone();
        var b = (float[])x.Clone();
        Activations.Apply(kind, a);
        switch (kind)
        {
            case Activation.Relu: Activations.Relu(b); break;
            case Activation.Gelu: Activations.Gelu(b); break;
            case Activation.GeluNew: Activations.GeluNew(b); break;
            case Activation.Tanh: Activations.Tanh(b); break;
        }
        Assert.Equal(b, a);
        Assert.NotEqual(x, a);
    }

    [Theory]
    [InlineData("relu", Activation.Relu)]
    [InlineData("gelu", Activation.Gelu)]
    [InlineData("gelu_new", Activation.GeluNew)]
    [InlineData("tanh", Activation.Tanh)]
    public void Parse_KnownNames(string name, Activation expected) => Assert.Equal(expected, Activations.Parse(name));

    [Theory]
    [InlineData("swish")]
    [InlineData("GELU")]
    [InlineData("")]
    public void Parse_UnknownName_ThrowsNamingValueAndAllowed(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => Activations.Parse(name));
        Assert.Contains($"'{name}'", ex.Message);
        foreach (var allowed in new[] { "relu", "gelu", "gelu_new", "tanh" }) Assert.Contains($"\"{allowed}\"", ex.Message);
    }
}
