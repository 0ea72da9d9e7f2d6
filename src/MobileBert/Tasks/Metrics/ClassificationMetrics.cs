namespace MobileBert.Tasks.Metrics;

/// <summary>
/// Classification metrics defined exactly as scikit-learn defines them (the definitions GLUE uses).
/// Predictions and labels are label ids; both lists must have the same, non-zero length.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Fraction of positions where <paramref name="predictions"/> equals <paramref name="labels"/> (sklearn
    /// <c>accuracy_score</c>).</summary>
    public static double Accuracy(IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        Check(predictions, labels);
        int correct = 0;
        for (int i = 0; i < labels.Count; i++) if (predictions[i] == labels[i]) correct++;
        return (double)correct / labels.Count;
    }

    /// <summary>
    /// Binary F1 of the class <paramref name="positiveLabel"/> (sklearn <c>f1_score(average="binary", pos_label=1)</c>):
    /// <c>2·TP / (2·TP + FP + FN)</c>. When there is no true positive (including no positive prediction at all, or no
    /// positive anywhere) the F1 is 0, as sklearn's <c>zero_division="warn"</c> returns.
    /// </summary>
    public static double F1(IReadOnlyList<int> predictions, IReadOnlyList<int> labels, int positiveLabel = 1)
    {
        Check(predictions, labels);
        var (tp, fp, fn) = Counts(predictions, labels, positiveLabel);
        return tp == 0 ? 0.0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    /// <summary>Precision of <paramref name="positiveLabel"/>: TP / (TP + FP), 0 when nothing is predicted positive (sklearn).</summary>
    public static double Precision(IReadOnlyList<int> predictions, IReadOnlyList<int> labels, int positiveLabel = 1)
    {
        Check(predictions, labels);
        var (tp, fp, _) = Counts(predictions, labels, positiveLabel);
        return tp + fp == 0 ? 0.0 : (double)tp / (tp + fp);
    }

    /// <summary>Recall of <paramref name="positiveLabel"/>: TP / (TP + FN), 0 when there is no positive label (sklearn).</summary>
    public static double Recall(IReadOnlyList<int> predictions, IReadOnlyList<int> labels, int positiveLabel = 1)
    {
        Check(predictions, labels);
        var (tp, _, fn) = Counts(predictions, labels, positiveLabel);
        return tp + fn == 0 ? 0.0 : (double)tp / (tp + fn);
    }

    /// <summary>
    /// Unweighted mean of the per-class F1 over the classes that occur in <paramref name="labels"/> or
    /// <paramref name="predictions"/> (sklearn <c>f1_score(average="macro")</c> with <c>labels=None</c>).
    /// </summary>
    public static double MacroF1(IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        Check(predictions, labels);
        var classes = new SortedSet<int>(labels);
        classes.UnionWith(predictions);
        double sum = 0;
        foreach (int c in classes) sum += F1(predictions, labels, c);
        return sum / classes.Count;
    }

    /// <summary>
    /// Matthews correlation coefficient, multi-class form (sklearn <c>matthews_corrcoef</c>, Gorodkin's R_K):
    /// <c>(c·s − Σ t_k p_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))</c>. Returns 0 when the denominator is 0 — e.g. constant
    /// predictions or constant labels — as sklearn does.
    /// </summary>
    public static double MatthewsCorrelation(IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        Check(predictions, labels);
        var t = new Dictionary<int, long>();
        var p = new Dictionary<int, long>();
        long c = 0, s = labels.Count;
        for (int i = 0; i < labels.Count; i++)
        {
            t[labels[i]] = t.GetValueOrDefault(labels[i]) + 1;
            p[predictions[i]] = p.GetValueOrDefault(predictions[i]) + 1;
            if (labels[i] == predictions[i]) c++;
        }

        double tp = 0, pp = 0, tt = 0;
        foreach (var (k, tk) in t) { tt += (double)tk * tk; tp += (double)tk * p.GetValueOrDefault(k); }
        foreach (var pk in p.Values) pp += (double)pk * pk;
        double cov = (double)c * s - tp;
        double covPred = (double)s * s - pp;
        double covTrue = (double)s * s - tt;
        if (covPred * covTrue == 0) return 0.0;
        return cov / Math.Sqrt(covTrue * covPred);
    }

    /// <summary>Index of the largest logit of each row of a row-major <c>[n, numLabels]</c> array (first index on ties, as numpy
    /// <c>argmax</c>).</summary>
    public static int[] Argmax(ReadOnlySpan<float> logits, int numLabels)
    {
        if (numLabels <= 0) throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "Must be positive.");
        if (logits.Length % numLabels != 0) throw new ArgumentException($"{logits.Length} logits are not a multiple of {numLabels} labels.",
            nameof(logits));
        var result = new int[logits.Length / numLabels];
        for (int i = 0; i < result.Length; i++)
        {
            var row = logits.Slice(i * numLabels, numLabels);
            int best = 0;
            for (int j = 1; j < numLabels; j++) if (row[j] > row[best]) best = j;
            result[i] = best;
        }
        return result;
    }

    private static (long Tp, long Fp, long Fn) Counts(IReadOnlyList<int> predictions, IReadOnlyList<int> labels, int positive)
    {
        long tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            bool pred = predictions[i] == positive, gold = labels[i] == positive;
            if (pred && gold) tp++;
            else if (pred) fp++;
            else if (gold) fn++;
        }
        return (tp, fp, fn);
    }

    internal static void Check<T>(IReadOnlyList<T> predictions, IReadOnlyList<T> labels)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(labels);
        if (predictions.Count != labels.Count)
            throw new ArgumentException($"{predictions.Count} predictions but {labels.Count} labels.", nameof(predictions));
        if (labels.Count == 0) throw new ArgumentException("Metrics need at least one example.", nameof(labels));
    }
}
