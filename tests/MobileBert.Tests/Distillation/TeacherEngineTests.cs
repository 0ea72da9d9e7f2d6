using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Distillation;

/// <summary>Distillation steps run the teacher on the inference engine (with its hidden states and attention maps in
/// layer-wise stages): the losses equal those with the teacher's model.Forward (the engine is ≤ 1e-5 relative to it),
/// and so does the updated student — layer-wise (joint stage 1), prediction (joint stage 2) and auxiliary steps.</summary>
public class TeacherEngineTests
{
    [Theory]
    [InlineData(DistillStrategy.Joint, 0)]
    [InlineData(DistillStrategy.Joint, 1)]
    [InlineData(DistillStrategy.Auxiliary, 0)]
    [InlineData(DistillStrategy.Progressive, 1)]
    public void StepWithEngineTeacherEqualsForwardTeacher(DistillStrategy strategy, int stageIndex)
    {
        var teacher = ModelFolder.Load(DistillationRunTests.SharedTeacher);
        var config = Presets.MobileBertMicro();
        MobileBertModel Student()
        {
            var s = new MobileBertModel(config, ModelHeads.Pretraining) { Threads = 2 };
            s.InitializeWeights(3);
            StudentInit.CopySharedFromTeacher(teacher, s);
            return s;
        }
        var a = Student(); var b = Student();
        var map = LayerMap.Default(config.NumHiddenLayers, teacher.Config.NumHiddenLayers);
        var o = new DistillOptions { StudentConfig = config, Data = ["-"], OutputDir = "-", VocabPath = "-", Threads = 2, Batch = 4, Seq = 32 };
        var plan = DistillPlan.Create(strategy, config.NumHiddenLayers, 2, 2, 1e-4);
        var pdStage = plan.Stages[stageIndex];
        using var onEngine = new DistillationRun.Trainer(o, map);
        using var onForward = new DistillationRun.Trainer(o, map) { TeacherOnEngine = false };
        var ctxA = DistillationRun.StageContext.Create(pdStage, plan, a, teacher, map, o);
        var ctxB = DistillationRun.StageContext.Create(pdStage, plan, b, teacher, map, o);
        for (int step = 0; step < 3; step++)
        {
            var batch = StepCost.SyntheticBatch(4, 32, config.VocabSize, seed: 10 + step);
            var ta = onEngine.Step(ctxA, batch, 1e-4, (ulong)step, step, out _);
            var tb = onForward.Step(ctxB, batch, 1e-4, (ulong)step, step, out _);
            Assert.Equal(tb.Keys.Order(), ta.Keys.Order());
            foreach (var key in tb.Keys.Where(k => k != "mlm_acc" && k != "nsp_acc"))
                Assert.True(Math.Abs(ta[key] - tb[key]) <= 1e-4 * Math.Max(1, Math.Abs(tb[key])),
                    $"step {step} {key}: engine teacher {ta[key]}, forward teacher {tb[key]}");
        }
        ctxA.SyncTo(a); ctxB.SyncTo(b);
        var wa = a.Store.Data; var wb = b.Store.Data;
        double maxDiff = 0, maxW = 0;
        for (int i = 0; i < wa.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(wa[i] - wb[i])); maxW = Math.Max(maxW, Math.Abs(wb[i])); }
        Assert.True(maxDiff <= 1e-4 * maxW, $"student weights after 3 steps differ by {maxDiff} (max |w| {maxW})");
    }
}
