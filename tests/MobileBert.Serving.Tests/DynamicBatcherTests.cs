using System.Collections.Concurrent;
using System.Diagnostics;
using MobileBert.Serving.Batching;
using Xunit;

namespace MobileBert.Serving.Tests;

public class DynamicBatcherTests
{
    sealed record Item(int Length, PendingRequest<int> Request, int Index, CancellationToken Cancellation = default) : IBatchItem
    {
        public void Fail(Exception error) => Request.Fail(error);
    }

    /// <summary>A batcher whose runs are recorded and can be held (gate) so that inputs pile up deterministically.</summary>
    sealed class Harness
    {
        public readonly ConcurrentQueue<int[]> Batches = new();
        public readonly ManualResetEventSlim Gate = new(true);
        public readonly DynamicBatcher<Item> Batcher;

        public Harness(int maxBatch, double maxWaitMs, int maxQueue = 1000)
        {
            Batcher = new DynamicBatcher<Item>("test", new BatchingSettings(maxBatch, TimeSpan.FromMilliseconds(maxWaitMs), maxQueue), batch =>
            {
                Gate.Wait();
                Batches.Enqueue(batch.Select(b => b.Length).ToArray());
                foreach (var b in batch) b.Request.Set(b.Index, b.Length * 10);
            });
        }

        public PendingRequest<int> Submit(params int[] lengths) => Submit(default, lengths);

        public PendingRequest<int> Submit(CancellationToken cancel, params int[] lengths)
        {
            var request = new PendingRequest<int>(lengths.Length);
            Batcher.Enqueue(lengths.Select((l, i) => new Item(l, request, i, cancel)).ToArray());
            return request;
        }
    }

    [Fact]
    public async Task ARequestSpansBatchesAndGetsItsResultsInInputOrder()
    {
        var h = new Harness(maxBatch: 4, maxWaitMs: 1);
        var results = await h.Submit(5, 1, 9, 3, 7, 2, 8, 4, 6, 10).Task;
        Assert.Equal(new[] { 50, 10, 90, 30, 70, 20, 80, 40, 60, 100 }, results);
        Assert.All(h.Batches, b => Assert.InRange(b.Length, 1, 4));
        Assert.Equal(3, h.Batches.Count);
    }

    [Fact]
    public async Task BatchesHoldTheOldestInputAndTheNearestLengths()
    {
        var h = new Harness(maxBatch: 3, maxWaitMs: 0);
        h.Gate.Reset();
        var first = h.Submit(50);                                  // runs alone, held at the gate
        SpinWait.SpinUntil(() => h.Batcher.QueueDepth == 0, 5000);
        var rest = h.Submit(40, 5, 120, 6, 42, 7, 118, 41);        // piles up behind it
        h.Gate.Set();
        await Task.WhenAll(first.Task, rest.Task);
        var batches = h.Batches.ToArray();
        Assert.Equal([50], batches[0]);
        Assert.Equal([40, 42, 41], batches[1]);                    // oldest (40) + nearest lengths
        Assert.Equal([5, 6, 7], batches[2]);
        Assert.Equal([120, 118], batches[3]);
    }

    [Fact]
    public async Task TheFirstInputWaitsAtMostMaxWaitForCompany()
    {
        var h = new Harness(maxBatch: 32, maxWaitMs: 30);
        var sw = Stopwatch.StartNew();
        await h.Submit(3).Task;
        Assert.InRange(sw.ElapsedMilliseconds, 25, 2000);          // waited for others, then ran alone
        var full = new Harness(maxBatch: 2, maxWaitMs: 10_000);
        sw.Restart();
        await full.Submit(1, 2).Task;                               // a full batch does not wait
        Assert.True(sw.ElapsedMilliseconds < 5000);
    }

