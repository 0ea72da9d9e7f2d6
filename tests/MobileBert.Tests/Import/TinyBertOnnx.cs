using System.Runtime.InteropServices;
using MobileBert.Export;

namespace MobileBert.Tests.Import;

/// <summary>
/// Builds a small BERT ONNX graph the way PyTorch's exporter writes HF BertModel (opset 13): anonymous MatMul weights
/// ([in, out]) followed by an Add of a named bias, LayerNorm decomposed into ReduceMean/Sub/Pow/Sqrt/Div (or one
/// LayerNormalization node), exact GELU through Erf, heads split by Reshape (a constant shape or a Concat of run-time
/// dimensions and constants), a Gemm pooler. <see cref="Weights"/> keeps every tensor under its bare BertModel name in HF
/// layout ([out, in]) as the reference. The Break* switches produce graphs the importer must refuse.
/// </summary>
internal sealed class TinyBertOnnx
{
    public int Vocab = 40, Hidden = 16, Layers = 2, Heads = 4, Inter = 24, MaxPos = 24, TypeVocab = 2;
    public float Eps = 1e-12f;
    public bool FusedLayerNorm, Pooler = true;
    /// <summary>Linear weights as named [out, in] initializers behind Transpose(perm = 1,0) instead of anonymous [in, out].</summary>
    public bool NamedTransposedWeights;
    public string NamePrefix = "";
    /// <summary>Layer 1's query MatMul goes straight into the Reshape (no bias Add).</summary>
    public bool BreakMissingQueryBias;
    /// <summary>An op the importer does not know (Celu) after the embeddings.</summary>
    public bool BreakUnknownOp;
    /// <summary>Layer 0's intermediate bias one element longer than its weight's output.</summary>
    public bool BreakIntermediateBiasLength;
    /// <summary>Layer 1 splits its value projection into Heads + 1 heads.</summary>
    public bool BreakValueHeads;
    /// <summary>The embedding sum is scaled by 2 before its LayerNorm.</summary>
    public bool BreakEmbeddingScale;
    /// <summary>The stored position ids start at 2 (RoBERTa-style), not 0.</summary>
    public bool BreakPositionIds;

