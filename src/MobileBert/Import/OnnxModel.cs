using System.Runtime.InteropServices;
using MobileBert.Export;

namespace MobileBert.Import;

/// <summary>A tensor from an ONNX file (an initializer or a Constant node's value), little-endian raw bytes.</summary>
internal sealed record OnnxTensor(string Source, string Name, long[] Dims, int DataType, ReadOnlyMemory<byte> Raw)
{
    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);
    public string ShapeText => "[" + string.Join(", ", Dims) + "]";

    public float[] ToFloats()
    {
        if (DataType != OnnxType.Float) throw new OnnxImportException($"{Source}: tensor '{Name}' has ONNX data type {DataType}; only float32 " +
            $"weights are imported.");
        return MemoryMarshal.Cast<byte, float>(CheckedRaw(4)).ToArray();
    }

    /// <summary>An integer tensor (int64 or int32) as int64 values (shape constants, axes).</summary>
    public long[] ToInt64s() => DataType switch
    {
        OnnxType.Int64 => MemoryMarshal.Cast<byte, long>(CheckedRaw(8)).ToArray(),
        OnnxType.Int32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(CheckedRaw(4)).ToArray(), v => (long)v),
        _ => throw new OnnxImportException($"{Source}: tensor '{Name}' has ONNX data type {DataType}; expected an int64 or int32 constant."),
    };

    /// <summary>A scalar (or one-element) float constant.</summary>
    public float ToScalar() =>
        ElementCount == 1 ? ToFloats()[0] : throw new OnnxImportException($"{Source}: tensor '{Name}' has shape {ShapeText}; expected a scalar.");

    ReadOnlySpan<byte> CheckedRaw(int elementSize)
    {
        if (Raw.Length != ElementCount * elementSize)
            throw new OnnxImportException($"{Source}: tensor '{Name}' has shape {ShapeText} but {Raw.Length} bytes of data.");
        return Raw.Span;
    }
}

/// <summary>A node attribute of the kinds the importer reads (AttributeProto: name=1, f=2, i=3, s=4, t=5, floats=7, ints=8).</summary>
internal sealed record OnnxAttribute(string Name, float F, long I, string? S, OnnxTensor? T, long[] Ints, float[] Floats);

/// <summary>A graph node (NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7).</summary>
internal sealed record OnnxNode(int Index, string Name, string OpType, string Domain, string[] Inputs, string[] Outputs,
    Dictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>How errors name this node: "node 'Name' (OpType)" or, for an unnamed node, its index and first output.</summary>
    public override string ToString() =>
        Name.Length > 0 ? $"node '{Name}' ({OpType})" : $"node #{Index} ({OpType}, output '{(Outputs.Length > 0 ? Outputs[0] : "")}')";
}

/// <summary>
/// An ONNX ModelProto read into memory: the main graph's nodes (in file order, which ONNX requires to be topological),
/// initializers, input and output names, and the default-domain opset. Field numbers from onnx/onnx.proto (see
/// Export/OnnxGraph). Tensors with external data, subgraph attributes and non-float/int data are refused when used.
/// </summary>
internal sealed class OnnxModel
{
    public required string Source { get; init; }
    public long IrVersion { get; init; }
    public long Opset { get; init; }
    public string Producer { get; init; } = "";
    public required List<OnnxNode> Nodes { get; init; }
    public required Dictionary<string, OnnxTensor> Initializers { get; init; }
    public required List<string> Inputs { get; init; }
    public required List<string> Outputs { get; init; }

