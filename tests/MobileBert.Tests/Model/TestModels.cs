using MobileBert.Model;

namespace MobileBert.Tests;

/// <summary>Models with weights far from their initialisation, for comparisons that must not pass by accident.</summary>
public static class TestModels
{
    /// <summary>HF initialisation, then every norm γ in [0.5, 1.5], every bias in [−0.2, 0.2], and matrices rescaled to
    /// std 1/√fan-in (embeddings 0.5), so attention is far from uniform and nothing is trivially 1 or 0.</summary>
    public static MobileBertModel Perturbed(MobileBertConfig c, int seed, ModelHeads heads =
        ModelHeads.Pretraining | ModelHeads.SequenceClassification | ModelHeads.QuestionAnswering)
    {
        var m = new MobileBertModel(c, heads) { Threads = 2 };
        m.InitializeWeights(seed);
        var rng = new Random(seed + 1);
        foreach (var p in m.Store.Parameters)
        {
            var s = m.Store.Span(p);
            if (p.Name.Contains("LayerNorm.weight", StringComparison.Ordinal))
                for (int i = 0; i < s.Length; i++) s[i] = (float)(0.5 + rng.NextDouble());
            else if (p.Name.EndsWith(".bias", StringComparison.Ordinal) || p.Name == "cls.predictions.bias")
                for (int i = 0; i < s.Length; i++) s[i] = (float)(0.4 * rng.NextDouble() - 0.2);
            else
            {
                double target = p.Name.Contains("embeddings.", StringComparison.Ordinal) ? 0.5
                    : p.Name == "cls.predictions.dense.weight" ? 1 / Math.Sqrt(c.HiddenSize) : 1 / Math.Sqrt(p.Shape[1]);
                float f = (float)(target / c.InitializerRange);
                for (int i = 0; i < s.Length; i++) s[i] *= f;
            }
        }
        return m;
    }
}
