using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>Hyper-parameters of <see cref="Lamb"/> (defaults: the MobileBERT / BERT reference <c>LAMBOptimizer</c>).</summary>
public sealed record LambOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    /// <summary>1e-6 as in the reference (added to √v, outside the square root).</summary>
    public double Eps { get; init; } = 1e-6;
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>false (reference): m and v are used as they are. true (NVIDIA NVLAMB / the LAMB paper's Algorithm 2):
    /// m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).</summary>
    public bool BiasCorrection { get; init; }
    /// <summary>true (reference): biases and norm parameters (<see cref="ParameterSelector.BiasesAndNorms"/>) get no
    /// weight decay and trust ratio 1. Only initialises the flags in <see cref="Optimizer.Groups"/>.</summary>
    public bool ExcludeBiasesAndNorms { get; init; } = true;

    internal void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β1 must be in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β2 must be in [0, 1).");
        if (!(Eps >= 0) || !double.IsFinite(Eps)) throw new ArgumentOutOfRangeException(nameof(Eps), Eps, "eps must be finite and ≥ 0.");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(
            nameof(WeightDecay), WeightDecay, "Weight decay must be finite and ≥ 0.");
    }
}

/// <summary>
/// LAMB as in the MobileBERT reference code (google-research <c>mobilebert/lamb_optimizer.py</c>, itself the BERT
/// LAMB of You et al. 2019), per parameter tensor w with gradient g:
/// <code>
/// m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²           (NO bias correction, as the reference; optional)
/// u ← m / (√v + eps) + wd·w                              (wd only for parameters with weight decay)
/// r ← ‖w‖ / ‖u‖  if both norms &gt; 0, else 1             (only for parameters with trust ratio, else 1)
/// w ← w − lr·r·u
/// </code>
/// Why this variant: it is what MobileBERT (and BERT's LAMB) was trained with — eps 1e-6, no bias correction, the
/// exclusion list ["LayerNorm", "layer_norm", "bias", "FakeLayerNorm"] applied to weight decay AND, because
/// <c>exclude_from_layer_adaptation</c> defaults to it, to the trust ratio. No global gradient pre-normalisation (that is
/// NVIDIA's NVLAMB; the reference instead clips the global norm to 1.0 before the step — use
/// <see cref="GradientClipper"/>). NVLAMB's bias correction is available through <see cref="LambOptions.BiasCorrection"/>.
/// Norms are accumulated in double; the element-wise math is float32. The reference's layer-wise warm-up gate is
/// expressed here with <see cref="ParameterGroups"/> (frozen parameters: no update, moments untouched).
/// </summary>
public sealed class Lamb : Optimizer
{
    public Lamb(ParameterStore store, LambOptions? options = null) : base(store)
    {
        Options = options ?? new LambOptions();
        if (Options.ExcludeBiasesAndNorms)
            Groups.SetWeightDecay(ParameterSelector.BiasesAndNorms, false).SetTrustRatio(ParameterSelector.BiasesAndNorms, false);
    }

    public override string Kind => "lamb";

    /// <summary>Hyper-parameters; may be replaced between steps (the flags in <see cref="Optimizer.Groups"/> are not re-derived).</summary>
    public LambOptions Options
    {
        get => _options;
        set { ArgumentNullException.ThrowIfNull(value); value.Validate(); _options = value; }
    }
    LambOptions _options = null!;

    /// <summary>Trust ratios used by the last step, by parameter index (1 for parameters without adaptation, NaN for frozen ones).</summary>
    public IReadOnlyList<double> LastTrustRatios => _lastRatios;
    double[] _lastRatios = [];