    public static OnnxModel Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new OnnxImportException($"{path}: cannot read: " +
            $"{e.Message}"); }
        return Parse(bytes, path);
    }

    public static OnnxModel Parse(ReadOnlyMemory<byte> bytes, string source)
    {
        var r = new ProtoReader(bytes, $"{source} (ModelProto)");
        long ir = 0, opset = 0;
        string producer = "";
        ProtoReader? graph = null;
        while (r.Next(out int field, out int wire))
            switch (field)
            {
                case 1 when wire == ProtoReader.WireVarint: ir = r.Int64(); break;
                case 2 when wire == ProtoReader.WireLength: producer = r.String(); break;
                case 7 when wire == ProtoReader.WireLength: graph = r.Message($"{source} (graph)"); break;
                case 8 when wire == ProtoReader.WireLength:
                    var (domain, version) = ReadOpset(r.Message($"{source} (opset_import)"));
                    if (domain is "" or "ai.onnx") opset = version;
                    break;
                default: r.Skip(wire); break;
            }
        if (graph is null) throw new OnnxImportException($"{source}: not an ONNX model (no graph found).");
        var nodes = new List<OnnxNode>();
        var inits = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        List<string> inputs = [], outputs = [];
        while (graph.Next(out int field, out int wire))
            switch (field)
            {
                case 1 when wire == ProtoReader.WireLength: nodes.Add(ReadNode(graph.Message($"{source}: graph node " +
                    $"#{nodes.Count}"), nodes.Count, source)); break;
                case 5 when wire == ProtoReader.WireLength:
                    var t = ReadTensor(graph.Message($"{source}: initializer #{inits.Count}"), source);
                    inits[t.Name] = t;
                    break;
                case 11 when wire == ProtoReader.WireLength: inputs.Add(ReadValueInfoName(graph.Message($"{source}: graph input"))); break;
                case 12 when wire == ProtoReader.WireLength: outputs.Add(ReadValueInfoName(graph.Message($"{source}: graph output"))); break;
                default: graph.Skip(wire); break;
            }
        inputs.RemoveAll(inits.ContainsKey);   // IR < 4 lists initializers among the inputs
        return new OnnxModel
        {
            Source = source, IrVersion = ir, Opset = opset, Producer = producer,
            Nodes = nodes, Initializers = inits, Inputs = inputs, Outputs = outputs,
        };
    }

    static (string Domain, long Version) ReadOpset(ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.Next(out int field, out int wire))
            if (field == 1 && wire == ProtoReader.WireLength) domain = r.String();
            else if (field == 2 && wire == ProtoReader.WireVarint) version = r.Int64();
            else r.Skip(wire);
        return (domain, version);
    }

    static string ReadValueInfoName(ProtoReader r)
    {
        string name = "";
        while (r.Next(out int field, out int wire))
            if (field == 1 && wire == ProtoReader.WireLength) name = r.String();
            else r.Skip(wire);
        return name;
    }

    static OnnxNode ReadNode(ProtoReader r, int index, string source)
    {
        List<string> inputs = [], outputs = [];
        string name = "", op = "", domain = "";
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        while (r.Next(out int field, out int wire))
            switch (field)
            {
                case 1 when wire == ProtoReader.WireLength: inputs.Add(r.String()); break;
                case 2 when wire == ProtoReader.WireLength: outputs.Add(r.String()); break;
                case 3 when wire == ProtoReader.WireLength: name = r.String(); break;
                case 4 when wire == ProtoReader.WireLength: op = r.String(); break;
                case 5 when wire == ProtoReader.WireLength:
                    var a = ReadAttribute(r.Message($"{r.Context} attribute"), source);
                    attrs[a.Name] = a;
                    break;
                case 7 when wire == ProtoReader.WireLength: domain = r.String(); break;
                default: r.Skip(wire); break;
            }
        return new OnnxNode(index, name, op, domain, [.. inputs], [.. outputs], attrs);
    }

    static OnnxAttribute ReadAttribute(ProtoReader r, string source)
    {
        string name = "";
        string? s = null;
        float f = 0;
        long i = 0;
        OnnxTensor? t = null;
        List<long> ints = [];
        List<float> floats = [];
        while (r.Next(out int field, out int wire))
            switch (field)
            {
                case 1 when wire == ProtoReader.WireLength: name = r.String(); break;
                case 2 when wire == ProtoReader.WireFixed32: f = r.Float(); break;
                case 3 when wire == ProtoReader.WireVarint: i = r.Int64(); break;
                case 4 when wire == ProtoReader.WireLength: s = r.String(); break;
                case 5 when wire == ProtoReader.WireLength: t = ReadTensor(r.Message($"{r.Context} tensor"), source); break;
                case 7: r.Floats(wire, floats); break;
                case 8: r.Int64s(wire, ints); break;
                default: r.Skip(wire); break;
            }
        return new OnnxAttribute(name, f, i, s, t, [.. ints], [.. floats]);
    }

    /// <summary>TensorProto: dims=1, data_type=2, float_data=4, int32_data=5, int64_data=7, name=8, raw_data=9,
    /// external_data=13, data_location=14. Typed data fields are converted to little-endian raw bytes.</summary>
    static OnnxTensor ReadTensor(ProtoReader r, string source)
    {
        List<long> dims = [], int64s = [];
        List<float> floats = [];
        int type = 0;
        string name = "";
        ReadOnlyMemory<byte>? raw = null;
        bool external = false;
        while (r.Next(out int field, out int wire))
            switch (field)
            {
                case 1: r.Int64s(wire, dims); break;
                case 2 when wire == ProtoReader.WireVarint: type = (int)r.Int64(); break;
                case 4: r.Floats(wire, floats); break;
                case 5 or 7: r.Int64s(wire, int64s); break;
                case 8 when wire == ProtoReader.WireLength: name = r.String(); break;
                case 9 when wire == ProtoReader.WireLength: raw = r.Bytes(); break;
                case 13: external = true; r.Skip(wire); break;
                case 14 when wire == ProtoReader.WireVarint: external |= r.Int64() == 1; break;
                default: r.Skip(wire); break;
            }
        if (external)
            throw new OnnxImportException($"{r.Context} '{name}' keeps its data in an external file; save the model with all tensors inside " +
                $"the .onnx file.");
        if (dims.Any(d => d < 0)) throw new OnnxImportException($"{r.Context} '{name}' has a negative dimension.");
        raw ??= type switch
        {
            OnnxType.Float => MemoryMarshal.AsBytes(floats.ToArray().AsSpan()).ToArray(),
            OnnxType.Int64 => MemoryMarshal.AsBytes(int64s.ToArray().AsSpan()).ToArray(),
            OnnxType.Int32 => MemoryMarshal.AsBytes(int64s.Select(v => (int)v).ToArray().AsSpan()).ToArray(),
            _ => ReadOnlyMemory<byte>.Empty,
        };
        if (!BitConverter.IsLittleEndian) throw new OnnxImportException("ONNX import needs a little-endian machine (raw_data is little-endian).");
        return new OnnxTensor(source, name, [.. dims], type, raw.Value);
    }
}
