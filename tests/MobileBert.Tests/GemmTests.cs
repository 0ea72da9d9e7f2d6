using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class GemmTests
{
    // ------------------------------------------------------------------ helpers

    /// <summary>Every micro-kernel path this CPU can run (scalar always), as names (GemmPath is internal).</summary>
    public static IEnumerable<object[]> Paths() =>
        new[] { GemmPath.Scalar, GemmPath.Vector128, GemmPath.Vector256, GemmPath.Vector512 }
            .Where(GemmKernels.IsSupported).Select(p => new object[] { p.ToString() });

    static GemmPath P(string name) => Enum.Parse<GemmPath>(name);

    static float[] Rand(Random rng, int len) { var x = new float[len]; for (int i = 0; i < len;
        i++) x[i] = (float)(rng.NextDouble() * 2 - 1); return x; }
    static float[] Abs(float[] x) => x.Select(MathF.Abs).ToArray();

    const float Sentinel = 12345.5f;

    /// <summary>
    /// Runs <paramref name="run"/> on a C buffer (initial values c0, plus sentinels past m*n) and checks it against
    /// Gemm.Reference element-wise with the standard fp32 dot-product error bound
    /// |err| ≤ (k+2)·2⁻²³·(Σ_p |a||b| + |bias| + |c0|), computed by running the reference on absolute values.
    /// A wrong, missing or duplicated product term is far outside this bound.
    /// </summary>
    static void Check(float[] a, float[] b, int m, int n, int k, Transpose ta, Transpose tb, float[]? bias, bool acc,
        float[] c0, Action<float[]> run, string what)
    {
        var expect = (float[])c0.Clone();
        Gemm.Reference(a, b, expect, m, n, k, ta, tb, bias, acc);
        var scale = Abs(c0);
        Gemm.Reference(Abs(a), Abs(b), scale, m, n, k, ta, tb, bias == null ? null : Abs(bias), acc);
        var got = new float[m * n + 5];
        Array.Copy(c0, got, m * n);
        for (int i = m * n; i < got.Length; i++) got[i] = Sentinel;
        run(got);
        double tolUnit = (k + 2) * Math.Pow(2, -23);
        for (int i = 0; i < m * n; i++)
        {
            double tol = tolUnit * scale[i] + 1e-30;
            if (!(Math.Abs(got[i] - expect[i]) <= tol))
                Assert.Fail($"{what}: C[{i / Math.Max(n, 1)},{i % Math.Max(n, 1)}] = {got[i]}, expected {expect[i]} (tol {tol:g3})");
        }
        for (int i = m * n; i < got.Length; i++) Assert.True(got[i] == Sentinel, $"{what}: wrote past C[m*n] at {i}");
    }

    static readonly (int m, int n, int k)[] OddShapes =
    [
        (1, 1, 1), (3, 17, 33), (17, 33, 3), (1, 129, 127), (127, 1, 17), (33, 3, 257), (9, 31, 600),
        (129, 127, 65), (64, 96, 40), (8, 32, 256), (130, 66, 300), (2, 40, 70), (2, 300, 500), (1, 2100, 130), (20, 70, 530),
        // Thread splits other than by rows: many column blocks (N split), k ≫ m (K split into per-thread slices).
        (9, 800, 33), (20, 1100, 40), (11, 50, 2001), (3, 40, 1500),
    ];

    static readonly (bool bias, bool acc, int threads)[] Variants = [(false, false, 1), (true, false, 2), (false, true, 3), (true, true, 2)];

    // ------------------------------------------------------------------ unpacked B

    [Theory, MemberData(nameof(Paths))]
    public void Multiply_MatchesReference_AllTransposes_OddShapes(string path)
    {
        var rng = new Random(42);
        foreach (var (m, n, k) in OddShapes)
            foreach (var ta in new[] { Transpose.No, Transpose.Yes })
                foreach (var tb in new[] { Transpose.No, Transpose.Yes })
                    foreach (var (hasBias, acc, threads) in Variants)
                    {
                        var a = Rand(rng, m * k); var b = Rand(rng, k * n);
                        var bias = hasBias ? Rand(rng, n) : null; var c0 = Rand(rng, m * n);
                        Check(a, b, m, n, k, ta, tb, bias, acc, c0,
                            c => Gemm.MultiplyCore(a, b, c, m, n, k, ta, tb, bias, acc, threads, P(path)),
                            $"{path} m={m} n={n} k={k} {ta},{tb} bias={hasBias} acc={acc} t={threads}");
                    }
    }

    [Theory, MemberData(nameof(Paths))]
    public void Multiply_ZeroDimensions(string path)
    {
        var rng = new Random(7);
        foreach (var (m, n, k) in new[] { (0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0), (1, 1, 0) })
            foreach (var (hasBias, acc, threads) in Variants)
            {
                var a = Rand(rng, m * k); var b = Rand(rng, k * n);
                var bias = hasBias ? Rand(rng, n) : null; var c0 = Rand(rng, m * n);
                Check(a, b, m, n, k, Transpose.No, Transpose.Yes, bias, acc, c0,
                    c => Gemm.MultiplyCore(a, b, c, m, n, k, Transpose.No, Transpose.Yes, bias, acc, threads, P(path)),
                    $"{path} m={m} n={n} k={k}");
            }
        // k = 0 really means C = (acc ? C : 0) + bias.
        var cc = new float[] { 1, 2, 3, 4 };
        Gemm.MultiplyCore([], [], cc, 2, 2, 0, Transpose.No, Transpose.No, new float[] { 10, 20 }, true, 1, P(path));
        Assert.Equal(new float[] { 11, 22, 13, 24 }, cc);
        Gemm.MultiplyCore([], [], cc, 2, 2, 0, Transpose.No, Transpose.No, default, false, 1, P(path));
        Assert.Equal(new float[4], cc);
    }

    [Fact]
    public void Multiply_PublicEntry_LinearLayout_ManyThreads()
    {
        // y = x·Wᵀ + b with MobileBERT-like sizes, default path, all cores and an explicit 2.
        var rng = new Random(3);
        int m = 136, n = 136, k = 520;
        var x = Rand(rng, m * k); var w = Rand(rng, n * k); var bias = Rand(rng, n);
        foreach (int threads in new[] { 0, 2 })
            Check(x, w, m, n, k, Transpose.No, Transpose.Yes, bias, false, new float[m * n],
                c => Gemm.Multiply(x, w, c, m, n, k, Transpose.No, Transpose.Yes, bias, threads: threads), $"public t={threads}");
    }

    [Fact]
    public void Multiply_RepeatedCalls_ReuseBuffers()
    {
        // Same thread, different sizes back to back: the pooled pack buffer must not leak stale panels.
        var rng = new Random(5);
        foreach (var (m, n, k) in new[] { (40, 200, 90), (40, 33, 7), (70, 250, 130), (3, 5, 2) })
        {
            var a = Rand(rng, m * k); var b = Rand(rng, k * n);
            Check(a, b, m, n, k, Transpose.No, Transpose.No, null, false, new float[m * n],
                c => Gemm.Multiply(a, b, c, m, n, k, threads: 2), $"m={m} n={n} k={k}");
        }
    }

    // ------------------------------------------------------------------ packed B

    [Theory, MemberData(nameof(Paths))]
    public void PackedMultiply_MatchesReference(string path)
    {
        var rng = new Random(11);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (1, 129, 127), (17, 33, 3), (129, 127, 65), (9, 31, 600), (16, 64, 600), (128, 64, 128),
            (5, 40, 0) })
            foreach (var tb in new[] { Transpose.No, Transpose.Yes })
            {
                var b = Rand(rng, k * n);
                var packed = Gemm.PackCore(b, k, n, tb, P(path));
                Assert.Equal(k, packed.K); Assert.Equal(n, packed.N); Assert.Equal(tb, packed.OriginalTranspose);
                foreach (var ta in new[] { Transpose.No, Transpose.Yes })
                    foreach (var (hasBias, acc, threads) in Variants)
                    {
                        var a = Rand(rng, m * k); var bias = hasBias ? Rand(rng, n) : null; var c0 = Rand(rng, m * n);
                        Check(a, b, m, n, k, ta, tb, bias, acc, c0,
                            c => Gemm.Multiply(a, packed, c, m, ta, bias, acc, threads),
                            $"packed {path} m={m} n={n} k={k} {ta},{tb} bias={hasBias} acc={acc} t={threads}");
                    }
            }
    }

    [Theory, MemberData(nameof(Paths))]
    public void PackedMultiply_PrefetchingTheNextWeights_ChangesNoBits(string path)
    {
        // Several K blocks and column tiles (the micro-kernels prefetch the next B block, then the `then` matrix's first).
        var rng = new Random(17);
        int m = 40, n = 300, k = 1100;
        var a = Rand(rng, m * k); var w = Rand(rng, n * k); var bias = Rand(rng, n);
        var packed = Gemm.PackCore(w, k, n, Transpose.Yes, P(path));
        var then = Gemm.PackCore(Rand(rng, 200 * 700), 700, 200, Transpose.Yes, P(path));
        var plain = new float[m * n]; var chained = new float[m * n];
        Gemm.Multiply(a, packed, plain, m, Transpose.No, bias, false, 1);
        Gemm.Multiply(a, packed, chained, m, Transpose.No, bias, false, 1, then);
        Assert.Equal(plain, chained);
        Check(a, w, m, n, k, Transpose.No, Transpose.Yes, bias, false, new float[m * n],
            c => Gemm.Multiply(a, packed, c, m, Transpose.No, bias, false, 2, then), $"packed {path} with then, 2 threads");
    }

    [Fact]
    public void PackedMultiply_PublicPack_SameAsUnpacked()
    {
        var rng = new Random(13);
        int m = 128, n = 128, k = 512;
        var x = Rand(rng, m * k); var w = Rand(rng, n * k); var bias = Rand(rng, n);
        var packed = Gemm.Pack(w, k, n, Transpose.Yes);
        var c1 = new float[m * n]; var c2 = new float[m * n];
        Gemm.Multiply(x, w, c1, m, n, k, Transpose.No, Transpose.Yes, bias, threads: 2);
        Gemm.Multiply(x, packed, c2, m, bias: bias, threads: 2);
        Assert.Equal(c1, c2); // same kernel, same blocking, same summation order
    }

    // ------------------------------------------------------------------ argument checks

    [Fact]
    public void BadArguments_Throw()
    {
        float[] a6 = new float[6], b6 = new float[6], c4 = new float[4];
        AssertThrows("A has", () => Gemm.Multiply(new float[5], b6, c4, 2, 2, 3));
        AssertThrows("B has", () => Gemm.Multiply(a6, new float[5], c4, 2, 2, 3, Transpose.No, Transpose.Yes));
        AssertThrows("C has", () => Gemm.Multiply(a6, b6, new float[3], 2, 2, 3));
        AssertThrows("bias has", () => Gemm.Multiply(a6, b6, c4, 2, 2, 3, bias: new float[1]));
        AssertThrows("non-negative", () => Gemm.Multiply(a6, b6, c4, -1, 2, 3));
        AssertThrows("B has", () => Gemm.Pack(new float[5], 3, 2, Transpose.No));
        AssertThrows("non-negative", () => Gemm.Pack(b6, -3, 2, Transpose.No));
        var p = Gemm.Pack(b6, 3, 2, Transpose.Yes);
        AssertThrows("A has", () => Gemm.Multiply(new float[5], p, c4, 2));
        AssertThrows("C has", () => Gemm.Multiply(a6, p, new float[3], 2));
        AssertThrows("bias has", () => Gemm.Multiply(a6, p, c4, 2, bias: new float[1]));
        AssertThrows("non-negative", () => Gemm.Multiply(a6, p, c4, -2));
        Assert.Throws<ArgumentNullException>(() => Gemm.Multiply(a6, (PackedMatrix)null!, c4, 2));
    }

    static void AssertThrows(string fragment, Action act)
    {
        var e = Assert.ThrowsAny<ArgumentException>(act);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void UnsupportedPath_Throws()
    {
        foreach (var p in new[] { GemmPath.Vector128, GemmPath.Vector256, GemmPath.Vector512 }.Where(p => !GemmKernels.IsSupported(p)))
            Assert.Throws<PlatformNotSupportedException>(() => Gemm.MultiplyCore(
                new float[1], new float[1], new float[1], 1, 1, 1, Transpose.No, Transpose.No, default, false, 1, p));
    }
}
