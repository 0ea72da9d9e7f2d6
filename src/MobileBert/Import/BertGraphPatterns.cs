using MobileBert.Kernels;

namespace MobileBert.Import;

/// <summary>
/// Reads the hyperparameters that live in a BERT graph's structure rather than in tensor shapes: the number of heads (the
/// Reshape after each query/key/value projection), the FFN activation (Erf = gelu, Tanh = gelu_new, Relu, or a Gelu op)
/// and layer_norm_eps (a LayerNormalization attribute or the constant added to the variance in the decomposed form).
/// It also checks each encoder LayerNorm sits after a residual Add of its dense output (post-norm BERT).
/// </summary>
internal sealed class BertGraphPatterns(OnnxModel model, OnnxGraphIndex g, IReadOnlyDictionary<string, OnnxNode> linearOutputs)
{
    string Where(OnnxNode n) => $"{model.Source}: {n}";

    OnnxNode LinearOutput(string module) => linearOutputs.GetValueOrDefault(module)
        ?? throw new OnnxImportException($"{model.Source}: the graph has no '{module}' projection (no MatMul + Add with bias '{module}.bias').");

    /// <summary>num_attention_heads from the [batch, seq, heads, head_size] Reshape of every query, key and value.</summary>
    public int Heads(int layers, int hidden)
    {
        int heads = 0;
        OnnxNode? first = null;
        for (int l = 0; l < layers; l++)
            foreach (var part in new[] { "query", "key", "value" })
            {
                var add = LinearOutput(BertTensorNames.Layer(l, "attention.self." + part));
                string v = add.Outputs[0];
                var reshape = g.Consumers(v).FirstOrDefault(c => c.OpType == "Reshape" && c.Inputs[0] == v)
                    ?? throw new OnnxImportException($"{Where(add)}: the {part} projection is not reshaped into heads, so num_attention_heads " +
                        $"is unknown.");
                long?[] dims = ShapeOperand(reshape);
                // [..., heads, head_size]: the last two entries (a run-time [B, S] prefix may be one Shape value)
                long? heads2 = dims.Length >= 2 ? dims[^2] : null, size = dims.Length >= 2 ? dims[^1] : null;
                long h = heads2 is > 0 and long h2 ? h2 : size is > 0 and long hd && hidden % hd == 0 ? hidden / hd : 0;
                if (h <= 0 || hidden % h != 0 || size is > 0 and long d && d * h != hidden)
                    throw new OnnxImportException($"{Where(reshape)}: reshape to [{string.Join(", ", dims.Select(x => x?.ToString() ?? "?"))}] " +
                        $"does not split hidden size {hidden} into heads.");
                if (first is not null && h != heads)
                    throw new OnnxImportException($"{Where(reshape)}: splits into {h} heads but {first} into {heads}.");
                heads = (int)h;
                first ??= reshape;
            }
        return heads;
    }

    /// <summary>The Reshape's target shape: a constant, or a Concat whose entries are constants (null where computed at run time).</summary>
    long?[] ShapeOperand(OnnxNode reshape)
    {
        string s = reshape.Inputs[1];
        if (g.Constant(s) is { } c) return [.. c.ToInt64s().Select(v => (long?)v)];
        if (g.Producer(s) is { OpType: "Concat" } concat)
            return [.. concat.Inputs.SelectMany(i => g.Constant(i) is { } part ? part.ToInt64s().Select(v => (long?)v) : [null])];
        throw new OnnxImportException($"{Where(reshape)}: the target shape is neither a constant nor a Concat of constants and dimensions.");
    }

    /// <summary>hidden_act of the FFN: what lies between intermediate.dense and output.dense (the same in every layer).</summary>
    public Activation Activation(int layers)
    {
        Activation? act = null;
        for (int l = 0; l < layers; l++)
        {
            var add = LinearOutput(BertTensorNames.Layer(l, "intermediate.dense"));
            var found = new HashSet<Activation>();
            var frontier = new Queue<(string Value, int Depth)>([(add.Outputs[0], 0)]);
            while (frontier.Count > 0)
            {
                var (v, depth) = frontier.Dequeue();
                foreach (var c in g.Consumers(v))
                {
                    if (c.OpType is "MatMul" or "Gemm" || depth > 8) continue;
                    switch (c.OpType)
                    {
                        case "Erf": found.Add(Kernels.Activation.Gelu); break;
                        case "Tanh": found.Add(Kernels.Activation.GeluNew); break;
                        case "Relu": found.Add(Kernels.Activation.Relu); break;
                        case "Gelu":
                            bool tanh = c.Attributes.TryGetValue("approximate", out var a) && a.S == "tanh";
                            found.Add(tanh ? Kernels.Activation.GeluNew : Kernels.Activation.Gelu);
                            break;
                    }
                    foreach (var o in c.Outputs) frontier.Enqueue((o, depth + 1));
                }
            }
            if (found.Count != 1)
                throw new OnnxImportException($"{Where(add)}: the FFN activation is " +
                    $"{(found.Count == 0 ? "none of Erf (gelu), Tanh (gelu_new), Relu, Gelu" : "ambiguous: " + string.Join(", ", found))}.");
            if (act is not null && act != found.First())
                throw new OnnxImportException($"{Where(add)}: FFN activation {found.First()} differs from layer 0's {act}.");
            act = found.First();
        }
        return act!.Value;
    }

