using MobileBert.Export;
using MobileBert.Kernels;

namespace MobileBert.Import;

/// <summary>What the importer read off a BERT graph: the hyperparameters HF's BertConfig needs.</summary>
public sealed record BertGraphShape(int VocabSize, int HiddenSize, int NumHiddenLayers, int NumAttentionHeads, int IntermediateSize,
    int MaxPositionEmbeddings, int TypeVocabSize, float LayerNormEps, Activation HiddenAct, bool HasPooler)
{
    /// <summary>One line for users: "6 layers, hidden 384, 12 heads, FFN 1536, gelu, layer_norm_eps 1E-12, vocab 30522, pooler".</summary>
    public string Describe() =>
        $"{NumHiddenLayers} layers, hidden {HiddenSize}, {NumAttentionHeads} heads, FFN {IntermediateSize}, {Model.ConfigJson.ActName(HiddenAct)}, " +
        $"layer_norm_eps {LayerNormEps:G3}, vocab {VocabSize}{(HasPooler ? ", pooler" : "")}";
}

/// <summary>One backbone tensor under its bare BertModel name in HF layout (Linear weights [out, in]).</summary>
internal sealed record ImportedTensor(string Name, int[] Shape, float[] Data, OnnxNode? Origin);

/// <summary>
/// Maps a BERT-architecture ONNX graph (PyTorch / HF exports: Gather embeddings, MatMul + Add linears, LayerNormalization or
/// its ReduceMean/Sub/Pow/Sqrt/Div decomposition, Erf GELU, Reshape into heads) onto bare BertModel tensors and a
/// <see cref="BertGraphShape"/>. Weights exports leave anonymous (<c>onnx::MatMul_123</c>) are named after the bias their
/// MatMul's Add consumes and transposed from [in, out] to [out, in]. Anything outside those patterns is refused with an
/// <see cref="OnnxImportException"/> naming the node.
/// </summary>
internal sealed class BertOnnxMapper
{
    static readonly HashSet<string> KnownOps =
    [
        "Constant", "ConstantOfShape", "Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Reshape", "Transpose", "Slice",
        "Cast", "Identity", "Expand", "Equal", "Where", "Range", "Not", "Less", "Greater", "Min", "Max", "Neg", "Reciprocal",
        "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "ReduceMean", "LayerNormalization", "Erf", "Gelu", "Tanh",
        "Relu", "Softmax", "Dropout",
    ];

    readonly OnnxModel _model;
    readonly OnnxGraphIndex _g;
    readonly Dictionary<string, ImportedTensor> _tensors = new(StringComparer.Ordinal);
    readonly HashSet<string> _usedInitializers = new(StringComparer.Ordinal);
    /// <summary>Bare Linear name (without ".weight") → the Add node that adds its bias (the Linear's output).</summary>
    readonly Dictionary<string, OnnxNode> _linearOutputs = new(StringComparer.Ordinal);

    BertOnnxMapper(OnnxModel model) { _model = model; _g = new OnnxGraphIndex(model); }

