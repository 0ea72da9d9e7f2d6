using System.Globalization;
using System.Text.RegularExpressions;
using MobileBert.Model;

namespace MobileBert.Checkpoints;

/// <summary>
/// Checks a config against a checkpoint's safetensors header before anything is allocated: the number of encoder layers
/// in the file must be the config's <c>num_hidden_layers</c>, and the model the config describes must fit in the memory
/// available to the process. A config that disagrees with its checkpoint (say num_hidden_layers: 1000000 beside a
/// 2-layer file) fails in milliseconds, naming both numbers, instead of building a model for minutes and gigabytes.
/// Names and shapes are compared afterwards, still before the weight buffer exists (<see cref="ModelFolder.Load(MobileBertConfig, SafeTensorsFile, LoadOptions?)"/>).
/// </summary>
public static partial class CheckpointPreflight
{
    [GeneratedRegex(@"(?:^|\.)encoder\.layer\.(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex LayerName();

    /// <summary>Layers stored in the file: 1 + the highest <c>encoder.layer.N.</c> index (0 when none).</summary>
    public static int LayersInFile(IEnumerable<string> names)
    {
        int max = -1;
        foreach (var n in names)
            if (LayerName().Match(n) is { Success: true } m && int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int l))
                max = Math.Max(max, l);
        return max + 1;
    }

    /// <summary>Bytes of float32 weights a model of <paramref name="config"/> with <paramref name="heads"/> holds, computed
    /// from one- and two-layer models (never building the full one).</summary>
    public static long ModelBytes(MobileBertConfig config, ModelHeads heads, bool? pooler = null)
    {
        var one = config.Clone(); one.NumHiddenLayers = 1;
        var two = config.Clone(); two.NumHiddenLayers = 2;
        long c1 = MobileBertModel.CountParameters(one, heads, pooler), c2 = MobileBertModel.CountParameters(two, heads, pooler);
        long perLayer = c2 - c1;
        double total = c1 + (double)perLayer * (config.NumHiddenLayers - 1);
        return total * sizeof(float) > long.MaxValue / 2 ? long.MaxValue / 2 : (long)(total * sizeof(float));
    }

    /// <summary>Memory the process may use (the GC's view: physical memory or the container limit).</summary>
    public static long AvailableBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Throws <see cref="CheckpointException"/> when the layer count differs or the model would not fit in memory
    /// (<paramref name="floatWeights"/> false: only the file's own bytes are counted, as for an int8 model without float copies).</summary>
    public static void Check(MobileBertConfig config, SafeTensorsFile file, IEnumerable<string> canonicalNames, ModelHeads heads, bool? pooler = null,
        bool floatWeights = true)
    {
        int inFile = LayersInFile(canonicalNames);
        if (inFile != config.NumHiddenLayers)
            throw new CheckpointException($"{file.Path}: config.json has num_hidden_layers = {config.NumHiddenLayers} but the checkpoint holds "
                + (inFile == 0 ? "no encoder layers." : $"{inFile} (encoder.layer.0 … encoder.layer.{inFile - 1}); they must match."));
        long need;
        try { need = floatWeights ? ModelBytes(config, heads, pooler) : file.Entries.Sum(e => e.ElementCount * DTypeInfo.SizeOf(e.DType)); }
        catch (ArgumentException e) { throw new CheckpointException($"{file.Path}: config.json describes a model that cannot be built: {e.Message}"); }
        long available = AvailableBytes();
        if (need > available)
            throw new CheckpointException($"{file.Path}: the model config.json describes needs {Gb(need)} of weights but only {Gb(available)} of memory is available.");
    }

    static string Gb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.###} GB ({bytes:N0} bytes)");

    /// <summary>Throws <see cref="CheckpointException"/> naming <paramref name="tensor"/> and the first non-finite value's index.</summary>
    public static void RequireFinite(ReadOnlySpan<float> values, string tensor, string path)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new CheckpointException($"{path}: tensor '{tensor}' holds a non-finite value ({values[i].ToString(CultureInfo.InvariantCulture)} at element {i}); the checkpoint is corrupt or the run diverged.");
    }
}
