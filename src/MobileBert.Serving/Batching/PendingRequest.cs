namespace MobileBert.Serving.Batching;

/// <summary>One input of a request waiting in a <see cref="DynamicBatcher{T}"/>: its length (tokens or characters, for
/// grouping) and the request's cancellation (a client that went away).</summary>
public interface IBatchItem
{
    int Length { get; }
    CancellationToken Cancellation { get; }
    /// <summary>The batch this item was in failed: fail its request.</summary>
    void Fail(Exception error);
}

/// <summary>
/// The results of one request whose inputs are spread over engine batches: each input's result is set by the batch
/// that ran it, and the request completes when the last one arrives (results in input order).
/// </summary>
public sealed class PendingRequest<TResult>
{
    readonly TResult[] _results;
    readonly TaskCompletionSource<TResult[]> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int _remaining;

    public PendingRequest(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _results = new TResult[count];
        _remaining = count;
    }

    public Task<TResult[]> Task => _done.Task;

    public void Set(int index, TResult result)
    {
        _results[index] = result;
        if (Interlocked.Decrement(ref _remaining) == 0) _done.TrySetResult(_results);
    }

    public void Fail(Exception error) => _done.TrySetException(error);
}

/// <summary>The model's queue is full (or the server is stopping): the request is refused, to be retried later.</summary>
public sealed class ServerBusyException(string message) : MobileBertException(message);

/// <summary>An input is longer than the model's maximum and truncation was not asked for.</summary>
public sealed class InputTooLongException(int index, string field, int tokens, int maxTokens)
    : MobileBertException($"{field}: {tokens} tokens, more than the model's maximum of {maxTokens} (send \"truncate\": true to cut it).")
{
    /// <summary>Position of the input in the request.</summary>
    public int Index { get; } = index;
    /// <summary>The request field (e.g. "texts[3]", "question").</summary>
    public string Field { get; } = field;
}
