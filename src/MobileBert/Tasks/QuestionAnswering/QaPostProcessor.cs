using System.Text;

namespace MobileBert.Tasks.QuestionAnswering;

/// <summary>Options of <see cref="QaPostProcessor"/> (HF <c>postprocess_qa_predictions</c> arguments).</summary>
public sealed record QaPostProcessOptions
{
    /// <summary>Top-k start and end logits considered per feature, and number of n-best answers kept (default 20).</summary>
    public int NBestSize { get; init; } = 20;

    /// <summary>Maximum answer length in tokens, <c>end − start + 1</c> (default 30).</summary>
    public int MaxAnswerLength { get; init; } = 30;

    /// <summary>SQuAD v2: the null answer competes (default false).</summary>
    public bool VersionTwoWithNegative { get; init; }

    /// <summary>v2: predict "" when <c>null_score − best_non_null_score</c> is strictly greater than this (default 0).</summary>
    public double NullScoreDiffThreshold { get; init; }
}

/// <summary>One n-best candidate (HF <c>nbest_predictions.json</c> entry).</summary>
public sealed record QaNBestEntry(string Text, double StartLogit, double EndLogit, double Probability)
{
    /// <summary><c>StartLogit + EndLogit</c>.</summary>
    public double Score => StartLogit + EndLogit;

    /// <summary>Character span in the context; (0, 0) for the null answer and the "empty" placeholder.</summary>
    public (int Start, int End) Offsets { get; init; }
}

/// <summary>Result of post-processing: <c>predictions.json</c>, <c>nbest_predictions.json</c>, <c>null_odds.json</c> contents.</summary>
public sealed class QaPredictions
{
    internal QaPredictions(Dictionary<string, string> predictions, Dictionary<string, IReadOnlyList<QaNBestEntry>> nbest,
        Dictionary<string, double>? nullOdds)
    {
        Predictions = predictions; NBest = nbest; NullOdds = nullOdds;
    }

    /// <summary>Question id → predicted answer text ("" = no answer), in example order.</summary>
    public IReadOnlyDictionary<string, string> Predictions { get; }

    /// <summary>Question id → candidates, best first.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<QaNBestEntry>> NBest { get; }

    /// <summary>v2 only: question id → <c>null_score − best_non_null_score</c> (HF <c>null_odds.json</c>); null for v1.</summary>
    public IReadOnlyDictionary<string, double>? NullOdds { get; }

    /// <summary>Writes <c>predictions.json</c>, <c>nbest_predictions.json</c> and (v2) <c>null_odds.json</c> to <paramref name="directory"/>, as HF
    /// does.</summary>
    /// <returns>The paths written.</returns>
    public IReadOnlyList<string> WriteAll(string directory, string? prefix = null, bool writeNBest = true)
    {
        Directory.CreateDirectory(directory);
        string Name(string n) => Path.Combine(directory, prefix is null ? n : $"{prefix}_{n}");
        var written = new List<string>();
        string p = Name("predictions.json");
        File.WriteAllText(p, PyJson.SerializePredictions(Predictions), new UTF8Encoding(false));
        written.Add(p);
        if (writeNBest)
        {
            p = Name("nbest_predictions.json");
            File.WriteAllText(p, PyJson.SerializeNBest(NBest), new UTF8Encoding(false));
            written.Add(p);
        }

        if (NullOdds is not null)
        {
            p = Name("null_odds.json");
            File.WriteAllText(p, PyJson.SerializeNullOdds(NullOdds), new UTF8Encoding(false));
            written.Add(p);
        }

        return written;
    }
}

