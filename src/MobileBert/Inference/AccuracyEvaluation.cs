using System.Text.Json;
using MobileBert.Text;

namespace MobileBert.Inference;

/// <summary>One labelled example: text (+ optional pair) and the gold class index.</summary>
public readonly record struct LabelledExample(string Text, string? TextPair, int Label);

/// <summary>fp32 vs int8 classification accuracy on labelled examples (both through <see cref="InferenceEngine"/>).</summary>
public sealed record AccuracyReport(int Examples, double Fp32Accuracy, double Int8Accuracy, double Agreement, double MaxLogitRelError)
{
    public double DeltaPoints => 100 * (Int8Accuracy - Fp32Accuracy);
    public override string ToString() => FormattableString.Invariant(
        $"{Examples} examples: fp32 accuracy {100 * Fp32Accuracy:F2} %, int8 {100 * Int8Accuracy:F2} % (Δ {DeltaPoints:+0.00;-0.00} points), ") +
        FormattableString.Invariant($"predictions agree on {100 * Agreement:F2} %, max logit error {MaxLogitRelError:E2} of max|logit|");
}

public static class AccuracyEvaluation
{
    /// <summary>
    /// Reads a labelled JSON file: an array (or JSON lines) of objects with "text" (optional "text_pair") and an integer
    /// "class" or "label" (or a label name listed in <paramref name="labelNames"/>). Entries with a null label or empty
    /// text are skipped (the UCI sentiment files end with such a placeholder).
    /// </summary>
    public static List<LabelledExample> Read(string path, IReadOnlyList<string>? labelNames = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: labelled file not found.");
        var sanitizer = new MobileBert.Text.TextSanitizer();
        string text = sanitizer.ReadAllText(path).TrimStart();
        var docs = new List<(JsonElement, int)>();
        if (text.StartsWith('['))
        {
            using var d = sanitizer.ParseJson(text);
            int i = 0; foreach (var e in d.RootElement.EnumerateArray()) docs.Add((e.Clone(), ++i));
        }
        else
            foreach (var (line, l) in MobileBert.Text.LineReader.ReadFile(path, sanitizer))
                if (l.Trim().Length > 0) { using var d = sanitizer.ParseJson(l); docs.Add((d.RootElement.Clone(), line)); }
        var res = new List<LabelledExample>();
        foreach (var (e, at) in docs)
        {
            if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: entry {at} is not an object.");
            string? t = e.TryGetProperty("text", out var tv) && tv.ValueKind == JsonValueKind.String ? tv.GetString() : null;
            string? pair = e.TryGetProperty("text_pair", out var pv) && pv.ValueKind == JsonValueKind.String ? pv.GetString() : null;
            JsonElement lv = e.TryGetProperty("class", out var cv) ? cv : e.TryGetProperty("label", out var lbl) ? lbl : default;
            if (string.IsNullOrEmpty(t) || lv.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) continue;
            int label = lv.ValueKind switch
            {
                JsonValueKind.Number => lv.GetInt32(),
                JsonValueKind.String when labelNames is not null && labelNames.Contains(lv.GetString()!) =>
                    labelNames.ToList().IndexOf(lv.GetString()!),
                JsonValueKind.String when int.TryParse(lv.GetString(), out int v) => v,
                _ => throw new InvalidDataException($"{path}: entry {at}: label {lv} is neither an index nor a known label name."),
            };
            res.Add(new LabelledExample(t, pair, label));
        }
        if (res.Count == 0) throw new InvalidDataException($"{path}: no labelled examples.");
        return res;
    }

    /// <summary>Classifies every example with both engines (ragged batches of ≤ <paramref name="maxTokens"/> tokens).</summary>
    public static AccuracyReport Compare(InferenceEngine fp32, InferenceEngine int8, WordPieceTokenizer tokenizer,
        IReadOnlyList<LabelledExample> examples, int maxLength = 128, int maxTokens = 4096)
    {
        int labels = fp32.Model.Config.NumLabels;
        if (fp32.Model.Classifier is null) throw new ArgumentException("The model has no sequence-classification head.");
        var seqs = examples.Select(x => { var enc = tokenizer.Encode(x.Text, x.TextPair, maxLength);
            return new TokenSequence(enc.InputIds, enc.TokenTypeIds); }).ToArray();
        var l32 = new float[examples.Count * labels]; var l8 = new float[examples.Count * labels];
        void Collect(InferenceEngine e, float[] dst) => e.RunGrouped(seqs, maxTokens, (idx, r) =>
        {
            for (int j = 0; j < idx.Length; j++) r.Logits.Slice(j * labels, labels).CopyTo(dst.AsSpan(idx[j] * labels, labels));
        });
        Collect(fp32, l32); Collect(int8, l8);
        int ok32 = 0, ok8 = 0, agree = 0; double maxAbs = 0, maxDiff = 0;
        for (int i = 0; i < examples.Count; i++)
        {
            int p32 = ArgMax(l32.AsSpan(i * labels, labels)), p8 = ArgMax(l8.AsSpan(i * labels, labels));
            ok32 += p32 == examples[i].Label ? 1 : 0; ok8 += p8 == examples[i].Label ? 1 : 0; agree += p32 == p8 ? 1 : 0;
            for (int j = 0; j < labels; j++) { maxAbs = Math.Max(maxAbs, Math.Abs(l32[i * labels + j]));
                maxDiff = Math.Max(maxDiff, Math.Abs(l32[i * labels + j] - l8[i * labels + j])); }
        }
        int n = examples.Count;
        return new AccuracyReport(n, (double)ok32 / n, (double)ok8 / n, (double)agree / n, maxAbs > 0 ? maxDiff / maxAbs : maxDiff);
    }

    static int ArgMax(ReadOnlySpan<float> x) { int b = 0; for (int i = 1; i < x.Length; i++) if (x[i] > x[b]) b = i; return b; }
}