    private protected override void Apply(double lr)
    {
        var o = Options; var settings = Groups.Raw; var steps = ParameterSteps; var ps = Store.Parameters;
        // A parameter with trust ratio is a run of its own (its norms are per tensor); the others coalesce.
        var runs = BuildRuns((a, b) => !settings[a].TrustRatio && settings[a] == settings[b] && steps[a] == steps[b]);
        var scalars = new OptimizerKernels.LambScalars[runs.Count];
        for (int r = 0; r < runs.Count; r++)
        {
            var s = settings[runs[r].First];
            double t = steps[runs[r].First] + 1;
            scalars[r] = new((float)o.Beta1, (float)(1 - o.Beta1), (float)o.Beta2, (float)(1 - o.Beta2),
                (float)(1 / (1 - Math.Pow(o.Beta1, t))), (float)(1 / (1 - Math.Pow(o.Beta2, t))), (float)o.Eps,
                s.WeightDecay ? (float)o.WeightDecay : 0f, o.BiasCorrection);
        }
        var chunks = Chunks(runs);
        float[] w = Store.Data, g = Store.Grad!, m = FirstMoment, v = SecondMoment;
        var partial = new (double W2, double U2)[chunks.Count];
        ForEach(chunks.Count, c =>
        {
            var ch = chunks[c]; int s = (int)ch.Start, n = ch.Length;
            var set = settings[runs[ch.Run].First];
            bool adapt = set.TrustRatio;
            float direct = adapt ? 0f : (float)(lr * set.LrMultiplier);
            partial[c] = OptimizerKernels.LambMoments(w.AsSpan(s, n), g.AsSpan(s, n), m.AsSpan(s, n), v.AsSpan(s, n), scalars[ch.Run], adapt, direct);
        });

        // Per-tensor norms: chunk partial sums added in chunk order (independent of the thread count).
        var ratios = new double[ps.Count];
        Array.Fill(ratios, double.NaN);
        var runLr = new float[runs.Count];
        var w2 = new double[runs.Count]; var u2 = new double[runs.Count];
        for (int c = 0; c < chunks.Count; c++) { w2[chunks[c].Run] += partial[c].W2; u2[chunks[c].Run] += partial[c].U2; }
        for (int r = 0; r < runs.Count; r++)
        {
            var s = settings[runs[r].First];
            double ratio = 1;
            if (s.TrustRatio)
            {
                double wn = Math.Sqrt(w2[r]), un = Math.Sqrt(u2[r]);
                ratio = wn > 0 && un > 0 ? wn / un : 1.0;
                runLr[r] = (float)(lr * s.LrMultiplier * ratio);
            }
            for (int i = runs[r].First; i <= runs[r].Last; i++) ratios[i] = ratio;
        }
        _lastRatios = ratios;
        ForEach(chunks.Count, c =>
        {
            var ch = chunks[c];
            if (!settings[runs[ch.Run].First].TrustRatio) return;
            int s = (int)ch.Start, n = ch.Length;
            OptimizerKernels.LambApply(w.AsSpan(s, n), m.AsSpan(s, n), v.AsSpan(s, n), scalars[ch.Run], runLr[ch.Run]);
        });
    }

    internal override IReadOnlyDictionary<string, double> HyperParameters() => new Dictionary<string, double>
    {
        ["beta1"] = Options.Beta1, ["beta2"] = Options.Beta2, ["eps"] = Options.Eps, ["weight_decay"] = Options.WeightDecay,
        ["bias_correction"] = Options.BiasCorrection ? 1 : 0, ["exclude_biases_and_norms"] = Options.ExcludeBiasesAndNorms ? 1 : 0,
    };

    internal override void RestoreHyperParameters(IReadOnlyDictionary<string, double> h, string source) => Options = new LambOptions
    {
        Beta1 = OptimizerState.Get(h, "beta1", source), Beta2 = OptimizerState.Get(h, "beta2", source), Eps = OptimizerState.Get(h, "eps", source),
        WeightDecay = OptimizerState.Get(h, "weight_decay", source), BiasCorrection = OptimizerState.Get(h, "bias_correction", source) != 0,
        ExcludeBiasesAndNorms = OptimizerState.Get(h, "exclude_biases_and_norms", source) != 0,
    };
}