/// <summary>
/// Turns per-feature start/end logits into answer texts like HF <c>utils_qa.postprocess_qa_predictions</c>: for each
/// example, over all its features, every pair of the top-<c>n</c> start and top-<c>n</c> end indices with both tokens in the
/// context (non-null offset), <c>end ≥ start</c> and <c>end − start + 1 ≤ max_answer_length</c> is a candidate scored
/// <c>start_logit + end_logit</c>; the answer text is the original context substring
/// <c>[offset(start).Start, offset(end).End)</c>. v2: the null score is the minimum over the example's features of
/// <c>start_logit[0] + end_logit[0]</c>, and "" is predicted when <c>null_score − best_non_null_score</c> exceeds the threshold.
/// </summary>
public static class QaPostProcessor
{
    /// <summary>Post-processes logits given per feature (<paramref name="startLogits"/>[f] has at least <see cref="QaFeature.Length"/> values;
    /// padding beyond is ignored).</summary>
    public static QaPredictions Process(QaFeatureSet features, IReadOnlyList<float[]> startLogits, IReadOnlyList<float[]> endLogits,
        QaPostProcessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(startLogits);
        ArgumentNullException.ThrowIfNull(endLogits);
        options ??= new QaPostProcessOptions();
        if (options.NBestSize < 1) throw new ArgumentException("NBestSize must be positive.", nameof(options));
        if (options.MaxAnswerLength < 1) throw new ArgumentException("MaxAnswerLength must be positive.", nameof(options));
        if (startLogits.Count != features.Features.Count || endLogits.Count != features.Features.Count)
            throw new ArgumentException($"Got {startLogits.Count} start and {endLogits.Count} end logit rows for {features.Features.Count} " +
                $"features.");

        var predictions = new Dictionary<string, string>(StringComparer.Ordinal);
        var nbestAll = new Dictionary<string, IReadOnlyList<QaNBestEntry>>(StringComparer.Ordinal);
        Dictionary<string, double>? nullOdds = options.VersionTwoWithNegative ? new(StringComparer.Ordinal) : null;
        bool v2 = options.VersionTwoWithNegative;

        for (int e = 0; e < features.Examples.Count; e++)
        {
            SquadExample example = features.Examples[e];
            var prelim = new List<Candidate>();
            Candidate? minNull = null;
            foreach (int fi in features.FeaturesPerExample[e])
            {
                QaFeature f = features.Features[fi];
                float[] s = startLogits[fi], en = endLogits[fi];
                if (s.Length < f.Length || en.Length < f.Length)
                    throw new ArgumentException($"Feature {fi} has {f.Length} tokens but {s.Length} start / {en.Length} end logits.");
                double nullScore = (double)s[0] + en[0];
                if (minNull is null || minNull.Value.Score > nullScore)
                    minNull = new Candidate(0, 0, nullScore, s[0], en[0], IsNull: true);

                // Only the feature's own positions compete: padding logits (batch rows longer than the feature) are ignored,
                // so junk there cannot crowd real tokens out of the top-k (HF argsorts the padded row).
                int[] starts = TopK(s.AsSpan(0, f.Length), options.NBestSize);
                int[] ends = TopK(en.AsSpan(0, f.Length), options.NBestSize);
                IReadOnlyList<(int Start, int End)?> map = f.OffsetMapping;
                foreach (int si in starts)
                {
                    foreach (int ei in ends)
                    {
                        if (si >= map.Count || ei >= map.Count || map[si] is null || map[ei] is null) continue;
                        if (ei < si || ei - si + 1 > options.MaxAnswerLength) continue;
                        prelim.Add(new Candidate(map[si]!.Value.Start, map[ei]!.Value.End, (double)s[si] + en[ei], s[si], en[ei], IsNull: false));
                    }
                }
            }

            double nullScoreOfExample = 0;
            if (v2 && minNull is { } mn)
            {
                prelim.Add(mn);
                nullScoreOfExample = mn.Score;
            }

            // Python's sorted(..., reverse=True) is stable: equal scores keep their insertion order.
            List<Candidate> best = prelim.Select((c, i) => (c, i)).OrderByDescending(x => x.c.Score).ThenBy(x => x.i)
                .Take(options.NBestSize).Select(x => x.c).ToList();
            if (v2 && minNull is { } mn2 && !best.Any(c => c.Begin == 0 && c.End == 0))
                best.Add(mn2);

            var entries = best.Select(c => (Text: example.Context[c.Begin..c.End], c)).ToList();
            if (entries.Count == 0 || (entries.Count == 1 && entries[0].Text.Length == 0))
                entries.Insert(0, ("empty", new Candidate(0, 0, 0, 0, 0, IsNull: false)));

            double max = entries.Max(x => x.c.Score);
            double[] exp = entries.Select(x => Math.Exp(x.c.Score - max)).ToArray();
            double sum = exp.Sum();
            var nbest = entries.Select((x, i) => new QaNBestEntry(x.Text, x.c.StartLogit, x.c.EndLogit, exp[i] / sum) {
                Offsets = (x.c.Begin, x.c.End) }).ToList();

            if (!v2)
            {
                predictions[example.Id] = nbest[0].Text;
            }
            else
            {
                int i = 0;
                while (i < nbest.Count && nbest[i].Text.Length == 0) i++;
                // HF would raise IndexError if every candidate were empty; that cannot happen because "empty" is inserted above
                // unless several zero-length candidates exist, in which case we fall back to the null answer.
                QaNBestEntry? bestNonNull = i < nbest.Count ? nbest[i] : null;
                double diff = bestNonNull is null ? double.PositiveInfinity : nullScoreOfExample - bestNonNull.StartLogit - bestNonNull.EndLogit;
                nullOdds![example.Id] = diff;
                predictions[example.Id] = diff > options.NullScoreDiffThreshold || bestNonNull is null ? "" : bestNonNull.Text;
            }

            nbestAll[example.Id] = nbest;
        }

        return new QaPredictions(predictions, nbestAll, nullOdds);
    }

