using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Inference;

/// <summary>Per-output-channel symmetric int8 weights of one Linear: W ≈ Weights[j,k]·Scales[j]; [Out, In] (HF layout).</summary>
public sealed record QuantizedLinear(sbyte[] Weights, float[] Scales, int In, int Out)
{
    /// <summary>Quantizes an fp32 weight [out, in] (scale = max|row|/127, round to nearest even, clamp ±127).</summary>
    public static QuantizedLinear From(ReadOnlySpan<float> w, int outFeatures, int inFeatures)
    {
        var q = new sbyte[(long)outFeatures * inFeatures]; var s = new float[outFeatures];
        Int8Quant.QuantizeWeights(w, outFeatures, inFeatures, q, s);
        return new QuantizedLinear(q, s, inFeatures, outFeatures);
    }

    /// <summary>The fp32 weights the int8 ones stand for (q·scale).</summary>
    public void Dequantize(Span<float> w)
    {
        for (int j = 0; j < Out; j++)
            for (int p = 0; p < In; p++) w[j * In + p] = Weights[j * In + p] * Scales[j];
    }
}

/// <summary>Which Linears are quantized. Defaults: every encoder-layer Linear; embeddings (incl. the embedding
/// transformation), pooler and heads stay fp32.</summary>
public sealed class QuantizationPolicy
{
    /// <summary>Also quantize the embedding transformation (trigram → hidden).</summary>
    public bool QuantizeEmbeddingTransformation { get; set; }
    /// <summary>Weights whose HF name contains any of these substrings stay fp32 (e.g. "layer.0.", "output.bottleneck", "ffn.").</summary>
    public List<string> KeepFp32 { get; set; } = [];
    /// <summary>Layers kept fp32 entirely.</summary>
    public HashSet<int> KeepLayersFp32 { get; set; } = [];

    public bool ShouldQuantize(string weightName)
    {
        foreach (var k in KeepFp32) if (weightName.Contains(k, StringComparison.Ordinal)) return false;
        if (weightName.EndsWith("embeddings.embedding_transformation.weight", StringComparison.Ordinal)) return QuantizeEmbeddingTransformation;
        const string layerPrefix = "encoder.layer.";   // after the backbone prefix (mobilebert. or bert.)
        int at = weightName.IndexOf(layerPrefix, StringComparison.Ordinal);
        if (at < 0) return false;
        at += layerPrefix.Length;
        int dot = weightName.IndexOf('.', at);
        int layer = int.Parse(weightName.AsSpan(at, dot - at));
        return !KeepLayersFp32.Contains(layer);
    }
}

/// <summary>
/// The int8 weights of a model (by HF weight name) plus how activations are quantized (dynamic, per token,
/// symmetric — computed at run time). Built by <see cref="Quantize"/> or loaded by <see cref="QuantizedCheckpoint"/>.
/// </summary>
public sealed class QuantizedWeights
{
    public const string ActivationScheme = "dynamic-per-token-symmetric-int8";
    public const string WeightScheme = "per-output-channel-symmetric-int8";
    readonly Dictionary<string, QuantizedLinear> _w = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _w.Keys;
    public bool Contains(string weightName) => _w.ContainsKey(weightName);
    public QuantizedLinear this[string weightName] => _w[weightName];
    public void Add(string weightName, QuantizedLinear q) => _w[weightName] = q;
    public int Count => _w.Count;

    /// <summary>Quantizes every Linear weight of <paramref name="model"/> the policy selects.</summary>
    public static QuantizedWeights Quantize(MobileBertModel model, QuantizationPolicy? policy = null)
    {
        policy ??= new QuantizationPolicy();
        var q = new QuantizedWeights();
        foreach (var lin in AllLinears(model))
            if (policy.ShouldQuantize(lin.Weight.Name))
                q.Add(lin.Weight.Name, QuantizedLinear.From(model.Store.Span(lin.Weight), lin.Out, lin.In));
        return q;
    }

    /// <summary>Every Linear of the model the inference path runs (embedding transformation, encoder, pooler, classifier).</summary>
    public static IEnumerable<Linear> AllLinears(MobileBertModel model)
    {
        if (model.Config.UsesEmbeddingTransformation) yield return model.Embeddings.Transformation!;
        foreach (var layer in model.Layers)
        {
            if (layer.Bottleneck is { } bn) { yield return bn.Input.Dense; if (bn.Attention is { } a) yield return a.Dense; }
            var att = layer.Attention;
            yield return att.Query; yield return att.Key; yield return att.Value; yield return att.OutputDense;
            foreach (var f in layer.StackedFfns) { yield return f.Intermediate; yield return f.Output; }
            yield return layer.LastFfn.Intermediate; yield return layer.LastFfn.Output;
            if (layer.OutputBottleneck is not null) yield return layer.OutputBottleneck;
        }
        if (model.Pooler?.Dense is { } pd) yield return pd;
        if (model.Classifier is { } c) yield return c.Dense;
    }

