using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Tests.Model;
using MobileBert.Training;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Training;

/// <summary>Training mode (seeded dropout), the caching forward, cache reuse, gradient accumulation and MLM position selection.</summary>
public class TrainingModeTests(ITestOutputHelper log)
{
    static (MobileBertModel, ModelInput) Setup(string shape, Action<MobileBertConfig>? tweak = null, int batch = 3, int seq = 6)
    {
        var c = ReferenceForwardTests.Make(shape);
        c.VocabSize = 29; c.NumHiddenLayers = 2; c.MaxPositionEmbeddings = 12;
        tweak?.Invoke(c);
        return (ModelFiniteDifferenceTests.Build(c, seed: 11), ModelFiniteDifferenceTests.Input(c, batch, seq, seed: 4));
    }

    static ForwardOptions Train(ulong seed, float p = 0.2f, int[]? mlmPositions = null) =>
        new() { Training = true, Seed = seed, HiddenDropout = p, AttentionDropout = p, MlmPositions = mlmPositions, OutputAttentions = true,
        OutputHiddenStates = true };

    sealed record Weights(float[] Mlm, float[] Nsp, float[] Cls, float[] QaS, float[] QaE);

    static Weights RandomWeights(MobileBertModel m, ModelInput x, int seed)
    {
        var r = new Random(seed);
        float[] R(int n) => Array.ConvertAll(ModelFiniteDifferenceTests.Randn(r, n), v => (float)v);
        int rows = x.Batch * x.Seq;
        return new(R(rows * m.Config.VocabSize), R(x.Batch * 2), R(x.Batch * m.Config.NumLabels), R(rows), R(rows));
    }

