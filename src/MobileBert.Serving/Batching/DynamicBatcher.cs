using System.Diagnostics;

namespace MobileBert.Serving.Batching;

/// <summary>Batching settings of one model.</summary>
public sealed record BatchingSettings(int MaxBatch, TimeSpan MaxWait, int MaxQueue);

/// <summary>Counters of one batcher (also exported as Prometheus metrics).</summary>
public sealed class BatcherStats
{
    internal long Batches, Items, Dropped;
    public long BatchCount => Interlocked.Read(ref Batches);
    /// <summary>Inputs that ran.</summary>
    public long ItemCount => Interlocked.Read(ref Items);
    /// <summary>Inputs whose client went away before they ran (not computed).</summary>
    public long DroppedCount => Interlocked.Read(ref Dropped);
}

/// <summary>
/// Coalesces the inputs of concurrent requests into engine batches on one dedicated thread: a batch starts when
/// <see cref="BatchingSettings.MaxBatch"/> inputs wait, or <see cref="BatchingSettings.MaxWait"/> after the oldest waiting
/// input arrived or the engine finished its previous batch, whichever is later. (Inputs that queued while the engine was
/// busy so still wait up to MaxWait for company: the answers of the batch that just ran set off their clients' next
/// requests, and without that wait closed-loop clients split into two alternating half-size batches.) A batch always
/// holds the oldest input (no starvation) and the waiting inputs closest to it in length (little padding work, and
/// similar-length batches keep the engine's work split even). A request's inputs may span batches. Inputs of cancelled
/// requests are dropped unrun. The queue is bounded: a request that does not fit is refused whole.
/// <see cref="StopAsync"/> refuses new inputs and runs every accepted one first; <see cref="Dispose"/> stops at once and
/// returns only when no batch runs any more, so the engine may then be released.
/// </summary>
public sealed class DynamicBatcher<T> : IDisposable where T : class, IBatchItem
{
    readonly record struct Waiting(T Item, long Arrived);

    long _engineFreeAt;   // Stopwatch timestamp at which the last batch finished (read and written by the batching thread only)

    readonly BatchingSettings _settings;
    readonly Action<IReadOnlyList<T>> _run;
    readonly Action<int> _onQueueDepth, _onBatch, _onDropped;
    readonly List<Waiting> _queue = [];
    readonly object _lock = new();
    readonly Thread _thread;
    readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    bool _stopping;

    /// <param name="run">Runs one batch (on the batcher's thread); sets each item's result. An exception fails the batch's requests.</param>
    /// <param name="onQueueDepth">Told the number of waiting inputs after every change.</param>
    /// <param name="onBatch">Told the size of every batch run.</param>
    /// <param name="onDropped">Told how many inputs of cancelled requests were dropped.</param>
    public DynamicBatcher(string name, BatchingSettings settings, Action<IReadOnlyList<T>> run,
        Action<int>? onQueueDepth = null, Action<int>? onBatch = null, Action<int>? onDropped = null)
    {
        _settings = settings; _run = run;
        _onQueueDepth = onQueueDepth ?? (_ => { }); _onBatch = onBatch ?? (_ => { }); _onDropped = onDropped ?? (_ => { });
        _thread = new Thread(Loop) { IsBackground = true, Name = $"batcher {name}" };
        _thread.Start();
    }

    public BatcherStats Stats { get; } = new();

    /// <summary>Waiting inputs.</summary>
    public int QueueDepth { get { lock (_lock) return _queue.Count; } }

    /// <summary>Queues every item of one request, or none (<see cref="ServerBusyException"/>: the queue is full or stopping).</summary>
    public void Enqueue(IReadOnlyList<T> items)
    {
        long now = Stopwatch.GetTimestamp();
        int depth;
        lock (_lock)
        {
            if (_stopping) throw new ServerBusyException("the server is shutting down.");
            if (_queue.Count + items.Count > _settings.MaxQueue)
                throw new ServerBusyException($"the model's queue is full ({_queue.Count} of {_settings.MaxQueue} inputs waiting).");
            foreach (var item in items) _queue.Add(new Waiting(item, now));
            depth = _queue.Count;
            Monitor.PulseAll(_lock);
        }
        _onQueueDepth(depth);
    }

    /// <summary>Refuses new inputs, runs every accepted one, then ends the batching thread.</summary>
    public Task StopAsync()
    {
        lock (_lock) { _stopping = true; Monitor.PulseAll(_lock); }
        return _stopped.Task;
    }

    /// <summary>Stops at once: refuses new inputs, fails the waiting ones (<see cref="ServerBusyException"/>), and waits for the
    /// batch that is running. After it returns no batch runs, so the engine the batches use may be released (a host whose
    /// drain timed out disposes its models while batches were still queued).</summary>
    public void Dispose()
    {
        List<T> abandoned;
        lock (_lock)
        {
            _stopping = true;
            abandoned = [.. _queue.Select(w => w.Item)];
            _queue.Clear();
            Monitor.PulseAll(_lock);
        }
        _onQueueDepth(0);
        var error = new ServerBusyException("the server stopped before this input ran.");
        foreach (var item in abandoned) item.Fail(error);
        if (Thread.CurrentThread != _thread) _thread.Join();
    }

    void Loop()
    {
        try
        {
            while (Next() is { } batch)
            {
                _onBatch(batch.Count);
                Interlocked.Increment(ref Stats.Batches);
                Interlocked.Add(ref Stats.Items, batch.Count);
                try { _run(batch); }
                catch (Exception e) { foreach (var item in batch) item.Fail(e); }
                _engineFreeAt = Stopwatch.GetTimestamp();
            }
        }
        finally { _stopped.TrySetResult(); }
    }

    /// <summary>Waits for the next batch (null: stopped and drained).</summary>
    List<T>? Next()
    {
        List<T> batch;
        int depth;
        lock (_lock)
        {
            while (true)
            {
                DropCancelled();
                if (_queue.Count == 0)
                {
                    if (_stopping) return null;
                    Monitor.Wait(_lock);
                    continue;
                }
                if (_queue.Count >= _settings.MaxBatch || _stopping) break;
                var left = _settings.MaxWait - Stopwatch.GetElapsedTime(Math.Max(_queue[0].Arrived, _engineFreeAt));
                if (left <= TimeSpan.Zero) break;
                Monitor.Wait(_lock, left);
            }
            batch = Take();
            depth = _queue.Count;
        }
        _onQueueDepth(depth);
        return batch;
    }

    void DropCancelled()
    {
        int dropped = _queue.RemoveAll(w => w.Item.Cancellation.IsCancellationRequested);
        if (dropped == 0) return;
        Interlocked.Add(ref Stats.Dropped, dropped);
        _onDropped(dropped);
    }

    /// <summary>The oldest waiting input and the waiting inputs nearest to it in length (ties: the older first).</summary>
    List<T> Take()
    {
        int n = Math.Min(_settings.MaxBatch, _queue.Count);
        if (n == _queue.Count)
        {
            var all = _queue.Select(w => w.Item).ToList();
            _queue.Clear();
            return all;
        }
        int anchor = _queue[0].Item.Length;
        var chosen = Enumerable.Range(0, _queue.Count)
            .OrderBy(i => Math.Abs(_queue[i].Item.Length - anchor)).ThenBy(i => i)
            .Take(n).Order().ToArray();
        var batch = new List<T>(n);
        foreach (int i in chosen) batch.Add(_queue[i].Item);
        for (int k = chosen.Length - 1; k >= 0; k--) _queue.RemoveAt(chosen[k]);
        return batch;
    }
}