    public static (BertGraphShape Shape, List<ImportedTensor> Tensors) Map(OnnxModel model)
    {
        var m = new BertOnnxMapper(model);
        m.CheckOps();
        m.MapLinears();
        m.MapNamedInitializers();
        m.RefuseUnmappedWeights();
        m.CheckPositionIds();
        var shape = m.InferShape();
        BertGraphChecks.CheckTensors(model.Source, shape, m._tensors);
        return (shape, [.. m._tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal)]);
    }

    string Where(OnnxNode n) => $"{_model.Source}: {n}";

    /// <summary>Fewest inputs of the ops whose inputs the patterns read by position.</summary>
    static readonly Dictionary<string, int> MinInputs = new(StringComparer.Ordinal)
    {
        ["MatMul"] = 2, ["Gemm"] = 2, ["Add"] = 2, ["Sub"] = 2, ["Mul"] = 2, ["Div"] = 2, ["Pow"] = 2, ["Reshape"] = 2,
        ["Gather"] = 2, ["LayerNormalization"] = 2, ["Transpose"] = 1, ["Sqrt"] = 1, ["ReduceMean"] = 1, ["Identity"] = 1,
    };

    void CheckOps()
    {
        foreach (var n in _model.Nodes)
        {
            if (n.Domain is not ("" or "ai.onnx") || !KnownOps.Contains(n.OpType))
                throw new OnnxImportException($"{Where(n)}: op '{(n.Domain.Length > 0 ? n.Domain + "." : "")}{n.OpType}' is not part of a BERT " +
                    $"graph this importer understands.");
            if (n.Outputs.Length == 0 || n.Inputs.Length < MinInputs.GetValueOrDefault(n.OpType))
                throw new OnnxImportException($"{Where(n)}: has {n.Inputs.Length} inputs and {n.Outputs.Length} outputs, which is not a valid " +
                    $"{n.OpType}.");
        }
    }

    /// <summary>MatMul(x, W) + b and Gemm(x, W, b): each initializer weight gets the name of the bias added to its output.</summary>
    void MapLinears()
    {
        foreach (var n in _model.Nodes)
        {
            if (n.OpType == "MatMul") MapMatMul(n);
            else if (n.OpType == "Gemm") MapGemm(n);
        }
    }

    void MapMatMul(OnnxNode n)
    {
        var (weight, transposed) = WeightOperand(n, 1);
        if (weight is null)
        {
            if (WeightOperand(n, 0).Weight is not null) throw new OnnxImportException($"{Where(n)}: the weight is the left operand (W·x); " +
                $"expected x·W.");
            return;   // activation × activation (attention scores, context)
        }
        var add = _g.SoleConsumer(n.Outputs[0], "Add")
            ?? throw new OnnxImportException($"{Where(n)}: weight '{weight.Name}' is not followed by an Add of a named bias, so it cannot be named.");
        var bias = LinearBias(add, OnnxGraphIndex.OtherInput(add, n.Outputs[0]), weight);
        // MatMul's W is [in, out]; a named weight behind Transpose(perm = 1,0) is already HF's [out, in].
        AddLinear(n, add, bias, weight, outInLayout: transposed);
    }

    void MapGemm(OnnxNode n)
    {
        if (Attr(n, "transA", 0) != 0 || AttrF(n, "alpha", 1) != 1 || AttrF(n, "beta", 1) != 1 || n.Inputs.Length < 3)
            throw new OnnxImportException($"{Where(n)}: only Gemm(x, W, bias) with alpha = beta = 1 and transA = 0 is understood.");
        var (weight, transposed) = WeightOperand(n, 1);
        if (weight is null) throw new OnnxImportException($"{Where(n)}: the Gemm weight '{n.Inputs[1]}' is not an initializer.");
        var bias = LinearBias(n, n.Inputs[2], weight);
        AddLinear(n, n, bias, weight, outInLayout: (Attr(n, "transB", 0) != 0) ^ transposed);
    }

    /// <summary>The float initializer at input <paramref name="index"/>, directly or through Transpose(perm = 1,0).</summary>
    (OnnxTensor? Weight, bool Transposed) WeightOperand(OnnxNode n, int index)
    {
        if (n.Inputs.Length <= index) return (null, false);
        string v = n.Inputs[index];
        if (_model.Initializers.TryGetValue(v, out var t) && t.DataType == OnnxType.Float && t.Dims.Length == 2) return (t, false);
        if (_g.Producer(v) is { OpType: "Transpose" } tr && _model.Initializers.TryGetValue(tr.Inputs[0], out var tt) && tt.Dims.Length == 2)
        {
            if (!tr.Attributes.TryGetValue("perm", out var perm) || !perm.Ints.SequenceEqual([1L, 0L]))
                throw new OnnxImportException($"{Where(tr)}: a weight transpose must have perm = [1, 0].");
            return (tt, true);
        }
        return (null, false);
    }

    /// <summary>The bias initializer <paramref name="value"/> added by <paramref name="add"/>, checked to be a Linear's bias.</summary>
    (OnnxTensor Tensor, string Name) LinearBias(OnnxNode add, string value, OnnxTensor weight)
    {
        if (!_model.Initializers.TryGetValue(value, out var bias))
            throw new OnnxImportException($"{Where(add)}: weight '{weight.Name}' is not followed by an Add of a named bias, so it cannot be named.");
        string name = BertTensorNames.Canonical(bias.Name) ?? "";
        if (!BertTensorNames.IsLinearBias(name))
            throw new OnnxImportException($"{Where(add)}: bias '{bias.Name}' is not the bias of a BertModel Linear layer, so weight " +
                $"'{weight.Name}' cannot be named.");
        return (bias, name);
    }

    void AddLinear(OnnxNode mul, OnnxNode output, (OnnxTensor Tensor, string Name) bias, OnnxTensor weight, bool outInLayout)
    {
        string module = bias.Name[..^".bias".Length];
        string name = module + ".weight";
        if (BertTensorNames.Canonical(weight.Name) is { } own && own != name)
            throw new OnnxImportException($"{Where(mul)}: weight '{weight.Name}' is added to bias '{bias.Tensor.Name}' of another layer.");
        if (!_usedInitializers.Add(weight.Name))
            throw new OnnxImportException($"{Where(mul)}: weight '{weight.Name}' is used by more than one layer.");
        if (_linearOutputs.ContainsKey(module))
            throw new OnnxImportException($"{Where(output)}: '{module}' is computed twice.");
        int rows = (int)weight.Dims[0], cols = (int)weight.Dims[1];
        int outFeatures = outInLayout ? rows : cols, inFeatures = outInLayout ? cols : rows;
        if (bias.Tensor.ElementCount != outFeatures || bias.Tensor.Dims.Length != 1)
            throw new OnnxImportException($"{Where(output)}: bias '{bias.Tensor.Name}' has shape {bias.Tensor.ShapeText} but weight " +
                $"'{weight.Name}' has {outFeatures} outputs ({weight.ShapeText}).");
        float[] w = weight.ToFloats();
        if (!outInLayout) w = Transpose(w, rows, cols);   // [in, out] → [out, in]
        _tensors[name] = new ImportedTensor(name, [outFeatures, inFeatures], w, mul);
        _linearOutputs[module] = output;
    }

    static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }

    /// <summary>Initializers already carrying a backbone name (embeddings, biases, norms, a Gemm pooler weight) are taken as they are.</summary>
    void MapNamedInitializers()
    {
        foreach (var t in _model.Initializers.Values)
        {
            if (_usedInitializers.Contains(t.Name) || BertTensorNames.Canonical(t.Name) is not { } name) continue;
            if (_tensors.ContainsKey(name))
            {
                if (BertTensorNames.IsLinearBias(name[..^".weight".Length] + ".bias"))
                    throw new OnnxImportException($"{_model.Source}: initializer '{t.Name}' names '{name}', which the graph computes from " +
                        $"another weight.");
                throw new OnnxImportException($"{_model.Source}: two initializers map to '{name}'.");
            }
            var origin = _g.Consumers(t.Name).FirstOrDefault();
            if (origin is null) continue;   // unused by the graph: not part of the computation
            _usedInitializers.Add(t.Name);
            _tensors[name] = new ImportedTensor(name, Array.ConvertAll(t.Dims, d => (int)d), t.ToFloats(), origin);
        }
    }

    /// <summary>A float tensor the graph uses that maps to no backbone tensor would be silently dropped: refuse it.</summary>
    void RefuseUnmappedWeights()
    {
        foreach (var t in _model.Initializers.Values)
        {
            if (_usedInitializers.Contains(t.Name) || t.DataType != OnnxType.Float || t.ElementCount <= 1) continue;
            var user = _g.Consumers(t.Name).FirstOrDefault();
            if (user is not null)
                throw new OnnxImportException($"{Where(user)}: float tensor '{t.Name}' {t.ShapeText} maps to no BertModel weight (task heads " +
                    $"and other modules are not imported).");
        }
    }

    /// <summary>A stored position-id table must be HF's 0, 1, 2, … (BERT's absolute positions; RoBERTa-style offsets are not BERT).</summary>
    void CheckPositionIds()
    {
        foreach (var t in _model.Initializers.Values.Where(t => t.Name.EndsWith("embeddings.position_ids", StringComparison.Ordinal)))
        {
            var ids = t.ToInt64s();
            int bad = Enumerable.Range(0, ids.Length).FirstOrDefault(i => ids[i] != i, -1);
            if (bad >= 0) throw new OnnxImportException($"{_model.Source}: '{t.Name}' holds {ids[bad]} at index {bad}; BERT positions are 0, " +
                $"1, 2, ….");
        }
    }

    BertGraphShape InferShape()
    {
        var word = Require(BertTensorNames.WordEmbeddings);
        var pos = Require(BertTensorNames.PositionEmbeddings);
        var types = Require(BertTensorNames.TokenTypeEmbeddings);
        int hidden = word.Shape[^1];
        int layers = _tensors.Keys.Select(BertTensorNames.LayerOf).DefaultIfEmpty(-1).Max() + 1;
        if (layers == 0) throw new OnnxImportException($"{_model.Source}: no encoder layer found (no 'encoder.layer.N.*' tensors).");
        var inter = Require(BertTensorNames.Layer(0, "intermediate.dense.weight"));
        var patterns = new BertGraphPatterns(_model, _g, _linearOutputs);
        return new BertGraphShape(
            VocabSize: word.Shape[0], HiddenSize: hidden, NumHiddenLayers: layers,
            NumAttentionHeads: patterns.Heads(layers, hidden), IntermediateSize: inter.Shape[0],
            MaxPositionEmbeddings: pos.Shape[0], TypeVocabSize: types.Shape[0],
            LayerNormEps: patterns.LayerNormEps(
                _tensors.Values.Where(t => t.Name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)).ToList(), _tensors),
            HiddenAct: patterns.Activation(layers), HasPooler: _tensors.ContainsKey(BertTensorNames.Pooler + ".weight"));
    }

    ImportedTensor Require(string name) => _tensors.GetValueOrDefault(name)
        ?? throw new OnnxImportException($"{_model.Source}: the graph has no '{name}' (looked for an initializer of that name, with or without " +
            $"a module prefix).");

    static long Attr(OnnxNode n, string name, long fallback) => n.Attributes.TryGetValue(name, out var a) ? a.I : fallback;
    static float AttrF(OnnxNode n, string name, float fallback) => n.Attributes.TryGetValue(name, out var a) ? a.F : fallback;
}
