using System.Globalization;
using System.Text;

namespace MobileBert.Tasks.QuestionAnswering;

/// <summary>
/// The official SQuAD evaluation scripts (<c>evaluate-v1.1.py</c> and <c>evaluate-v2.0.py</c>) in C#, with their exact
/// normalisation (Python 3 semantics: <c>str.lower</c>, ASCII <c>string.punctuation</c>, Unicode <c>\b(a|an|the)\b</c>,
/// <c>str.split()</c> on Unicode whitespace) and key names.
/// </summary>
public static class SquadEvaluation
{
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"; // Python string.punctuation

    /// <summary>
    /// Official <c>normalize_answer</c>: lower-case, remove ASCII punctuation, replace the articles a/an/the (whole words)
    /// by a space, then collapse whitespace (<c>' '.join(text.split())</c>).
    /// </summary>
    public static string NormalizeAnswer(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return WhiteSpaceFix(RemoveArticles(RemovePunctuation(PyLower(s))));
    }

    /// <summary>The normalised answer split on whitespace (v2 <c>get_tokens</c>; v1 <c>normalize_answer(s).split()</c>).</summary>
    public static string[] GetTokens(string s) => s.Length == 0 ? [] : PySplit(NormalizeAnswer(s));

    /// <summary>v1.1 <c>exact_match_score</c> / v2.0 <c>compute_exact</c> (identical): normalised strings equal.</summary>
    public static bool ExactMatch(string prediction, string groundTruth) =>
        string.Equals(NormalizeAnswer(prediction), NormalizeAnswer(groundTruth), StringComparison.Ordinal);

    /// <summary>v1.1 <c>f1_score</c>: token-overlap F1 of normalised tokens (0 when either side has no tokens).</summary>
    public static double F1V1(string prediction, string groundTruth) => F1(GetTokens(prediction), GetTokens(groundTruth), emptyAgreementIsOne: false);

    /// <summary>v2.0 <c>compute_f1(a_gold, a_pred)</c>: as v1.1, except that when either side has no tokens the score is 1 if both have none, else
    /// 0.</summary>
    public static double F1V2(string groundTruth, string prediction) => F1(GetTokens(prediction), GetTokens(groundTruth), emptyAgreementIsOne: true);

    private static double F1(string[] pred, string[] gold, bool emptyAgreementIsOne)
    {
        if (emptyAgreementIsOne && (pred.Length == 0 || gold.Length == 0)) return pred.Length == 0 && gold.Length == 0 ? 1 : 0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string t in gold) counts[t] = counts.GetValueOrDefault(t) + 1;
        int same = 0;
        foreach (string t in pred)
        {
            if (counts.TryGetValue(t, out int c) && c > 0)
            {
                counts[t] = c - 1;
                same++;
            }
        }

        if (same == 0) return 0;
        double precision = 1.0 * same / pred.Length, recall = 1.0 * same / gold.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>
    /// <c>evaluate-v1.1.py</c>: for every question, the maximum EM and F1 over its gold answers; questions without a
    /// prediction score 0 (the script prints a warning). Returns <c>{"exact_match", "f1"}</c> in percent.
    /// </summary>
    /// <param name="missing">Ids of questions that had no prediction.</param>
    /// <exception cref="ArgumentException">A question has no gold answers (the v1.1 script fails on <c>max()</c> of nothing; use <see
    /// cref="EvaluateV2"/>).</exception>
    public static IReadOnlyDictionary<string, double> EvaluateV1(IReadOnlyList<SquadExample> dataset, IReadOnlyDictionary<string, string> predictions,
        out IReadOnlyList<string> missing)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(predictions);
        double em = 0, f1 = 0;
        int total = 0;
        var miss = new List<string>();
        foreach (SquadExample qa in dataset)
        {
            total++;
            if (!predictions.TryGetValue(qa.Id, out string? pred))
            {
                miss.Add(qa.Id);
                continue;
            }

            if (qa.Answers.Count == 0)
                throw new ArgumentException($"Question '{qa.Id}' has no gold answers; the SQuAD v1.1 evaluation needs at least one (use EvaluateV2 " +
                    $"for SQuAD 2.0 data).");
            em += qa.Answers.Max(a => ExactMatch(pred, a.Text) ? 1.0 : 0.0);
            f1 += qa.Answers.Max(a => F1V1(pred, a.Text));
        }