    /// <summary>Checks every quantized weight names a Linear of the model with the same shape.</summary>
    public void Validate(MobileBertModel model)
    {
        foreach (var (name, q) in _w)
        {
            if (!model.Store.TryGet(name, out var p)) throw new ArgumentException($"Quantized weight '{name}' is not a parameter of the model.");
            if (p.Shape.Length != 2 || p.Shape[0] != q.Out || p.Shape[1] != q.In)
                throw new ArgumentException($"Quantized weight '{name}' is [{q.Out},{q.In}]; the model's is [{string.Join(",", p.Shape)}].");
            if (q.Weights.Length != (long)q.Out * q.In || q.Scales.Length != q.Out) throw new ArgumentException(
                $"Quantized weight '{name}': data/scales length mismatch.");
        }
    }

    /// <summary>Writes the dequantized weights (q·scale) into the model's store, so that <see cref="MobileBertModel.Forward"/>
    /// is the "weights-only quantized" reference of the int8 path.</summary>
    public void DequantizeInto(MobileBertModel model)
    {
        Validate(model);
        foreach (var (name, q) in _w) q.Dequantize(model.Store.Span(model.Store[name]));
    }
}

/// <summary>
/// Quantized model folder: config.json (+ vocab.txt) and <c>model.int8.safetensors</c> holding every parameter under
/// its HF name — F32 for those kept in float, I8 [out, in] for quantized Linear weights with an F32 [out] companion
/// <c>NAME_scale</c> (NAME = the weight's name) — and metadata (format, version, schemes, heads, pooler).
/// A different file name than model.safetensors on purpose: fp32 loaders must not read I8 tensors as weights.
/// </summary>
public static class QuantizedCheckpoint
{
    public const string WeightsFile = "model.int8.safetensors";
    public const string Format = "mobilebert-int8";
    public const string ScaleSuffix = "_scale";

    public static void Save(MobileBertModel model, QuantizedWeights q, string dir, string? vocabPath = null,
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        q.Validate(model);
        Directory.CreateDirectory(dir);
        var config = model.Config.Clone();
        config.Architectures = [ModelFolder.ArchitectureName(model.Heads, model.Config.ModelType)];
        ConfigJson.Save(config, Path.Combine(dir, ModelFolder.ConfigFile));
        var tensors = new List<(string, TensorDType, int[], ReadOnlyMemory<byte>)>();
        foreach (var p in model.Store.Parameters)
        {
            if (q.Contains(p.Name))
            {
                var ql = q[p.Name];
                tensors.Add((p.Name, TensorDType.I8, p.Shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(ql.Weights.AsSpan()).ToArray()));
                tensors.Add((p.Name + ScaleSuffix, TensorDType.F32, [ql.Out],
                    System.Runtime.InteropServices.MemoryMarshal.AsBytes(ql.Scales.AsSpan()).ToArray()));
            }
            else tensors.Add((p.Name, TensorDType.F32, p.Shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(model.Store.Span(p)).ToArray()));
        }
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format, ["version"] = "1",
            ["weight_quantization"] = QuantizedWeights.WeightScheme, ["activation_quantization"] = QuantizedWeights.ActivationScheme,
            ["heads"] = model.Heads.ToString(), ["pooler"] = model.HasPooler ? "true" : "false",
            ["quantized_count"] = q.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (extraMetadata is not null) foreach (var (k, v) in extraMetadata) meta[k] = v;
        SafeTensorsWriter.WriteRaw(Path.Combine(dir, WeightsFile), tensors, meta);
        if (vocabPath is not null && File.Exists(vocabPath)) ModelFolder.CopyVocab(vocabPath, dir);
    }

    /// <summary>Whether <paramref name="dir"/> is a quantized model folder.</summary>
    public static bool IsQuantizedFolder(string dir) => File.Exists(Path.Combine(dir, WeightsFile));

    /// <summary>The weights file of a model folder: model.int8.safetensors for a quantized folder, else its float weights
    /// (<see cref="ModelFolder.WeightsPathOf"/>; model.safetensors when it has none).</summary>
    public static string WeightsPath(string dir) => IsQuantizedFolder(dir) ? Path.Combine(dir, WeightsFile)
        : ModelFolder.WeightsPathOf(dir) ?? Path.Combine(dir, ModelFolder.WeightsFile);

