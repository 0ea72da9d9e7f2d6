using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

public class GemmParallelForTests
{
    unsafe struct MarkBody : IParallelBody
    {
        public int* Hits;
        public readonly void Invoke(int i) => Interlocked.Increment(ref Hits[i]);
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(7, 2)] [InlineData(1000, 2)] [InlineData(1000, 3)] [InlineData(5, 0)] [InlineData(0, 2)]
    public unsafe void Run_VisitsEveryIndexOnce(int count, int threads)
    {
        var hits = new int[Math.Max(count, 1)];
        for (int rep = 0; rep < 50; rep++)
        {
            Array.Clear(hits);
            fixed (int* h = hits)
            {
                var body = new MarkBody { Hits = h };
                ParallelFor.Run(count, threads, ref body);
            }
            for (int i = 0; i < count; i++) Assert.Equal(1, hits[i]);
        }
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(2, 2)] [InlineData(7, 2)] [InlineData(1000, 2)] [InlineData(1000, 3)] [InlineData(5, 4)] [InlineData(
    0, 2)] [InlineData(3, 8)]
    public unsafe void RunAffine_VisitsEveryIndexOnce(int count, int threads)
    {
        var hits = new int[Math.Max(count, 1)];
        for (int rep = 0; rep < 50; rep++)
        {
            Array.Clear(hits);
            fixed (int* h = hits)
            {
                var body = new MarkBody { Hits = h };
                ParallelFor.RunAffine(count, threads, ref body);
                ParallelFor.Run(count, threads, ref body);      // a plain region right after uses the shared counter again
            }
            for (int i = 0; i < count; i++) Assert.Equal(2, hits[i]);
        }
    }

    unsafe struct ThrowAt : IParallelBody
    {
        public int At; public int* Done;
        public readonly void Invoke(int i) { if (i == At) throw new InvalidOperationException("affine boom"); Interlocked.Increment(ref *Done); }
    }

    [Fact]
    public unsafe void RunAffine_PropagatesExceptionsAndRecovers()
    {
        int done = 0;
        var body = new ThrowAt { At = 57, Done = &done };
        var e = Assert.Throws<InvalidOperationException>(() => ParallelFor.RunAffine(100, 2, ref body));
        Assert.Equal("affine boom", e.Message);
        done = 0; body.At = -1;
        ParallelFor.RunAffine(100, 2, ref body);
        Assert.Equal(99 + 1, done);
    }

    [Fact]
    public void Run_Delegate_NestedAndExceptions()
    {
        var sums = new int[8];
        ParallelFor.Run(8, 2, i =>
        {
            // Nested region: runs serially on this thread while the pool is busy.
            ParallelFor.Run(10, 2, j => Interlocked.Add(ref sums[i], j));
        });
        Assert.All(sums, s => Assert.Equal(45, s));

        var e = Assert.Throws<InvalidOperationException>(() => ParallelFor.Run(100, 2, i => { if (i == 37) throw new InvalidOperationException(
            "boom"); }));
        Assert.Equal("boom", e.Message);
        // The pool still works after an exception.
        int n = 0;
        ParallelFor.Run(100, 2, _ => Interlocked.Increment(ref n));
        Assert.Equal(100, n);
    }

    [Fact]
    public void Run_ConcurrentCallers()
    {
        // Two threads issuing regions at once: one gets the pool, the other runs inline; both must be complete.
        var totals = new long[2];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t =>
        {
            for (int rep = 0; rep < 200; rep++)
                ParallelFor.Run(64, 2, i => Interlocked.Add(ref totals[t], i));
        });
        Assert.All(totals, s => Assert.Equal(200L * 63 * 64 / 2, s));
    }
}
