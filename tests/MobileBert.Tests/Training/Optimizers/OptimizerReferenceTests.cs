using MobileBert.Tensors;
using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Training.Optimizers;

/// <summary>AdamW and LAMB against straightforward double-precision references written here from the formulas
/// (torch.optim.AdamW; google-research mobilebert/lamb_optimizer.py), several steps, with multipliers and exclusions.</summary>
public class OptimizerReferenceTests
{
    sealed class RefState(ParameterStore s)
    {
        public readonly double[][] W = s.Parameters.Select(p => OptimTestUtil.ToDouble(s.Span(p))).ToArray();
        public readonly double[][] M = s.Parameters.Select(p => new double[p.Length]).ToArray();
        public readonly double[][] V = s.Parameters.Select(p => new double[p.Length]).ToArray();
        public readonly int[] T = new int[s.Parameters.Count];
    }

    static void RefAdamW(RefState st, ParameterStore s, ParameterGroups groups, double lr, double b1, double b2, double eps, double wd)
    {
        for (int k = 0; k < s.Parameters.Count; k++)
        {
            var set = groups[k];
            if (set.Frozen) continue;
            int t = ++st.T[k];
            double plr = lr * set.LrMultiplier;
            var g = s.GradSpan(s.Parameters[k]); var w = st.W[k]; var m = st.M[k]; var v = st.V[k];
            for (int i = 0; i < w.Length; i++)
            {
                if (set.WeightDecay) w[i] *= 1 - plr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mh = m[i] / (1 - Math.Pow(b1, t)), vh = v[i] / (1 - Math.Pow(b2, t));
                w[i] -= plr * mh / (Math.Sqrt(vh) + eps);
            }
        }
    }

    static double[] RefLamb(RefState st, ParameterStore s, ParameterGroups groups, double lr, double b1, double b2, double eps, double wd,
        bool biasCorrection)
    {
        var ratios = new double[s.Parameters.Count];
        for (int k = 0; k < s.Parameters.Count; k++)
        {
            var set = groups[k];
            if (set.Frozen) { ratios[k] = double.NaN; continue; }
            int t = ++st.T[k];
            var g = s.GradSpan(s.Parameters[k]); var w = st.W[k]; var m = st.M[k]; var v = st.V[k];
            var u = new double[w.Length];
            for (int i = 0; i < w.Length; i++)
            {
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mh = biasCorrection ? m[i] / (1 - Math.Pow(b1, t)) : m[i], vh = biasCorrection ? v[i] / (1 - Math.Pow(b2, t)) : v[i];
                u[i] = mh / (Math.Sqrt(vh) + eps) + (set.WeightDecay ? wd * w[i] : 0);
            }
            double ratio = 1;
            if (set.TrustRatio)
            {
                double wn = Math.Sqrt(w.Sum(x => x * x)), un = Math.Sqrt(u.Sum(x => x * x));
                ratio = wn > 0 && un > 0 ? wn / un : 1;
            }
            ratios[k] = ratio;
            for (int i = 0; i < w.Length; i++) w[i] -= lr * set.LrMultiplier * ratio * u[i];
        }
        return ratios;
    }

