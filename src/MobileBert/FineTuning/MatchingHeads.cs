using MobileBert.Model;
using MobileBert.Tasks.QuestionAnswering;

namespace MobileBert.FineTuning;

/// <summary>
/// Token-matching heads (<c>mobilebert experiment matching-heads</c>): how much attention each head of each layer puts from a
/// question token on the same token in the context. Extractive QA needs it (the answer sits next to the question's term), and
/// a pretrained BERT has heads that do it; a model without them answers without reading the question. A question token counts
/// when it is not a special token and its id occurs once or twice in the context (rare shared tokens: terms, not "a" or "is").
/// </summary>
public static class MatchingHeads
{
    /// <summary>Mean attention mass on the matching context tokens, [layer, head], over the counted question tokens of every
    /// feature (one feature at a time, unpadded; the model's eval forward), and how many tokens were counted.</summary>
    public static (double[,] Mass, int Tokens) Measure(MobileBertModel model, IEnumerable<QaFeature> features, IReadOnlySet<int> specialIds)
    {
        int layers = model.Config.NumHiddenLayers, heads = model.Config.NumAttentionHeads;
        var sum = new double[layers, heads];
        int tokens = 0;
        foreach (var f in features)
        {
            var input = Batching.Pad([f.Input], 0);
            var output = model.Forward(input, new ForwardOptions { OutputAttentions = true, Heads = ModelHeads.None });
            for (int l = 0; l < layers; l++)
            {
                var mass = Mass(f.Input.InputIds, f.Input.TokenTypeIds, output.Attentions![l], heads, specialIds, out int counted);
                for (int h = 0; h < heads; h++) sum[l, h] += mass[h];
                if (l == 0) tokens += counted;
            }
        }
        for (int l = 0; l < layers; l++)
            for (int h = 0; h < heads; h++) sum[l, h] /= Math.Max(1, tokens);
        return (sum, tokens);
    }

    /// <summary>One sequence of S tokens: per head, the attention mass (summed over the counted question tokens) on the context
    /// tokens with the query token's id. attentions: [heads, S, S] probabilities; types: 0 question, 1 context.</summary>
    public static double[] Mass(int[] ids, int[] types, float[] attentions, int heads, IReadOnlySet<int> specialIds, out int counted)
    {
        int s = ids.Length;
        if (types.Length != s || attentions.Length != heads * s * s)
            throw new ArgumentException($"Mass: {s} ids, {types.Length} token types, {attentions.Length} attention values for {heads} heads.");
        var mass = new double[heads];
        counted = 0;
        for (int i = 0; i < s; i++)
        {
            if (types[i] != 0 || specialIds.Contains(ids[i])) continue;
            int id = ids[i];
            var matches = Enumerable.Range(0, s).Where(j => types[j] == 1 && ids[j] == id).ToArray();
            if (matches.Length is 0 or > 2) continue;
            counted++;
            for (int h = 0; h < heads; h++)
                foreach (int j in matches) mass[h] += attentions[((long)h * s + i) * s + j];
        }
        return mass;
    }
}
