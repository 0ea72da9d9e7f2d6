namespace MobileBert.Import;

/// <summary>
/// Lookups over an <see cref="OnnxModel"/>'s graph for pattern matching: which node produces a value, which nodes consume
/// it, and the constant (initializer or Constant node) behind a value name.
/// </summary>
internal sealed class OnnxGraphIndex
{
    readonly Dictionary<string, OnnxNode> _producer = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);
    readonly Dictionary<string, OnnxTensor> _constants;

    public OnnxModel Model { get; }

    public OnnxGraphIndex(OnnxModel model)
    {
        Model = model;
        _constants = new(model.Initializers, StringComparer.Ordinal);
        foreach (var n in model.Nodes)
        {
            foreach (var o in n.Outputs.Where(o => o.Length > 0))
                if (!_producer.TryAdd(o, n)) throw new OnnxImportException($"{model.Source}: {n} writes '{o}', which {_producer[o]} already writes.");
            foreach (var i in n.Inputs.Where(i => i.Length > 0))
            {
                if (!_consumers.TryGetValue(i, out var list)) _consumers[i] = list = [];
                list.Add(n);
            }
            if (n.OpType == "Constant" && n.Outputs.Length == 1)
                _constants[n.Outputs[0]] = n.Attributes.TryGetValue("value", out var v) && v.T is { } t
                    ? t with { Name = n.Outputs[0] }
                    : throw new OnnxImportException($"{model.Source}: {n} has no tensor 'value' attribute (only tensor constants are supported).");
        }
    }

    public OnnxNode? Producer(string value) => _producer.GetValueOrDefault(value);

    public IReadOnlyList<OnnxNode> Consumers(string value) => _consumers.TryGetValue(value, out var l) ? l : [];

    public OnnxTensor? Constant(string value) => _constants.GetValueOrDefault(value);

    public bool IsInitializer(string value) => Model.Initializers.ContainsKey(value);

    /// <summary>The single consumer of <paramref name="value"/> with op <paramref name="op"/>, or null.</summary>
    public OnnxNode? SoleConsumer(string value, string op)
    {
        var c = Consumers(value);
        return c.Count == 1 && c[0].OpType == op ? c[0] : null;
    }

    /// <summary>The other input of a two-input node (the one that is not <paramref name="value"/>).</summary>
    public static string OtherInput(OnnxNode n, string value) => n.Inputs.Length == 2 ? (n.Inputs[0] == value ? n.Inputs[1] : n.Inputs[0]) : "";

    /// <summary>A scalar float constant behind <paramref name="value"/>, or null.</summary>
    public float? ScalarConstant(string value) =>
        Constant(value) is { DataType: Export.OnnxType.Float } t && t.ElementCount == 1 ? t.ToFloats()[0] : null;
}
