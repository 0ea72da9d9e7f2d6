using System.Globalization;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>
/// <c>--class-weight</c>: per-label weights of the cross-entropy (PyTorch's <c>weight</c>, see
/// <see cref="Training.Losses.CrossEntropy"/>). "balanced": n / (k·n_c) from the training labels (scikit-learn);
/// "1,5": one positive weight per label, in label-id order.
/// </summary>
public static class ClassWeights
{
    public static float[]? Resolve(string? spec, TaskInfo info, ClassBalance? balance)
    {
        if (string.IsNullOrWhiteSpace(spec)) return null;
        if (info.Kind != TaskInfoKind.Classification)
            throw new SettingException($"ClassWeight applies to classification; task '{info.Task}' is " +
                $"{info.Kind.ToString().ToLowerInvariant()}.", "ClassWeight");
        if (spec.Trim().Equals("balanced", StringComparison.OrdinalIgnoreCase))
            return (balance ?? throw new InvalidOperationException("balanced class weights need the training label " +
                "counts.")).BalancedWeights(info.Labels);
        var parts = spec.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != info.Labels.Count)
            throw new SettingException($"ClassWeight {spec}: {parts.Length} weight(s) for {info.Labels.Count} labels " +
                $"({string.Join(", ", info.Labels)}, in that order).", "ClassWeight");
        var w = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out w[i]) || !(w[i] > 0) || !float.IsFinite(w[i]))
                throw new SettingException($"ClassWeight {spec}: weight {i + 1} ('{parts[i]}', label '{info.Labels[i]}') must be a " +
                    "positive number.", "ClassWeight");
        return w;
    }

    public static string Describe(IReadOnlyList<float> weights, IReadOnlyList<string> labels) =>
        string.Join(", ", weights.Select((w, i) => string.Create(CultureInfo.InvariantCulture, $"{labels[i]} {w:0.###}")));
}
