using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class GemmTests
{
    [Fact]
    public void MultiplyMatchesReference_Small()
    {
        var rng = new Random(1);
        int m = 5, n = 7, k = 3;
        var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var c1 = new float[m * n]; var c2 = new float[m * n];
        Gemm.Reference(a, b, c1, m, n, k);
        Gemm.Multiply(a, b, c2, m, n, k);
        for (int i = 0; i < c1.Length; i++) Assert.Equal(c1[i], c2[i], 1e-5f);
    }
}
