using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace MobileBert.Kernels;

/// <summary>A loop body for <see cref="ParallelFor.Run{TBody}(int, int, ref TBody)"/>: a small unmanaged struct
/// (pointers, sizes) whose <see cref="Invoke"/> handles one work item.</summary>
public interface IParallelBody
{
    /// <summary>Process work item <paramref name="index"/> (0 ≤ index &lt; count). Called concurrently from several threads.</summary>
    void Invoke(int index);
}

/// <summary>
/// Light-weight parallel-for for compute kernels: a small dedicated pool of background worker threads that spin
/// briefly between calls (so back-to-back kernel calls of ~100 µs still scale) and then sleep on an event.
/// The calling thread takes part; items are handed out dynamically through an atomic counter.
/// <para>One parallel region runs at a time: a call made while the pool is busy (nested call from a body,
/// or a concurrent call from another thread) simply runs its items serially on the calling thread.</para>
/// <para>Steady-state calls allocate nothing (the struct overload).</para>
/// </summary>
public static unsafe class ParallelFor
{
    /// <summary>How long an idle worker spins waiting for the next region before it goes to sleep (outside a burst).</summary>
    internal static double SpinMicroseconds = 100;

    static int s_bursts;        // > 0 while some caller runs regions back to back (BeginBurst … EndBurst)

    /// <summary>
    /// Starts a burst: a sequence of regions the caller runs back to back (a forward). Until <see cref="EndBurst"/>, idle
    /// workers spin between regions instead of going to sleep after <see cref="SpinMicroseconds"/>: a worker whose block
    /// finished early must not have to be woken for the next region (on a VM that costs hundreds of µs per region; measured
    /// 4.4–5.3 ms of a 16–19 ms BERT forward after idle gaps, see docs/results/LOG.md). Nestable; pair with try/finally.
    /// </summary>
    internal static void BeginBurst() => Interlocked.Increment(ref s_bursts);

    /// <summary>Ends a burst started by <see cref="BeginBurst"/>; workers then spin <see cref="SpinMicroseconds"/> and sleep.</summary>
    internal static void EndBurst() => Interlocked.Decrement(ref s_bursts);

    const int MaxWorkers = 63;

    sealed class Worker
    {
        public readonly ManualResetEventSlim Wake = new(false, 0);
        public int Sleeping;
    }

    static int s_busy;          // 1 while a region owns the pool (not re-entrant, unlike Monitor)
    static Worker[] s_workers = [];

    // Current region (written by the caller before s_joined is reset and s_gen bumped).
    static delegate*<void*, int, void> s_invoker;
    static void* s_ctx;
    static int s_count;
    static int s_need;          // number of worker slots (threads - 1)
    static int s_next;          // next item index
    static int s_joined;        // slots claimed; set to a huge value ("door closed") when the caller is done
    static int s_remaining;     // slots not yet finished
    static int s_gen;           // region generation
    static ExceptionDispatchInfo? s_error;
    static bool s_affine;       // hand out items in per-participant contiguous ranges first (RunAffine)
    static int s_parts;         // participants of an affine region (its threads)
    static int s_stop;          // set on error: stop handing out items
    const int Pad = 16;         // ints per range counter (one cache line each)
    static readonly int[] s_range = new int[(MaxWorkers + 1) * Pad];   // next index of participant p's range at p·Pad

    /// <summary>Number of threads <paramref name="threads"/> stands for (≤ 0 → <see cref="Environment.ProcessorCount"/>).</summary>
    public static int ResolveThreads(int threads) => threads <= 0 ? Environment.ProcessorCount : threads;

    /// <summary>Runs <c>body.Invoke(i)</c> for i in [0, count) on up to <paramref name="threads"/> threads (≤ 0: all cores).
    /// The body is copied; it must not be mutated by <see cref="IParallelBody.Invoke"/>.</summary>
    public static void Run<TBody>(int count, int threads, ref TBody body) where TBody : unmanaged, IParallelBody
    {
        TBody copy = body;
        RunCore(count, threads, &InvokeStruct<TBody>, &copy);
    }

    /// <summary>
    /// Like <see cref="Run{TBody}(int, int, ref TBody)"/>, but participant p (the caller is 0, workers 1, 2, … in the
    /// order they join) first takes the items of its own contiguous range [p·count/T, (p+1)·count/T), then helps with
    /// the others' ranges. With the same thread count and item layout, consecutive regions give a thread the same
    /// items — the data an item wrote in one region stays in that core's cache for the next (best effort: a worker that
    /// joins late or not at all just means its range is taken by the others).
    /// </summary>
    public static void RunAffine<TBody>(int count, int threads, ref TBody body) where TBody : unmanaged, IParallelBody
    {
        TBody copy = body;
        RunCore(count, threads, &InvokeStruct<TBody>, &copy, affine: true);
    }

