using System.Globalization;
using System.Text.RegularExpressions;
using MobileBert.Model;

namespace MobileBert.Checkpoints;

/// <summary>
/// Checks a config against a checkpoint's safetensors header before anything is allocated: the file must hold the
/// config's <c>num_hidden_layers</c> encoder layers, and the model the config describes must fit in the memory
/// available to the process. A config that disagrees with its checkpoint (say num_hidden_layers: 1000000 beside a
/// 2-layer file) fails in milliseconds, naming both numbers, instead of building a model for minutes and gigabytes.
/// Names and shapes are compared afterwards, still before the weight buffer exists (<see cref="ModelFolder.Load(MobileBertConfig, SafeTensorsFile,
/// LoadOptions?)"/>).
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
            if (LayerName().Match(n) is { Success: true } m && int.TryParse(
                m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int l))
                max = Math.Max(max, l);
        return max + 1;
    }

    /// <summary>Throws <see cref="CheckpointException"/> when the layer count differs or the model would not fit in memory
    /// (<paramref name="floatWeights"/> false: only the file's own bytes are counted, as for an int8 model without float copies).</summary>
    public static void Check(MobileBertConfig config, SafeTensorsFile file, IEnumerable<string> canonicalNames, ModelHeads heads, bool? pooler = null,
        bool floatWeights = true)
    {
        // More layers in the file than the config asks for is reported by name after this (cheap: the config is small).
        int inFile = LayersInFile(canonicalNames);
        if (inFile < config.NumHiddenLayers)
            throw new CheckpointException($"{file.Path}: config.json has num_hidden_layers = {config.NumHiddenLayers} but the checkpoint holds "
                + (inFile == 0 ? "no encoder layers" : $"{inFile} (encoder.layer.0 … encoder.layer.{inFile - 1})")
                + $": {config.BackbonePrefix}encoder.layer.{inFile}.* and later are missing; they must match.");
        long need;
        try { need = floatWeights ? MobileBertModel.WeightBytes(config, heads, pooler)
            : file.Entries.Sum(e => e.ElementCount * DTypeInfo.SizeOf(e.DType)); }
        catch (ArgumentException e) { throw new CheckpointException($"{file.Path}: config.json describes a model that cannot be " +
        $"built: {e.Message}"); }
        long available = MobileBertModel.AvailableMemoryBytes();
        if (need > available)
            throw new CheckpointException($"{file.Path}: config.json describes a model whose weights need {MobileBertModel.FormatBytes(need)}, but " +
                $"only {MobileBertModel.FormatBytes(available)} of memory is available.");
    }

    /// <summary>Throws <see cref="CheckpointException"/> naming <paramref name="tensor"/> and the first non-finite value's index.</summary>
    public static void RequireFinite(ReadOnlySpan<float> values, string tensor, string path)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new CheckpointException($"{path}: tensor '{tensor}' holds a non-finite value " +
                    $"({values[i].ToString(CultureInfo.InvariantCulture)} at element {i}); the checkpoint is corrupt or the run diverged.");
    }
}
