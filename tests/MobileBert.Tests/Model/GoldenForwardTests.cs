using MobileBert.Checkpoints;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Model;

/// <summary>
/// The whole model family against HuggingFace transformers' modeling_mobilebert.py (golden tensors, see golden/README.md):
/// every output and layer-0 intermediate, on rows that are unpadded, right-padded and left-padded.
/// </summary>
public class GoldenForwardTests
{
    public static TheoryData<string> Configs => new() { "tiny", "tiny_ln_gelu", "tiny_bottleneck_attn", "tiny_no_bottleneck" };
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
        var input = new ModelInput(b, s, ids.ToInt32(), Npy.Read(Path.Combine(dir, "attention_mask.npy")).ToInt32(), Npy.Read(Path.Combine(dir, "token_type_ids.npy")).ToInt32());
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
        Tolerance.AssertClose("layer0_query_tensor", Ref(name, "layer0_query_tensor"), t.QueryKeyInput, Rel);
        Tolerance.AssertClose("layer0_key_tensor", Ref(name, "layer0_key_tensor"), t.QueryKeyInput, Rel);
        Tolerance.AssertClose("layer0_value_tensor", Ref(name, "layer0_value_tensor"), t.ValueInput, Rel);
        Tolerance.AssertClose("layer0_layer_input", Ref(name, "layer0_layer_input"), t.LayerInput, Rel);
        Tolerance.AssertClose("layer0_ffn_output", Ref(name, "layer0_ffn_output"), t.AttentionOutput, Rel);
        Tolerance.AssertClose("layer0_intermediate_output", Ref(name, "layer0_intermediate_output"), t.Intermediate, Rel);
        for (int k = 0; k < t.FfnOutputs!.Length; k++)
        {
            var file = TestPaths.Golden("model", name, $"layer0_attention_then_ffn_{k}.npy");
            if (File.Exists(file)) Tolerance.AssertClose($"layer0_attention_then_ffn_{k}", Npy.Read(file).ToFloat32(), t.FfnOutputs[k], Rel);
        }
    }

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
        Assert.Equal(counts.GetProperty("MobileBertModel").GetInt64(), MobileBertModel.CountParameters(config));
        Assert.Equal(counts.GetProperty("MobileBertForPreTraining").GetInt64(), MobileBertModel.CountParameters(config, ModelHeads.Pretraining));
        Assert.Equal(counts.GetProperty("MobileBertForMaskedLM").GetInt64(), MobileBertModel.CountParameters(config, ModelHeads.MaskedLm));
        Assert.Equal(counts.GetProperty("MobileBertForQuestionAnswering").GetInt64(), MobileBertModel.CountParameters(config, ModelHeads.QuestionAnswering));
        config.Labels = ["a", "b", "c"];
        Assert.Equal(counts.GetProperty("MobileBertForSequenceClassification").GetInt64(), MobileBertModel.CountParameters(config, ModelHeads.SequenceClassification));
    }
}