    /// <summary>Convenience overload with a delegate (one GCHandle per call; prefer the struct overload in hot paths).</summary>
    public static void Run(int count, int threads, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0) return;
        if (Math.Min(ResolveThreads(threads), count) <= 1) { for (int i = 0; i < count; i++) body(i); return; }
        var h = System.Runtime.InteropServices.GCHandle.Alloc(body);
        try { RunCore(count, threads, &InvokeDelegate, (void*)System.Runtime.InteropServices.GCHandle.ToIntPtr(h)); }
        finally { h.Free(); }
    }

    static void InvokeStruct<TBody>(void* ctx, int i) where TBody : unmanaged, IParallelBody => ((TBody*)ctx)->Invoke(i);

    static void InvokeDelegate(void* ctx, int i) =>
        ((Action<int>)System.Runtime.InteropServices.GCHandle.FromIntPtr((nint)ctx).Target!)(i);

    /// <summary>Pointer-level entry: calls <paramref name="invoker"/>(ctx, i) for i in [0, count).</summary>
    public static void RunCore(int count, int threads, delegate*<void*, int, void> invoker, void* ctx) =>
        RunCore(count, threads, invoker, ctx, false);

    static void RunCore(int count, int threads, delegate*<void*, int, void> invoker, void* ctx, bool affine)
    {
        if (count <= 0) return;
        int t = Math.Min(Math.Min(ResolveThreads(threads), count), MaxWorkers + 1);
        if (t <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) invoker(ctx, i);
            return;
        }
        try
        {
            EnsureWorkers(t - 1);
            s_invoker = invoker; s_ctx = ctx; s_count = count; s_need = t - 1;
            s_next = 0; s_remaining = t - 1; s_error = null;
            s_affine = affine; s_parts = t; s_stop = 0;
            if (affine)
                for (int p = 0; p < t; p++) s_range[p * Pad] = (int)((long)p * count / t);
            Volatile.Write(ref s_joined, 0);
            Interlocked.Increment(ref s_gen);
            // Wake sleeping workers; spinning ones will notice the new generation by themselves.
            int ready = 0;
            foreach (var w in s_workers)
            {
                if (ready >= t - 1) break;
                if (Volatile.Read(ref w.Sleeping) != 0) w.Wake.Set();
                ready++;
            }

            RunItems(0);

            // Close the door: slots nobody claimed yet are dropped, then wait for the claimed ones.
            int joined = Interlocked.Exchange(ref s_joined, int.MaxValue / 2);
            int unclaimed = (t - 1) - Math.Min(joined, t - 1);
            if (unclaimed > 0) Interlocked.Add(ref s_remaining, -unclaimed);
            var sw = new SpinWait();
            while (Volatile.Read(ref s_remaining) != 0) sw.SpinOnce(sleep1Threshold: -1);

            var err = s_error;
            s_invoker = null; s_ctx = null; s_error = null;
            err?.Throw();
        }
        finally { Volatile.Write(ref s_busy, 0); }
    }

    static void RunItems(int participant)
    {
        var inv = s_invoker; var ctx = s_ctx; int count = s_count;
        int i;
        if (s_affine)
        {
            int parts = s_parts;
            for (int k = 0; k < parts; k++)
            {
                int q = (participant + k) % parts, end = (int)((long)(q + 1) * count / parts);
                while (Volatile.Read(ref s_stop) == 0 && (i = Interlocked.Increment(ref s_range[q * Pad]) - 1) < end)
                {
                    try { inv(ctx, i); }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null);
                        Volatile.Write(ref s_stop, 1);
                    }
                }
            }
            return;
        }
        while ((i = Interlocked.Increment(ref s_next) - 1) < count)
        {
            try { inv(ctx, i); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref s_next, count); // stop handing out items
            }
        }
    }

    static void EnsureWorkers(int n)
    {
        if (s_workers.Length >= n) return;
        var list = new List<Worker>(s_workers);
        while (list.Count < n)
        {
            var w = new Worker();
            var th = new Thread(() => WorkerLoop(w)) { IsBackground = true, Name = $"MobileBert.ParallelFor#{list.Count + 1}" };
            list.Add(w);
            th.Start();
        }
        s_workers = list.ToArray();
    }

    static void WorkerLoop(Worker w)
    {
        int seen = Volatile.Read(ref s_gen);
        long spinTicks = (long)(SpinMicroseconds * Stopwatch.Frequency / 1e6);
        while (true)
        {
            long until = Stopwatch.GetTimestamp() + spinTicks;
            int polls = 0;
            while (Volatile.Read(ref s_gen) == seen)
            {
                // Poll the generation every pause; read the clock only every 256 polls (inside a burst: never time out).
                if ((++polls & 255) != 0) { Thread.SpinWait(1); continue; }
                long now = Stopwatch.GetTimestamp();
                if (Volatile.Read(ref s_bursts) > 0) until = now + spinTicks;
                if (now < until) { Thread.SpinWait(1); continue; }
                w.Wake.Reset();
                Interlocked.Exchange(ref w.Sleeping, 1);
                if (Volatile.Read(ref s_gen) == seen) w.Wake.Wait();
                Interlocked.Exchange(ref w.Sleeping, 0);
                spinTicks = (long)(SpinMicroseconds * Stopwatch.Frequency / 1e6);
                until = Stopwatch.GetTimestamp() + spinTicks;
            }
            seen = Volatile.Read(ref s_gen);
            int slot = Interlocked.Increment(ref s_joined);
            if (slot <= Volatile.Read(ref s_need))
            {
                RunItems(slot);
                Interlocked.Decrement(ref s_remaining);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static int WorkerCount() => s_workers.Length;

    /// <summary>Workers asleep right now (waiting to be woken, not spinning); for tests.</summary>
    internal static int SleepingWorkers() => s_workers.Count(w => Volatile.Read(ref w.Sleeping) != 0);
}