    /// <summary>Loads a quantized folder: the model and the int8 weights for <see cref="InferenceEngine"/>. With
    /// <paramref name="floatWeights"/> (default) the int8 Linears also hold their dequantized weights in the model, so
    /// <see cref="MobileBertModel.Forward"/> still runs; without, the model holds only what stays float (embeddings, norms,
    /// biases, fp32 Linears) — about a fifth of the memory for MobileBERT — and serves the engine only
    /// (<see cref="MobileBertModel.Forward"/>, saving and training throw, naming the missing weight).</summary>
    public static (MobileBertModel Model, QuantizedWeights Weights, IReadOnlyDictionary<string, string> Metadata) Load(
        string dir, bool floatWeights = true)
    {
        string configPath = Path.Combine(dir, ModelFolder.ConfigFile), path = Path.Combine(dir, WeightsFile);
        if (!Directory.Exists(dir)) throw new CheckpointException($"{dir}: model folder does not exist.");
        if (!File.Exists(configPath)) throw new CheckpointException($"{configPath}: missing (a quantized model folder " +
            $"needs {ModelFolder.ConfigFile} and {WeightsFile}).");
        if (!File.Exists(path)) throw new CheckpointException($"{path}: missing (a quantized model folder needs {ModelFolder.ConfigFile} " +
            $"and {WeightsFile}; make one with `mobilebert quantize`).");
        var config = ConfigJson.Load(configPath);
        using var file = SafeTensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var fmt) || fmt != Format)
            throw new CheckpointException($"{path}: not a quantized MobileBERT checkpoint (metadata format = '{fmt ?? "(none)"}', expected " +
                $"'{Format}').");
        if (!meta.TryGetValue("version", out var ver) || ver != "1") throw new CheckpointException(
            $"{path}: unsupported quantized checkpoint version '{ver ?? "(none)"}' (this build reads version 1).");
        if (meta.TryGetValue("activation_quantization", out var act) && act != QuantizedWeights.ActivationScheme)
            throw new CheckpointException($"{path}: activation quantization '{act}' is not supported (expected " +
                $"'{QuantizedWeights.ActivationScheme}').");
        if (!meta.TryGetValue("heads", out var headsText) || !Enum.TryParse<ModelHeads>(headsText, out var heads))
            throw new CheckpointException($"{path}: metadata 'heads' missing or invalid ('{headsText}').");
        bool pooler = meta.TryGetValue("pooler", out var pl) ? pl == "true" : true;
        CheckpointPreflight.Check(config, file, file.Names, heads, pooler, floatWeights);   // layer count and memory, before building anything
        var model = new MobileBertModel(config, heads, allocate: false, pooler: pooler);
        if (!floatWeights)
            foreach (var p in model.Store.Parameters)
                if (file.TryGet(p.Name, out var e) && e.DType == TensorDType.I8) model.Store.Exclude(p.Name);
        model.Store.Allocate();
        var q = new QuantizedWeights();
        var missing = new List<string>(); var problems = new List<string>();
        foreach (var p in model.Store.Parameters)
        {
            if (!file.TryGet(p.Name, out var e)) { missing.Add(p.Name); continue; }
            if (!e.Shape.SequenceEqual(p.Shape)) { problems.Add($"{p.Name}: file has [{string.Join(",", e.Shape)}], model needs " +
                $"[{string.Join(",", p.Shape)}]"); continue; }
            if (e.DType == TensorDType.F32)
            {
                e.CopyTo(model.Store.Span(p));
                CheckpointPreflight.RequireFinite(model.Store.Span(p), p.Name, path);
                continue;
            }
            if (e.DType != TensorDType.I8 || p.Shape.Length != 2) { problems.Add(
                $"{p.Name}: dtype {e.DType} (expected F32, or I8 for a 2-D Linear weight)"); continue; }
            if (!file.TryGet(p.Name + ScaleSuffix, out var se)) { problems.Add($"{p.Name}: I8 weight without its '{p.Name + ScaleSuffix}' scales");
                continue; }
            if (se.DType != TensorDType.F32 || se.Rank != 1 || se.Shape[0] != p.Shape[0]) { problems.Add(
                $"{p.Name + ScaleSuffix}: must be F32 [{p.Shape[0]}], is {se.DType} [{string.Join(",", se.Shape)}]"); continue; }
            var scales = se.ToFloat32();
            if (scales.Any(s => !(s > 0) || !float.IsFinite(s))) { problems.Add($"{p.Name + ScaleSuffix}: scales must be positive and finite");
                continue; }
            var w = e.ToInt8();
            var ql = new QuantizedLinear(w, scales, p.Shape[1], p.Shape[0]);
            q.Add(p.Name, ql);
            if (model.Store.IsResident(p)) ql.Dequantize(model.Store.Span(p));
        }
        var unexpected = file.Names.Where(n => !model.Store.Contains(n) && !(n.EndsWith(ScaleSuffix, StringComparison.Ordinal)
            && q.Contains(n[..^ScaleSuffix.Length]))).ToList();
        if (missing.Count + problems.Count + unexpected.Count > 0)
        {
            var msg = new System.Text.StringBuilder($"{path}: quantized checkpoint does not match the config.");
            if (missing.Count > 0) msg.Append($"\n  missing ({missing.Count}): ").AppendJoin(", ", missing.Take(20));
            if (problems.Count > 0) msg.Append($"\n  invalid ({problems.Count}): ").AppendJoin("; ", problems.Take(20));
            if (unexpected.Count > 0) msg.Append($"\n  unexpected ({unexpected.Count}): ").AppendJoin(", ", unexpected.Take(20));
            throw new CheckpointException(msg.ToString());
        }
        return (model, q, meta);
    }
}