    /// <summary>
    /// Post-processes logits of whole batches: <paramref name="startLogits"/> is row-major <c>[F, seq]</c> where row <c>f</c>
    /// belongs to <c>features.Features[f]</c> (e.g. gathered with <see cref="QaLogitCollector"/>).
    /// </summary>
    public static QaPredictions Process(QaFeatureSet features, float[] startLogits, float[] endLogits, int seq, QaPostProcessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(startLogits);
        ArgumentNullException.ThrowIfNull(endLogits);
        int n = features.Features.Count;
        if (seq <= 0 || startLogits.Length != n * seq || endLogits.Length != n * seq)
            throw new ArgumentException($"Expected {n}×{seq} logits, got {startLogits.Length} start and {endLogits.Length} end values.");
        var s = new float[n][];
        var e = new float[n][];
        for (int f = 0; f < n; f++)
        {
            s[f] = startLogits.AsSpan(f * seq, seq).ToArray();
            e[f] = endLogits.AsSpan(f * seq, seq).ToArray();
        }

        return Process(features, s, e, options);
    }

    private readonly record struct Candidate(int Begin, int End, double Score, double StartLogit, double EndLogit, bool IsNull);

    /// <summary>Indices of the <paramref name="k"/> largest values, largest first; ties by lower index.</summary>
    internal static int[] TopK(ReadOnlySpan<float> values, int k)
    {
        k = Math.Min(k, values.Length);
        var idx = new int[k];
        var val = new float[k];
        int n = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (n == k && !(v > val[n - 1])) continue; // not better than the current k-th (ties keep the lower index)
            int j = n < k ? n++ : n - 1;
            while (j > 0 && v > val[j - 1])
            {
                idx[j] = idx[j - 1];
                val[j] = val[j - 1];
                j--;
            }

            idx[j] = i;
            val[j] = v;
        }

        return idx;
    }
}

/// <summary>Gathers the QA logits of evaluation batches (<c>[B, S]</c> per batch) into one row per feature.</summary>
public sealed class QaLogitCollector
{
    private readonly float[][] _start, _end;
    private readonly bool[] _seen;

    public QaLogitCollector(QaFeatureSet features)
    {
        ArgumentNullException.ThrowIfNull(features);
        Features = features;
        _start = new float[features.Features.Count][];
        _end = new float[features.Features.Count][];
        _seen = new bool[features.Features.Count];
    }

    public QaFeatureSet Features { get; }

    /// <summary>Stores the logits of a batch: row <c>b</c> of the <c>[B, S]</c> arrays belongs to <c>batch.FeatureIndices[b]</c>.</summary>
    public void Add(QaBatch batch, float[] startLogits, float[] endLogits)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int b = batch.Input.Batch, s = batch.Input.Seq;
        if (startLogits.Length != b * s || endLogits.Length != b * s)
            throw new ArgumentException($"Expected {b}×{s} logits, got {startLogits.Length} start and {endLogits.Length} end values.");
        for (int r = 0; r < b; r++)
        {
            int f = batch.FeatureIndices[r];
            _start[f] = startLogits.AsSpan(r * s, s).ToArray();
            _end[f] = endLogits.AsSpan(r * s, s).ToArray();
            _seen[f] = true;
        }
    }

    /// <summary>Whether every feature has logits.</summary>
    public bool IsComplete => Array.TrueForAll(_seen, x => x);

    /// <summary>Post-processes the collected logits.</summary>
    /// <exception cref="InvalidOperationException">Some features have no logits yet.</exception>
    public QaPredictions Finish(QaPostProcessOptions? options = null)
    {
        int missing = Array.IndexOf(_seen, false);
        if (missing >= 0) throw new InvalidOperationException($"Feature {missing} (example '{Features.Features[missing].ExampleId}') has no " +
            $"logits; {_seen.Count(x => !x)} features are missing.");
        return QaPostProcessor.Process(Features, _start, _end, options);
    }
}
