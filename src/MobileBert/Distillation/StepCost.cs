using System.Diagnostics;
using MobileBert.Model;
using MobileBert.PretrainingData;
using MobileBert.Training;
using MobileBert.Training.Optimizers;
using MobileBert.Training.Pretraining;

namespace MobileBert.Distillation;

/// <summary>Median wall-clock milliseconds of the pieces of a distillation step (see <see cref="StepCost.Measure"/>).</summary>
public sealed record StepCostResult(int Batch, int Seq, int Threads, int Iterations,
    double TeacherForwardMs, double StudentStepMs, double AuxiliaryStepMs, double JointLayerWiseStepMs, double ProgressiveFirstLayerStepMs,
        double PdStepMs);

/// <summary>Measures what a distillation step costs compared with a plain student training step.</summary>
public static class StepCost
{
    /// <summary>A synthetic pre-training batch: random ids, 15 % of the tokens masked (≤ 20 per row), random NSP labels.</summary>
    public static PretrainingBatch SyntheticBatch(int batch, int seq, int vocab, int seed = 1)
    {
        var rng = new Random(seed);
        var ids = new int[batch * seq]; var labels = new int[batch * seq]; var types = new int[batch * seq];
        Array.Fill(labels, Losses.IgnoreIndex);
        for (int b = 0; b < batch; b++)
        {
            int masked = 0;
            for (int i = 0; i < seq; i++)
            {
                ids[b * seq + i] = 1000 + rng.Next(vocab - 1000);
                types[b * seq + i] = i < seq / 2 ? 0 : 1;
                if (i > 0 && masked < Math.Min(20, (int)Math.Ceiling(0.15 * seq)) && rng.NextDouble() < 0.15)
                {
                    labels[b * seq + i] = ids[b * seq + i]; ids[b * seq + i] = 103; masked++;
                }
            }
        }
        return new PretrainingBatch
        {
            Input = new ModelInput(batch, seq, ids, null, types), MlmLabels = labels,
            NextSentenceLabels = [.. Enumerable.Range(0, batch).Select(_ => rng.Next(2))], ExampleIndices = new int[batch],
        };
    }

    /// <summary>
    /// Times, on one batch (warm-up 2 iterations, then the median of <paramref name="iterations"/>): the teacher's inference
    /// forward with hidden states and attentions; a plain student step (MLM + NSP: forward, loss, backward, clip, LAMB);
    /// an auxiliary distillation step (teacher forward + student step with every layer-wise loss and PD); a joint layer-wise
    /// step; the first progressive stage (student layer 0 only, teacher up to map(0)); a PD step.
    /// </summary>
    public static StepCostResult Measure(MobileBertModel teacher, MobileBertConfig studentConfig, int batch, int seq, int iterations, int threads)
    {
        teacher.Threads = threads;
        var data = SyntheticBatch(batch, seq, studentConfig.VocabSize);
        var student = new MobileBertModel(studentConfig, ModelHeads.Pretraining) { Threads = threads };
        student.InitializeWeights(1);
        StudentInit.CopySharedFromTeacher(teacher, student);
        var map = LayerMap.Default(studentConfig.NumHiddenLayers, teacher.Config.NumHiddenLayers);
        var o = new DistillOptions { StudentConfig = studentConfig, Data = ["-"], OutputDir = "-", VocabPath = "-", Threads = threads, Batch = batch,
            Seq = seq };
        using var trainer = new DistillationRun.Trainer(o, map);

        double Time(Action a)
        {
            // Warm up by time, not by count: tiered JIT promotes hot methods (and their loops, via OSR) to optimised code
            // only after ~30 calls plus a background compile, and the first piece timed would otherwise pay for it
            // (measured: the teacher forward read 96 ms after 2 warm-up calls, ~30 ms once warm).
            var warm = Stopwatch.StartNew();
            for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 1.5; i++) a();
            var t = new double[iterations];
            for (int i = 0; i < iterations; i++) { var sw = Stopwatch.StartNew(); a(); t[i] = sw.Elapsed.TotalMilliseconds; }
            Array.Sort(t);
            return t[iterations / 2];
        }
        // The teacher forward as the trainer runs it in layer-wise stages: on its inference engine, with hidden states and attentions.
        var teacherEngine = trainer.TeacherEngine(teacher, threads);
        double teacherMs = Time(() => teacherEngine.Run(data.Input,
            MobileBert.Inference.InferenceOutputs.HiddenStates | MobileBert.Inference.InferenceOutputs.Attentions));
        var plain = OptimizerFactory.Create("lamb", student.Store, threads: threads);
        double studentMs = Time(() => PretrainingRun.TrainStep(student, plain, data, 1e-5, 1.0, 1, 1, out _));
        double StageMs(DistillStrategy strategy, int stageIndex)
        {
            var plan = DistillPlan.Create(strategy, studentConfig.NumHiddenLayers, 10, 10, 1e-5);
            var ctx = DistillationRun.StageContext.Create(plan.Stages[stageIndex], plan, student, teacher, map, o);
            return Time(() => trainer.Step(ctx, data, 1e-5, 1, 1, out _));
        }
        double aux = StageMs(DistillStrategy.Auxiliary, 0);
        double joint = StageMs(DistillStrategy.Joint, 0);
        double prog0 = StageMs(DistillStrategy.Progressive, 0);
        double pd = StageMs(DistillStrategy.Joint, 1);
        return new StepCostResult(batch, seq, threads, iterations, teacherMs, studentMs, aux, joint, prog0, pd);
    }
}
