using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Training.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Training.Optimizers;

/// <summary>
/// One AdamW step against torch.optim.AdamW (torch 1.13) on every golden config: weights.safetensors + grads.safetensors
/// → params_after_adamw_step1.safetensors. The golden optimizer covered the MobileBertForPreTraining parameters that got
/// a gradient; the classifier / QA heads and the manifest's params_without_grad (grad None in torch) are frozen here.
/// Elements whose gradient is at noise level (|g| ≤ 1e-6) may legitimately differ by up to ±lr (golden/README.md), so
/// they are only held to that bound.
/// </summary>
/// <remarks>Observed on all four configs: bit-identical to torch (max error 0, masked elements included).</remarks>
public class AdamWGoldenTests(ITestOutputHelper output)
{
    public static TheoryData<string> Configs => new() { "tiny", "tiny_ln_gelu", "tiny_bottleneck_attn", "tiny_no_bottleneck", "bert_tiny" };

    [Theory, MemberData(nameof(Configs))]
    public void OneStepMatchesTorch(string name)
    {
        var dir = TestPaths.Golden("model", name);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")))!;
        var adam = manifest["training"]!["adamw"]!;
        double lr = adam["lr"]!.GetValue<double>();
        Assert.Equal(1, adam["step"]!.GetValue<int>());
        var withoutGrad = manifest["training"]!["params_without_grad"]!.AsArray().Select(n => n!.GetValue<string>()).ToHashSet();

        var config = ConfigJson.Load(Path.Combine(dir, "config.json"));
        config.Labels = ["a", "b", "c"];
        MobileBertModel model;
        using (var wf = SafeTensorsFile.Open(Path.Combine(dir, "weights.safetensors"))) model = ModelFolder.Load(config, wf);
        Assert.Equal(ModelHeads.Pretraining | ModelHeads.SequenceClassification | ModelHeads.QuestionAnswering, model.Heads);
        var store = model.Store;
        store.AllocateGrad();
        var before = (float[])store.Data.Clone();

        var trained = new HashSet<string>(StringComparer.Ordinal);
        using (var gf = SafeTensorsFile.Open(Path.Combine(dir, "grads.safetensors")))
            foreach (var e in gf.Entries)
            {
                var p = store[e.Name];
                Assert.Equal(p.Shape, e.Shape);
                e.CopyTo(store.GradSpan(p));
                if (!withoutGrad.Contains(e.Name)) trained.Add(e.Name);
            }
        Assert.Contains("classifier.weight", store.Parameters.Select(p => p.Name));
        Assert.DoesNotContain("classifier.weight", trained);

        var opt = new AdamW(store, new AdamWOptions
        {
            Beta1 = adam["betas"]![0]!.GetValue<double>(), Beta2 = adam["betas"]![1]!.GetValue<double>(),
            Eps = adam["eps"]!.GetValue<double>(), WeightDecay = adam["weight_decay"]!.GetValue<double>(),
        }) { Threads = 2 };
        opt.Groups.Freeze(ParameterSelector.Where(p => !trained.Contains(p.Name)));
        opt.Step(lr);

        using var after = SafeTensorsFile.Open(Path.Combine(dir, "params_after_adamw_step1.safetensors"));
        double maxRel = 0, maxNoise = 0, maxAbs = 0; string worst = "";
        int compared = 0, masked = 0;
        foreach (var p in store.Parameters)
        {
            var ours = store.Span(p); var old = before.AsSpan((int)p.Offset, p.Length);
            if (!after.Contains(p.Name))
            {
                Assert.True(ours.SequenceEqual(old), $"{p.Name} is not in the golden step and must not change");
                continue;
            }
            var expected = after[p.Name].ToFloat32();
            if (!trained.Contains(p.Name))
            {
                // torch skipped it (grad None): unchanged in the golden, and frozen (bit-identical) here.
                Assert.True(expected.AsSpan().SequenceEqual(old), $"{p.Name}: golden changed a parameter without grad?");
                Assert.True(ours.SequenceEqual(old), $"{p.Name} (no grad) changed");
                continue;
            }
            var g = store.GradSpan(p);
            for (int i = 0; i < p.Length; i++)
            {
                double d = Math.Abs((double)ours[i] - expected[i]);
                if (Math.Abs(g[i]) <= 1e-6)
                {
                    masked++;
                    maxNoise = Math.Max(maxNoise, d);
                    Assert.True(d <= lr * 1.0001, $"{p.Name}[{i}] (|g| = {Math.Abs(g[i]):g3}, noise level): ours {ours[i]}, torch {expected[i]}, " +
                        $"|diff| {d:g3} > lr");
                    continue;
                }
                compared++;
                double rel = d / Math.Abs(expected[i]);
                maxAbs = Math.Max(maxAbs, d);
                if (rel > maxRel) { maxRel = rel; worst = $"{p.Name}[{i}] ours {ours[i]:R} torch {expected[i]:R} before {old[i]:R} g {g[i]:R}"; }
            }
        }
        output.WriteLine($"{name}: {compared} compared, {masked} masked (|g| ≤ 1e-6); max rel {maxRel:g3}, max abs {maxAbs:g3}, max masked " +
            $"diff {maxNoise:g3}; worst {worst}");
        Assert.True(compared > 1000);
        // The brief allows 1e-5 relative, but a missing weight decay changes p by exactly lr·wd·p = 1e-5·p, so that bound
        // would not catch it. Observed: bit-identical to torch; 5e-7 ≈ 4 float ulps.
        Assert.True(maxRel <= 5e-7, $"{name}: max relative error {maxRel:g3} at {worst}");
        Assert.Equal(1, opt.StepCount);
    }
}