    static double Loss(ModelOutput o, Weights w)
    {
        double s = 0;
        void Add(float[] a, float[] b) { for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i]; }
        Add(o.MlmLogits!, w.Mlm); Add(o.NspLogits!, w.Nsp); Add(o.SequenceClassificationLogits!, w.Cls); Add(o.QaStartLogits!, w.QaS);
        Add(o.QaEndLogits!, w.QaE);
        return s;
    }

    /// <summary>Σ|w·output|: the scale of the float rounding noise in <see cref="Loss"/>.</summary>
    static double LossMagnitude(ModelOutput o, Weights w)
    {
        double s = 0;
        void Add(float[] a, float[] b) { for (int i = 0; i < a.Length; i++) s += Math.Abs((double)a[i] * b[i]); }
        Add(o.MlmLogits!, w.Mlm); Add(o.NspLogits!, w.Nsp); Add(o.SequenceClassificationLogits!, w.Cls); Add(o.QaStartLogits!, w.QaS);
        Add(o.QaEndLogits!, w.QaE);
        return s;
    }

    static OutputGradients Grads(Weights w) => new()
    {
        MlmLogits = (float[])w.Mlm.Clone(), NspLogits = (float[])w.Nsp.Clone(), SequenceClassificationLogits = (float[])w.Cls.Clone(),
        QaStartLogits = (float[])w.QaS.Clone(), QaEndLogits = (float[])w.QaE.Clone(),
    };

    static float[] GradCopy(MobileBertModel m) => (float[])m.Store.Grad!.Clone();

    static float[] RunStep(MobileBertModel m, ModelInput x, ForwardOptions opt, Weights w, out float[] logits)
    {
        m.ZeroGrad();
        var o = m.Forward(x, opt);
        logits = (float[])o.MlmLogits!.Clone();
        m.Backward(o, Grads(w));
        return GradCopy(m);
    }

    [Fact]
    public void SameSeedGivesSameMasksAndGradients()
    {
        var (m, x) = Setup("no_bottleneck");
        var w = RandomWeights(m, x, 1);
        var g1 = RunStep(m, x, Train(5), w, out var l1);
        var g2 = RunStep(m, x, Train(5), w, out var l2);
        Assert.Equal(l1, l2);
        Assert.Equal(g1, g2);
        var g3 = RunStep(m, x, Train(6), w, out var l3);
        Assert.NotEqual(l1, l3);
        Assert.NotEqual(g1, g3);
        var eval = RunStep(m, x, new ForwardOptions { KeepForBackward = true }, w, out var le);
        Assert.NotEqual(l1, le);
        // Masks do not depend on the thread count.
        m.Threads = 1;
        RunStep(m, x, Train(5), w, out var l1t);
        Tolerance.AssertClose("logits, 1 vs 2 threads", l1, l1t, 1e-6);
    }

    [Fact]
    public void ZeroDropoutTrainingEqualsEvalAndCachingForwardEqualsInference()
    {
        var (m, x) = Setup("ib_bert_shaped");
        var w = RandomWeights(m, x, 2);
        var gTrain = RunStep(m, x, Train(9, p: 0f), w, out var lTrain);
        var gEval = RunStep(m, x, new ForwardOptions { KeepForBackward = true }, w, out var lEval);
        Assert.Equal(lEval, lTrain);
        Assert.Equal(gEval, gTrain);

        var inference = m.Forward(x, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true });
        var cached = m.Forward(x, new ForwardOptions { KeepForBackward = true, OutputHiddenStates = true, OutputAttentions = true });
        Assert.Equal(inference.MlmLogits, cached.MlmLogits);
        Assert.Equal(inference.LastHiddenState, cached.LastHiddenState);
        Assert.Equal(inference.PooledOutput, cached.PooledOutput);
        Assert.Equal(inference.NspLogits, cached.NspLogits);
        Assert.Equal(inference.SequenceClassificationLogits, cached.SequenceClassificationLogits);
        Assert.Equal(inference.QaStartLogits, cached.QaStartLogits);
        for (int l = 0; l < inference.Attentions!.Length; l++) Assert.Equal(inference.Attentions[l], cached.Attentions![l]);
        for (int l = 0; l < inference.HiddenStates!.Length; l++) Assert.Equal(inference.HiddenStates[l], cached.HiddenStates![l]);
    }

    /// <summary>
    /// Dropout backward: with the masks held fixed (same seed), the training-mode gradient equals central finite differences
    /// of the training-mode forward, along a random direction per parameter tensor. Covers every HF dropout site:
    /// embeddings, attention probabilities, attention-output and layer-output dense (no bottleneck), output bottleneck, classifier.
    /// </summary>
    [Theory]
    [InlineData("no_bottleneck")]
    [InlineData("ib_bert_shaped")]
    public void DropoutGradientsMatchFiniteDifferencesWithMasksFixed(string shape)
    {
        var (m, x) = Setup(shape, c => { c.NormalizationType = NormalizationType.LayerNorm; c.HiddenAct = Activation.Gelu; });
        var w = RandomWeights(m, x, 3);
        var opt = Train(42, p: 0.3f);
        var g = RunStep(m, x, opt, w, out _);
        double L() => Loss(m.Forward(x, opt), w);
        double noise = 4e-6 * LossMagnitude(m.Forward(x, opt), w);      // float forward: |δL| ≲ 1e-6·Σ|w·out| per evaluation
        var rng = new Random(8);
        double worst = 0; string worstName = "";
        int checkedTensors = 0;
        foreach (var p in m.Store.Parameters.Where(p => p.Length > 0))
        {
            var data = m.Store.Span(p);
            var keep = data.ToArray();
            double rms = Math.Sqrt(keep.Average(v => (double)v * v));
            var u = ModelFiniteDifferenceTests.Randn(rng, p.Length, rms > 0 ? rms : 0.1);
            if (p.Name.EndsWith("word_embeddings.weight", StringComparison.Ordinal))   // padding_idx row: no lookup gradient by definition
                for (int i = 0; i < m.Config.EmbeddingSize; i++) u[m.Config.PadTokenId * m.Config.EmbeddingSize + i] = 0;
            const double eps = 1e-2;
            var up = new float[p.Length]; var down = new float[p.Length];
            for (int i = 0; i < p.Length; i++) { up[i] = (float)(keep[i] + eps * u[i]); down[i] = (float)(keep[i] - eps * u[i]); }
            up.CopyTo(data); double lp = L();
            down.CopyTo(data); double lm = L();
            keep.CopyTo(data);
            double analytic = 0;
            for (int i = 0; i < p.Length; i++) analytic += g[(int)p.Offset + i] * ((double)up[i] - down[i]);
            double fd = lp - lm;
            double rel = Math.Abs(fd - analytic) / Math.Max(Math.Abs(analytic), noise);
            if (rel > worst) { worst = rel; worstName = p.Name; }
            Assert.True(rel <= 2e-2, $"{p.Name}: directional finite difference {fd:g6} vs backward {analytic:g6}");
            if (Math.Abs(analytic) > 100 * noise) checkedTensors++;
        }
        Assert.True(checkedTensors > 12, $"only {checkedTensors} tensors had a gradient signal above the noise");
        log.WriteLine($"{shape}: worst relative error of directional derivatives = {worst:g3} ({worstName}), {checkedTensors} tensors with signal");
    }

    [Fact]
    public void MlmPositionsGiveTheSameLossAndGradients()
    {
        var (m, x) = Setup("mobilebert_shaped");
        int rows = x.Batch * x.Seq;
        var labels = Enumerable.Repeat(Losses.IgnoreIndex, rows).ToArray();
        int[] positions = [1, 4, 7, 9, 15];
        var r = new Random(3);
        foreach (int p in positions) labels[p] = r.Next(m.Config.VocabSize);
        int[] nsp = [0, 1, 1];
        m.ZeroGrad();
        var full = m.Forward(x, new ForwardOptions { KeepForBackward = true });
        var lf = Losses.Pretraining(full, labels, nsp);
        m.Backward(full, lf.Gradients);
        var gFull = GradCopy(m);
        m.ZeroGrad();
        var part = m.Forward(x, new ForwardOptions { KeepForBackward = true, MlmPositions = positions });
        Assert.Equal(positions.Length * m.Config.VocabSize, part.MlmLogits!.Length);
        var lp = Losses.Pretraining(part, labels, nsp, overwriteLogits: true);
        Assert.Same(part.MlmLogits, lp.Gradients.MlmLogits);
        m.Backward(part, lp.Gradients);
        Assert.Equal(lf.Total, lp.Total, 5);
        Tolerance.AssertClose("gradients (positions vs full)", gFull, m.Store.Grad, 1e-5);
        Assert.Throws<ArgumentException>(() => Losses.Pretraining(part, Enumerable.Repeat(3, rows).ToArray(), nsp));
    }

    [Fact]
    public void GradientsAccumulateAndTheCacheIsReused()
    {
        var (m, x) = Setup("tiny_shaped");
        var w = RandomWeights(m, x, 4);
        var g1 = RunStep(m, x, new ForwardOptions { KeepForBackward = true }, w, out _);
        var o = m.Forward(x, new ForwardOptions { KeepForBackward = true });
        long bytes = o.Cache!.Bytes;
        m.Backward(o, Grads(w));                                        // second accumulation on top of g1 (no ZeroGrad)
        Tolerance.AssertClose("2× gradient", g1.Select(v => 2 * v).ToArray(), m.Store.Grad, 1e-6);
        var o2 = m.Forward(x, new ForwardOptions { KeepForBackward = true });
        m.Backward(o2, Grads(w));
        Assert.Same(o.Cache, o2.Cache);
        Assert.Equal(bytes, o2.Cache!.Bytes);                           // steady state: no new buffers
        Assert.Same(o.LastHiddenState, o2.LastHiddenState);
        m.ZeroGrad();
        Assert.All(m.Store.Grad!, v => Assert.Equal(0f, v));
        // A caller-owned cache and misuse errors.
        var mine = new ForwardCache();
        var o3 = m.Forward(x, new ForwardOptions { KeepForBackward = true, Cache = mine });
        Assert.Same(mine, o3.Cache);
        Assert.Throws<ArgumentException>(() => m.Backward(m.Forward(x), Grads(w)));
        var (other, _) = Setup("tiny_shaped");
        Assert.Throws<InvalidOperationException>(() => other.Backward(mine, Grads(w)));
    }
}
