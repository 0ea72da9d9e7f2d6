using MobileBert.Tensors;
using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Training.Optimizers;

public class ParameterGroupTests
{
    [Fact]
    public void LrMultiplierScalesTheUpdate()
    {
        // No weight decay: the first Adam step is lr·m̂/(√v̂ + eps), linear in lr, so ×3 triples every change.
        var s1 = OptimTestUtil.SmallStore(); var s3 = OptimTestUtil.Clone(s1); var s0 = OptimTestUtil.Clone(s1);
        var o1 = new AdamW(s1, new AdamWOptions { WeightDecay = 0 });
        var o3 = new AdamW(s3, new AdamWOptions { WeightDecay = 0 });
        var o0 = new AdamW(s0, new AdamWOptions { WeightDecay = 0 });
        o3.Groups.SetLrMultiplier(ParameterSelector.Regex(@"layer\.1\."), 3.0);
        var p = s1["mobilebert.encoder.layer.1.intermediate.dense.weight"];
        o1.Step(1e-3); o3.Step(1e-3);
        var before = s0.Span(p);
        for (int i = 0; i < p.Length; i++)
            Assert.Equal(3 * ((double)s1.Span(p)[i] - before[i]), (double)s3.Span(p)[i] - before[i], 5e-8);
        var q = s1["mobilebert.encoder.layer.0.intermediate.dense.weight"];
        Assert.True(s1.Span(q).SequenceEqual(s3.Span(q)));
        Assert.False(s1.Span(q).SequenceEqual(s0.Span(q)));
    }

    [Fact]
    public void FrozenParametersAndTheirMomentsStayUnchanged()
    {
        var s = OptimTestUtil.SmallStore();
        foreach (Func<ParameterStore, Optimizer> make in new Func<ParameterStore, Optimizer>[] { st => new AdamW(st), st => new Lamb(st) })
        {
            var st = OptimTestUtil.Clone(s);
            var opt = make(st);
            opt.Step(1e-2);                                      // moments become non-zero everywhere
            opt.Groups.Freeze(ParameterSelector.EncoderLayer(0).Or(ParameterSelector.Names("cls.predictions.bias")));
            var frozen = st.Parameters.Where(p => opt.Groups[p].Frozen).ToList();
            Assert.Equal(6, frozen.Count);
            var snap = frozen.ToDictionary(p => p.Name, p => (W: st.Span(p).ToArray(), M: opt.FirstMomentOf(p).ToArray(),
                V: opt.SecondMomentOf(p).ToArray()));
            var rng = new Random(9);
            for (int k = 0; k < 3; k++) { OptimTestUtil.FillGrad(st, rng); opt.Step(1e-2); }
            foreach (var p in frozen)
            {
                Assert.True(st.Span(p).SequenceEqual(snap[p.Name].W), $"{opt.Kind}: {p.Name} weights changed");
                Assert.True(opt.FirstMomentOf(p).SequenceEqual(snap[p.Name].M), $"{opt.Kind}: {p.Name} m changed");
                Assert.True(opt.SecondMomentOf(p).SequenceEqual(snap[p.Name].V), $"{opt.Kind}: {p.Name} v changed");
                Assert.Equal(1, opt.StepsOf(p));
            }
            var trained = st["mobilebert.encoder.layer.1.attention.self.query.weight"];
            Assert.Equal(4, opt.StepsOf(trained));
            Assert.Equal(4, opt.StepCount);
        }
    }

    [Fact]
    public void EncoderStagesForKnowledgeTransfer()
    {
        var s = OptimTestUtil.SmallStore();
        var g = new ParameterGroups(s);
        g.ConfigureEncoderStage(1, currentMultiplier: 3, earlierMultiplier: 0.3);
        foreach (var p in s.Parameters)
        {
            int l = ParameterSelector.EncoderLayerOf(p);
            var set = g[p];
            if (l == 1) Assert.Equal((3.0, false), (set.LrMultiplier, set.Frozen));
            else if (l == 0) Assert.Equal((0.3, false), (set.LrMultiplier, set.Frozen));
            else Assert.True(set.Frozen, p.Name);                // later layers, embeddings and heads
        }
        // Next stage: earlier layers frozen, embeddings/heads trained at ×1; the previous stage's settings are replaced.
        g.ConfigureEncoderStage(2, currentMultiplier: 3, earlierMultiplier: null, otherMultiplier: 1);
        foreach (var p in s.Parameters)
        {
            int l = ParameterSelector.EncoderLayerOf(p);
            var set = g[p];
            if (l == 2) Assert.Equal((3.0, false), (set.LrMultiplier, set.Frozen));
            else if (l >= 0) Assert.True(set.Frozen, p.Name);
            else Assert.Equal((1.0, false), (set.LrMultiplier, set.Frozen));
        }
        g.ResetLrAndFreezing();
        Assert.All(s.Parameters, p => Assert.Equal(ParameterSettings.Default, g[p]));
    }

    [Fact]
    public void SelectorsAndErrors()
    {
        var s = OptimTestUtil.SmallStore();
        var g = new ParameterGroups(s);
        Assert.Throws<ArgumentException>(() => g.Freeze(ParameterSelector.Names("mobilebert.encoder.layer.9.nope")));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.SetLrMultiplier(ParameterSelector.All, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.SetLrMultiplier(ParameterSelector.All, double.NaN));
        Assert.Equal(3, g.Apply(ParameterSelector.EncoderLayersAbove(0).And(ParameterSelector.Regex("LayerNorm")).Or(
            ParameterSelector.Prefix("classifier.")), x => x));
        Assert.Equal(10, g.Apply(ParameterSelector.EncoderLayersBelow(2), x => x));
        Assert.Equal(12, g.Apply(ParameterSelector.BiasesAndNorms, x => x));
        Assert.Equal(5, g.Apply(ParameterSelector.OutsideEncoderLayers, x => x));
        g.Freeze((Func<Parameter, bool>)(p => p.Name.StartsWith("cls.")));
        Assert.True(g["cls.predictions.bias"].Frozen);
        Assert.Equal(-1, ParameterSelector.EncoderLayerOf(s["classifier.weight"]));
        Assert.Equal(2, ParameterSelector.EncoderLayerOf(s["mobilebert.encoder.layer.2.output.LayerNorm.weight"]));
    }
}
