using MobileBert.Distillation;
using MobileBert.Model;
using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Distillation;

public class DistillPlanTests
{
    const string L0 = "mobilebert.encoder.layer.0.attention.self.query.weight";
    const string L1 = "mobilebert.encoder.layer.1.output.dense.weight";
    const string Emb = "mobilebert.embeddings.word_embeddings.weight";
    const string Head = "cls.predictions.transform.dense.weight";

    // Stage of 10 steps with warm-up fraction 0.1: step 0 → 0, step 1 → peak, then linear decay: peak·(1 − (k−1)/9).
    static double Sched(double peak, long local, long steps, long warmup) =>
        local < warmup ? peak * local / warmup : peak * (1 - (double)(local - warmup) / (steps - warmup));

    [Fact]
    public void ProgressiveLearningRatesPerParameterAndStep()
    {
        var plan = DistillPlan.Create(DistillStrategy.Progressive, 2, stepsPerLayer: 10, pdSteps: 5, lr: 1e-3);
        Assert.Equal(["layer 0", "layer 1", "pd"], plan.Stages.Select(s => s.Name));
        Assert.Equal(25, plan.TotalSteps);
        for (long step = 0; step < 25; step++)
        {
            var (stage, local) = plan.Schedule.Locate(step);
            double baseLr = stage < 2 ? Sched(1e-3, local, 10, 1) : Sched(1e-3, local, 5, 1);
            Assert.Equal(baseLr, plan.Schedule.At(step), 15);
            double l0 = stage switch { 0 => 3 * baseLr, 1 => 0.3 * baseLr, _ => baseLr };
            double l1 = stage switch { 0 => 0, 1 => 3 * baseLr, _ => baseLr };
            double other = stage == 2 ? baseLr : 0;
            Assert.Equal(l0, plan.LearningRate(step, L0), 15);
            Assert.Equal(l1, plan.LearningRate(step, L1), 15);
            Assert.Equal(other, plan.LearningRate(step, Emb), 15);
            Assert.Equal(other, plan.LearningRate(step, Head), 15);
        }
        Assert.Equal(0, plan.Schedule.At(10));                                  // warm-up restarts at each stage
        Assert.Equal(0, plan.Schedule.At(20));
        var frozen = DistillPlan.Create(DistillStrategy.Progressive, 2, 10, 5, 1e-3, freezeLower: true);
        Assert.Equal(0, frozen.LearningRate(11, L0));
        Assert.Equal(3e-3, frozen.LearningRate(11, L1), 15);
    }

    [Fact]
    public void JointAuxiliaryAndScratchHaveEqualStepsAndTheRightMultipliers()
    {
        var joint = DistillPlan.Create(DistillStrategy.Joint, 2, 10, 5, 1e-3);
        var aux = DistillPlan.Create(DistillStrategy.Auxiliary, 2, 10, 5, 1e-3);
        var scratch = DistillPlan.Create(DistillStrategy.Scratch, 2, 10, 5, 1e-3);
        Assert.All(new[] { joint, aux, scratch }, p => Assert.Equal(25, p.TotalSteps));
        Assert.Equal([20L, 5L], joint.Stages.Select(s => s.Steps));
        Assert.Equal(StageKind.LayerWise, joint.Stages[0].Kind);
        Assert.Equal([0, 1], joint.Stages[0].Layers);
        for (long step = 0; step < 25; step++)
        {
            double j = joint.Schedule.At(step);
            Assert.Equal(j, joint.LearningRate(step, L0), 15); Assert.Equal(j, joint.LearningRate(step, L1), 15);
            Assert.Equal(step < 20 ? 0 : j, joint.LearningRate(step, Emb), 15);
            Assert.Equal(Sched(1e-3, step, 25, 3), aux.LearningRate(step, Emb), 15);
            Assert.Equal(aux.Schedule.At(step), aux.LearningRate(step, L1), 15);
        }
        Assert.Equal(Sched(1e-3, 3, 20, 2), joint.Schedule.At(3), 15);
        Assert.Equal(StageKind.Auxiliary, aux.Stages.Single().Kind);
    }

    [Fact]
    public void ConfigureSetsTheOptimizerGroupsOfATruncatedStageModel()
    {
        var plan = DistillPlan.Create(DistillStrategy.Progressive, 2, 10, 5, 1e-3);
        var full = new MobileBertModel(Presets.MobileBertMicro(), ModelHeads.Pretraining);
        var stageModel = StudentInit.Truncated(full, 2, ModelHeads.None);
        var opt = new Lamb(stageModel.Store);
        plan.Configure(plan.Stages[1], opt.Groups);
        foreach (var p in stageModel.Store.Parameters)
        {
            var g = opt.Groups[p];
            double expected = plan.Multiplier(plan.Stages[1], p.Name);
            Assert.Equal(expected == 0, g.Frozen);
            if (!g.Frozen) Assert.Equal(expected, g.LrMultiplier);
        }
        Assert.True(opt.Groups[Emb].Frozen);
        Assert.Equal(3.0, opt.Groups[L1].LrMultiplier);
        Assert.Equal(0.3, opt.Groups[L0].LrMultiplier);
    }

    [Fact]
    public void LayerMapDefaultAndParsing()
    {
        Assert.Equal([1, 3, 5], LayerMap.Default(3, 6).Pairs);
        Assert.Equal([0, 1, 2, 3], LayerMap.Default(4, 4).Pairs);
        Assert.Equal([0, 1, 1, 2], LayerMap.Default(4, 3).Pairs);   // round(0.75)=1→0, round(1.5)=2→1, round(2.25)=2→1, 3→2
        Assert.Equal([2, 0], LayerMap.Parse("0:2,1:0", 2, 3).Pairs);
        Assert.Contains("teacher layer 7", Assert.Throws<DistillationException>(() => LayerMap.Parse("1,7", 2, 4)).Message);
        Assert.Contains("student layer 1 has no", Assert.Throws<DistillationException>(() => LayerMap.Parse("0:1", 2, 4)).Message);
    }
}
