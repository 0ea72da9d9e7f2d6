using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Model.Heads;

namespace MobileBert.Export;

/// <summary>The model cannot be exported as asked (unsupported opset, missing head, too large, …). The message says why.</summary>
public sealed class OnnxExportException(string message) : MobileBertException(message);

public sealed class OnnxExportOptions
{
    /// <summary>ONNX opset (ai.onnx domain), <see cref="OnnxExporter.MinOpset"/>…<see cref="OnnxExporter.MaxOpset"/>. From 17 LayerNorm is one
    /// LayerNormalization node; below it is decomposed (ReduceMean/Sub/Mul/Sqrt/Div).</summary>
    public int Opset { get; init; } = 17;

    /// <summary>ONNX Runtime-style dynamic quantization (as onnxruntime.quantization.quantize_dynamic): the Linear layers of
    /// the encoder and the token-level heads (MLM transform, QA) get symmetric int8 weights and run as
    /// DynamicQuantizeLinear (uint8 activations) → MatMulInteger → Cast → Mul(x_scale·w_scale) → Add(bias). The embeddings
    /// (gathers and the trigram transformation), the MLM decoder and the [B,H]-sized pooler / NSP / classifier stay fp32.</summary>
    public bool Int8 { get; init; }

    /// <summary>With <see cref="Int8"/>: one weight scale per output column instead of one per tensor (quantize_dynamic's
    /// per_channel). Default per-tensor, quantize_dynamic's default.</summary>
    public bool Int8PerColumn { get; init; }

    /// <summary>Heads to export (outputs mlm_logits, nsp_logits, seqcls_logits, qa_start_logits/qa_end_logits). Null: every
    /// head the model has. Asking for a head the model lacks is an error.</summary>
    public ModelHeads? IncludeHeads { get; init; }

    /// <summary>Value added to the attention scores of masked keys: HF's (1 − m)·float.MinValue by default. ONNX Runtime's
    /// softmax handles float.MinValue without NaN/Inf (tested, including fully masked rows), so no finite substitute is needed.</summary>
    public float MaskValue { get; init; } = float.MinValue;
}

/// <summary>
/// Writes a <see cref="MobileBertModel"/> as a standard ONNX model (no ONNX/protobuf package: <see cref="ProtoWriter"/>).
/// <para>Inputs: input_ids, attention_mask, token_type_ids — int64 [batch, sequence] (both dynamic). Outputs:
/// last_hidden_state [B,S,H], pooler_output [B,H] (if the model has a pooler), and per head mlm_logits [B,S,V],
/// nsp_logits [B,2], seqcls_logits [B,num_labels], qa_start_logits / qa_end_logits [B,S].</para>
/// <para>Weights are initializers under their HuggingFace names and layouts (Linear weight [out, in], used by Gemm with
/// transB = 1; the int8 variant adds `NAME_quantized` [in, out] int8, `NAME_scale`, `NAME_zero_point` as quantize_dynamic
/// does). The hidden stream is 2-D [B·S, width] as in our engine; attention reshapes to [B, heads, S, d].</para>
/// </summary>
public static class OnnxExporter
{
    public const int MinOpset = 13, MaxOpset = 21;

    public static void Export(MobileBertModel model, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var graph = Build(model, options ?? new OnnxExportOptions(), out int opset);
        Checkpoints.AtomicFile.Write(path, fs => Write(graph, fs, opset, model));
    }

    public static void Export(MobileBertModel model, Stream output, OnnxExportOptions? options = null)
    {
        var graph = Build(model, options ?? new OnnxExportOptions(), out int opset);
        Write(graph, output, opset, model);
    }

    public static byte[] ExportToBytes(MobileBertModel model, OnnxExportOptions? options = null)
    {
        using var ms = new MemoryStream();
        Export(model, ms, options);
        return ms.ToArray();
    }

    /// <summary>The IR version that goes with an opset (ONNX's versioning table).</summary>
    public static int IrVersionFor(int opset) => opset switch { <= 18 => 8, <= 20 => 9, _ => 10 };

