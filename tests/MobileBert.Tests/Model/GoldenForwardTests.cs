using MobileBert.Checkpoints;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

/// <summary>
/// The whole model family against HuggingFace transformers' modeling_mobilebert.py and modeling_bert.py (golden tensors,
/// see golden/README.md): every output and layer-0 intermediate, on rows that are unpadded, right-padded and left-padded.
/// </summary>
public class GoldenForwardTests
{
    public static TheoryData<string> Configs => new() { "tiny", "tiny_ln_gelu", "tiny_bottleneck_attn", "tiny_no_bottleneck", "bert_tiny" };
    const double Rel = 1e-4;

    internal static (MobileBertModel Model, ModelInput Input) LoadGolden(string name)
    {
        var dir = TestPaths.Golden("model", name);
        var config = ConfigJson.Load(Path.Combine(dir, "config.json"));
        config.Labels = ["a", "b", "c"];                                   // the golden classifier has 3 labels
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "weights.safetensors"));
        var model = ModelFolder.Load(config, file);
        Assert.Equal(ModelHeads.Pretraining | ModelHeads.SequenceClassification | ModelHeads.QuestionAnswering, model.Heads);
        var ids = Npy.Read(Path.Combine(dir, "input_ids.npy"));
        int b = ids.Shape[0], s = ids.Shape[1];
        var input = new ModelInput(b, s, ids.ToInt32(), Npy.Read(Path.Combine(dir, "attention_mask.npy")).ToInt32(),
            Npy.Read(Path.Combine(dir, "token_type_ids.npy")).ToInt32());
        return (model, input);
    }

    static float[] Ref(string config, string file) => Npy.Read(TestPaths.Golden("model", config, file + ".npy")).ToFloat32();

    [Theory, MemberData(nameof(Configs))]
    public void AllOutputsMatchHuggingFace(string name)
    {
        var (model, input) = LoadGolden(name);
        model.Threads = 2;
        var o = model.Forward(input, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Trace = true });
        Tolerance.AssertClose("last_hidden_state", Ref(name, "last_hidden_state"), o.LastHiddenState, Rel);
        Tolerance.AssertClose("pooler_output", Ref(name, "pooler_output"), o.PooledOutput, Rel);
        Tolerance.AssertClose("hidden_states", Ref(name, "hidden_states"), o.HiddenStates!.SelectMany(x => x).ToArray(), Rel);
        Tolerance.AssertClose("attentions", Ref(name, "attentions"), o.Attentions!.SelectMany(x => x).ToArray(), Rel);
        Tolerance.AssertClose("mlm_logits", Ref(name, "mlm_logits"), o.MlmLogits, Rel);
        Tolerance.AssertClose("nsp_logits", Ref(name, "nsp_logits"), o.NspLogits, Rel);
        Tolerance.AssertClose("seqcls_logits", Ref(name, "seqcls_logits"), o.SequenceClassificationLogits, Rel);
        Tolerance.AssertClose("qa_start_logits", Ref(name, "qa_start_logits"), o.QaStartLogits, Rel);
        Tolerance.AssertClose("qa_end_logits", Ref(name, "qa_end_logits"), o.QaEndLogits, Rel);

        var t = o.LayerTraces![0];
        var intermediates = Intermediates(t, o);
        for (int k = 0; k < t.FfnOutputs!.Length; k++) intermediates[$"layer0_attention_then_ffn_{k}"] = t.FfnOutputs[k];
        int compared = 0;
        foreach (var (file, ours) in intermediates)
        {
            if (!File.Exists(TestPaths.Golden("model", name, file + ".npy"))) continue;
            Tolerance.AssertClose(file, Ref(name, file), ours, Rel);
            compared++;
        }
        Assert.True(compared >= 6, $"{name}: only {compared} layer-0 intermediates found in the golden folder");
    }

    /// <summary>Golden file name → our tensor. MobileBERT goldens name the attention inputs (query_tensor, …); BERT's name the
    /// projections (query, …), the embedding sum and the MLM transform. A config's folder has one of the two sets.</summary>
    static Dictionary<string, float[]?> Intermediates(LayerTrace t, ModelOutput o) => new()
    {
        ["layer0_query_tensor"] = t.QueryKeyInput, ["layer0_key_tensor"] = t.QueryKeyInput, ["layer0_value_tensor"] = t.ValueInput,
        ["layer0_layer_input"] = t.LayerInput, ["layer0_ffn_output"] = t.AttentionOutput, ["layer0_intermediate_output"] = t.Intermediate,
        ["layer0_query"] = t.Q, ["layer0_key"] = t.K, ["layer0_value"] = t.V, ["layer0_context"] = t.Context,
        ["layer0_attention_output"] = t.AttentionOutput, ["layer0_layer_output"] = o.HiddenStates![1],
        ["embeddings_sum"] = o.EmbeddingTrace!.PreNorm,
    };

    [Theory, MemberData(nameof(Configs))]
    public void ExtendedAttentionMaskMatches(string name)
    {
        var (_, input) = LoadGolden(name);
        Assert.Equal(Ref(name, "extended_attention_mask"), AttentionCore.AdditiveMask(input.AttentionMask));
    }

    [Theory, MemberData(nameof(Configs))]
    public void ThreadCountDoesNotChangeResults(string name)
    {
        var (model, input) = LoadGolden(name);
        model.Threads = 1;
        var one = model.Forward(input);
        model.Threads = 3;
        var three = model.Forward(input);
        Tolerance.AssertClose("last_hidden_state (1 vs 3 threads)", one.LastHiddenState, three.LastHiddenState, 1e-6);
    }

    [Theory, MemberData(nameof(Configs))]
    public void ParameterCountsMatchHuggingFace(string name)
    {
        var dir = TestPaths.Golden("model", name);
        var config = ConfigJson.Load(Path.Combine(dir, "config.json"));
        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var counts = manifest.RootElement.GetProperty("param_counts");
        long Count(string hfClass) => counts.GetProperty((config.IsBert ? "Bert" : "MobileBert") + hfClass).GetInt64();
        Assert.Equal(Count("Model"), MobileBertModel.CountParameters(config));
        Assert.Equal(Count("ForPreTraining"), MobileBertModel.CountParameters(config, ModelHeads.Pretraining));
        Assert.Equal(Count("ForMaskedLM"), MobileBertModel.CountParameters(config, ModelHeads.MaskedLm));
        Assert.Equal(Count("ForQuestionAnswering"), MobileBertModel.CountParameters(config, ModelHeads.QuestionAnswering));
        config.Labels = ["a", "b", "c"];
        Assert.Equal(Count("ForSequenceClassification"), MobileBertModel.CountParameters(config, ModelHeads.SequenceClassification));
    }
}