        missing = miss;
        if (total == 0) throw new ArgumentException("The dataset has no questions.");
        return new Dictionary<string, double> { ["exact_match"] = 100.0 * em / total, ["f1"] = 100.0 * f1 / total };
    }

    /// <inheritdoc cref="EvaluateV1(IReadOnlyList{SquadExample}, IReadOnlyDictionary{string, string}, out IReadOnlyList{string})"/>
    public static IReadOnlyDictionary<string, double> EvaluateV1(IReadOnlyList<SquadExample> dataset,
        IReadOnlyDictionary<string, string> predictions) =>
        EvaluateV1(dataset, predictions, out _);

    /// <summary>Per-question raw scores of <c>evaluate-v2.0.py</c> (<c>get_raw_scores</c>).</summary>
    /// <remarks>Gold answers that normalise to "" are ignored; a question with none left has the single gold answer "".</remarks>
    public static (Dictionary<string, double> Exact, Dictionary<string, double> F1) GetRawScoresV2(
        IReadOnlyList<SquadExample> dataset, IReadOnlyDictionary<string, string> predictions)
    {
        var exact = new Dictionary<string, double>(StringComparer.Ordinal);
        var f1 = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (SquadExample qa in dataset)
        {
            var gold = qa.Answers.Select(a => a.Text).Where(t => NormalizeAnswer(t).Length > 0).ToList();
            if (gold.Count == 0) gold.Add("");
            if (!predictions.TryGetValue(qa.Id, out string? pred)) continue;
            exact[qa.Id] = gold.Max(a => ExactMatch(pred, a) ? 1.0 : 0.0);
            f1[qa.Id] = gold.Max(a => F1V2(a, pred));
        }

        return (exact, f1);
    }

    /// <summary>
    /// <c>evaluate-v2.0.py</c>: returns <c>exact, f1, total</c>, then <c>HasAns_exact, HasAns_f1, HasAns_total</c> (if any
    /// answerable question), <c>NoAns_exact, NoAns_f1, NoAns_total</c> (if any unanswerable question) and, when
    /// <paramref name="naProbs"/> is given, <c>best_exact, best_exact_thresh, best_f1, best_f1_thresh</c>. Scores are in percent.
    /// </summary>
    /// <param name="dataset">The questions (a question is answerable iff it has gold answers: <c>bool(qa['answers'])</c>).</param>
    /// <param name="predictions">id → predicted text ("" = no answer).</param>
    /// <param name="naProbs">id → no-answer probability or score (e.g. <c>null_odds.json</c>), iterated in its order (ties in the threshold search
    /// are resolved in that order, as the script's stable sort does). Null: all 0.</param>
    /// <param name="naProbThresh">A question whose na-prob is strictly greater than this is treated as answered "no answer" (script default
    /// 1.0).</param>
    /// <exception cref="ArgumentException">A question has no prediction or no na-prob (the official script fails with a KeyError).</exception>
    public static IReadOnlyDictionary<string, double> EvaluateV2(IReadOnlyList<SquadExample> dataset, IReadOnlyDictionary<string, string> predictions,
        IReadOnlyDictionary<string, double>? naProbs = null, double naProbThresh = 1.0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(predictions);
        var hasAns = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (SquadExample qa in dataset) hasAns[qa.Id] = qa.HasAnswer;
        var missing = dataset.Where(q => !predictions.ContainsKey(q.Id)).Select(q => q.Id).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"{missing.Count} questions have no prediction (e.g. '{string.Join("', '", missing.Take(5))}'); the " +
                $"official v2.0 script fails on them.");
        IReadOnlyDictionary<string, double> na = naProbs ?? predictions.Keys.ToDictionary(k => k, _ => 0.0, StringComparer.Ordinal);
        var missingNa = dataset.Where(q => !na.ContainsKey(q.Id)).Select(q => q.Id).ToList();
        if (missingNa.Count > 0)
            throw new ArgumentException($"{missingNa.Count} questions have no na-prob (e.g. '{string.Join("', '", missingNa.Take(5))}').");

        (Dictionary<string, double> exactRaw, Dictionary<string, double> f1Raw) = GetRawScoresV2(dataset, predictions);
        Dictionary<string, double> exactT = ApplyNoAnsThreshold(exactRaw, na, hasAns, naProbThresh);
        Dictionary<string, double> f1T = ApplyNoAnsThreshold(f1Raw, na, hasAns, naProbThresh);
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        MakeEvalDict(result, "", exactT, f1T, exactT.Keys.ToList());
        var hasIds = hasAns.Where(kv => kv.Value).Select(kv => kv.Key).ToList();
        var noIds = hasAns.Where(kv => !kv.Value).Select(kv => kv.Key).ToList();
        if (hasIds.Count > 0) MakeEvalDict(result, "HasAns_", exactT, f1T, hasIds);
        if (noIds.Count > 0) MakeEvalDict(result, "NoAns_", exactT, f1T, noIds);
        if (naProbs is not null)
        {
            (double bestExact, double exactThresh) = FindBestThreshold(predictions, exactRaw, naProbs, hasAns);
            (double bestF1, double f1Thresh) = FindBestThreshold(predictions, f1Raw, naProbs, hasAns);
            result["best_exact"] = bestExact;
            result["best_exact_thresh"] = exactThresh;
            result["best_f1"] = bestF1;
            result["best_f1_thresh"] = f1Thresh;
        }

        return result;
    }

    private static Dictionary<string, double> ApplyNoAnsThreshold(Dictionary<string, double> scores, IReadOnlyDictionary<string, double> na,
        Dictionary<string, bool> hasAns, double thresh)
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach ((string qid, double s) in scores) d[qid] = na[qid] > thresh ? (hasAns[qid] ? 0.0 : 1.0) : s;
        return d;
    }

    private static void MakeEvalDict(Dictionary<string, double> into, string prefix, Dictionary<string, double> exact, Dictionary<string, double> f1,
        List<string> ids)
    {
        int total = ids.Count;
        into[prefix + "exact"] = 100.0 * ids.Sum(k => exact[k]) / total;
        into[prefix + "f1"] = 100.0 * ids.Sum(k => f1[k]) / total;
        into[prefix + "total"] = total;
    }

    /// <summary>
    /// <c>find_best_thresh</c> of <c>evaluate-v2.0.py</c>: starting from "answer nothing" (score = number of unanswerable
    /// questions), walk the questions by increasing na-prob, switching each to "answered": +raw score for an answerable one,
    /// −1 for an unanswerable one with a non-empty prediction; keep the best running total (strictly greater) and the na-prob
    /// at which it was reached. Returns <c>(100 × best / number of scored questions, threshold)</c>.
    /// </summary>
    public static (double Score, double Threshold) FindBestThreshold(IReadOnlyDictionary<string, string> predictions,
        IReadOnlyDictionary<string, double> scores,
        IReadOnlyDictionary<string, double> naProbs, IReadOnlyDictionary<string, bool> qidToHasAns)
    {
        double numNoAns = qidToHasAns.Count(kv => !kv.Value);
        double cur = numNoAns, best = cur, bestThresh = 0.0;
        foreach (KeyValuePair<string, double> kv in naProbs.OrderBy(kv => kv.Value)) // LINQ OrderBy is stable, like sorted()
        {
            string qid = kv.Key;
            if (!scores.TryGetValue(qid, out double raw)) continue;
            double diff = qidToHasAns[qid] ? raw : (predictions[qid].Length > 0 ? -1 : 0);
            cur += diff;
            if (cur > best)
            {
                best = cur;
                bestThresh = kv.Value;
            }
        }

        return (100.0 * best / scores.Count, bestThresh);
    }

    /// <summary>Formats an evaluation result as the scripts print it (<c>json.dumps(out_eval, indent=2)</c>; totals as integers).</summary>
    public static string ToOfficialJson(IReadOnlyDictionary<string, double> result)
    {
        var sb = new StringBuilder("{\n");
        int i = 0;
        foreach ((string k, double v) in result)
        {
            string value = k.EndsWith("total", StringComparison.Ordinal) ? ((long)v).ToString(CultureInfo.InvariantCulture) : PyJson.Float(v);
            sb.Append("  ").Append(PyJson.Str(k)).Append(": ").Append(value).Append(++i < result.Count ? ",\n" : "\n");
        }

        return sb.Append('}').ToString();
    }

    // ---- Python 3 string semantics ----

    /// <summary>Python <c>str.lower()</c>: Unicode lowercase including U+0130 → "i̇" and the final-sigma rule.</summary>
    internal static string PyLower(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            char c = s[i];
            if (c < 0x80)
            {
                sb.Append(c is >= 'A' and <= 'Z' ? (char)(c + 32) : c);
                i++;
                continue;
            }

            if (Rune.DecodeFromUtf16(s.AsSpan(i), out Rune r, out int used) != System.Buffers.OperationStatus.Done)
            {
                sb.Append(s[i]); // lone surrogate: unchanged, as Python
                i++;
                continue;
            }

            if (r.Value == 0x0130) sb.Append("i\u0307");
            else if (r.Value == 0x03A3) sb.Append(IsFinalSigma(s, i) ? '\u03C2' : '\u03C3');
            else sb.Append(Rune.ToLowerInvariant(r).ToString());
            i += used;
        }

        return sb.ToString();
    }

    // Simplified Unicode Final_Sigma: preceded by a letter and not followed by one.
    private static bool IsFinalSigma(string s, int i) =>
        i > 0 && char.IsLetter(s[i - 1]) && !(i + 1 < s.Length && char.IsLetter(s[i + 1]));

    private static string RemovePunctuation(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
            if (Punctuation.IndexOf(c) < 0) sb.Append(c);
        return sb.ToString();
    }

    /// <summary><c>re.sub(r'\b(a|an|the)\b', ' ', text)</c> with Python's Unicode <c>\w</c> (letters, numbers, underscore).</summary>
    private static string RemoveArticles(string s)
    {
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (i < s.Length)
        {
            if ((i == 0 || !IsWordBefore(s, i)) && s[i] is 'a' or 't')
            {
                int len = 0;
                foreach (string art in (ReadOnlySpan<string>)["a", "an", "the"]) // alternation order of the regex
                {
                    if (string.CompareOrdinal(s, i, art, 0, art.Length) == 0 && (i + art.Length == s.Length || !IsWordAt(s, i + art.Length)))
                    {
                        len = art.Length;
                        break;
                    }
                }

                if (len > 0)
                {
                    sb.Append(' ');
                    i += len;
                    continue;
                }
            }

            sb.Append(s[i]);
            i++;
        }

        return sb.ToString();
    }

    private static bool IsWordAt(string s, int i) =>
        Rune.DecodeFromUtf16(s.AsSpan(i), out Rune r, out _) == System.Buffers.OperationStatus.Done && IsPyWord(r);

    private static bool IsWordBefore(string s, int i)
    {
        int j = i - 1;
        if (char.IsLowSurrogate(s[j]) && j > 0 && char.IsHighSurrogate(s[j - 1])) j--;
        return IsWordAt(s, j);
    }

    private static bool IsPyWord(Rune r)
    {
        if (r.Value == '_') return true;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => true,
            _ => false,
        };
    }

    /// <summary>Python <c>str.isspace</c> (what <c>str.split()</c> splits on).</summary>
    internal static bool IsPyWhiteSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';

    private static string[] PySplit(string s)
    {
        var parts = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && IsPyWhiteSpace(s[i])) i++;
            int start = i;
            while (i < s.Length && !IsPyWhiteSpace(s[i])) i++;
            if (i > start) parts.Add(s[start..i]);
        }

        return parts.ToArray();
    }

    private static string WhiteSpaceFix(string s) => string.Join(' ', PySplit(s));
}
