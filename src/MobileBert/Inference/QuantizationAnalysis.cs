using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Inference;

/// <summary>Error of an int8 configuration against the fp32 engine on calibration inputs, and how many of the engine's
/// GEMMs actually ran int8 (Linears the engine merges into one GEMM are int8 only if all of them are quantized).</summary>
public readonly record struct QuantError(double HiddenRelMax, double HiddenRelRms, double LogitsRelMax, int Int8Gemms = 0, int Gemms = 0)
{
    public override string ToString() => FormattableString.Invariant($"hidden max {HiddenRelMax:E2}, ") +
        FormattableString.Invariant($"rms {HiddenRelRms:E2}{(double.IsNaN(LogitsRelMax) ? "" : $", logits {LogitsRelMax:E2}")}; {Int8Gemms} ") +
        FormattableString.Invariant($"of {Gemms} GEMMs int8");
}

/// <summary>
/// Measures what int8 costs, per layer and per role, so sensitive parts can be kept fp32 (MobileBERT's NoNorm
/// activations reach ~10³ in a few channels: per-token activation scales then crush the other channels).
/// Errors are relative to max |fp32| of each tensor (hidden: last_hidden_state; logits: classifier, when present);
/// rms = √mean(diff²)/rms(ref).
/// </summary>
public sealed class QuantizationAnalysis
{
    readonly MobileBertModel _model;
    readonly IReadOnlyList<ModelInput> _inputs;
    readonly List<(float[] Hidden, float[] Logits)> _reference = [];
    readonly int _threads;
    readonly Int8Path _kernel;

    /// <param name="int8Kernel">The int8 GEMM kernel the measured engines run (<see cref="InferenceOptions.Int8Kernel"/>).</param>
    public QuantizationAnalysis(MobileBertModel model, IReadOnlyList<ModelInput> calibration, int threads = 0, Int8Path int8Kernel = Int8Path.Auto)
    {
        _model = model; _inputs = calibration; _threads = threads; _kernel = int8Kernel;
        using var fp32 = new InferenceEngine(model, new InferenceOptions { Threads = threads });
        foreach (var input in calibration)
        {
            var r = fp32.Run(input);
            _reference.Add((r.LastHiddenState.ToArray(), r.Logits.ToArray()));
        }
    }

    /// <summary>Role of a Linear weight inside a layer ("qkv", "bottleneck.in", "attn.out", "ffn.up", "ffn.down", "bottleneck.out").</summary>
    public static string Role(string weightName)
    {
        if (weightName.Contains(".attention.self.", StringComparison.Ordinal)) return "qkv";
        if (weightName.Contains(".output.bottleneck.", StringComparison.Ordinal)) return "bottleneck.out";
        if (weightName.Contains(".bottleneck.", StringComparison.Ordinal)) return "bottleneck.in";
        if (weightName.Contains(".attention.output.", StringComparison.Ordinal)) return "attn.out";
        if (weightName.Contains("intermediate.dense", StringComparison.Ordinal)) return "ffn.up";
        return "ffn.down";
    }

    public static readonly string[] Roles = ["bottleneck.in", "qkv", "attn.out", "ffn.up", "ffn.down", "bottleneck.out"];

    /// <summary>Error of the engine with exactly these weights int8.</summary>
    public QuantError Measure(QuantizedWeights q)
    {
        using var engine = new InferenceEngine(_model, new InferenceOptions { Threads = _threads, Quantized = q, Int8Kernel = _kernel });
        double hMax = 0, hRms = 0, lMax = double.NaN;
        for (int i = 0; i < _inputs.Count; i++)
        {
            var r = engine.Run(_inputs[i]);
            var (h, l) = _reference[i];
            var (m, rms) = Err(h, r.LastHiddenState);
            hMax = Math.Max(hMax, m); hRms = Math.Max(hRms, rms);
            if (l.Length > 0) { var (lm, _) = Err(l, r.Logits); lMax = double.IsNaN(lMax) ? lm : Math.Max(lMax, lm); }
        }
        int int8 = 0, gemms = 0;
        foreach (var (_, isInt8) in engine.Linears()) { gemms++; if (isInt8) int8++; }
        return new QuantError(hMax, hRms, lMax, int8, gemms);
    }

    static (double Max, double Rms) Err(ReadOnlySpan<float> reference, ReadOnlySpan<float> x)
    {
        double maxRef = 0, maxDiff = 0, s2 = 0, r2 = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = x[i] - (double)reference[i];
            maxRef = Math.Max(maxRef, Math.Abs(reference[i])); maxDiff = Math.Max(maxDiff, Math.Abs(d));
            s2 += d * d; r2 += (double)reference[i] * reference[i];
        }
        return (maxRef > 0 ? maxDiff / maxRef : maxDiff, r2 > 0 ? Math.Sqrt(s2 / r2) : Math.Sqrt(s2));
    }

    /// <summary>Quantizes only the weights <paramref name="select"/> accepts (and the base policy allows).</summary>
    public QuantizedWeights Only(Func<string, bool> select, QuantizationPolicy? basePolicy = null)
    {
        var all = QuantizedWeights.Quantize(_model, basePolicy);
        var q = new QuantizedWeights();
        foreach (var n in all.Names) if (select(n)) q.Add(n, all[n]);
        return q;
    }

    /// <summary>Per layer: error with only that layer int8.</summary>
    public IReadOnlyList<(int Layer, QuantError Error)> PerLayer(QuantizationPolicy? basePolicy = null)
    {
        var res = new List<(int, QuantError)>();
        for (int l = 0; l < _model.Layers.Length; l++)
        {
            string prefix = $"{_model.BackbonePrefix}encoder.layer.{l}.";
            res.Add((l, Measure(Only(n => n.StartsWith(prefix, StringComparison.Ordinal), basePolicy))));
        }
        return res;
    }

    /// <summary>Per role (over all layers): error with only that role int8. A role whose Linears share a merged GEMM with
    /// another role's (e.g. MobileBERT's bottleneck input ‖ attention bottleneck ‖ value) cannot be int8 alone: its
    /// error reads 0 with 0 int8 GEMMs.</summary>
    public IReadOnlyList<(string Role, QuantError Error)> PerRole(QuantizationPolicy? basePolicy = null)
        => Roles.Select(r => (r, Measure(Only(n => Role(n) == r, basePolicy)))).ToList();

    /// <summary>
    /// Greedy selection: starting from the policy, keep the most sensitive layers (by <paramref name="perLayer"/>)
    /// fp32 one at a time until the error (hidden max, or logits when present) is ≤ <paramref name="maxError"/> or
    /// <paramref name="maxKeptLayers"/> are kept. Returns the policy and its error.
    /// </summary>
    public (QuantizationPolicy Policy, QuantError Error) KeepSensitiveLayers(
        QuantizationPolicy policy, IReadOnlyList<(int Layer, QuantError Error)> perLayer, double maxError, int maxKeptLayers)
    {
        static double Key(QuantError e) => double.IsNaN(e.LogitsRelMax) ? e.HiddenRelMax : e.LogitsRelMax;
        var order = perLayer.OrderByDescending(p => Key(p.Error)).Select(p => p.Layer).ToList();
        var err = Measure(QuantizedWeights.Quantize(_model, policy));
        int kept = 0;
        foreach (int l in order)
        {
            if (Key(err) <= maxError || kept >= maxKeptLayers) break;
            policy.KeepLayersFp32.Add(l); kept++;
            err = Measure(QuantizedWeights.Quantize(_model, policy));
        }
        return (policy, err);
    }
}
