using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>
/// The one place an optimizer kind (the <c>--optimizer</c> value, the <c>optimizer</c> field of a state file) becomes an
/// optimizer, with the BERT convention of no weight decay on biases and norms: <c>lamb</c> = <see cref="Lamb"/> (the
/// MobileBERT reference: also trust ratio 1 for them), <c>adamw</c> = <see cref="AdamW"/> with
/// <see cref="AdamWOptions.DecayBiasesAndNorms"/> off. Every other hyper-parameter keeps its default.
/// </summary>
public static class OptimizerFactory
{
    public static IReadOnlyList<string> Kinds { get; } = ["lamb", "adamw"];

    public static bool IsKnown(string? kind) => kind is not null && Kinds.Contains(kind);

    /// <summary>Throws "SETTING must be lamb or adamw, got 'KIND'." (a <see cref="SettingException"/>) for an unknown kind.</summary>
    public static void Check(string? kind, string setting = "Optimizer")
    {
        if (!IsKnown(kind)) throw new SettingException($"{setting} must be {string.Join(" or ", Kinds)}, got '{kind}'.", setting);
    }

    /// <summary>A fresh optimizer of <paramref name="kind"/> over <paramref name="store"/> (moments zero, step 0).</summary>
    public static Optimizer Create(string kind, ParameterStore store, double weightDecay = 0.01, int threads = 1, string setting = "Optimizer")
    {
        Check(kind, setting);
        Optimizer optimizer = kind == "lamb"
            ? new Lamb(store, new LambOptions { WeightDecay = weightDecay })
            : new AdamW(store, new AdamWOptions { WeightDecay = weightDecay, DecayBiasesAndNorms = false });
        optimizer.Threads = threads;
        return optimizer;
    }
}
