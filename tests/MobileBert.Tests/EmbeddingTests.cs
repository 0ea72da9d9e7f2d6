using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class EmbeddingTests
{
    [Fact]
    public void Gather_And_GatherAdd_MatchReference()
    {
        var rng = new Random(30);
        foreach (int dim in KernelTestUtil.Dims)
        {
            const int vocab = 11;
            var table = KernelTestUtil.Normal(rng, vocab * dim);
            int[] ids = [0, vocab - 1, 3, 3, 7, 0, 10, 5, 1];
            var output = new float[ids.Length * dim];
            Embedding.Gather(table, dim, ids, output);
            for (int i = 0; i < ids.Length; i++)
                for (int j = 0; j < dim; j++) Assert.Equal(table[ids[i] * dim + j], output[i * dim + j]);

            var baseVals = KernelTestUtil.Normal(rng, ids.Length * dim);
            var acc = (float[])baseVals.Clone();
            Embedding.GatherAdd(table, dim, ids, acc);
            for (int i = 0; i < ids.Length; i++)
                for (int j = 0; j < dim; j++)
                {
                    float e = baseVals[i * dim + j] + table[ids[i] * dim + j];
                    Assert.Equal(e, acc[i * dim + j]);
                }
        }
    }

    [Fact]
    public void GatherAdd_SumsWordPositionAndTypeEmbeddings()
    {
        // The usual BERT pattern: word + position + token-type.
        const int dim = 5, seq = 4;
        var word = KernelTestUtil.Normal(new Random(31), 20 * dim);
        var pos = KernelTestUtil.Normal(new Random(32), 8 * dim);
        var type = KernelTestUtil.Normal(new Random(33), 2 * dim);
        int[] ids = [2, 19, 0, 7], positions = [0, 1, 2, 3], types = [0, 0, 1, 1];
        var o = new float[seq * dim];
        Embedding.Gather(word, dim, ids, o, "word_embeddings");
        Embedding.GatherAdd(pos, dim, positions, o, "position_embeddings");
        Embedding.GatherAdd(type, dim, types, o, "token_type_embeddings");
        for (int t = 0; t < seq; t++)
            for (int j = 0; j < dim; j++)
                Assert.Equal(word[ids[t] * dim + j] + pos[positions[t] * dim + j] + type[types[t] * dim + j], o[t * dim + j]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(11)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void OutOfRangeId_ThrowsWithTableNameIdPositionAndVocab(int bad)
    {
        const int dim = 3, vocab = 11;
        var table = new float[vocab * dim];
        int[] ids = [1, 2, bad, 4];
        var output = Enumerable.Repeat(7f, ids.Length * dim).ToArray();
        foreach (var call in new Action[]
                 {
                     () => Embedding.Gather(table, dim, ids, output, "word_embeddings"),
                     () => Embedding.GatherAdd(table, dim, ids, output, "word_embeddings"),
                 })
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(call);
            Assert.Contains("word_embeddings", ex.Message);
            Assert.Contains($"id {bad}", ex.Message);
            Assert.Contains("position 2", ex.Message);
            Assert.Contains($"vocab size {vocab}", ex.Message);
            Assert.All(output, v => Assert.Equal(7f, v)); // validated before writing
        }
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Gather(table, dim, ids, output));
        Assert.Contains("embedding", ex2.Message);
    }

    [Fact]
    public void ShapeChecks()
    {
        var ex = Assert.Throws<ArgumentException>(() => Embedding.Gather(new float[10], 3, new[] { 0 }, new float[3]));
        Assert.Equal("table", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Embedding.Gather(new float[12], 3, new[] { 0, 1 }, new float[5]));
        Assert.Equal("output", ex.ParamName);
        Assert.Contains("6", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.GatherAdd(new float[12], 0, new[] { 0 }, new float[3]));
        Embedding.Gather(new float[12], 3, ReadOnlySpan<int>.Empty, Span<float>.Empty); // empty is fine
    }
}
