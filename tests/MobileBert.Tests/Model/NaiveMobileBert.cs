using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Tests.Model;

/// <summary>Deliberate defects the reference can be built with, to prove the comparison catches them.</summary>
public enum ReferenceMutation
{
    None,
    /// <summary>Query reads the key weights (scores = K·Kᵀ).</summary>
    QueryUsesKeyWeights,
    /// <summary>With the shared query/key bottleneck, Q and K read bottleneck.input instead of bottleneck.attention.</summary>
    QueryKeyFromInputBottleneck,
    /// <summary>The layer's output.LayerNorm uses layer_norm_eps instead of HF's 1e-5.</summary>
    OutputNormUsesLayerNormEps,
    /// <summary>Trigram concatenation in the wrong order: [x(t−1) ‖ x(t) ‖ x(t+1)].</summary>
    TrigramReversed,
    /// <summary>The attention mask is ignored.</summary>
    NoAttentionMask,
    /// <summary>Attention output residual is added after the norm instead of before.</summary>
    AttentionResidualAfterNorm,
}

/// <summary>
/// An independent, deliberately naive double-precision MobileBERT forward pass (plain loops, no kernels, no library
/// modules). It follows the original TensorFlow code (google-research mobilebert/modeling.py, transformer_model) plus
/// the HuggingFace quirks the library matches (norm epsilons, additive float.MinValue mask, MLM decoder layout).
/// Weights are read by their HuggingFace names from <see cref="MobileBertModel.Store"/>; every read checks the shape
/// the reference expects, and <see cref="UnreadParameters"/> lists what the reference never used.
/// <para>Per layer (TF semantics): with use_bottleneck, layer_input = norm(bottleneck/input(h)); then
/// use_bottleneck_attention → Q = K = V = layer_input; else key_query_shared_bottleneck → Q = K = norm(bottleneck/attention(h)),
/// V = h; else (IB-BERT) Q = K = V = h. Without bottleneck, layer_input = Q = K = V = h.</para>
/// </summary>
public sealed class NaiveMobileBert(MobileBertModel model, ReferenceMutation mutation = ReferenceMutation.None)
{
    readonly MobileBertConfig _c = model.Config;
    readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public sealed class Layer
    {
        public double[] QueryInput = [], KeyInput = [], ValueInput = [], LayerInput = [], Q = [], K = [], V = [], Context = [];
        public double[] Probs = [];                // [B, heads, S, S]
        public List<double[]> FfnOutputs = [];     // [0] attention block output, [i] after stacked FFN i
        public double[] Intermediate = [];         // [rows, I] after activation (last FFN)
        public double[]? OutputBeforeBottleneck;   // [rows, T]
        public double[] Output = [];               // [rows, H]
    }

    public sealed class Result
    {
        public List<double[]> Hidden = [];         // L+1 × [rows, H]
        public List<Layer> Layers = [];
        public double[]? Pooled, Mlm, Nsp, Classifier, QaStart, QaEnd;
    }

    /// <summary>Parameters of the model the reference never read (call after <see cref="Forward"/>).</summary>
    public IEnumerable<string> UnreadParameters => model.Store.Parameters.Select(p => p.Name).Where(n => !_read.Contains(n));

    double[] P(string name, params int[] shape)
    {
        var p = model.Store[name];
        if (!p.Shape.SequenceEqual(shape))
            throw new InvalidOperationException($"Reference expects '{name}' of shape [{string.Join(",", shape)}], the model has " +
                $"[{string.Join(",", p.Shape)}].");
        _read.Add(name);
        var span = model.Store.Span(p);
        var d = new double[span.Length];
        for (int i = 0; i < d.Length; i++) d[i] = span[i];
        return d;
    }

    /// <summary>y[r,o] = b[o] + Σ_i x[r,i]·W[o,i] (W stored [out, in] as in PyTorch).</summary>
    double[] Dense(double[] x, int rows, string name, int inF, int outF)
    {
        var w = P(name + ".weight", outF, inF);
        var b = P(name + ".bias", outF);
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = b[o];
                for (int i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
                y[r * outF + o] = s;
            }
        return y;
    }

    static double[] Add(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new InvalidOperationException($"Residual width mismatch: {a.Length} vs {b.Length}.");
        var y = new double[a.Length];
        for (int i = 0; i < y.Length; i++) y[i] = a[i] + b[i];
        return y;
    }

    double[] Norm(double[] x, int rows, int dim, string name, double eps, bool forceLayerNorm = false)
    {
        var g = P(name + ".weight", dim);
        var be = P(name + ".bias", dim);
        var y = new double[x.Length];
        bool ln = forceLayerNorm || _c.NormalizationType == NormalizationType.LayerNorm;
        for (int r = 0; r < rows; r++)
        {
            if (!ln)
            {
                for (int i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * g[i] + be[i];   // NoNorm
                continue;
            }
            double mean = 0;
            for (int i = 0; i < dim; i++) mean += x[r * dim + i];
            mean /= dim;
            double var = 0;
            for (int i = 0; i < dim; i++) { double d = x[r * dim + i] - mean; var += d * d; }
            var /= dim;                                                                        // biased, as LayerNorm
            double inv = 1.0 / Math.Sqrt(var + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i] - mean) * inv * g[i] + be[i];
        }
        return y;
    }

