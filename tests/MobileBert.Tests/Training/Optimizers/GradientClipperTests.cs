using MobileBert.Tensors;
using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Training.Optimizers;

public class GradientClipperTests
{
    static double RefNorm(ParameterStore s, Func<Parameter, bool>? include = null)
    {
        double sum = 0;
        foreach (var p in s.Parameters)
            if (include is null || include(p))
                foreach (var g in s.GradSpan(p)) sum += (double)g * g;
        return Math.Sqrt(sum);
    }

    [Fact]
    public void NormEqualsDoubleReference()
    {
        var s = OptimTestUtil.SmallStore();
        double expected = RefNorm(s);
        Assert.Equal(expected, GradientClipper.GlobalNorm(s), 1e-12 * expected);
        var r = GradientClipper.ClipGlobalNorm(s, double.PositiveInfinity);
        Assert.Equal(expected, r.Norm, 1e-12 * expected);
        Assert.False(r.Clipped);
        Assert.Equal(expected, RefNorm(s), 0);                 // nothing scaled
    }

    [Fact]
    public void ClipsToMaxNormAndReturnsPreClipNorm()
    {
        var s = OptimTestUtil.SmallStore();
        double before = RefNorm(s);
        var g0 = (float[])s.Grad!.Clone();
        var r = GradientClipper.ClipGlobalNorm(s, 1.0);
        Assert.Equal(before, r.Norm, 1e-12 * before);
        Assert.True(r.Clipped);
        Assert.Equal(1.0 / before, r.Scale, 1e-15);
        Assert.Equal(1.0, RefNorm(s), 1e-6);
        for (int i = 0; i < g0.Length; i++) Assert.Equal(g0[i] * (float)r.Scale, s.Grad[i]);
        // Below the threshold: untouched.
        var g1 = (float[])s.Grad.Clone();
        var r2 = GradientClipper.ClipGlobalNorm(s, 10.0);
        Assert.Equal(1, r2.Scale);
        Assert.True(s.Grad.AsSpan().SequenceEqual(g1));
        // torch's rule: max / (norm + 1e-6).
        var r3 = GradientClipper.ClipGlobalNorm(s, 0.5, epsilon: 1e-6);
        Assert.Equal(0.5 / (r3.Norm + 1e-6), r3.Scale, 1e-15);
    }

    [Fact]
    public void WithGroupsOnlyTrainableParametersCountAndScale()
    {
        var s = OptimTestUtil.SmallStore();
        var groups = new ParameterGroups(s).Freeze(ParameterSelector.EncoderLayersBelow(2));
        bool Trainable(Parameter p) => !groups[p].Frozen;
        double expected = RefNorm(s, Trainable);
        var frozenBefore = s.GradSpan(s["mobilebert.encoder.layer.0.attention.self.query.weight"]).ToArray();
        var r = GradientClipper.ClipGlobalNorm(s, 0.5, groups);
        Assert.Equal(expected, r.Norm, 1e-12 * expected);
        Assert.Equal(0.5, RefNorm(s, Trainable), 1e-6);
        Assert.True(s.GradSpan(s["mobilebert.encoder.layer.0.attention.self.query.weight"]).SequenceEqual(frozenBefore));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteGradientNamesTheParameterAndChangesNothing(float bad)
    {
        var s = OptimTestUtil.SmallStore();
        var p = s["mobilebert.encoder.layer.1.intermediate.dense.bias"];
        s.GradSpan(p)[5] = bad;
        var g = (float[])s.Grad!.Clone();
        var ex = Assert.Throws<NonFiniteGradientException>(() => GradientClipper.ClipGlobalNorm(s, 1.0));
        Assert.Equal(p.Name, ex.ParameterName);
        Assert.Equal(5, ex.Index);
        Assert.Contains(p.Name, ex.Message);
        Assert.True(s.Grad.AsSpan().SequenceEqual(g));      // not scaled
        var r = GradientClipper.TryClipGlobalNorm(s, 1.0);
        Assert.False(r.IsFinite);
        Assert.Equal(p.Name, r.NonFiniteParameter);
        Assert.Equal(5, r.NonFiniteIndex);
        Assert.Equal(p.Name, Assert.Throws<NonFiniteGradientException>(() => GradientClipper.GlobalNorm(s)).ParameterName);

        // The optimizer step must not be applied.
        var opt = new AdamW(s);
        var w = (float[])s.Data.Clone();
        Assert.Throws<NonFiniteGradientException>(() => opt.ClipAndStep(1e-3, 1.0));
        Assert.True(s.Data.AsSpan().SequenceEqual(w));
        Assert.Equal(0, opt.StepCount);
        Assert.All(opt.FirstMoment, x => Assert.Equal(0f, x));

        // A frozen parameter's gradient is not looked at by ClipAndStep.
        opt.Groups.Freeze(ParameterSelector.Names(p.Name));
        opt.ClipAndStep(1e-3, 1.0);
        Assert.Equal(1, opt.StepCount);
        Assert.All(s.Data, x => Assert.True(float.IsFinite(x)));
    }
}
