using System.Runtime.InteropServices;

namespace MobileBert.Export;

/// <summary>ONNX TensorProto.DataType values used by the exporter.</summary>
internal static class OnnxType
{
    public const int Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7;
}

/// <summary>A node attribute (AttributeProto) of one of the kinds the exporter uses.</summary>
internal readonly record struct OnnxAttr(string Name, int Type, long I = 0, float F = 0, long[]? Values = null)
{
    // AttributeProto.AttributeType
    const int TypeFloat = 1, TypeInt = 2, TypeInts = 7;
    public static OnnxAttr Int(string name, long value) => new(name, TypeInt, I: value);
    public static OnnxAttr Float(string name, float value) => new(name, TypeFloat, F: value);
    public static OnnxAttr Ints(string name, params long[] values) => new(name, TypeInts, Values: values);

    // AttributeProto: name = 1, f = 2, i = 3, ints = 8, type = 20.
    public void WriteTo(ProtoWriter w)
    {
        w.String(1, Name);
        w.Int32(20, Type);
        switch (Type)
        {
            case TypeFloat: w.Float(2, F); break;
            case TypeInt: w.Int64(3, I); break;
            case TypeInts: foreach (long v in Values!) w.Int64(8, v); break;   // proto2 `repeated int64 ints = 8` (unpacked)
            default: throw new InvalidOperationException($"Unsupported attribute type {Type}.");
        }
    }
}

/// <summary>
/// Builds one ONNX GraphProto incrementally (nodes must be added in topological order) and writes the ModelProto.
/// Field numbers from onnx/onnx.proto: ModelProto{ir_version=1, producer_name=2, producer_version=3, doc_string=6, graph=7,
/// opset_import=8}, OperatorSetIdProto{domain=1, version=2}, GraphProto{node=1, name=2, initializer=5, input=11, output=12},
/// NodeProto{input=1, output=2, name=3, op_type=4, attribute=5, domain=7}, TensorProto{dims=1, data_type=2, name=8, raw_data=9},
/// ValueInfoProto{name=1, type=2}, TypeProto{tensor_type=1}, TypeProto.Tensor{elem_type=1, shape=2},
/// TensorShapeProto{dim=1}, Dimension{dim_value=1, dim_param=2}.
/// </summary>
internal sealed class OnnxGraph
{
    readonly ProtoWriter _nodes = new(1 << 16);
    readonly ProtoWriter _initializers = new(1 << 20);
    readonly List<ProtoWriter> _inputs = [], _outputs = [];
    readonly HashSet<string> _names = new(StringComparer.Ordinal);
    readonly HashSet<string> _initializerNames = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    int _nodeCount, _counter;

    public int NodeCount => _nodeCount;
    public long InitializerBytes => _initializers.Length;

    /// <summary>A fresh value name based on <paramref name="hint"/>.</summary>
    public string Fresh(string hint)
    {
        string n = hint;
        while (!_names.Add(n)) n = $"{hint}_{++_counter}";
        return n;
    }

    /// <summary>A name based on <paramref name="hint"/> that is not taken yet (not reserved by this call).</summary>
    string Unused(string hint)
    {
        string n = hint;
        while (_names.Contains(n)) n = $"{hint}_{++_counter}";
        return n;
    }

    /// <summary>Reserves an exact name (graph inputs/outputs); it must not exist yet.</summary>
    public string Exact(string name) => _names.Add(name) ? name : throw new InvalidOperationException($"ONNX value name '{name}' used twice.");

    /// <summary>Adds a node with one output; returns the output name (<paramref name="output"/> is a hint made unique; <see cref="NodeExact"/> keeps
    /// it).</summary>
    public string Node(string op, IReadOnlyList<string> inputs, string output, params OnnxAttr[] attrs) =>
        Node(op, inputs, [output], false, attrs)[0];

    public string NodeExact(string op, IReadOnlyList<string> inputs, string output, params OnnxAttr[] attrs) =>
        Node(op, inputs, [output], true, attrs)[0];

    public string[] Node(string op, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, bool exactOutputs, params OnnxAttr[] attrs)
    {
        var outs = new string[outputs.Count];
        for (int i = 0; i < outs.Length; i++) outs[i] = exactOutputs ? outputs[i] : Fresh(outputs[i]);
        var n = new ProtoWriter(128);
        foreach (var i in inputs) n.String(1, i);
        foreach (var o in outs) n.String(2, o);
        n.String(3, $"{op}_{_nodeCount++}");
        n.String(4, op);
        foreach (var a in attrs) n.Message(5, a.WriteTo);
        _nodes.Message(1, n);
        return outs;
    }

