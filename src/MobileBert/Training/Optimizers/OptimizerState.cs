using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>An optimizer state file does not fit the optimizer or the model layout.</summary>
public sealed class OptimizerStateException : MobileBertException
{
    public OptimizerStateException(string message, string? filePath = null, Exception? inner = null) : base(message, inner) { FilePath = filePath; }
    public string? FilePath { get; }
}

/// <summary>
/// Optimizer state as a safetensors file, for exact (bit-identical) resume:
/// <list type="bullet">
/// <item>tensors <c>exp_avg/&lt;param&gt;</c> and <c>exp_avg_sq/&lt;param&gt;</c> (F32, the parameter's shape): first and second moments;</item>
/// <item>metadata <c>format</c> = "mobilebert-optimizer-state", <c>version</c> = "1", <c>optimizer</c> ("adamw" | "lamb"),
/// <c>step</c> (global step count), <c>hyperparameters</c> (JSON object of numbers), <c>parameters</c> (JSON array in
/// store order: name, shape, step, lr_multiplier, frozen, weight_decay, trust_ratio).</item>
/// </list>
/// Loading restores all of it (group settings included); the learning rate itself is not state (schedules are pure
/// functions of the step).
/// </summary>
public static class OptimizerState
{
    public const string Format = "mobilebert-optimizer-state";
    public const string Version = "1";
    const string M = "exp_avg/", V = "exp_avg_sq/";

    public static void Save(Optimizer optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer); ArgumentException.ThrowIfNullOrEmpty(path);
        var store = optimizer.Store; var groups = optimizer.Groups;
        var hyper = new JsonObject();
        foreach (var (k, v) in optimizer.HyperParameters()) hyper[k] = v;
        var parameters = new JsonArray();
        for (int i = 0; i < store.Parameters.Count; i++)
        {
            var p = store.Parameters[i]; var s = groups[i];
            parameters.Add((JsonNode)new JsonObject
            {
                ["name"] = p.Name, ["shape"] = new JsonArray([.. p.Shape.Select(d => (JsonNode)d)]), ["step"] = optimizer.ParameterSteps[i],
                ["lr_multiplier"] = s.LrMultiplier, ["frozen"] = s.Frozen, ["weight_decay"] = s.WeightDecay, ["trust_ratio"] = s.TrustRatio,
            });
        }
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format, ["version"] = Version, ["optimizer"] = optimizer.Kind,
            ["step"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["hyperparameters"] = hyper.ToJsonString(), ["parameters"] = parameters.ToJsonString(),
        };
        var tensors = store.Parameters.SelectMany(p => new[]
        {
            (M + p.Name, p.Shape, (ReadOnlyMemory<float>)optimizer.FirstMoment.AsMemory((int)p.Offset, p.Length)),
            (V + p.Name, p.Shape, (ReadOnlyMemory<float>)optimizer.SecondMoment.AsMemory((int)p.Offset, p.Length)),
        });
        SafeTensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>Restores <paramref name="optimizer"/> from <paramref name="path"/>. Everything is validated before anything
    /// is changed: on error the optimizer is untouched.</summary>
    public static void Load(Optimizer optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer); ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new OptimizerStateException($"{path}: optimizer state file does not exist.", path);
        using var file = SafeTensorsFile.Open(path);
        var header = ReadHeader(file, path);
        if (header.Kind != optimizer.Kind)
            throw new OptimizerStateException($"{path}: state of a '{header.Kind}' optimizer cannot be loaded into '{optimizer.Kind}'.", path);

        var store = optimizer.Store;
        var inFile = new Dictionary<string, (int[] Shape, long Step, ParameterSettings Settings)>(StringComparer.Ordinal);
        foreach (var e in header.Parameters) if (!inFile.TryAdd(e.Name, (e.Shape, e.Step, e.Settings))) throw Bad(
            path, $"parameter '{e.Name}' listed twice");
        var missing = new List<string>(); var wrongShape = new List<string>();
        foreach (var p in store.Parameters)
        {
            if (!inFile.TryGetValue(p.Name, out var e)) { missing.Add(p.Name); continue; }
            if (!e.Shape.SequenceEqual(p.Shape)) { wrongShape.Add($"{p.Name}: state has [{string.Join(",", e.Shape)}], model has " +
                $"[{string.Join(",", p.Shape)}]"); continue; }
            foreach (var prefix in new[] { M, V })
            {
                if (!file.TryGet(prefix + p.Name, out var t)) throw Bad(path, $"tensor '{prefix + p.Name}' is missing");
                if (t.DType != TensorDType.F32 || !t.Shape.SequenceEqual(p.Shape))
                    throw Bad(path, $"tensor '{t.Name}' is {DTypeInfo.ToSafeTensorsName(t.DType)} {DTypeInfo.FormatShape(t.Shape)}, expected " +
                        $"F32 {DTypeInfo.FormatShape(p.Shape)}");
            }
        }
        var unexpected = inFile.Keys.Where(n => !store.Contains(n)).ToList();
        if (missing.Count + wrongShape.Count + unexpected.Count > 0)
        {
            var msg = new System.Text.StringBuilder($"{path}: optimizer state does not match the model's parameters ({store.Parameters.Count} in " +
                $"the model, {inFile.Count} in the state).");
            if (missing.Count > 0) msg.Append($"\n  missing from the state ({missing.Count}): ").AppendJoin(", ", missing.Take(20)).Append(
                missing.Count > 20 ? ", …" : "");
            if (wrongShape.Count > 0) msg.Append($"\n  wrong shape ({wrongShape.Count}): ").AppendJoin("; ", wrongShape.Take(20)).Append(
                wrongShape.Count > 20 ? "; …" : "");
            if (unexpected.Count > 0) msg.Append($"\n  not in the model ({unexpected.Count}): ").AppendJoin(", ", unexpected.Take(20)).Append(
                unexpected.Count > 20 ? ", …" : "");
            throw new OptimizerStateException(msg.ToString(), path);
        }
        foreach (var e in header.Parameters)
            if (!double.IsFinite(e.Settings.LrMultiplier) || e.Settings.LrMultiplier < 0
                || e.Step < 0) throw Bad(path, $"parameter '{e.Name}' has an invalid step or learning-rate multiplier");

