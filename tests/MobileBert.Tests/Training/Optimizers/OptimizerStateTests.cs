using MobileBert.Checkpoints;
using MobileBert.Tensors;
using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Training.Optimizers;

public class OptimizerStateTests
{
    static readonly LrSchedule Schedule = LrSchedule.Linear(1e-2, warmupSteps: 2, totalSteps: 10);

    static void Run(Optimizer opt, ParameterStore s, long from, long to)
    {
        for (long step = from; step < to; step++)
        {
            OptimTestUtil.FillGrad(s, new Random((int)step * 31 + 1));   // gradients a function of the step
            if (step == 3) opt.Groups.Freeze(ParameterSelector.EncoderLayer(1));
            if (step == 5) opt.Groups.Unfreeze(ParameterSelector.EncoderLayer(1));
            opt.ClipAndStep(Schedule.At(opt.StepCount), maxGradNorm: 5.0);
        }
    }

    public static TheoryData<string> Kinds => new() { "adamw", "lamb" };

    static Optimizer Make(string kind, ParameterStore s) => kind == "adamw"
        ? new AdamW(s, new AdamWOptions { Beta2 = 0.99, WeightDecay = 0.03, DecayBiasesAndNorms = false })
        : new Lamb(s, new LambOptions { Beta1 = 0.8, BiasCorrection = true });

    [Theory, MemberData(nameof(Kinds))]
    public void SaveLoadContinueIsBitIdenticalToUninterrupted(string kind)
    {
        var dir = TestPaths.NewTempDir();
        var uninterrupted = OptimTestUtil.SmallStore();
        var o1 = Make(kind, uninterrupted);
        o1.Groups.SetLrMultiplier(ParameterSelector.EncoderLayer(2), 3).Freeze(ParameterSelector.Names("classifier.weight"));
        Run(o1, uninterrupted, 0, 4);

        // Checkpoint: weights (as the trainer would) + optimizer state.
        var path = Path.Combine(dir, "optimizer.safetensors");
        o1.Save(path);
        var weights = (float[])uninterrupted.Data.Clone();
        Run(o1, uninterrupted, 4, 9);

        // Resume in a fresh store and a fresh optimizer with default options and groups: everything comes from the file.
        var resumed = OptimTestUtil.SmallStore();
        weights.CopyTo(resumed.Data, 0);
        var o2 = kind == "adamw" ? (Optimizer)new AdamW(resumed) : new Lamb(resumed);
        o2.Load(path);
        Assert.Equal(4, o2.StepCount);
        Assert.Equal(3.0, o2.Groups["mobilebert.encoder.layer.2.intermediate.dense.weight"].LrMultiplier);
        Assert.True(o2.Groups["classifier.weight"].Frozen);
        Assert.True(o2.Groups["mobilebert.encoder.layer.1.attention.self.query.weight"].Frozen);
        if (o2 is AdamW a) Assert.Equal(((AdamW)o1).Options, a.Options);
        if (o2 is Lamb l) Assert.Equal(((Lamb)o1).Options, l.Options);
        Run(o2, resumed, 4, 9);

        Assert.True(uninterrupted.Data.AsSpan().SequenceEqual(resumed.Data), "weights differ after resume");
        Assert.True(o1.FirstMoment.AsSpan().SequenceEqual(o2.FirstMoment), "m differs after resume");
        Assert.True(o1.SecondMoment.AsSpan().SequenceEqual(o2.SecondMoment), "v differs after resume");
        Assert.Equal(o1.StepCount, o2.StepCount);
        foreach (var p in resumed.Parameters) Assert.Equal(o1.StepsOf(uninterrupted[p.Name]), o2.StepsOf(p));

        // The factory picks the right optimizer.
        var o3 = OptimizerState.LoadOptimizer(OptimTestUtil.SmallStore(), path);
        Assert.Equal(kind, o3.Kind);
        Assert.Equal(4, o3.StepCount);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MismatchesAreClearErrors()
    {
        var dir = TestPaths.NewTempDir();
        var s = OptimTestUtil.SmallStore();
        var opt = new AdamW(s);
        opt.Step(1e-3);
        var path = Path.Combine(dir, "opt.safetensors");
        opt.Save(path);

        // Another optimizer kind.
        var ex = Assert.Throws<OptimizerStateException>(() => new Lamb(OptimTestUtil.SmallStore()).Load(path));
        Assert.Contains("'adamw'", ex.Message);

        // A model with a different layout: one parameter missing, one extra, one reshaped.
        var other = new ParameterStore();
        foreach (var p in s.Parameters)
        {
            if (p.Name == "classifier.weight") continue;
            if (p.Name == "cls.predictions.bias") other.Add(p.Name, 38);
            else other.Add(p.Name, p.Shape);
        }
        other.Add("qa_outputs.weight", 2, 8);
        other.Allocate(); other.AllocateGrad();
        var target = new AdamW(other);
        target.Step(0);
        ex = Assert.Throws<OptimizerStateException>(() => target.Load(path));
        Assert.Contains("qa_outputs.weight", ex.Message);
        Assert.Contains("classifier.weight", ex.Message);
        Assert.Contains("cls.predictions.bias: state has [37], model has [38]", ex.Message);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(1, target.StepCount);                     // untouched by the failed load

        // Not an optimizer state file.
        var weights = Path.Combine(dir, "weights.safetensors");
        SafeTensorsWriter.Write(weights, [("x", new[] { 2 }, new float[] { 1, 2 })]);
        ex = Assert.Throws<OptimizerStateException>(() => opt.Load(weights));
        Assert.Contains("format", ex.Message);
        Assert.Throws<OptimizerStateException>(() => opt.Load(Path.Combine(dir, "missing.safetensors")));
        Directory.Delete(dir, true);
    }
}
