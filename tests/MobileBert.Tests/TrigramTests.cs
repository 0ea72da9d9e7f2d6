using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class TrigramTests
{
    private static float[] Reference(float[] x, int batch, int seq, int dim)
    {
        // Mirrors HF: cat([pad(x[:, 1:], end), x, pad(x[:, :-1], start)], dim=2)
        var y = new float[batch * seq * 3 * dim];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
                for (int j = 0; j < dim; j++)
                {
                    int o = ((b * seq) + t) * 3 * dim;
                    y[o + j] = t + 1 < seq ? x[(b * seq + t + 1) * dim + j] : 0f;
                    y[o + dim + j] = x[(b * seq + t) * dim + j];
                    y[o + 2 * dim + j] = t > 0 ? x[(b * seq + t - 1) * dim + j] : 0f;
                }
        return y;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 1, 7)]
    [InlineData(3, 2, 3)]
    [InlineData(2, 5, 17)]
    [InlineData(4, 7, 33)]
    [InlineData(2, 9, 130)]
    [InlineData(1, 13, 512)]
    public void Concat_MatchesReference(int batch, int seq, int dim)
    {
        var rng = new Random(40 + batch * 100 + seq);
        var x = KernelTestUtil.Uniform(rng, batch * seq * dim, 1, 2); // never zero, so any leakage/missing zero shows
        var y = Enumerable.Repeat(float.NaN, batch * seq * 3 * dim).ToArray();
        Trigram.Concat(x, y, batch, seq, dim);
        Assert.Equal(Reference(x, batch, seq, dim), y);

        // Explicit boundary checks per batch row: first slot of the last token and last slot of the first token are zero.
        for (int b = 0; b < batch; b++)
        {
            int last = ((b * seq) + seq - 1) * 3 * dim, first = (b * seq) * 3 * dim;
            for (int j = 0; j < dim; j++)
            {
                Assert.Equal(0f, y[last + j]);
                Assert.Equal(0f, y[first + 2 * dim + j]);
            }
        }
    }

    [Fact]
    public void Concat_Checks()
    {
        var ex = Assert.Throws<ArgumentException>(() => Trigram.Concat(new float[12], new float[35], 2, 3, 2));
        Assert.Equal("y", ex.ParamName);
        Assert.Contains("36", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Trigram.Concat(new float[11], new float[36], 2, 3, 2));
        Assert.Equal("x", ex.ParamName);
        var buf = new float[48];
        ex = Assert.Throws<ArgumentException>(() => Trigram.Concat(buf.AsSpan(0, 12), buf.AsSpan(6, 36), 2, 3, 2));
        Assert.Contains("overlap", ex.Message);
        Trigram.Concat(buf.AsSpan(0, 12), buf.AsSpan(12, 36), 2, 3, 2); // adjacent, not overlapping: fine
    }
}