    public Dictionary<string, float[]> Weights { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, int[]> Shapes { get; } = new(StringComparer.Ordinal);

    OnnxGraph _g = null!;
    Random _rng = null!;
    int _anon;

    public byte[] Build(int seed = 3)
    {
        _g = new OnnxGraph();
        _rng = new Random(seed);
        _anon = 900;
        Weights.Clear(); Shapes.Clear();
        _g.Input("input_ids", OnnxType.Int64, "batch", "sequence");
        _g.Input("attention_mask", OnnxType.Int64, "batch", "sequence");
        _g.Input("token_type_ids", OnnxType.Int64, "batch", "sequence");

        // extended mask: (1 − mask[:, None, None, :]) · −10000                                     // [B, 1, 1, S]
        var m = _g.Node("Unsqueeze", ["attention_mask", _g.Int64Const("axes_1", [1])], "mask_b1s");
        m = _g.Node("Unsqueeze", [m, _g.Int64Const("axes_2", [2])], "mask_b11s");
        m = _g.Node("Cast", [m], "mask_float", OnnxAttr.Int("to", OnnxType.Float));
        m = _g.Node("Sub", [_g.FloatScalar("one", 1f), m], "mask_inverted");
        var mask = _g.Node("Mul", [m, _g.FloatScalar("minus_10000", -10000f)], "mask_additive");

        var x = Embeddings();
        if (BreakUnknownOp) x = _g.Node("Celu", [x], "celu");
        for (int l = 0; l < Layers; l++) x = Layer(l, x, mask);
        _g.NodeExact("Identity", [x], "last_hidden_state");
        _g.Output("last_hidden_state", OnnxType.Float, "batch", "sequence", Hidden);
        if (Pooler)
        {
            var first = _g.Node("Gather", [x, _g.Int64Const("zero_scalar", [0], [])], "cls", OnnxAttr.Int("axis", 1));   // [B, H]
            string w = Named("pooler.dense.weight", [Hidden, Hidden], 0.2f);     // Gemm with transB = 1 reads [out, in]
            var p = _g.Node("Gemm", [first, w, Named("pooler.dense.bias", [Hidden], 0.1f)], "pooler_dense", OnnxAttr.Int("transB", 1));
            _g.NodeExact("Tanh", [p], "pooler_output");
            _g.Output("pooler_output", OnnxType.Float, "batch", Hidden);
        }
        using var ms = new MemoryStream();
        _g.WriteModel(ms, irVersion: 8, opset: FusedLayerNorm ? 17 : 13, "test", "tiny_bert", "");
        return ms.ToArray();
    }

    string Embeddings()
    {
        var shape = _g.Node("Shape", ["input_ids"], "ids_shape");
        var seq = _g.Node("Gather", [shape, _g.Int64Const("one_scalar", [1], [])], "seq_len", OnnxAttr.Int("axis", 0));
        seq = _g.Node("Unsqueeze", [seq, _g.Int64Const("axes_0", [0])], "seq_len_1d");
        var ids = _g.Initializer(NamePrefix + "embeddings.position_ids", OnnxType.Int64, [1, MaxPos],
            MemoryMarshal.AsBytes(Enumerable.Range(BreakPositionIds ? 2 : 0, MaxPos).Select(i => (long)i).ToArray().AsSpan()));
        var posIds = _g.Node("Slice", [ids, _g.Int64Const("zero_1d", [0]), seq, _g.Int64Const("axes_1", [1])], "position_ids");
        var words = _g.Node("Gather", [Named("embeddings.word_embeddings.weight", [Vocab, Hidden], 0.5f), "input_ids"], "words");
        var types = _g.Node("Gather", [Named("embeddings.token_type_embeddings.weight", [TypeVocab, Hidden], 0.5f), "token_type_ids"], "types");
        var sum = _g.Node("Add", [words, types], "words_types");
        var pos = _g.Node("Gather", [Named("embeddings.position_embeddings.weight", [MaxPos, Hidden], 0.5f), posIds], "positions");
        var embeddings = _g.Node("Add", [sum, pos], "embeddings_sum");
        if (BreakEmbeddingScale) embeddings = _g.Node("Mul", [embeddings, _g.FloatScalar("two", 2f)], "embeddings_scaled");
        return LayerNorm("embeddings.LayerNorm", embeddings);
    }

    string Layer(int l, string x, string mask)
    {
        string p = $"encoder.layer.{l}.";
        int hd = Hidden / Heads;
        bool queryBias = !(BreakMissingQueryBias && l == 1);
        var q = Heads4(Linear(p + "attention.self.query", x, Hidden, Hidden, withBias: queryBias), constantShape: true, Heads);
        var k = Heads4(Linear(p + "attention.self.key", x, Hidden, Hidden), constantShape: false, Heads);
        var v = Heads4(Linear(p + "attention.self.value", x, Hidden, Hidden), constantShape: true, BreakValueHeads && l == 1 ? Heads + 1 : Heads);
        q = _g.Node("Transpose", [q], "q", OnnxAttr.Ints("perm", 0, 2, 1, 3));                       // [B, N, S, d]
        var kT = _g.Node("Transpose", [k], "kT", OnnxAttr.Ints("perm", 0, 2, 3, 1));                  // [B, N, d, S]
        v = _g.Node("Transpose", [v], "v", OnnxAttr.Ints("perm", 0, 2, 1, 3));
        var s = _g.Node("MatMul", [q, kT], "scores");
        s = _g.Node("Div", [s, _g.FloatScalar("sqrt_head", MathF.Sqrt(hd))], "scores_scaled");
        s = _g.Node("Softmax", [_g.Node("Add", [s, mask], "scores_masked")], "probs", OnnxAttr.Int("axis", -1));
        var ctx = _g.Node("Transpose", [_g.Node("MatMul", [s, v], "context_heads")], "context_bsnd", OnnxAttr.Ints("perm", 0, 2, 1, 3));
        ctx = _g.Node("Reshape", [ctx, _g.Int64Const("shape_bsh", [0, 0, Hidden])], "context");   // [B, S, H]
        var a = _g.Node("Add", [Linear(p + "attention.output.dense", ctx, Hidden, Hidden), x], "attention_residual");
        a = LayerNorm(p + "attention.output.LayerNorm", a);
        var inner = Linear(p + "intermediate.dense", a, Hidden, Inter, biasExtra: BreakIntermediateBiasLength && l == 0 ? 1 : 0);
        // exact GELU: x · (1 + erf(x / √2)) · 0.5
        var erf = _g.Node("Erf", [_g.Node("Div", [inner, _g.FloatScalar("sqrt2", MathF.Sqrt(2f))], "gelu_scaled")], "gelu_erf");
        var onePlusErf = _g.Node("Add", [erf, _g.FloatScalar("one", 1f)], "gelu_1p");
        var gelu = _g.Node("Mul", [_g.Node("Mul", [inner, onePlusErf], "gelu_x"), _g.FloatScalar("half", 0.5f)], "gelu");
        var o = _g.Node("Add", [Linear(p + "output.dense", gelu, Inter, Hidden), a], "output_residual");
        return LayerNorm(p + "output.LayerNorm", o);
    }

    /// <summary>[B, S, H] → [B, S, heads, H / heads]: a constant [0, 0, heads, d] or Concat(B, S, heads, d) from Shape.</summary>
    string Heads4(string x, bool constantShape, int heads)
    {
        long hd = Hidden / heads;
        if (constantShape) return _g.Node("Reshape", [x, _g.Int64Const("shape_heads", [0, 0, heads, hd])], "split_heads");
        var shape = _g.Node("Shape", [x], "proj_shape");
        string Dim(long axis, string name)
        {
            var d = _g.Node("Gather", [shape, _g.Int64Const($"index_{axis}", [axis], [])], name, OnnxAttr.Int("axis", 0));
            return _g.Node("Unsqueeze", [d, _g.Int64Const("axes_0", [0])], name + "1");
        }
        var dims = new[] { Dim(0, "b"), Dim(1, "s"), _g.Int64Const("heads", [heads]), _g.Int64Const("head_size", [hd]) };
        var cat = _g.Node("Concat", dims, "heads_shape", OnnxAttr.Int("axis", 0));
        return _g.Node("Reshape", [x, cat], "split_heads");
    }

    /// <summary>x · W + b with W stored anonymously as [in, out]; the reference keeps HF's [out, in].</summary>
    string Linear(string module, string x, int inF, int outF, bool withBias = true, int biasExtra = 0)
    {
        var w = Random(outF * inF, 1f / MathF.Sqrt(inF));                                              // [out, in]
        Weights[module + ".weight"] = w; Shapes[module + ".weight"] = [outF, inF];
        var wT = new float[w.Length];
        for (int o = 0; o < outF; o++) for (int i = 0; i < inF; i++) wT[i * outF + o] = w[o * inF + i];
        // either anonymous [in, out] (PyTorch's usual export) or named [out, in] behind Transpose(perm = 1,0)
        string weight = NamedTransposedWeights
            ? _g.Node("Transpose", [_g.Initializer(NamePrefix + module + ".weight", w, [outF, inF])], "weight_t", OnnxAttr.Ints("perm", 1, 0))
            : _g.Initializer($"onnx::MatMul_{_anon++}", wT, [inF, outF]);
        var mm = _g.Node("MatMul", [x, weight], "matmul");
        if (!withBias) return mm;
        return _g.Node("Add", [Named(module + ".bias", [outF + biasExtra], 0.1f), mm], "linear");
    }

    string LayerNorm(string module, string x)
    {
        string gamma = Named(module + ".weight", [Hidden], 0.2f, offset: 1f), beta = Named(module + ".bias", [Hidden], 0.1f);
        if (FusedLayerNorm)
            return _g.Node("LayerNormalization", [x, gamma, beta], "ln", OnnxAttr.Int("axis", -1), OnnxAttr.Float("epsilon", Eps));
        var axes = OnnxAttr.Ints("axes", -1);
        var mean = _g.Node("ReduceMean", [x], "ln_mean", axes);
        var centered = _g.Node("Sub", [x, mean], "ln_centered");
        var variance = _g.Node("ReduceMean", [_g.Node("Pow", [centered, _g.FloatScalar("two", 2f)], "ln_sq")], "ln_var", axes);
        var std = _g.Node("Sqrt", [_g.Node("Add", [variance, _g.FloatScalar("ln_eps", Eps)], "ln_var_eps")], "ln_std");
        var normed = _g.Node("Div", [centered, std], "ln_normed");
        return _g.Node("Add", [_g.Node("Mul", [normed, gamma], "ln_scaled"), beta], "ln_out");
    }

    string Named(string name, int[] shape, float scale, float offset = 0f)
    {
        int n = shape.Aggregate(1, (a, d) => a * d);
        var data = Random(n, scale);
        for (int i = 0; i < n; i++) data[i] += offset;
        Weights[name] = data; Shapes[name] = shape;
        return _g.Initializer(NamePrefix + name, data, Array.ConvertAll(shape, d => (long)d));
    }

    float[] Random(int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(_rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
