using System.Diagnostics;
using MobileBert.Kernels;
using Xunit;

namespace MobileBert.Tests;

/// <summary>Tests that watch the shared worker pool's sleep state: nothing else may run regions meanwhile.</summary>
[CollectionDefinition("ParallelForPool", DisableParallelization = true)]
public class ParallelForPoolCollection;

/// <summary>
/// Inside a burst (a forward's regions run back to back) idle workers keep spinning instead of going to sleep after
/// <see cref="ParallelFor.SpinMicroseconds"/>, so no region waits for a sleeping worker to be woken; outside one they sleep.
/// </summary>
[Collection("ParallelForPool")]
public class ParallelForBurstTests
{
    struct Nothing : IParallelBody
    {
        public readonly void Invoke(int i) { }
    }

    /// <summary>A region on every worker of the pool (plus the caller), which wakes them all.</summary>
    static void Region()
    {
        var body = new Nothing();
        int threads = Math.Max(2, ParallelFor.WorkerCount() + 1);
        ParallelFor.Run(threads, threads, ref body);
    }

    /// <summary>Polls until <paramref name="condition"/> holds (true) or the deadline passes (false).</summary>
    static bool Eventually(Func<bool> condition, int ms = 3000)
    {
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < ms) { if (condition()) return true; Thread.Sleep(5); }
        return condition();
    }

    [Fact]
    public void WorkersSpinThroughABurstAndSleepAfterIt()
    {
        Region();   // the pool exists (one worker at least)
        int workers = ParallelFor.WorkerCount();
        Assert.True(workers >= 1);
        Assert.True(Eventually(() => ParallelFor.SleepingWorkers() == workers), "idle workers should fall asleep after their spin");

        ParallelFor.BeginBurst();
        try
        {
            Region();   // wakes them (a woken worker may still be on its way out of the wait when the region returns)
            Assert.True(Eventually(() => ParallelFor.SleepingWorkers() == 0), "the region should wake every worker");
            // 100 ms ≫ the 100 µs spin: outside a burst they would all be asleep by now.
            var clock = Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < 100)
            {
                Assert.Equal(0, ParallelFor.SleepingWorkers());
                Thread.Sleep(5);
            }
            Region();
        }
        finally { ParallelFor.EndBurst(); }
        Assert.True(Eventually(() => ParallelFor.SleepingWorkers() == workers), "workers should sleep again once the burst ends");
    }
}
