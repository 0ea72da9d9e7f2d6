namespace MobileBert.PretrainingData;

/// <summary>Bad pre-training input or settings: the message names the file (and line, when known).</summary>
public sealed class PretrainingDataException : MobileBertException
{
    public PretrainingDataException(string message, string? path = null, long? line = null, Exception? inner = null)
        : base(message, inner)
    {
        Path = path;
        Line = line;
    }

    /// <summary>The offending file or folder, if the error is about one.</summary>
    public string? Path { get; }

    /// <summary>1-based line number in <see cref="Path"/>, if known.</summary>
    public long? Line { get; }
}
