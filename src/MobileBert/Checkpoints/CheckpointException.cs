namespace MobileBert.Checkpoints;

/// <summary>
/// Thrown for any malformed or inconsistent tensor file (safetensors or .npy), and for failures to open one.
/// The message always names the file path and, where relevant, the tensor name or header field.
/// </summary>
public sealed class CheckpointException(string message, Exception? inner = null) : MobileBertException(message, inner)
{

    /// <summary>Path of the offending file, when known.</summary>
    public string? FilePath { get; init; }

    /// <summary>Name of the offending tensor, when the problem is specific to one tensor.</summary>
    public string? TensorName { get; init; }

    internal static CheckpointException ForFile(string path, string detail, string? tensorName = null, Exception? inner = null)
        => new($"Invalid tensor file '{path}': {detail}", inner) { FilePath = path, TensorName = tensorName };
}
