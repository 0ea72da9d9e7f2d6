using MobileBert.Tensors;

namespace MobileBert.Tests.Training.Optimizers;

/// <summary>Small synthetic stores with deterministic weights and gradients.</summary>
internal static class OptimTestUtil
{
    /// <summary>A store shaped like a miniature encoder: matrices, biases and norm parameters, two layers, odd lengths
    /// (so vector loops have tails and parameters have padding between them).</summary>
    public static ParameterStore SmallStore()
    {
        var s = new ParameterStore();
        s.Add("mobilebert.embeddings.word_embeddings.weight", 37, 8);
        s.Add("mobilebert.embeddings.LayerNorm.weight", 8);
        s.Add("mobilebert.embeddings.LayerNorm.bias", 8);
        for (int l = 0; l < 3; l++)
        {
            s.Add($"mobilebert.encoder.layer.{l}.attention.self.query.weight", 8, 8);
            s.Add($"mobilebert.encoder.layer.{l}.attention.self.query.bias", 8);
            s.Add($"mobilebert.encoder.layer.{l}.intermediate.dense.weight", 13, 8);
            s.Add($"mobilebert.encoder.layer.{l}.intermediate.dense.bias", 13);
            s.Add($"mobilebert.encoder.layer.{l}.output.LayerNorm.weight", 8);
        }
        s.Add("cls.predictions.bias", 37);
        s.Add("classifier.weight", 3, 8);
        s.Allocate();
        s.AllocateGrad();
        var rng = new Random(1234);
        foreach (var p in s.Parameters)
        {
            var w = s.Span(p);
            bool norm = p.Name.Contains("LayerNorm.weight");
            for (int i = 0; i < w.Length; i++) w[i] = norm ? 1f + 0.1f * (float)(rng.NextDouble() - 0.5) : 0.2f * (float)(rng.NextDouble() - 0.5);
        }
        FillGrad(s, rng);
        return s;
    }

    public static void FillGrad(ParameterStore s, Random rng, float scale = 1f)
    {
        foreach (var p in s.Parameters)
        {
            var g = s.GradSpan(p);
            for (int i = 0; i < g.Length; i++) g[i] = scale * (float)(rng.NextDouble() * 2 - 1) * (i % 7 == 0 ? 0.01f : 1f);
        }
    }

    public static double[] ToDouble(ReadOnlySpan<float> x) { var d = new double[x.Length]; for (int i = 0; i < x.Length; i++) d[i] = x[i]; return d; }

    public static ParameterStore Clone(ParameterStore s)
    {
        var c = new ParameterStore();
        foreach (var p in s.Parameters) c.Add(p.Name, p.Shape);
        c.Allocate(); c.AllocateGrad();
        s.Data.CopyTo(c.Data, 0); s.Grad!.CopyTo(c.Grad!, 0);
        return c;
    }

    /// <summary>max over elements of |actual − expected| / max(|expected|, floor).</summary>
    public static double MaxRel(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double floor = 1e-3)
    {
        double m = 0;
        for (int i = 0; i < actual.Length; i++) m = Math.Max(m, Math.Abs(actual[i] - expected[i]) / Math.Max(Math.Abs(expected[i]), floor));
        return m;
    }
}