        // Validate hyper-parameters on a scratch optimizer of the same kind, so a bad file leaves ours untouched.
        try { Scratch(optimizer).RestoreHyperParameters(header.Hyper, path); }
        catch (Exception ex) when (ex is ArgumentException or OptimizerStateException) { throw Bad(
        path, "invalid hyper-parameters: " + ex.Message, ex); }

        // Commit.
        optimizer.RestoreHyperParameters(header.Hyper, path);
        Array.Clear(optimizer.FirstMoment); Array.Clear(optimizer.SecondMoment);
        for (int i = 0; i < store.Parameters.Count; i++)
        {
            var p = store.Parameters[i]; var e = inFile[p.Name];
            file[M + p.Name].CopyTo(optimizer.FirstMoment.AsSpan((int)p.Offset, p.Length));
            file[V + p.Name].CopyTo(optimizer.SecondMoment.AsSpan((int)p.Offset, p.Length));
            optimizer.ParameterSteps[i] = e.Step;
            optimizer.Groups[i] = e.Settings;
        }
        optimizer.StepCount = header.Step;
    }

    /// <summary>Creates the optimizer a state file was saved from (AdamW or LAMB) for <paramref name="store"/> and loads it.</summary>
    public static Optimizer LoadOptimizer(ParameterStore store, string path)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!File.Exists(path)) throw new OptimizerStateException($"{path}: optimizer state file does not exist.", path);
        string kind;
        using (var file = SafeTensorsFile.Open(path)) kind = ReadHeader(file, path).Kind;
        if (!OptimizerFactory.IsKnown(kind)) throw new OptimizerStateException($"{path}: unknown optimizer '{kind}'.", path);
        var o = OptimizerFactory.Create(kind, store);
        o.Load(path);
        return o;
    }

    internal static double Get(IReadOnlyDictionary<string, double> h, string key, string source) =>
        h.TryGetValue(key, out double v) ? v : throw new OptimizerStateException($"{source}: hyper-parameter '{key}' is missing.", source);

    static Optimizer Scratch(Optimizer o)
    {
        var s = new ParameterStore(); s.Allocate();
        return OptimizerFactory.Create(o.Kind, s);
    }

    sealed record Entry(string Name, int[] Shape, long Step, ParameterSettings Settings);
    sealed record Header(string Kind, long Step, Dictionary<string, double> Hyper, List<Entry> Parameters);

    static OptimizerStateException Bad(string path, string what, Exception? inner = null) =>
        new($"{path}: invalid optimizer state: {what}.", path, inner);

    static Header ReadHeader(SafeTensorsFile file, string path)
    {
        var md = file.Metadata;
        string Meta(string key) => md.TryGetValue(key, out var v) ? v : throw Bad(
            path, $"metadata '{key}' is missing (not an optimizer state file?)");
        if (Meta("format") != Format) throw Bad(path, $"format is '{md["format"]}', expected '{Format}'");
        if (Meta("version") != Version) throw Bad(path, $"version '{md["version"]}' is not supported (expected {Version})");
        string kind = Meta("optimizer");
        if (!long.TryParse(Meta("step"), NumberStyles.None, CultureInfo.InvariantCulture, out long step)) throw Bad(
            path, "'step' is not a non-negative integer");
        try
        {
            var hyper = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (k, v) in JsonNode.Parse(Meta("hyperparameters"))!.AsObject()) hyper[k] = v!.GetValue<double>();
            var list = new List<Entry>();
            foreach (var node in JsonNode.Parse(Meta("parameters"))!.AsArray())
            {
                var o = node!.AsObject();
                list.Add(new Entry(o["name"]!.GetValue<string>(), [.. o["shape"]!.AsArray().Select(d => d!.GetValue<int>())],
                    o["step"]!.GetValue<long>(),
                    new ParameterSettings(o["lr_multiplier"]!.GetValue<double>(), o["frozen"]!.GetValue<bool>(), o["weight_decay"]!.GetValue<bool>(),
                    o["trust_ratio"]!.GetValue<bool>())));
            }
            return new Header(kind, step, hyper, list);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw Bad(path, "malformed 'hyperparameters' or 'parameters' metadata", ex);
        }
    }
}
