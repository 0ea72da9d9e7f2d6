using MobileBert.Kernels;
using MobileBert.Model;
using Xunit;
using Xunit.Sdk;

namespace MobileBert.Tests.Model;

/// <summary>
/// The engine against <see cref="NaiveMobileBert"/>, an independent double-precision reference following the original
/// TensorFlow MobileBERT semantics. This covers what HuggingFace cannot express (IB-BERT: Q/K/V projected from the
/// hidden_size-wide block input to the intra_bottleneck_size-wide attention) and every other config shape, with random
/// weights whose norms and biases are all perturbed away from 1/0, on right- and left-padded rows.
/// </summary>
public class ReferenceForwardTests
{
    const double Rel = 1e-4;

    static MobileBertConfig Small(Action<MobileBertConfig> tweak)
    {
        var c = new MobileBertConfig
        {
            VocabSize = 61, HiddenSize = 32, EmbeddingSize = 16, IntraBottleneckSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 4,
            IntermediateSize = 48, NumFeedforwardNetworks = 4, MaxPositionEmbeddings = 40, TypeVocabSize = 2, Labels = ["a", "b", "c"],
        };
        tweak(c);
        return c;
    }

    public static MobileBertConfig Make(string name) => name switch
    {
        // IB-BERT shape rules: bottleneck, no shared QK bottleneck, no bottleneck attention, intra (64) > hidden (32), 1 FFN.
        "ib_bert_shaped" => Small(c =>
        {
            c.IntraBottleneckSize = 64; c.IntermediateSize = 128; c.NumFeedforwardNetworks = 1; c.KeyQuerySharedBottleneck = false;
            c.NormalizationType = NormalizationType.LayerNorm; c.HiddenAct = Activation.Gelu;
        }),
        // MobileBERT: NoNorm + ReLU, shared QK bottleneck, 4 FFNs.
        "mobilebert_shaped" => Small(_ => { }),
        // MobileBERT-TINY: bottleneck attention (Q = K = V = bottleneck.input), 2 FFNs.
        "tiny_shaped" => Small(c => { c.NumFeedforwardNetworks = 2; c.UseBottleneckAttention = true; c.KeyQuerySharedBottleneck = false; }),
        // Both flags: bottleneck attention takes precedence (TF and HF); bottleneck.attention exists but is unused.
        "tiny_shaped_with_kq_flag" => Small(c => { c.NumFeedforwardNetworks = 2; c.UseBottleneckAttention = true;
            c.KeyQuerySharedBottleneck = true; }),
        // No bottlenecks, E == H without trigram (no embedding transformation), pooler without dense, NoNorm + GELU.
        "no_bottleneck" => Small(c =>
        {
            c.UseBottleneck = false; c.EmbeddingSize = 32; c.TrigramInput = false; c.NumFeedforwardNetworks = 2; c.HiddenAct = Activation.Gelu;
            c.ClassifierActivation = false;
        }),
        // LayerNorm + gelu_new, no trigram but E ≠ H (transformation), large eps so HF's 1e-5 quirk is visible.
        "ln_gelu_new" => Small(c =>
        {
            c.NormalizationType = NormalizationType.LayerNorm; c.HiddenAct = Activation.GeluNew; c.TrigramInput = false; c.LayerNormEps = 1e-2f;
            c.IntraBottleneckSize = 24; c.NumAttentionHeads = 3; c.NumFeedforwardNetworks = 3;
        }),
        "ib_bert_large_1layer" => IbBertLargeOneLayer(),
        // Full-size plain BERT shapes, one layer: bert-base (12 heads of 64) and all-MiniLM-L6-v2 (12 heads of 32).
        "bert_base_1layer" => OneLayer(Presets.BertBase()),
        "minilm_1layer" => OneLayer(Presets.MiniLmL6()),
        _ => throw new ArgumentException(name),
    };

    static MobileBertConfig IbBertLargeOneLayer() => OneLayer(Presets.IbBertLarge());

    static MobileBertConfig OneLayer(MobileBertConfig c)
    {
        c.NumHiddenLayers = 1; c.VocabSize = 100; c.Labels = ["a", "b", "c"];
        return c;
    }

    public static TheoryData<string> SmallConfigs => new() { "ib_bert_shaped", "mobilebert_shaped", "tiny_shaped", "tiny_shaped_with_kq_flag",
        "no_bottleneck", "ln_gelu_new" };

    /// <summary>HF init, then: matrices rescaled to std 1/√fan-in (embeddings 0.5) so attention is far from uniform and
    /// activations are O(1); every norm γ ∈ [0.5, 1.5] and every bias/β ∈ [−0.2, 0.2].</summary>
    /// <summary>See <see cref="TestModels.Perturbed"/>.</summary>
    static MobileBertModel Build(MobileBertConfig c, int seed) => TestModels.Perturbed(c, seed);

