using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>Hyper-parameters of <see cref="AdamW"/> (defaults: torch.optim.AdamW).</summary>
public sealed record AdamWOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>true (torch default): weight decay on every parameter. false: the BERT convention, biases and norms
    /// (<see cref="ParameterSelector.BiasesAndNorms"/>) are not decayed. Only initialises
    /// <see cref="ParameterSettings.WeightDecay"/>; <see cref="Optimizer.Groups"/> can change it per parameter.</summary>
    public bool DecayBiasesAndNorms { get; init; } = true;

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
/// AdamW exactly as torch.optim.AdamW (torch 1.13 <c>_single_tensor_adamw</c>), per parameter with its own step t:
/// <code>
/// p ← p·(1 − lr·wd)                       (decoupled decay first; skipped for parameters without weight decay)
/// m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
/// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
/// </code>
/// in float32 with the scalars computed in double and cast to float, as torch does. lr is the step's learning rate
/// times the parameter's multiplier. Frozen parameters are skipped entirely (torch: grad None).
/// </summary>
public sealed class AdamW : Optimizer
{
    public AdamW(ParameterStore store, AdamWOptions? options = null) : base(store)
    {
        Options = options ?? new AdamWOptions();
        if (!Options.DecayBiasesAndNorms) Groups.SetWeightDecay(ParameterSelector.BiasesAndNorms, false);
    }

    public override string Kind => "adamw";
    /// <summary>Hyper-parameters; may be replaced between steps (the weight-decay flags in <see cref="Optimizer.Groups"/> are not
    /// re-derived).</summary>
    public AdamWOptions Options
    {
        get => _options;
        set { ArgumentNullException.ThrowIfNull(value); value.Validate(); _options = value; }
    }
    AdamWOptions _options = null!;

    private protected override void Apply(double lr)
    {
        var o = Options; var settings = Groups.Raw; var steps = ParameterSteps;
        var runs = BuildRuns((a, b) => settings[a] == settings[b] && steps[a] == steps[b]);
        var scalars = new OptimizerKernels.AdamWScalars[runs.Count];
        for (int r = 0; r < runs.Count; r++)
        {
            var s = settings[runs[r].First];
            double t = steps[runs[r].First] + 1, plr = lr * s.LrMultiplier;
            double bc1 = 1 - Math.Pow(o.Beta1, t), bc2 = 1 - Math.Pow(o.Beta2, t);
            bool decay = s.WeightDecay && o.WeightDecay != 0;
            scalars[r] = new((float)(1 - plr * o.WeightDecay), (float)o.Beta1, (float)(1 - o.Beta1), (float)o.Beta2, (float)(1 - o.Beta2),
                (float)Math.Sqrt(bc2), (float)o.Eps, (float)(-(plr / bc1)), decay);
        }
        var chunks = Chunks(runs);
        float[] p = Store.Data, g = Store.Grad!, m = FirstMoment, v = SecondMoment;
        ForEach(chunks.Count, c =>
        {
            var ch = chunks[c]; int s = (int)ch.Start, n = ch.Length;
            OptimizerKernels.AdamW(p.AsSpan(s, n), g.AsSpan(s, n), m.AsSpan(s, n), v.AsSpan(s, n), scalars[ch.Run]);
        });
    }

    internal override IReadOnlyDictionary<string, double> HyperParameters() => new Dictionary<string, double>
    {
        ["beta1"] = Options.Beta1, ["beta2"] = Options.Beta2, ["eps"] = Options.Eps, ["weight_decay"] = Options.WeightDecay,
        ["decay_biases_and_norms"] = Options.DecayBiasesAndNorms ? 1 : 0,
    };

    internal override void RestoreHyperParameters(IReadOnlyDictionary<string, double> h, string source)
    {
        var o = new AdamWOptions
        {
            Beta1 = OptimizerState.Get(h, "beta1", source), Beta2 = OptimizerState.Get(h, "beta2", source),
                Eps = OptimizerState.Get(h, "eps", source),
            WeightDecay = OptimizerState.Get(h, "weight_decay", source), DecayBiasesAndNorms =
                OptimizerState.Get(h, "decay_biases_and_norms", source) != 0,
        };
        Options = o;
    }
}