    double[] Act(double[] x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = _c.HiddenAct switch
            {
                Activation.Relu => Math.Max(v, 0),
                Activation.Gelu => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
                Activation.GeluNew => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
                Activation.Tanh => Math.Tanh(v),
                _ => throw new NotSupportedException(_c.HiddenAct.ToString()),
            };
        }
        return y;
    }

    /// <summary>erf to ~1e-14: Maclaurin series for |x| &lt; 3, erfc continued fraction beyond.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated backwards.
        double f = ax;
        for (int k = 120; k >= 1; k--) f = ax + k / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }

    public Result Forward(int[] ids, int[] attentionMask, int[] tokenTypes, int batch, int seq)
    {
        var c = _c;
        int B = batch, S = seq, rows = B * S, H = c.HiddenSize, E = c.EmbeddingSize, V = c.VocabSize;
        double lnEps = c.LayerNormEps, hfDefaultEps = 1e-5;
        var res = new Result();

        // ---- embeddings
        var word = P("mobilebert.embeddings.word_embeddings.weight", V, E);
        var w = new double[rows * E];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < E; i++) w[r * E + i] = word[ids[r] * E + i];
        double[] x;
        int inW = E;
        double[] transformIn = w;
        if (c.TrigramInput)
        {
            inW = 3 * E;
            transformIn = new double[rows * inW];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < S; t++)
                    for (int i = 0; i < E; i++)
                    {
                        double next = t + 1 < S ? w[(b * S + t + 1) * E + i] : 0, cur = w[(b * S + t) * E + i],
                            prev = t > 0 ? w[(b * S + t - 1) * E + i] : 0;
                        if (mutation == ReferenceMutation.TrigramReversed) (next, prev) = (prev, next);
                        int o = (b * S + t) * inW;
                        transformIn[o + i] = next; transformIn[o + E + i] = cur; transformIn[o + 2 * E + i] = prev;
                    }
        }
        if (c.TrigramInput || E != H) x = Dense(transformIn, rows, "mobilebert.embeddings.embedding_transformation", inW, H);
        else x = (double[])w.Clone();
        var pos = P("mobilebert.embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, H);
        var tte = P("mobilebert.embeddings.token_type_embeddings.weight", c.TypeVocabSize, H);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < S; t++)
                for (int i = 0; i < H; i++)
                    x[(b * S + t) * H + i] += pos[t * H + i] + tte[tokenTypes[b * S + t] * H + i];
        x = Norm(x, rows, H, "mobilebert.embeddings.LayerNorm", hfDefaultEps);
        res.Hidden.Add(x);

        // ---- encoder
        bool ub = c.UseBottleneck;
        int T = ub ? c.IntraBottleneckSize : H, heads = c.NumAttentionHeads, d = T / heads, I = c.IntermediateSize;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"mobilebert.encoder.layer.{l}.";
            var L = new Layer();
            var h = x;
            double[] layerInput, qIn, kIn, vIn;
            int qkW, vW;
            if (ub)
            {
                layerInput = Norm(Dense(h, rows, p + "bottleneck.input.dense", H, T), rows, T, p + "bottleneck.input.LayerNorm", lnEps);
                if (c.UseBottleneckAttention) { qIn = kIn = vIn = layerInput; qkW = vW = T; }
                else if (c.KeyQuerySharedBottleneck)
                {
                    var shared = Norm(Dense(h, rows, p + "bottleneck.attention.dense", H, T), rows, T, p + "bottleneck.attention.LayerNorm", lnEps);
                    if (mutation == ReferenceMutation.QueryKeyFromInputBottleneck) shared = layerInput;
                    qIn = kIn = shared; vIn = h; qkW = T; vW = H;
                }
                else { qIn = kIn = vIn = h; qkW = vW = H; }                        // IB-BERT: all from the block input
            }
            else { layerInput = qIn = kIn = vIn = h; qkW = vW = H; }
            L.LayerInput = layerInput; L.QueryInput = qIn; L.KeyInput = kIn; L.ValueInput = vIn;

            var Q = Dense(qIn, rows, p + (mutation == ReferenceMutation.QueryUsesKeyWeights ? "attention.self.key" : "attention.self.query"), qkW, T);
            var K = Dense(kIn, rows, p + "attention.self.key", qkW, T);
            var Vv = Dense(vIn, rows, p + "attention.self.value", vW, T);
            L.Q = Q; L.K = K; L.V = Vv;

            var probs = new double[B * heads * S * S];
            var ctx = new double[rows * T];
            double scale = 1 / Math.Sqrt(d);
            var scores = new double[S];
            for (int b = 0; b < B; b++)
                for (int n = 0; n < heads; n++)
                    for (int i = 0; i < S; i++)
                    {
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < S; j++)
                        {
                            double s = 0;
                            for (int e = 0; e < d; e++) s += Q[(b * S + i) * T + n * d + e] * K[(b * S + j) * T + n * d + e];
                            s *= scale;
                            if (mutation != ReferenceMutation.NoAttentionMask) s += (1 - attentionMask[b * S + j]) * (double)float.MinValue;
                            scores[j] = s; max = Math.Max(max, s);
                        }
                        double z = 0;
                        for (int j = 0; j < S; j++) { scores[j] = Math.Exp(scores[j] - max); z += scores[j]; }
                        for (int j = 0; j < S; j++) probs[((b * heads + n) * S + i) * S + j] = scores[j] / z;
                        for (int e = 0; e < d; e++)
                        {
                            double s = 0;
                            for (int j = 0; j < S; j++) s += probs[((b * heads + n) * S + i) * S + j] * Vv[(b * S + j) * T + n * d + e];
                            ctx[(b * S + i) * T + n * d + e] = s;
                        }
                    }
            L.Probs = probs; L.Context = ctx;

            var attnDense = Dense(ctx, rows, p + "attention.output.dense", T, T);
            var a = mutation == ReferenceMutation.AttentionResidualAfterNorm
                ? Add(Norm(attnDense, rows, T, p + "attention.output.LayerNorm", lnEps), layerInput)
                : Norm(Add(attnDense, layerInput), rows, T, p + "attention.output.LayerNorm", lnEps);
            L.FfnOutputs.Add(a);
            for (int f = 0; f < c.NumFeedforwardNetworks - 1; f++)
            {
                string q = $"{p}ffn.{f}.";
                var inner = Act(Dense(a, rows, q + "intermediate.dense", T, I));
                a = Norm(Add(Dense(inner, rows, q + "output.dense", I, T), a), rows, T, q + "output.LayerNorm", lnEps);
                L.FfnOutputs.Add(a);
            }
            L.Intermediate = Act(Dense(a, rows, p + "intermediate.dense", T, I));
            var o = Norm(Add(Dense(L.Intermediate, rows, p + "output.dense", I, T), a), rows, T, p + "output.LayerNorm",
                mutation == ReferenceMutation.OutputNormUsesLayerNormEps ? lnEps : hfDefaultEps);
            if (ub)
            {
                L.OutputBeforeBottleneck = o;
                x = Norm(Add(Dense(o, rows, p + "output.bottleneck.dense", T, H), h), rows, H, p + "output.bottleneck.LayerNorm", lnEps);
            }
            else x = o;
            L.Output = x;
            res.Layers.Add(L);
            res.Hidden.Add(x);
        }

        // ---- heads
        if (model.HasPooler)
        {
            var first = new double[B * H];
            for (int b = 0; b < B; b++) Array.Copy(x, b * S * H, first, b * H, H);
            if (c.ClassifierActivation)
            {
                res.Pooled = Dense(first, B, "mobilebert.pooler.dense", H, H);
                for (int i = 0; i < res.Pooled.Length; i++) res.Pooled[i] = Math.Tanh(res.Pooled[i]);
            }
            else res.Pooled = first;
        }
        if (model.Heads.HasFlag(ModelHeads.MaskedLm))
        {
            var t = Norm(Act(Dense(x, rows, "cls.predictions.transform.dense", H, H)), rows, H, "cls.predictions.transform.LayerNorm", lnEps,
                forceLayerNorm: true);
            var extra = P("cls.predictions.dense.weight", H - E, V);
            var bias = P("cls.predictions.bias", V);
            var logits = new double[rows * V];
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < V; v++)
                {
                    double s = bias[v];
                    for (int i = 0; i < E; i++) s += t[r * H + i] * word[v * E + i];            // tied decoder: word_embeddingsᵀ
                    for (int i = E; i < H; i++) s += t[r * H + i] * extra[(i - E) * V + v];      // dense.weight [H−E, V]
                    logits[r * V + v] = s;
                }
            res.Mlm = logits;
        }
        if (model.Heads.HasFlag(ModelHeads.NextSentence)) res.Nsp = Dense(res.Pooled!, B, "cls.seq_relationship", H, 2);
        if (model.Heads.HasFlag(ModelHeads.SequenceClassification)) res.Classifier = Dense(res.Pooled!, B, "classifier", H, c.NumLabels);
        if (model.Heads.HasFlag(ModelHeads.QuestionAnswering))
        {
            var both = Dense(x, rows, "qa_outputs", H, 2);
            res.QaStart = new double[rows]; res.QaEnd = new double[rows];
            for (int r = 0; r < rows; r++) { res.QaStart[r] = both[2 * r]; res.QaEnd[r] = both[2 * r + 1]; }
        }
        return res;
    }
}