    /// <summary>Adds an initializer (raw little-endian data). Returns its name; adding the same name again is a no-op.</summary>
    public string Initializer(string name, int dataType, ReadOnlySpan<long> dims, ReadOnlySpan<byte> raw)
    {
        if (!_initializerNames.Add(name)) return name;
        if (!_names.Add(name)) throw new InvalidOperationException($"ONNX value name '{name}' used twice.");
        if (!BitConverter.IsLittleEndian) throw new OnnxExportException("ONNX export needs a little-endian machine (raw_data is little-endian).");
        var head = new ProtoWriter(64 + name.Length);
        foreach (long d in dims) head.Int64(1, d);                     // proto2 `repeated int64 dims = 1` (unpacked)
        head.Int32(2, dataType);
        head.String(8, name);
        _initializers.MessageWithBytesTail(5, head, 9, raw);
        return name;
    }

    public string Initializer(string name, ReadOnlySpan<float> data, ReadOnlySpan<long> dims) =>
        Initializer(name, OnnxType.Float, dims, MemoryMarshal.AsBytes(data));

    public bool HasInitializer(string name) => _initializerNames.Contains(name);

    /// <summary>An int64 constant (cached by value); dims null = 1-D.</summary>
    public string Int64Const(string hint, long[] values, long[]? dims = null)
    {
        dims ??= [values.Length];
        string key = $"i64[{string.Join(",", dims)}]:{string.Join(",", values)}";
        if (_constants.TryGetValue(key, out var n)) return n;
        return _constants[key] = Initializer(Unused(hint), OnnxType.Int64, dims, MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>A float scalar constant (cached by value).</summary>
    public string FloatScalar(string hint, float value)
    {
        string key = $"f32:{BitConverter.SingleToInt32Bits(value)}";
        if (_constants.TryGetValue(key, out var n)) return n;
        return _constants[key] = Initializer(Unused(hint), [value], []);
    }

    /// <summary>Graph input/output: a tensor of <paramref name="elemType"/> with dims given as symbolic names or numbers.</summary>
    public void Input(string name, int elemType, params object[] dims) => _inputs.Add(ValueInfo(Exact(name), elemType, dims));
    public void Output(string name, int elemType, params object[] dims) => _outputs.Add(ValueInfo(name, elemType, dims));

    static ProtoWriter ValueInfo(string name, int elemType, object[] dims)
    {
        var v = new ProtoWriter();
        v.String(1, name);
        v.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int32(1, elemType);
            tensor.Message(2, shape =>
            {
                foreach (var d in dims)
                    shape.Message(1, dim =>
                    {
                        if (d is string s) dim.String(2, s);
                        else dim.Int64(1, Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture));
                    });
            });
        }));
        return v;
    }

    /// <summary>Writes the ModelProto. The (large) graph is streamed piece by piece behind its computed length.</summary>
    public void WriteModel(Stream stream, int irVersion, int opset, string producerVersion, string graphName, string docString)
    {
        var graphHead = new ProtoWriter();
        graphHead.String(2, graphName);
        var graphTail = new ProtoWriter();
        foreach (var i in _inputs) graphTail.Message(11, i);
        foreach (var o in _outputs) graphTail.Message(12, o);
        long graphLength = (long)_nodes.Length + graphHead.Length + _initializers.Length + graphTail.Length;
        if (graphLength > int.MaxValue - 4096)
            throw new OnnxExportException($"The ONNX graph is {graphLength / (1L << 20)} MiB; a protobuf file is limited to 2 GiB (external data " +
                $"is not supported by this exporter).");

        var model = new ProtoWriter();
        model.Int64(1, irVersion);
        model.String(2, "MobileBert.NET");
        model.String(3, producerVersion);
        model.String(6, docString);
        model.Message(8, op => { op.String(1, ""); op.Int64(2, opset); });
        model.Tag(7, 2);
        model.Varint((ulong)graphLength);
        stream.Write(model.Written);
        stream.Write(_nodes.Written);
        stream.Write(graphHead.Written);
        stream.Write(_initializers.Written);
        stream.Write(graphTail.Written);
    }
}