    static void Write(OnnxGraph graph, Stream output, int opset, MobileBertModel model)
    {
        var c = model.Config;
        string doc = $"MobileBERT ({c.NumHiddenLayers} layers, hidden {c.HiddenSize}, " +
            $"intra {c.IntraBottleneckSize}, {c.NormalizationType}/{c.HiddenAct}) exported by MobileBert.NET";
        graph.WriteModel(output, IrVersionFor(opset), opset, typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0", "mobilebert", doc);
    }

    static OnnxGraph Build(MobileBertModel model, OnnxExportOptions options, out int opset)
    {
        ArgumentNullException.ThrowIfNull(model);
        opset = options.Opset;
        if (opset is < MinOpset or > MaxOpset)
            throw new OnnxExportException($"ONNX opset {opset} is not supported: choose {MinOpset}…{MaxOpset} (13 is the first with Softmax over " +
                $"one axis and Unsqueeze axes as an input).");
        if (!model.Store.IsAllocated) throw new OnnxExportException("The model's weights are not allocated.");
        var heads = options.IncludeHeads ?? model.Heads;
        var missing = heads & ~model.Heads;
        if (missing != ModelHeads.None) throw new OnnxExportException($"Cannot export head(s) {missing}: the model has only {model.Heads}.");
        if (float.IsNaN(options.MaskValue) || options.MaskValue > 0)
            throw new OnnxExportException($"MaskValue must be a negative number (got {options.MaskValue}).");
        return new Builder(model, options, heads).Build();
    }

    sealed class Builder(MobileBertModel model, OnnxExportOptions options, ModelHeads heads)
    {
        readonly MobileBertConfig _c = model.Config;
        readonly OnnxGraph _g = new();
        readonly Dictionary<string, (string Q, string Scale, string Zero)> _quantizedActivations = new(StringComparer.Ordinal);
        string _shapeBS = "", _shapeBSH = "", _shapeAttn = "", _rowsH = "", _mask = "";

        Tensors.ParameterStore Store => model.Store;
        int Opset => options.Opset;

        public OnnxGraph Build()
        {
            var c = _c;
            _g.Input("input_ids", OnnxType.Int64, "batch", "sequence");
            _g.Input("attention_mask", OnnxType.Int64, "batch", "sequence");
            _g.Input("token_type_ids", OnnxType.Int64, "batch", "sequence");
            foreach (var name in OutputNames()) _g.Exact(name);

            // Shapes: [B, S] from input_ids, then the derived shape tensors.
            _shapeBS = _g.Node("Shape", ["input_ids"], "shape_bs");
            _shapeBSH = _g.Node("Concat", [_shapeBS, _g.Int64Const("const_hidden", [c.HiddenSize])], "shape_bsh", OnnxAttr.Int("axis", 0));
            _shapeAttn = _g.Node("Concat", [_shapeBS, _g.Int64Const("const_heads_dim", [c.NumAttentionHeads, c.AttentionHeadSize])], "shape_bsnd",
                OnnxAttr.Int("axis", 0));
            _rowsH = _g.Int64Const("const_rows_hidden", [-1, c.HiddenSize]);

            // Additive mask (1 − m)·MaskValue as [B, 1, 1, S] (HF get_extended_attention_mask).
            var m = _g.Node("Cast", ["attention_mask"], "mask_float", OnnxAttr.Int("to", OnnxType.Float));
            var inv = _g.Node("Sub", [_g.FloatScalar("const_one", 1f), m], "mask_inverted");
            var add = _g.Node("Mul", [inv, _g.FloatScalar("const_mask_value", options.MaskValue)], "mask_additive");
            _mask = _g.Node("Unsqueeze", [add, _g.Int64Const("const_axes_1_2", [1, 2])], "mask_extended");

            var x = EmbeddingOutput();
            for (int l = 0; l < model.Layers.Length; l++) x = Layer(model.Layers[l], x, l);

            _g.NodeExact("Reshape", [x, _shapeBSH], "last_hidden_state");
            _g.Output("last_hidden_state", OnnxType.Float, "batch", "sequence", c.HiddenSize);

            string? pooled = null;
            if (model.Pooler is not null)
            {
                // [B, H]
                var first = _g.Node("Gather", ["last_hidden_state", _g.Int64Const("const_zero_scalar", [0], [])], "cls_token",
                    OnnxAttr.Int("axis", 1));
                pooled = model.Pooler.Dense is null
                    ? _g.NodeExact("Identity", [first], "pooler_output")
                    : _g.NodeExact("Tanh", [Linear(model.Pooler.Dense, first, quantize: false)], "pooler_output");
                _g.Output("pooler_output", OnnxType.Float, "batch", c.HiddenSize);
            }
            if (heads.HasFlag(ModelHeads.MaskedLm)) MlmLogits(model.Mlm!, x);
            if (heads.HasFlag(ModelHeads.NextSentence))
            {
                _g.NodeExact("Identity", [Linear(model.Nsp!.Dense, pooled!, quantize: false)], "nsp_logits");
                _g.Output("nsp_logits", OnnxType.Float, "batch", 2);
            }
            if (heads.HasFlag(ModelHeads.SequenceClassification))
            {
                _g.NodeExact("Identity", [Linear(model.Classifier!.Dense, pooled!, quantize: false)], "seqcls_logits");
                _g.Output("seqcls_logits", OnnxType.Float, "batch", c.NumLabels);
            }
            if (heads.HasFlag(ModelHeads.QuestionAnswering))
            {
                var both = Linear(model.Qa!.Dense, x, options.Int8);                       // [B·S, 2]
                var axis1 = _g.Int64Const("const_axis_1", [1]);
                var start = _g.Node("Slice", [both, _g.Int64Const("const_0", [0]), _g.Int64Const("const_1", [1]), axis1], "qa_start_column");
                var end = _g.Node("Slice", [both, _g.Int64Const("const_1", [1]), _g.Int64Const("const_2", [2]), axis1], "qa_end_column");
                _g.NodeExact("Reshape", [start, _shapeBS], "qa_start_logits");
                _g.NodeExact("Reshape", [end, _shapeBS], "qa_end_logits");
                _g.Output("qa_start_logits", OnnxType.Float, "batch", "sequence");
                _g.Output("qa_end_logits", OnnxType.Float, "batch", "sequence");
            }
            return _g;
        }

        IEnumerable<string> OutputNames()
        {
            yield return "last_hidden_state";
            if (model.Pooler is not null) yield return "pooler_output";
            if (heads.HasFlag(ModelHeads.MaskedLm)) yield return "mlm_logits";
            if (heads.HasFlag(ModelHeads.NextSentence)) yield return "nsp_logits";
            if (heads.HasFlag(ModelHeads.SequenceClassification)) yield return "seqcls_logits";
            if (heads.HasFlag(ModelHeads.QuestionAnswering)) { yield return "qa_start_logits"; yield return "qa_end_logits"; }
        }

        string Param(Tensors.Parameter p) =>
            _g.HasInitializer(p.Name) ? p.Name : _g.Initializer(p.Name, Store.Span(p), Array.ConvertAll(p.Shape, d => (long)d));

        // ---- embeddings: Gather → trigram (Slice/Pad/Concat) → Gemm → + position + token type → norm ----------------------
        string EmbeddingOutput()
        {
            var c = _c; var e = model.Embeddings;
            string words = _g.Node("Gather", [Param(e.WordEmbeddings), "input_ids"], "word_embeds");      // [B, S, E]
            string x3;                                                                                     // [B, S, H]
            if (c.UsesEmbeddingTransformation)
            {
                string t = words;
                if (c.TrigramInput)
                {
                    // [x(t+1) ‖ x(t) ‖ x(t−1)] with zeros beyond each row's ends (HF: F.pad(...[:, 1:]) / F.pad(...[:, :-1])).
                    var axis1 = _g.Int64Const("const_axis_1", [1]);
                    var next = _g.Node("Slice", [words, _g.Int64Const("const_1", [1]), _g.Int64Const("const_int64_max", [long.MaxValue]), axis1],
                        "trigram_next_sliced");
                    next = _g.Node("Pad", [next, _g.Int64Const("const_pad_end_s", [0, 0, 0, 0, 1, 0])], "trigram_next");
                    var prev = _g.Node("Slice", [words, _g.Int64Const("const_0", [0]), _g.Int64Const("const_minus_1", [-1]), axis1],
                        "trigram_prev_sliced");
                    prev = _g.Node("Pad", [prev, _g.Int64Const("const_pad_begin_s", [0, 1, 0, 0, 0, 0])], "trigram_prev");
                    t = _g.Node("Concat", [next, words, prev], "trigram", OnnxAttr.Int("axis", 2));          // [B, S, 3E]
                }
                var rows = _g.Node("Reshape", [t, _g.Int64Const("const_rows_embedded", [-1, c.EmbeddedInputSize])], "embedded_rows");
                var transformed = Linear(e.Transformation!, rows, quantize: false);                          // [B·S, H]
                x3 = _g.Node("Reshape", [transformed, _shapeBSH], "embeds_transformed");
            }
            else x3 = words;                                                                                 // E == H
            var seqLen = _g.Node("Slice", [_shapeBS, _g.Int64Const("const_1", [1]), _g.Int64Const("const_2", [2])], "seq_len");
            // [S, H]
            var pos = _g.Node("Slice", [Param(e.PositionEmbeddings), _g.Int64Const("const_0", [0]), seqLen, _g.Int64Const("const_axis_0", [0])],
                "position_embeds");
            x3 = _g.Node("Add", [x3, pos], "embeds_plus_position");
            var types = _g.Node("Gather", [Param(e.TokenTypeEmbeddings), "token_type_ids"], "token_type_embeds");
            x3 = _g.Node("Add", [x3, types], "embeds_sum");
            var x = _g.Node("Reshape", [x3, _rowsH], "embeds_rows");                                     // [B·S, H]
            return Norm(e.Norm, x, "embeddings");
        }

        // ---- one encoder layer (its LayerDataFlow) -----------------------------------------------------------------------------
        string Layer(EncoderLayer layer, string h, int l)
        {
            var c = _c; bool q8 = options.Int8;
            string p = $"layer{l}";
            var flow = layer.Flow;
            string? layerInput = null, qk = null;
            if (flow.InputBottleneck)
                layerInput = Norm(layer.Bottleneck!.Input.Norm, Linear(layer.Bottleneck.Input.Dense, h, q8), $"{p}_bottleneck_input");
            if (flow.SharedQueryKeyBottleneck)
                qk = Norm(layer.Bottleneck!.Attention!.Norm, Linear(layer.Bottleneck.Attention.Dense, h, q8), $"{p}_bottleneck_attention");
            string residual = flow.Pick(flow.AttentionResidual, h, layerInput!, qk!);
            string qkIn = flow.Pick(flow.QueryKeyInput, h, layerInput!, qk!);
            string vIn = flow.Pick(flow.ValueInput, h, layerInput!, qk!);

            var att = layer.Attention;
            var q = SplitHeads(Linear(att.Query, qkIn, q8), [0, 2, 1, 3], $"{p}_q");                             // [B, N, S, d]
            var kT = SplitHeads(Linear(att.Key, qkIn, q8), [0, 2, 3, 1], $"{p}_kT");                            // [B, N, d, S]
            var v = SplitHeads(Linear(att.Value, vIn, q8), [0, 2, 1, 3], $"{p}_v");                              // [B, N, S, d]
            var scores = _g.Node("MatMul", [q, kT], $"{p}_scores");
            scores = _g.Node("Div", [scores, _g.FloatScalar("const_sqrt_head_dim", MathF.Sqrt(c.AttentionHeadSize))], $"{p}_scores_scaled");
            scores = _g.Node("Add", [scores, _mask], $"{p}_scores_masked");
            var probs = _g.Node("Softmax", [scores], $"{p}_probs", OnnxAttr.Int("axis", -1));
            var ctx = _g.Node("MatMul", [probs, v], $"{p}_context_heads");                                // [B, N, S, d]
            ctx = _g.Node("Transpose", [ctx], $"{p}_context_bsnd", OnnxAttr.Ints("perm", 0, 2, 1, 3));
            ctx = _g.Node("Reshape", [ctx, _g.Int64Const("const_rows_true_hidden", [-1, c.TrueHiddenSize])], $"{p}_context"); // [B·S, T]
            var a = AddNorm(att.OutputNorm, Linear(att.OutputDense, ctx, q8), residual, $"{p}_attention_output");

            for (int i = 0; i < layer.StackedFfns.Length; i++) a = Ffn(layer.StackedFfns[i], a, $"{p}_ffn{i}");
            var o = Ffn(layer.LastFfn, a, $"{p}_output");
            if (layer.OutputBottleneck is null) return o;
            return AddNorm(layer.OutputBottleneckNorm!, Linear(layer.OutputBottleneck, o, q8), h, $"{p}_output_bottleneck");
        }

        string SplitHeads(string x, long[] perm, string name)
        {
            var r = _g.Node("Reshape", [x, _shapeAttn], name + "_bsnd");
            return _g.Node("Transpose", [r], name, OnnxAttr.Ints("perm", perm));
        }

        string Ffn(FeedForward f, string x, string name)
        {
            var inner = Activation(Linear(f.Intermediate, x, options.Int8), name + "_intermediate");
            return AddNorm(f.OutputNorm, Linear(f.Output, inner, options.Int8), x, name);
        }

        // ---- MLM head: LayerNorm(act(dense(h))) · [word_embeddingsᵀ ; dense.weight] + bias ------------------------------
        void MlmLogits(MlmHead mlm, string x)
        {
            var c = _c;
            int e = c.EmbeddingSize, hid = c.HiddenSize;
            var t = Activation(Linear(mlm.TransformDense, x, options.Int8), "mlm_transform_act");
            t = Norm(mlm.TransformNorm, t, "mlm_transform");                                             // [B·S, H]
            var axis1 = _g.Int64Const("const_axis_1", [1]);
            string te = e == hid ? t : _g.Node("Slice", [t, _g.Int64Const("const_0", [0]), _g.Int64Const("const_embedding_size", [e]), axis1],
                "mlm_transform_tied_part");
            var logits = _g.Node("Gemm", [te, Param(mlm.WordEmbeddings), Param(mlm.Bias)], "mlm_logits_tied", OnnxAttr.Int("transB", 1)); // [B·S, V]
            if (hid > e)
            {
                var tr = _g.Node("Slice", [t, _g.Int64Const("const_embedding_size", [e]), _g.Int64Const("const_hidden_end", [hid]), axis1],
                    "mlm_transform_extra_part");
                var extra = _g.Node("MatMul", [tr, Param(mlm.ExtraWeight!)], "mlm_logits_extra");          // dense.weight is [H−E, V]
                logits = _g.Node("Add", [logits, extra], "mlm_logits_rows");
            }
            var shape = _g.Node("Concat", [_shapeBS, _g.Int64Const("const_vocab", [c.VocabSize])], "shape_bsv", OnnxAttr.Int("axis", 0));
            _g.NodeExact("Reshape", [logits, shape], "mlm_logits");
            _g.Output("mlm_logits", OnnxType.Float, "batch", "sequence", c.VocabSize);
        }

        // ---- building blocks ------------------------------------------------------------------------------------------------
        string Linear(Model.Linear lin, string x, bool quantize)
        {
            string name = lin.Weight.Name[..^".weight".Length];
            if (!quantize)
            {
                var inputs = lin.Bias is null ? new[] { x, Param(lin.Weight) } : new[] { x, Param(lin.Weight), Param(lin.Bias) };
                return _g.Node("Gemm", inputs, name.Replace('.', '_'), OnnxAttr.Int("transB", 1));
            }
            // quantize_dynamic's pattern; ORT fuses it into DynamicQuantizeMatMul.
            var (xq, xs, xz) = QuantizedActivation(x);
            var (wq, ws, wz) = QuantizedWeight(lin, name);
            var yi = _g.Node("MatMulInteger", [xq, wq, xz, wz], name + "_MatMul_output_quantized");
            var yf = _g.Node("Cast", [yi], name + "_MatMul_output_quantized_cast_output", OnnxAttr.Int("to", OnnxType.Float));
            var scale = _g.Node("Mul", [xs, ws], name + "_MatMul_quant_scales_mul");
            var y = _g.Node("Mul", [yf, scale], name + "_MatMul_output");
            return lin.Bias is null ? y : _g.Node("Add", [y, Param(lin.Bias)], name + "_output");
        }

        (string, string, string) QuantizedActivation(string x)
        {
            if (_quantizedActivations.TryGetValue(x, out var q)) return q;
            var o = _g.Node("DynamicQuantizeLinear", [x], [x + "_quantized", x + "_scale", x + "_zero_point"], false);
            return _quantizedActivations[x] = (o[0], o[1], o[2]);
        }

        (string, string, string) QuantizedWeight(Model.Linear lin, string name)
        {
            // Symmetric int8 as quantize_dynamic (QInt8, symmetric weights): scale = max|w| / 127 (per tensor or per output
            // column), q = round_half_even(w / scale) clamped to [−127, 127], zero point 0. Stored transposed: [in, out].
            var w = Store.Span(lin.Weight);
            int outF = lin.Out, inF = lin.In;
            bool perColumn = options.Int8PerColumn;
            var scales = new float[perColumn ? outF : 1];
            if (perColumn)
                for (int j = 0; j < outF; j++) scales[j] = Scale(w.Slice(j * inF, inF));
            else scales[0] = Scale(w);
            var q = new sbyte[inF * outF];
            for (int j = 0; j < outF; j++)
            {
                float s = scales[perColumn ? j : 0];
                for (int k = 0; k < inF; k++)
                    q[k * outF + j] = (sbyte)Math.Clamp(MathF.Round(w[j * inF + k] / s, MidpointRounding.ToEven), -127f, 127f);
            }
            long[] dims = perColumn ? [outF] : [];
            string wq = _g.Initializer(lin.Weight.Name + "_quantized", OnnxType.Int8, [inF, outF],
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(q.AsSpan()));
            string ws = _g.Initializer(lin.Weight.Name + "_scale", scales, dims);
            string wz = _g.Initializer(lin.Weight.Name + "_zero_point", OnnxType.Int8, dims, new byte[scales.Length]);
            return (wq, ws, wz);
        }

        static float Scale(ReadOnlySpan<float> w)
        {
            float absMax = 0;
            foreach (float v in w) absMax = Math.Max(absMax, Math.Abs(v));
            return absMax > 0 ? 2 * absMax / 254f : 1f;
        }

        string Norm(Model.Norm n, string x, string name)
        {
            if (n.Kind == NormalizationType.NoNorm)
                return _g.Node("Add", [_g.Node("Mul", [x, Param(n.Gamma)], name + "_scaled"), Param(n.Beta)], name + "_norm");
            if (Opset >= 17)
                return _g.Node("LayerNormalization", [x, Param(n.Gamma), Param(n.Beta)], name + "_norm", OnnxAttr.Int("axis", -1),
                    OnnxAttr.Float("epsilon", n.Eps));
            // Decomposed LayerNorm (opset < 17): (x − mean)/√(var + eps)·γ + β, biased variance.
            var mean = ReduceMean(x, name + "_mean");
            var d = _g.Node("Sub", [x, mean], name + "_centered");
            var variance = ReduceMean(_g.Node("Mul", [d, d], name + "_squared"), name + "_variance");
            var std = _g.Node("Sqrt", [_g.Node("Add", [variance, _g.FloatScalar($"const_eps_{n.Eps:g}", n.Eps)], name + "_variance_eps")],
                name + "_std");
            var normalized = _g.Node("Div", [d, std], name + "_normalized");
            return _g.Node("Add", [_g.Node("Mul", [normalized, Param(n.Gamma)], name + "_scaled"), Param(n.Beta)], name + "_norm");
        }

        // Only used below opset 17, where ReduceMean still takes `axes` as an attribute (an input from opset 18).
        string ReduceMean(string x, string name) => _g.Node("ReduceMean", [x], name, OnnxAttr.Ints("axes", -1), OnnxAttr.Int("keepdims", 1));

        string AddNorm(Model.Norm n, string x, string residual, string name) => Norm(n, _g.Node("Add", [x, residual], name + "_residual"), name);

        string Activation(string x, string name)
        {
            switch (_c.HiddenAct)
            {
                case Kernels.Activation.Relu: return _g.Node("Relu", [x], name);
                case Kernels.Activation.Tanh: return _g.Node("Tanh", [x], name);
                case Kernels.Activation.Gelu:
                {
                    // HF/PyTorch exact GELU: x·0.5·(1 + erf(x/√2)) (ORT fuses this into Gelu).
                    var erf = _g.Node("Erf", [_g.Node("Div", [x, _g.FloatScalar("const_sqrt2", MathF.Sqrt(2f))], name + "_div")], name + "_erf");
                    var onePlus = _g.Node("Add", [erf, _g.FloatScalar("const_one", 1f)], name + "_one_plus");
                    return _g.Node("Mul", [_g.Node("Mul", [x, _g.FloatScalar("const_half", 0.5f)], name + "_half"), onePlus], name);
                }
                case Kernels.Activation.GeluNew:
                {
                    // HF gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
                    var x3 = _g.Node("Mul", [_g.Node("Mul", [x, x], name + "_sq"), x], name + "_cube");
                    var inner = _g.Node("Add", [x, _g.Node("Mul", [x3, _g.FloatScalar("const_gelu_cubic", 0.044715f)], name + "_cubic")],
                        name + "_inner");
                    inner = _g.Node("Mul", [inner, _g.FloatScalar("const_sqrt_2_over_pi", MathF.Sqrt(2f / MathF.PI))], name + "_scaled");
                    var onePlus = _g.Node("Add", [_g.Node("Tanh", [inner], name + "_tanh"), _g.FloatScalar("const_one", 1f)], name + "_one_plus");
                    return _g.Node("Mul", [_g.Node("Mul", [x, _g.FloatScalar("const_half", 0.5f)], name + "_half"), onePlus], name);
                }
                default: throw new OnnxExportException($"hidden_act {_c.HiddenAct} has no ONNX export.");
            }
        }
    }
}