    /// <summary>layer_norm_eps, the same for every norm; <paramref name="gammas"/> are the LayerNorm weights with the node that reads each.</summary>
    public float LayerNormEps(IReadOnlyList<ImportedTensor> gammas, IReadOnlyDictionary<string, ImportedTensor> tensors)
    {
        float? eps = null;
        OnnxNode? first = null;
        foreach (var gamma in gammas.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var node = gamma.Origin!;
            var (e, input) = node.OpType == "LayerNormalization" ? Fused(node) : Decomposed(node, gamma.Name);
            if (gamma.Name.StartsWith("encoder.", StringComparison.Ordinal)) CheckResidual(node, input, gamma.Name);
            else CheckEmbeddingSum(node, input, tensors);
            if (eps is float known && known != e)
                throw new OnnxImportException($"{Where(node)}: LayerNorm epsilon {e:R} differs from {known:R} at {first} (one layer_norm_eps " +
                    $"is expected).");
            eps = e;
            first ??= node;
        }
        return eps ?? throw new OnnxImportException($"{model.Source}: the graph has no LayerNorm weights.");
    }

    (float Eps, string Input) Fused(OnnxNode ln)
    {
        if (ln.Attributes.TryGetValue("axis", out var axis) && axis.I != -1)
            throw new OnnxImportException($"{Where(ln)}: LayerNormalization over axis {axis.I}; BERT normalizes the last axis (-1).");
        return (ln.Attributes.TryGetValue("epsilon", out var e) ? e.F : 1e-5f, ln.Inputs[0]);
    }

    /// <summary>γ·((x − mean(x)) / √(mean((x − mean(x))²) + ε)) + β, as PyTorch exports LayerNorm before opset 17.</summary>
    (float Eps, string Input) Decomposed(OnnxNode mul, string name)
    {
        OnnxImportException Unknown() => new($"{Where(mul)}: '{name}' is applied neither by LayerNormalization nor by its " +
            $"ReduceMean/Sub/Pow/Sqrt/Div decomposition.");
        if (mul.OpType != "Mul" || mul.Inputs.Length != 2) throw Unknown();
        var div = g.Producer(mul.Inputs[0]) is { OpType: "Div" } d0 ? d0 : g.Producer(mul.Inputs[1]) is { OpType: "Div" } d1 ? d1 : throw Unknown();
        var sub = g.Producer(div.Inputs[0]) is { OpType: "Sub" } s ? s : throw Unknown();
        var sqrt = g.Producer(div.Inputs[1]) is { OpType: "Sqrt" } q ? q : throw Unknown();
        var add = g.Producer(sqrt.Inputs[0]) is { OpType: "Add" } a ? a : throw Unknown();
        float? eps = g.ScalarConstant(add.Inputs[1]) ?? g.ScalarConstant(add.Inputs[0]);
        if (eps is not float e || !(e > 0)) throw new OnnxImportException($"{Where(add)}: the variance of '{name}' is not offset by a positive " +
            $"constant epsilon.");
        if (g.Producer(sub.Inputs[1]) is not { OpType: "ReduceMean" } mean || mean.Inputs[0] != sub.Inputs[0]) throw Unknown();
        return (e, sub.Inputs[0]);
    }

    /// <summary>embeddings.LayerNorm must normalize a sum (Adds, possibly reshaped) of exactly the word, position and
    /// token-type embedding lookups (Gather, or Slice for positions), as BertEmbeddings computes.</summary>
    void CheckEmbeddingSum(OnnxNode norm, string input, IReadOnlyDictionary<string, ImportedTensor> tensors)
    {
        var tables = new[] { BertTensorNames.WordEmbeddings, BertTensorNames.PositionEmbeddings, BertTensorNames.TokenTypeEmbeddings }
            .ToDictionary(n => tensors[n].Origin!, n => n);
        var found = new List<string>();
        var pending = new Stack<string>([input]);
        while (pending.Count > 0)
        {
            var p = g.Producer(pending.Pop());
            if (p is { OpType: "Add" or "Reshape" or "Identity" })
            {
                if (p.OpType == "Add") { pending.Push(p.Inputs[0]); pending.Push(p.Inputs[1]); }
                else pending.Push(p.Inputs[0]);
            }
            else if (p is not null && tables.TryGetValue(p, out var table)) found.Add(table);
            else throw new OnnxImportException($"{Where(norm)}: the embeddings LayerNorm reads " +
                $"{(p is null ? "a graph input or constant" : p.ToString())}, " +
                "not only the sum of the word, position and token-type embeddings.");
        }
        if (found.Count != 3 || found.Distinct().Count() != 3)
            throw new OnnxImportException($"{Where(norm)}: the embeddings LayerNorm must normalize word + position + token-type embeddings; it " +
                $"sums {string.Join(" + ", found)}.");
    }

    /// <summary>encoder.layer.N.(attention.)output.LayerNorm must normalize (its dense output + the residual).</summary>
    void CheckResidual(OnnxNode norm, string input, string gammaName)
    {
        string dense = gammaName[..^"LayerNorm.weight".Length] + "dense";
        string denseOut = LinearOutput(dense).Outputs[0];
        if (g.Producer(input) is not { OpType: "Add" } residual || !residual.Inputs.Contains(denseOut))
            throw new OnnxImportException($"{Where(norm)}: '{gammaName}' does not normalize '{dense}' + residual (only post-norm BERT is " +
                $"understood).");
    }
}