    static void AssertMatches(ParameterStore s, Optimizer opt, RefState st, double rel)
    {
        for (int k = 0; k < s.Parameters.Count; k++)
        {
            var p = s.Parameters[k];
            double e = OptimTestUtil.MaxRel(s.Span(p), st.W[k]);
            Assert.True(e <= rel, $"{p.Name}: weights rel error {e:g3}");
            // Moments: relative to the tensor's largest moment (m can cancel to ~0 element-wise).
            e = OptimTestUtil.MaxRel(opt.FirstMomentOf(p), st.M[k], Math.Max(1e-30, st.M[k].Max(Math.Abs)));
            Assert.True(e <= 1e-6, $"{p.Name}: m rel error {e:g3}");
            e = OptimTestUtil.MaxRel(opt.SecondMomentOf(p), st.V[k], Math.Max(1e-30, st.V[k].Max(Math.Abs)));
            Assert.True(e <= 1e-6, $"{p.Name}: v rel error {e:g3}");
            Assert.Equal(st.T[k], opt.StepsOf(p));
        }
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public void AdamWMatchesDoubleReference(bool decayBiasesAndNorms, int threads)
    {
        var s = OptimTestUtil.SmallStore();
        var opt = new AdamW(s, new AdamWOptions { Eps = 1e-8, WeightDecay = 0.1, DecayBiasesAndNorms = decayBiasesAndNorms }) { Threads = threads };
        opt.Groups.SetLrMultiplier(ParameterSelector.EncoderLayer(1), 3).SetLrMultiplier(ParameterSelector.EncoderLayer(0), 0.3)
            .Freeze(ParameterSelector.Names("classifier.weight"));
        Assert.Equal(!decayBiasesAndNorms, !opt.Groups["mobilebert.embeddings.LayerNorm.weight"].WeightDecay);
        Assert.True(opt.Groups["mobilebert.encoder.layer.0.attention.self.query.weight"].WeightDecay);
        var st = new RefState(s);
        var rng = new Random(7);
        double[] lrs = [1e-2, 5e-3, 2e-2];
        for (int step = 0; step < lrs.Length; step++)
        {
            if (step == 1) opt.Groups.Freeze(ParameterSelector.EncoderLayer(2));       // frozen for one step: its own step count lags
            if (step == 2) opt.Groups.Unfreeze(ParameterSelector.EncoderLayer(2));
            RefAdamW(st, s, opt.Groups, lrs[step], 0.9, 0.999, 1e-8, 0.1);
            opt.Step(lrs[step]);
            OptimTestUtil.FillGrad(s, rng);
        }
        AssertMatches(s, opt, st, 1e-5);
        Assert.Equal(3, opt.StepCount);
        Assert.Equal(2, opt.StepsOf(s["mobilebert.encoder.layer.2.intermediate.dense.weight"]));
        Assert.Equal(0, opt.StepsOf(s["classifier.weight"]));
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public void LambMatchesDoubleReference(bool biasCorrection, int threads)
    {
        var s = OptimTestUtil.SmallStore();
        var opt = new Lamb(s, new LambOptions { WeightDecay = 0.05, BiasCorrection = biasCorrection }) { Threads = threads };
        opt.Groups.SetLrMultiplier(ParameterSelector.EncoderLayer(1), 3).Freeze(ParameterSelector.EncoderLayer(2));
        // The reference exclusions: every bias and norm parameter, nothing else.
        foreach (var p in s.Parameters)
        {
            bool excluded = p.Name.EndsWith(".bias") || p.Name.Contains("LayerNorm");
            Assert.Equal(!excluded, opt.Groups[p].WeightDecay);
            Assert.Equal(!excluded, opt.Groups[p].TrustRatio);
        }
        var st = new RefState(s);
        var rng = new Random(11);
        for (int step = 0; step < 2; step++)
        {
            var ratios = RefLamb(st, s, opt.Groups, 0.01, 0.9, 0.999, 1e-6, 0.05, biasCorrection);
            opt.Step(0.01);
            for (int k = 0; k < ratios.Length; k++)
            {
                if (double.IsNaN(ratios[k])) Assert.True(double.IsNaN(opt.LastTrustRatios[k]));
                else Assert.True(Math.Abs(opt.LastTrustRatios[k] - ratios[k]) <= 1e-5 * ratios[k],
                $"{s.Parameters[k].Name}: ratio {opt.LastTrustRatios[k]} vs {ratios[k]}");
            }
            Assert.Contains(ratios, r => r > 2 || r < 0.5);       // the trust ratio really matters in this test
            OptimTestUtil.FillGrad(s, rng);
        }
        AssertMatches(s, opt, st, 1e-5);
    }

    [Fact]
    public void LambTrustRatioEdgeCases()
    {
        var s = new ParameterStore();
        var zeroW = s.Add("zero_weights.weight", 4, 5);     // ‖w‖ = 0 → ratio 1
        var zeroU = s.Add("zero_update.weight", 4, 5);      // g = 0 and no decay → ‖u‖ = 0 → ratio 1, no change
        var both = s.Add("both_zero.weight", 3, 3);         // w = 0, g = 0 → nothing moves, no NaN
        var normal = s.Add("normal.weight", 6, 6);
        s.Allocate(); s.AllocateGrad();
        var rng = new Random(3);
        for (int i = 0; i < 20; i++) { s.GradSpan(zeroW)[i] = (float)rng.NextDouble() - 0.5f; s.Span(zeroU)[i] = (float)rng.NextDouble() - 0.5f; }
        for (int i = 0; i < 36; i++) { s.GradSpan(normal)[i] = (float)rng.NextDouble() - 0.5f;
            s.Span(normal)[i] = 3 * ((float)rng.NextDouble() - 0.5f); }
        var opt = new Lamb(s, new LambOptions { WeightDecay = 0.01 });
        opt.Groups.SetWeightDecay(ParameterSelector.Names(zeroU.Name), false);
        var zeroUBefore = s.Span(zeroU).ToArray();
        opt.Step(0.1);
        Assert.Equal(1.0, opt.LastTrustRatios[0]);
        Assert.Equal(1.0, opt.LastTrustRatios[1]);
        Assert.Equal(1.0, opt.LastTrustRatios[2]);
        Assert.NotEqual(1.0, opt.LastTrustRatios[3]);
        // Ratio 1 with zero weights: w = −lr·m/(√v + eps) = −lr·(1−β1)g/(√(1−β2)|g| + eps).
        for (int i = 0; i < 20; i++)
        {
            double g = s.GradSpan(zeroW)[i];
            double expected = -0.1 * 0.1 * g / (Math.Sqrt(0.001) * Math.Abs(g) + 1e-6);
            Assert.Equal(expected, s.Span(zeroW)[i], 1e-6);
        }
        Assert.True(s.Span(zeroU).SequenceEqual(zeroUBefore));
        Assert.All(s.Span(both).ToArray(), x => Assert.Equal(0f, x));
        // With a trust ratio, the step length of a weight matrix is lr·‖w‖ (relative step lr), whatever the gradient scale.
        var wBefore = OptimTestUtil.ToDouble(s.Span(normal));
        OptimTestUtil.FillGrad(s, rng, scale: 1000f);
        opt.Step(0.1);
        double dn = 0, wn = 0;
        for (int i = 0; i < 36; i++) { double d = s.Span(normal)[i] - wBefore[i]; dn += d * d; wn += wBefore[i] * wBefore[i]; }
        Assert.Equal(0.1, Math.Sqrt(dn / wn), 5);
    }

    [Fact]
    public void ResultsDoNotDependOnThreadCount()
    {
        // Big enough for several chunks (chunking is fixed, threads only share them out).
        static ParameterStore Big()
        {
            var s = new ParameterStore();
            s.Add("a.weight", 300, 301); s.Add("a.bias", 301); s.Add("b.weight", 90_001);
            s.Allocate(); s.AllocateGrad();
            var rng = new Random(5);
            for (int i = 0; i < s.Data.Length; i++) s.Data[i] = (float)rng.NextDouble() - 0.5f;
            foreach (var p in s.Parameters) for (int i = 0; i < p.Length; i++) s.GradSpan(p)[i] = (float)rng.NextDouble() - 0.5f;
            return s;
        }
        foreach (var make in new Func<ParameterStore, Optimizer>[] { st => new AdamW(st), st => new Lamb(st) })
        {
            ParameterStore s1 = Big(), s2 = Big();
            var o1 = make(s1); var o2 = make(s2);
            o1.Threads = 1; o2.Threads = 2;
            for (int k = 0; k < 3; k++) { o1.Step(1e-3); o2.Step(1e-3); }
            Assert.True(s1.Data.AsSpan().SequenceEqual(s2.Data), o1.Kind);
            Assert.True(o1.SecondMoment.AsSpan().SequenceEqual(o2.SecondMoment), o1.Kind);
            Assert.Equal(GradientClipper.GlobalNorm(s1, threads: 1), GradientClipper.GlobalNorm(s2, threads: 2));
        }
    }
}
