namespace MobileBert.Tasks.Classification;

/// <summary>
/// How often each label occurs in a training set: the minority class (the positive class of a binary user task's F1,
/// the default model-selection metric) and the balanced class weights of <c>--class-weight balanced</c>.
/// </summary>
public sealed record ClassBalance
{
    /// <summary>A class is a minority class when its share is below this fraction of the uniform share 1/k (binary: under 40 %).</summary>
    public const double MinorityFactor = 0.8;

    public ClassBalance(IReadOnlyList<int> counts)
    {
        if (counts.Count < 2) throw new ArgumentException($"ClassBalance needs at least two classes, got {counts.Count}.");
        if (counts.Any(c => c < 0)) throw new ArgumentException("ClassBalance: counts must be ≥ 0.");
        Counts = counts;
        Total = counts.Sum();
    }

    /// <summary>Examples per label id.</summary>
    public IReadOnlyList<int> Counts { get; }
    public int Total { get; }
    public int Classes => Counts.Count;

    /// <summary>Label counts of <paramref name="labelIds"/> (ids in [0, classes)).</summary>
    public static ClassBalance Of(IEnumerable<int> labelIds, int classes)
    {
        var counts = new int[classes];
        foreach (int y in labelIds)
        {
            if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labelIds), y, $"Label id {y} is outside [0, {classes}).");
            counts[y]++;
        }
        return new ClassBalance(counts);
    }

    public double Share(int label) => Total == 0 ? 0 : (double)Counts[label] / Total;

    /// <summary>The least frequent label (ties: the highest id, so a balanced binary task keeps id 1).</summary>
    public int Smallest
    {
        get
        {
            int best = Classes - 1;
            for (int c = Classes - 2; c >= 0; c--) if (Counts[c] < Counts[best]) best = c;
            return best;
        }
    }

    /// <summary>Whether some class is a minority class (share below <see cref="MinorityFactor"/>/k).</summary>
    public bool IsImbalanced => Total > 0 && Share(Smallest) < MinorityFactor / Classes;

    /// <summary>scikit-learn's "balanced" weights n / (k·n_c). A class without examples has no finite weight: an error naming it.</summary>
    public float[] BalancedWeights(IReadOnlyList<string>? labels = null)
    {
        var w = new float[Classes];
        for (int c = 0; c < Classes; c++)
        {
            if (Counts[c] == 0)
                throw new InvalidDataException($"balanced class weights: label '{(labels is null ? c.ToString() : labels[c])}' has no training " +
                    $"example; give explicit weights.");
            w[c] = (float)((double)Total / (Classes * Counts[c]));
        }
        return w;
    }

    /// <summary>"label count (share), …" in label-id order.</summary>
    public string Describe(IReadOnlyList<string> labels) => string.Join(", ", Counts.Select((n, c) => $"{labels[c]} {n} ({Share(c):P1})"));
}
