using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Tests.Model;
using MobileBert.Training;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Training;

/// <summary>
/// Gradient parity with PyTorch: HF MobileBertForPreTraining in eval mode, loss = MLM CE (−100 ignored) + NSP CE,
/// loss.backward(); every parameter gradient in grads.safetensors (see the golden manifest's "losses"/"training").
/// </summary>
public class GoldenBackwardTests(ITestOutputHelper log)
{
    public static TheoryData<string> Configs => GoldenForwardTests.Configs;

    static string Dir(string name) => TestPaths.Golden("model", name);

    internal static (MobileBertModel Model, ModelInput Input, int[] MlmLabels, int[] NspLabels) Load(string name)
    {
        var (model, input) = GoldenForwardTests.LoadGolden(name);
        var mlm = Npy.Read(Path.Combine(Dir(name), "mlm_labels.npy")).ToInt32();
        var nsp = Npy.Read(Path.Combine(Dir(name), "next_sentence_label.npy")).ToInt32();
        return (model, input, mlm, nsp);
    }

    [Theory, MemberData(nameof(Configs))]
    public void LossAndEveryGradientMatchPyTorch(string name)
    {
        var (model, input, mlmLabels, nspLabels) = Load(name);
        model.Threads = 2;
        model.ZeroGrad();
        var output = model.Forward(input, new ForwardOptions { KeepForBackward = true });
        var loss = Losses.Pretraining(output, mlmLabels, nspLabels, overwriteLogits: true);

        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "manifest.json")));
        var losses = manifest.RootElement.GetProperty("losses");
        AssertRel("mlm_loss", losses.GetProperty("mlm_loss").GetDouble(), loss.Mlm);
        AssertRel("nsp_loss", losses.GetProperty("nsp_loss").GetDouble(), loss.Nsp);
        AssertRel("pretraining_total_loss", losses.GetProperty("pretraining_total_loss").GetDouble(), loss.Total);

        model.Backward(output, loss.Gradients);
        double worst = CompareWithGolden(model, name, out string worstName);
        log.WriteLine($"{name}: worst max|diff|/max|ref| = {worst:g3} ({worstName})");
    }

    static void AssertRel(string what, double expected, double actual) =>
        Assert.True(Math.Abs(actual - expected) <= 1e-5 * Math.Abs(expected), $"{what}: {actual} vs PyTorch {expected}");

    /// <summary>Every gradient against grads.safetensors; parameters without a golden gradient must have none. Returns the worst relative
    /// error.</summary>
    internal static double CompareWithGolden(MobileBertModel model, string name, out string worstName)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(Dir(name), "grads.safetensors"));
        double worst = 0; worstName = "";
        foreach (var p in model.Store.Parameters)
        {
            var ours = model.Store.GradSpan(p).ToArray();
            if (!file.TryGet(p.Name, out var entry))
            {
                Assert.True(ours.All(v => v == 0f), $"{p.Name}: no golden gradient, but ours is nonzero (max {Tolerance.MaxAbs(ours):g3})");
                continue;
            }
            var expected = entry.ToFloat32();
            Assert.Equal(expected.Length, ours.Length);
            if (p.Name.EndsWith("attention.self.key.bias", StringComparison.Ordinal))
            {
                // Mathematically zero (softmax is shift-invariant along keys); PyTorch has ~1e-9 rounding noise.
                Tolerance.AssertClose(p.Name, expected, ours, 0, absFloor: 1e-6);
                continue;
            }
            double maxRef = Tolerance.MaxAbs(expected);
            Tolerance.AssertClose(p.Name, expected, ours, 1e-3);
            double maxDiff = 0;
            for (int i = 0; i < ours.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs((double)ours[i] - expected[i]));
            double rel = maxRef == 0 ? maxDiff : maxDiff / maxRef;
            if (rel > worst) { worst = rel; worstName = p.Name; }
        }
        return worst;
    }
}