    /// <summary>Row 0 full, row 1 right-padded, row 2 left-padded (pad id 0, mask 0); token types 0 then 1.</summary>
    static ModelInput Input(MobileBertConfig c, int batch, int seq, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[batch * seq]; var mask = new int[batch * seq]; var types = new int[batch * seq];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
            {
                bool real = b switch { 1 => t < seq - 4, 2 => t >= 3, _ => true };
                int i = b * seq + t;
                mask[i] = real ? 1 : 0;
                ids[i] = real ? rng.Next(1, c.VocabSize) : c.PadTokenId;
                types[i] = real && t >= seq / 2 ? 1 : 0;
            }
        return new ModelInput(batch, seq, ids, mask, types);
    }

    static float[] F(double[] x) => Array.ConvertAll(x, v => (float)v);
    static float[] Cat(IEnumerable<double[]> xs) => F(xs.SelectMany(v => v).ToArray());

    static (ModelOutput Ours, NaiveMobileBert Naive, NaiveMobileBert.Result Ref) Run(
        MobileBertModel m, ModelInput input, ReferenceMutation mutation = ReferenceMutation.None)
    {
        var o = m.Forward(input, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Trace = true });
        var naive = new NaiveMobileBert(m, mutation);
        var r = naive.Forward(input.InputIds, input.AttentionMask, input.TokenTypeIds, input.Batch, input.Seq);
        return (o, naive, r);
    }

    static void CompareAll(ModelOutput o, NaiveMobileBert.Result r, int layers)
    {
        Tolerance.AssertClose("last_hidden_state", F(r.Hidden[^1]), o.LastHiddenState, Rel);
        Tolerance.AssertClose("pooler_output", F(r.Pooled!), o.PooledOutput, Rel);
        Tolerance.AssertClose("mlm_logits", F(r.Mlm!), o.MlmLogits, Rel);
        Tolerance.AssertClose("nsp_logits", F(r.Nsp!), o.NspLogits, Rel);
        Tolerance.AssertClose("seqcls_logits", F(r.Classifier!), o.SequenceClassificationLogits, Rel);
        Tolerance.AssertClose("qa_start_logits", F(r.QaStart!), o.QaStartLogits, Rel);
        Tolerance.AssertClose("qa_end_logits", F(r.QaEnd!), o.QaEndLogits, Rel);
        Assert.Equal(layers + 1, o.HiddenStates!.Length);
        Assert.Equal(layers, o.Attentions!.Length);
        for (int l = 0; l <= layers; l++) Tolerance.AssertClose($"hidden_states[{l}]", F(r.Hidden[l]), o.HiddenStates[l], Rel);
        for (int l = 0; l < layers; l++)
        {
            var R = r.Layers[l]; var t = o.LayerTraces![l];
            Tolerance.AssertClose($"attentions[{l}]", F(R.Probs), o.Attentions[l], Rel);
            Tolerance.AssertClose($"layer{l}.layer_input", F(R.LayerInput), t.LayerInput, Rel);
            Tolerance.AssertClose($"layer{l}.query_input", F(R.QueryInput), t.QueryKeyInput, Rel);
            Tolerance.AssertClose($"layer{l}.key_input", F(R.KeyInput), t.QueryKeyInput, Rel);
            Tolerance.AssertClose($"layer{l}.value_input", F(R.ValueInput), t.ValueInput, Rel);
            Tolerance.AssertClose($"layer{l}.q", F(R.Q), t.Q, Rel);
            Tolerance.AssertClose($"layer{l}.k", F(R.K), t.K, Rel);
            Tolerance.AssertClose($"layer{l}.v", F(R.V), t.V, Rel);
            Tolerance.AssertClose($"layer{l}.context", F(R.Context), t.Context, Rel);
            Assert.Equal(R.FfnOutputs.Count, t.FfnOutputs!.Length);
            for (int k = 0; k < R.FfnOutputs.Count; k++) Tolerance.AssertClose($"layer{l}.ffn_output[{k}]", F(R.FfnOutputs[k]), t.FfnOutputs[k], Rel);
            Tolerance.AssertClose($"layer{l}.intermediate", F(R.Intermediate), t.Intermediate, Rel);
            if (R.OutputBeforeBottleneck is not null) Tolerance.AssertClose(
                $"layer{l}.output_before_bottleneck", F(R.OutputBeforeBottleneck), t.OutputBeforeBottleneck, Rel);
            else Assert.Null(t.OutputBeforeBottleneck);
        }
    }

    /// <summary>The parameters HF creates but never uses for this config (the reference reads every other one).</summary>
    static string[] ExpectedUnused(MobileBertConfig c)
    {
        var names = new List<string>();
        if (!c.TrigramInput && c.EmbeddingSize == c.HiddenSize)
            names.AddRange(["mobilebert.embeddings.embedding_transformation.weight", "mobilebert.embeddings.embedding_transformation.bias"]);
        if (c.UseBottleneck && c.UseBottleneckAttention && c.KeyQuerySharedBottleneck)
            for (int l = 0; l < c.NumHiddenLayers; l++)
                foreach (var s in new[] { "dense.weight", "dense.bias", "LayerNorm.weight", "LayerNorm.bias" })
                    names.Add($"mobilebert.encoder.layer.{l}.bottleneck.attention.{s}");
        return [.. names.Order(StringComparer.Ordinal)];
    }

    [Theory, MemberData(nameof(SmallConfigs))]
    public void EngineMatchesNaiveReference(string name)
    {
        var c = Make(name);
        var m = Build(c, seed: 1234);
        var (o, naive, r) = Run(m, Input(c, batch: 3, seq: 13, seed: 7));
        CompareAll(o, r, c.NumHiddenLayers);
        Assert.Equal(ExpectedUnused(c), naive.UnreadParameters.Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>The real ib-bert-large widths (inter 512, intra 1024, 4 heads of 256, one FFN of 4096) for one layer.</summary>
    [Fact]
    public void IbBertLargePresetShapesMatchNaiveReference()
    {
        var c = IbBertLargeOneLayer();
        var m = Build(c, seed: 99);
        string p = "mobilebert.encoder.layer.0.";
        Assert.Equal([1024, 512], m.Store[p + "attention.self.query.weight"].Shape);
        Assert.Equal([1024, 512], m.Store[p + "attention.self.key.weight"].Shape);
        Assert.Equal([1024, 512], m.Store[p + "attention.self.value.weight"].Shape);
        Assert.Equal([1024, 512], m.Store[p + "bottleneck.input.dense.weight"].Shape);
        Assert.Equal([4096, 1024], m.Store[p + "intermediate.dense.weight"].Shape);
        Assert.Equal([512, 1024], m.Store[p + "output.bottleneck.dense.weight"].Shape);
        Assert.False(m.Store.Contains(p + "bottleneck.attention.dense.weight"));
        Assert.False(m.Store.Contains(p + "ffn.0.intermediate.dense.weight"));
        var (o, naive, r) = Run(m, Input(c, batch: 3, seq: 12, seed: 5));
        CompareAll(o, r, 1);
        Assert.Empty(naive.UnreadParameters);
    }

    /// <summary>The comparison is not vacuous: each deliberately wrong reference is rejected.</summary>
    [Theory]
    [InlineData("ib_bert_shaped", ReferenceMutation.QueryUsesKeyWeights)]
    [InlineData("ib_bert_shaped", ReferenceMutation.TrigramReversed)]
    [InlineData("ib_bert_shaped", ReferenceMutation.NoAttentionMask)]
    [InlineData("ib_bert_shaped", ReferenceMutation.AttentionResidualAfterNorm)]
    [InlineData("mobilebert_shaped", ReferenceMutation.QueryKeyFromInputBottleneck)]
    [InlineData("ln_gelu_new", ReferenceMutation.OutputNormUsesLayerNormEps)]
    public void MutatedReferenceIsRejected(string name, ReferenceMutation mutation)
    {
        var c = Make(name);
        var m = Build(c, seed: 1234);
        var (o, _, r) = Run(m, Input(c, batch: 3, seq: 13, seed: 7), mutation);
        var e = Assert.ThrowsAny<XunitException>(() => CompareAll(o, r, c.NumHiddenLayers));
        Assert.Contains("max|diff|", e.Message);
    }

    [Fact]
    public void ReferenceErfIsAccurate()
    {
        // erf values from Abramowitz & Stegun / high-precision tables.
        Assert.Equal(0.0, NaiveMobileBert.Erf(0), 15);
        Assert.Equal(0.5204998778130465, NaiveMobileBert.Erf(0.5), 14);
        Assert.Equal(0.8427007929497149, NaiveMobileBert.Erf(1), 14);
        Assert.Equal(-0.9953222650189527, NaiveMobileBert.Erf(-2), 14);
        Assert.Equal(0.9999779095030014, NaiveMobileBert.Erf(3), 14);
        Assert.Equal(0.9999999845827421, NaiveMobileBert.Erf(4), 14);
    }
}