    [Fact]
    public async Task InputsThatQueuedWhileTheEngineRanWaitForCompanyAfterIt()
    {
        // Closed-loop clients: the answers of one batch set off the next requests a moment later. Inputs that piled up while
        // the engine was busy have already waited longer than MaxWait, yet they still wait (up to MaxWait) for those.
        var h = new Harness(maxBatch: 4, maxWaitMs: 400);
        h.Gate.Reset();
        var first = h.Submit(1, 1, 1, 1);                           // a full batch, held at the gate
        SpinWait.SpinUntil(() => h.Batcher.QueueDepth == 0, 5000);
        var queued = h.Submit(2, 2);                                 // queue while the engine is busy
        Thread.Sleep(600);                                           // … for longer than MaxWait
        h.Gate.Set();
        await first.Task;
        var late = h.Submit(3, 3);                                   // the next requests, right after the answers
        await Task.WhenAll(queued.Task, late.Task);
        var batches = h.Batches.ToArray();
        Assert.Equal(2, batches.Length);
        Assert.Equal([2, 2, 3, 3], batches[1]);                      // one full batch, not two halves
    }

    [Fact]
    public async Task AFullQueueRefusesWholeRequestsAndCancelledInputsAreDropped()
    {
        var h = new Harness(maxBatch: 2, maxWaitMs: 0, maxQueue: 5);
        h.Gate.Reset();
        var running = h.Submit(1, 1);
        SpinWait.SpinUntil(() => h.Batcher.QueueDepth == 0, 5000);
        using var cancel = new CancellationTokenSource();
        var cancelled = h.Submit(cancel.Token, 2, 2, 2);
        Assert.Throws<ServerBusyException>(() => h.Submit(3, 3, 3));   // 3 + 3 > 5: nothing of it is queued
        Assert.Equal(3, h.Batcher.QueueDepth);
        var fits = h.Submit(4, 4);
        cancel.Cancel();
        h.Gate.Set();
        await Task.WhenAll(running.Task, fits.Task);
        Assert.Equal(3, h.Batcher.Stats.DroppedCount);
        Assert.DoesNotContain(h.Batches, b => b.Contains(2));
        Assert.False(cancelled.Task.IsCompleted);
    }

    [Fact]
    public async Task StopRunsEveryAcceptedInputThenRefusesNewOnes()
    {
        var h = new Harness(maxBatch: 2, maxWaitMs: 50);
        h.Gate.Reset();
        var requests = Enumerable.Range(0, 5).Select(i => h.Submit(i + 1, i + 2, i + 3)).ToArray();
        var stop = h.Batcher.StopAsync();
        Assert.Throws<ServerBusyException>(() => h.Submit(1));
        h.Gate.Set();
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(requests, r => Assert.True(r.Task.IsCompletedSuccessfully));
        Assert.Equal(15, h.Batcher.Stats.ItemCount);
    }

    /// <summary>Dispose (a host releasing its models, e.g. after its drain timed out) returns only once the running batch
    /// is done — the engine is released after it — and fails the inputs still waiting.</summary>
    [Fact]
    public async Task DisposeWaitsForTheRunningBatchAndFailsTheWaitingInputs()
    {
        var h = new Harness(maxBatch: 2, maxWaitMs: 0);
        h.Gate.Reset();
        var running = h.Submit(1, 2);                               // the first batch, held at the gate
        Assert.True(SpinWait.SpinUntil(() => h.Batcher.QueueDepth == 0, 5000));
        var waiting = h.Submit(3, 4, 5);
        var dispose = Task.Run(h.Batcher.Dispose);
        await Assert.ThrowsAsync<ServerBusyException>(() => waiting.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(200);
        Assert.False(dispose.IsCompleted, "Dispose returned while a batch was still running");
        h.Gate.Set();
        await dispose.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new[] { 10, 20 }, await running.Task);
        Assert.Single(h.Batches);
        Assert.Throws<ServerBusyException>(() => h.Submit(1));
    }

    [Fact]
    public async Task AFailingBatchFailsItsRequestsAndTheBatcherGoesOn()
    {
        int runs = 0;
        var batcher = new DynamicBatcher<Item>("failing", new BatchingSettings(4, TimeSpan.Zero, 100), batch =>
        {
            if (Interlocked.Increment(ref runs) == 1) throw new InvalidOperationException("engine broke");
            foreach (var b in batch) b.Request.Set(b.Index, 1);
        });
        var bad = new PendingRequest<int>(1);
        batcher.Enqueue([new Item(1, bad, 0)]);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => bad.Task);
        Assert.Equal("engine broke", e.Message);
        var good = new PendingRequest<int>(1);
        batcher.Enqueue([new Item(1, good, 0)]);
        Assert.Equal(new[] { 1 }, await good.Task);
    }
}
