using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.PretrainingData;
using MobileBert.Text;
using MobileBert.Training;
using MobileBert.Training.Optimizers;
using MobileBert.Training.Pretraining;

namespace MobileBert.Distillation;

/// <summary>
/// Knowledge transfer from an IB-BERT teacher to a MobileBERT student (MobileBERT §3.3–3.5): shards built once (or reused
/// from the teacher's run), student initialised from the teacher (embeddings + heads), a <see cref="DistillPlan"/> of
/// stages, and a normal student model folder at the end. <see cref="TrainingHarness"/> runs the loop: atomic checkpoints
/// (always at stage boundaries) with exact resume across stages, CSV + PNG curves.
/// <para>Efficiency: the teacher runs in inference mode (no backward caches). A layer-wise stage trains a truncated copy of
/// the student holding only the layers that stage needs (progressive stage l: layers 0…l, no heads) against a truncated
/// teacher (layers 0…map(l)); weights are copied back into the full student at checkpoints, evaluations and stage ends.
/// Each stage has its own optimizer (fresh moments, warm-up restarts) — the reference ran each phase's layer gating in one
/// TF optimizer, whose moments for a gated-off layer still decay.</para>
/// </summary>
public static class DistillationRun
{
    public const string StateFile = RunDirectory.StateFile;
    public const string OptimizerFile = RunDirectory.OptimizerFile;
    public const string MetricsFile = RunDirectory.MetricsFile;
    public const string CurvesFile = RunDirectory.CurvesFile;
    /// <summary>Training sequences the embedding-norm fit reads (<see cref="StudentInit.FitEmbeddingNorm"/>).</summary>
    public const int EmbeddingNormFitSequences = 256;

    public static DistillResult Run(DistillOptions o, Action<DistillProgress>? progress = null, CancellationToken cancel = default)
    {
        o.Validate();
        progress ??= _ => { };
        if (o.Strategy != DistillStrategy.Scratch) ModelFolder.RequireFolder(o.TeacherDir!);   // before anything is created
        var tokenizer = WordPieceTokenizer.FromVocabFile(o.VocabPath);
        Directory.CreateDirectory(o.OutputDir);
        if (tokenizer.VocabSize > o.StudentConfig.VocabSize)
            throw new ArgumentException(
                $"{o.VocabPath}: {tokenizer.VocabSize} tokens, more than the student's vocab_size = {o.StudentConfig.VocabSize}.");

        // 1. Teacher (inference only) and the layer map.
        MobileBertModel? teacher = null;
        LayerMap? map = null;
        if (o.Strategy != DistillStrategy.Scratch)
        {
            teacher = ModelFolder.Load(o.TeacherDir!);
            teacher.Threads = o.Threads;
            StudentInit.CheckPair(teacher.Config, o.StudentConfig);
            if (teacher.Mlm is null)
                progress(new DistillProgress { Phase = "setup", Message = $"{o.TeacherDir}: the teacher has no MLM head " +
                    "(cls.predictions.*): pre-training " +
                    "distillation is replaced by feature-map and attention transfer of all layers with every backbone tensor trained" });
            map = o.LayerMapSpec is null ? LayerMap.Default(o.StudentConfig.NumHiddenLayers, teacher.Config.NumHiddenLayers)
                : LayerMap.Parse(o.LayerMapSpec, o.StudentConfig.NumHiddenLayers, teacher.Config.NumHiddenLayers);
            progress(new DistillProgress { Phase = "setup", Message = $"layer map: {map}" });
            if (teacher.Config.NumAttentionHeads != o.StudentConfig.NumAttentionHeads)
            {
                int th = teacher.Config.NumAttentionHeads, sh = o.StudentConfig.NumAttentionHeads;
                int g = DistillationLosses.HeadGroups(th, sh);
                progress(new DistillProgress { Phase = "setup", Message = $"attention transfer: the teacher has {th} heads, the student {sh}: " +
                    $"{g} groups, each the mean of {th / g} teacher heads against the mean of {sh / g} student heads" });
            }
        }

        // 2. Data.
        progress(new DistillProgress { Phase = "data", Message = "preparing shards" });
        using var shards = CorpusShards.Prepare(o, o.DataSeed, o.DataDir ?? Path.Combine(o.OutputDir, "data"), tokenizer, o.Batch,
            m => progress(new DistillProgress { Phase = "data", Message = m }));
        var (train, heldOut) = (shards.Train, shards.HeldOut);

        // 3. Student: fresh (initialised from the teacher) or from the latest checkpoint.
        bool teacherPredicts = teacher is null || teacher.Mlm is not null;
        bool embeddingStage = teacher is not null && !StudentInit.EmbeddingsCopyable(teacher.Config, o.StudentConfig);
        long embeddingSteps = embeddingStage ? o.EmbeddingSteps ?? o.StepsPerLayer : 0;
        var plan = DistillPlan.Create(o.Strategy, o.StudentConfig.NumHiddenLayers, o.StepsPerLayer, o.PdSteps, o.Lr, o.WarmupFraction, o.FreezeLower,
            embeddingSteps, teacherPredicts);
        var studentHeads = teacherPredicts ? ModelHeads.Pretraining : ModelHeads.None;
        progress(new DistillProgress { Phase = "setup", Message = $"{o.Strategy.ToString().ToLowerInvariant()}: " +
            string.Join(", ", plan.Stages.Select(s => $"{s.Name} ({s.Steps} steps)")) + $" = {plan.TotalSteps} steps" });
        var c = o.StudentConfig;
        var harness = TrainingHarness.Open(o, o.Fingerprint(teacher?.Config), new CurveSpec(
            $"Student (MobileBERT, {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, intra {c.IntraBottleneckSize}) — knowledge transfer",
            [
                ("Feature-map transfer (MSE of normalised maps; embedding output)", ["fmt_mse", "fmt_emb"]),
                ("Mean / variance matching", ["fmt_mean", "fmt_var"]),
                ("Attention transfer (KL)", ["at"]),
                ("Held-out transfer losses", ["eval_fmt_mse", "eval_at", "eval_fmt_emb"]),
                ("Pre-training distillation (MLM, KD, NSP)", ["mlm", "kd", "nsp"]),
                ("MLM accuracy (held-out vs unigram baseline)", ["mlm_acc", "eval_mlm_acc", "unigram_baseline_acc"]),
            ],
            new Reporting.PlotOptions { Subtitle = $"{o.Strategy.ToString().ToLowerInvariant()}: " +
                $"{string.Join(" → ", plan.Stages.Select(x => x.Name).Distinct())}; layer-wise terms summed over the stage's layers" },
            [.. plan.Stages.Select(x => x.Name)]));
        MobileBertModel student;
        var position = default(DataPosition);
        string? resumeOptimizer = null;
        if (harness.Resume is { } ck)
        {
            student = ModelFolder.Load(ck.Path, new LoadOptions { Heads = studentHeads });
            position = new DataPosition(ck.State["epoch"]!.GetValue<int>(), ck.State["index"]!.GetValue<int>());
            resumeOptimizer = Path.Combine(ck.Path, OptimizerFile);
            progress(new DistillProgress { Phase = "setup", Message = $"resuming from {ck.Path} (step {ck.Step}, {position})" });
        }
        else
        {
            student = new MobileBertModel(o.StudentConfig, studentHeads);
            student.InitializeWeights((int)(o.Seed & int.MaxValue));
            if (teacher is not null)
            {
                foreach (var w in StudentInit.CopySharedFromTeacher(teacher, student))
                    progress(new DistillProgress { Phase = "setup", Message = "note: " + w });
                if (o.ProjectEmbeddings && EmbeddingProjection.Applies(teacher, student))
                {
                    var pr = EmbeddingProjection.Apply(teacher, student, (int)(o.Seed & int.MaxValue));
                    progress(new DistillProgress { Phase = "setup", Message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"embedding: the teacher's {pr.TeacherWidth}-d word embeddings projected onto their top {pr.StudentWidth} principal " +
                        $"directions ({pr.ExplainedVariance:P1} of their variance); the trigram transformation maps them back") });
                }
                if (o.FitEmbeddingNorm && StudentInit.NeedsEmbeddingNormFit(teacher.Config, student.Config))
                {
                    // The first (up to) 256 training sequences, in file order: deterministic, independent of the batch order.
                    int count = Math.Min(train.Count, EmbeddingNormFitSequences);
                    var inputs = Enumerable.Range(0, (count + o.Batch - 1) / o.Batch)
                        .Select(i => train.GetBatch([.. Enumerable.Range(i * o.Batch, Math.Min(o.Batch, count - i * o.Batch))]).Input);
                    var fit = StudentInit.FitEmbeddingNorm(teacher, student, inputs);
                    progress(new DistillProgress { Phase = "setup", Message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"embedding norm: the student's NoNorm γ/β fitted to the teacher's LayerNorm on {fit.Tokens} tokens " +
                        $"(mean |γ| {fit.MeanAbsGamma:G3}, R² {fit.ExplainedVariance:F3})") });
                }
            }
        }
        student.Threads = o.Threads;
        var iterator = new PretrainingBatchIterator(train, o.Batch, o.Seed, position);
        int unigram = PretrainingRun.MostFrequentMaskedToken(train);

        // 4. Train, stage by stage: each stage has its own models and optimizer (StageContext).
        using var trainer = new Trainer(o, map) { Unmask = !teacherPredicts };
        StageContext? ctx = null;
        var sums = new Dictionary<string, double>();
        EvalResult? lastEval = null;
        TransferEval? lastTransfer = null;
        double lr = 0, gradNorm = 0;
        StageContext Enter(DistillStage stage, long step)
        {
            ctx?.SyncTo(student);
            var next = StageContext.Create(stage, plan, student, teacher, map, o);
            // Mid-stage resume: the optimizer state of this stage. A checkpoint at a stage boundary starts the next stage fresh.
            if (resumeOptimizer is not null && step > stage.Start) next.Optimizer.Load(resumeOptimizer);
            resumeOptimizer = null;
            int trained = next.Model.Store.Parameters.Count(p => !next.Optimizer.Groups[p].Frozen);
            progress(new DistillProgress { Phase = "stage", Step = step, Steps = plan.TotalSteps, Stage = stage, StageCount = plan.Stages.Count,
                Message = $"stage {stage.Index + 1}/{plan.Stages.Count}: {stage.Name} — {stage.Kind}, student layers 0…{stage.Depth - 1} run" +
                    (next.Teacher is { } t ? $", teacher layers 0…{t.Config.NumHiddenLayers - 1}" : "") +
                    $", {trained} of {next.Model.Store.Parameters.Count} tensors trained, steps {stage.Start + 1}…{stage.End}" });
            harness.RestartClock();
            return next;
        }
        harness.Train(new TrainingLoop
        {
            Steps = plan.TotalSteps,
            PeriodEnd = step => step == ctx!.Stage.End,
            Step = step =>
            {
                var stage = plan.StageAt(step);
                if (ctx is null || !ReferenceEquals(ctx.Stage, stage)) ctx = Enter(stage, step);
                var batch = iterator.Next();
                lr = plan.Schedule.At(step);
                foreach (var (k, v) in trainer.Step(ctx, batch, lr, TrainingHarness.StepSeed(o.Seed, step), step + 1, out gradNorm))
                    sums[k] = sums.GetValueOrDefault(k) + v;
                return (long)batch.Batch * batch.Seq;
            },
            Log = w =>
            {
                var stage = ctx!.Stage;
                var row = sums.ToDictionary(kv => kv.Key, kv => kv.Value / w.WindowSteps);
                row["stage"] = stage.Index; row["layer"] = stage.TrainedLayer ?? -1; row["lr"] = lr; row["grad_norm"] = gradNorm;
                row["tokens_per_s"] = w.ItemsPerSecond;
                var report = new DistillProgress
                {
                    Phase = "train", Step = w.Step, Steps = plan.TotalSteps, Stage = stage, StageCount = plan.Stages.Count,
                    StageStep = w.Step - stage.Start, Terms = row, LearningRate = lr, TokensPerSecond = w.ItemsPerSecond, Eta = w.Eta,
                };
                if (w.Evaluate)
                {
                    ctx.SyncTo(student);
                    if (student.Mlm is not null)
                    {
                        lastEval = PretrainingRun.Evaluate(student, heldOut, o.Batch, o.EvalBatches, unigram);
                        PretrainingRun.AddEvalColumns(row, lastEval);
                    }
                    if (teacher is not null)
                    {
                        lastTransfer = TransferEvaluation.Run(teacher, student, map!, heldOut, o.Batch, o.EvalBatches, o.Threads, !teacherPredicts);
                        row["eval_fmt_mse"] = lastTransfer.FeatureMapMse; row["eval_at"] = lastTransfer.Attention;
                        row["eval_fmt_emb"] = lastTransfer.EmbeddingMse;
                    }
                    report = report with { Phase = "eval", Eval = lastEval, Transfer = lastTransfer };
                }
                progress(report);
                sums.Clear();
                return row;
            },
            Save = dir =>
            {
                ctx!.SyncTo(student);
                ModelFolder.Save(student, dir, o.VocabPath);
                ctx.Optimizer.Save(Path.Combine(dir, OptimizerFile));
                return new JsonObject { ["stage"] = ctx.Stage.Index, ["epoch"] = iterator.Position.Epoch, ["index"] = iterator.Position.Index };
            },
            Saved = (step, path) => progress(new DistillProgress
            {
                Phase = "checkpoint", Step = step, Steps = plan.TotalSteps, Stage = ctx!.Stage, StageCount = plan.Stages.Count, Message = path,
            }),
        }, cancel);
        ctx?.SyncTo(student);
        if (student.Mlm is not null) lastEval ??= PretrainingRun.Evaluate(student, heldOut, o.Batch, o.EvalBatches, unigram);
        if (teacher is not null)
            lastTransfer ??= TransferEvaluation.Run(teacher, student, map!, heldOut, o.Batch, o.EvalBatches, o.Threads, !teacherPredicts);
        ModelFolder.Save(student, o.OutputDir, o.VocabPath);
        harness.SaveCurves();
        progress(new DistillProgress
        {
            Phase = "done", Step = harness.Step, Steps = plan.TotalSteps, Eval = lastEval, Transfer = lastTransfer, Message = o.OutputDir,
        });
        return new DistillResult(o.OutputDir, harness.Step, lastEval, harness.TrainSeconds, harness.ResumedFrom > 0, harness.ResumedFrom,
            student.Store.Count)
        {
            FinalTransfer = lastTransfer, PredictionDistillation = teacherPredicts, EmbeddingStage = embeddingSteps > 0,
        };
    }

    /// <summary>The models and optimizer of one stage.</summary>
    internal sealed class StageContext
    {
        public required DistillStage Stage { get; init; }
        /// <summary>The model trained in this stage: the full student, or a truncated headless copy (layer-wise stages).</summary>
        public required MobileBertModel Model { get; init; }
        /// <summary>The teacher (or a truncated copy with only the layers this stage reads); null without a teacher.</summary>
        public MobileBertModel? Teacher { get; init; }
        public required Optimizer Optimizer { get; init; }

        public void SyncTo(MobileBertModel student)
        {
            if (!ReferenceEquals(Model, student)) StudentInit.CopyInto(Model.Store, student.Store);
        }

        public static StageContext Create(DistillStage stage, DistillPlan plan, MobileBertModel student, MobileBertModel? teacher, LayerMap? map,
            DistillOptions o)
        {
            var model = stage.HasPrediction ? student : StudentInit.Truncated(student, stage.Depth, ModelHeads.None);
            model.Threads = o.Threads;
            MobileBertModel? t = teacher;
            if (teacher is not null && !stage.HasPrediction)
            {
                int depth = stage.Layers.Length == 0 ? 1 : stage.Layers.Max(l => map![l]) + 1;
                if (depth < teacher.Config.NumHiddenLayers) t = StudentInit.Truncated(teacher, depth, ModelHeads.None);
            }
            var opt = OptimizerFactory.Create(o.Optimizer, model.Store, o.WeightDecay, o.Threads);
            plan.Configure(stage, opt.Groups);
            return new StageContext { Stage = stage, Model = model, Teacher = t, Optimizer = opt };
        }
    }

    /// <summary>One distillation step (teacher forward, student forward/backward, losses, clipping, update).</summary>
    internal sealed class Trainer(DistillOptions o, LayerMap? map) : IDisposable
    {
        float[] _teacherLogits = [];
        float[] _teacherGathered = [];
        // The teacher runs on the fast inference engine (docs/INFERENCE.md; ≤ 1e-5 relative to model.Forward), with its
        // per-layer hidden states and attention maps in the layer-wise stages.
        InferenceEngine? _teacherEngine;
        MobileBertModel? _teacherEngineModel;
        /// <summary>Run the teacher on the inference engine (false: model.Forward; tests compare both).</summary>
        internal bool TeacherOnEngine { get; init; } = true;
        /// <summary>Layer-wise stages read the original tokens instead of the MLM-masked ones (a teacher without MLM head was
        /// never meant to see [MASK]; the reference, with an MLM teacher, transfers on the masked input).</summary>
        internal bool Unmask { get; init; }

        /// <summary>The engine the teacher runs on (built on first use, rebuilt when the stage's teacher changes).</summary>
        internal InferenceEngine TeacherEngine(MobileBertModel teacher, int threads)
        {
            if (_teacherEngine is null || !ReferenceEquals(_teacherEngineModel, teacher))
            {
                _teacherEngine?.Dispose();
                _teacherEngine = new InferenceEngine(teacher, new InferenceOptions { Threads = threads });
                _teacherEngineModel = teacher;
            }
            return _teacherEngine;
        }

        public void Dispose() { _teacherEngine?.Dispose(); _teacherEngine = null; }
        ModelOutput? _teacherOut;   // the previous step's teacher output: its arrays are reused (ForwardOptions.ReuseOutputs)
        float[]?[] _dHidden = [];
        float[]?[] _dAttn = [];
        readonly LayerTransfer _layers = new();

        public Dictionary<string, double> Step(StageContext ctx, PretrainingBatch batch, double lr, ulong seed, long stepNumber, out double gradNorm)
        {
            var stage = ctx.Stage; var student = ctx.Model; var t = ctx.Teacher;
            if (Unmask && !stage.HasPrediction) batch = Unmasked(batch);
            var w = o.Weights;
            int b = batch.Batch, h = student.Config.HiddenSize, threads = Math.Max(1, o.Threads);
            bool layerWise = stage.HasLayerWise && t is not null, pd = stage.HasPrediction;
            int[]? positions = pd ? PretrainingRun.MaskedPositions(batch.MlmLabels) : null;
            var terms = new Dictionary<string, double>();

            // Teacher: inference mode, only what the stage reads.
            IReadOnlyList<float[]>? tHidden = null, tAttn = null;
            int masked = positions?.Length ?? 0;
            if (t is not null && (layerWise || pd))
            {
                ReadOnlySpan<float> last;
                if (TeacherOnEngine)
                {
                    var r = TeacherEngine(t, threads).Run(batch.Input,
                        layerWise ? InferenceOutputs.HiddenStates | InferenceOutputs.Attentions : InferenceOutputs.None);
                    tHidden = r.HiddenStates; tAttn = r.Attentions; last = r.LastHiddenState;
                }
                else
                {
                    var tOut = _teacherOut = t.Forward(batch.Input, new ForwardOptions
                    {
                        OutputHiddenStates = layerWise, OutputAttentions = layerWise, Heads = ModelHeads.None, ReuseOutputs = _teacherOut,
                    });
                    tHidden = tOut.HiddenStates; tAttn = tOut.Attentions; last = tOut.LastHiddenState;
                }
                // The teacher's last hidden state at the masked positions, for its MLM head below.
                if (_teacherGathered.Length < masked * h) _teacherGathered = new float[masked * h];
                for (int i = 0; i < masked; i++) last.Slice(positions![i] * h, h).CopyTo(_teacherGathered.AsSpan(i * h, h));
            }

            var sOut = student.Forward(batch.Input, new ForwardOptions
            {
                Training = o.Dropout, KeepForBackward = true, Seed = seed, MlmPositions = positions,
                Heads = pd ? ModelHeads.Pretraining : ModelHeads.None,
                OutputHiddenStates = layerWise, OutputAttentions = layerWise,
            });
            var grads = new OutputGradients();
            double total = 0;
            if (layerWise)
            {
                int L = student.Config.NumHiddenLayers;
                if (_dHidden.Length != L + 1) _dHidden = new float[L + 1][];
                if (_dAttn.Length != L) _dAttn = new float[L][];
                Array.Fill(_dHidden, null); Array.Fill(_dAttn, null);
                grads.HiddenStates = _dHidden; grads.Attentions = _dAttn;
                var lt = _layers.Apply(tHidden!, tAttn!, t!.Config.NumAttentionHeads, sOut, student.Config, batch.Input, map!, stage.Layers,
                    stage.EmbeddingLoss, w, 1.0, grads, threads);
                if (stage.EmbeddingLoss) terms["fmt_emb"] = lt.Embedding;
                if (stage.Layers.Length > 0)
                {
                    terms["fmt_mse"] = lt.Mse; terms["fmt_mean"] = lt.Mean; terms["fmt_var"] = lt.Variance; terms["at"] = lt.Attention;
                }
                total += lt.Total;
            }
            if (pd)
            {
                int p = positions!.Length, v = student.Config.VocabSize;
                var labels = positions.Select(i => batch.MlmLabels[i]).ToArray();
                float[] teacherLogits;
                var weights = w;
                if (t is not null)
                {
                    if (_teacherLogits.Length < p * v) _teacherLogits = new float[p * v];
                    t.Mlm!.Forward(_teacherGathered.AsSpan(0, p * h), p, _teacherLogits.AsSpan(0, p * v), threads);
                    teacherLogits = _teacherLogits;
                }
                else { teacherLogits = sOut.MlmLogits!; weights = w with { Alpha = 1.0 }; }   // no teacher: hard labels only
                var dNsp = new float[b * 2];
                // The gradient overwrites the student's logits (each row is read before it is written; without a teacher the
                // "teacher" logits are the student's own, so the KD term and its gradient are exactly 0 and α = 1).
                var pl = DistillationLosses.Prediction(sOut.MlmLogits!, teacherLogits, labels, p, v, sOut.NspLogits!, batch.NextSentenceLabels,
                    weights,
                    dStudentLogits: sOut.MlmLogits, dStudentNsp: dNsp, threads: threads);
                grads.MlmLogits = sOut.MlmLogits; grads.NspLogits = dNsp;
                terms["mlm"] = pl.Mlm; terms["kd"] = pl.Kd; terms["nsp"] = pl.Nsp;
                terms["mlm_acc"] = (double)pl.MlmCorrect / Math.Max(1, pl.MlmCount); terms["nsp_acc"] = (double)pl.NspCorrect / b;
                total += pl.Total;
            }
            terms["loss"] = total;
            if (!double.IsFinite(total))
                throw new TrainingDivergedException($"step {stepNumber}: the loss is {total} " +
                    $"({string.Join(", ", terms.Select(kv => $"{kv.Key} {kv.Value}"))}); stopped, the last checkpoint is kept. Lower Lr.")
                { Settings = ["Lr"] };
            gradNorm = TrainingHarness.BackwardAndUpdate(student, sOut, grads, ctx.Optimizer, o.MaxGradNorm, lr, stepNumber);
            return terms;
        }
    }

    /// <summary>The batch with every masked position's original token restored (new arrays; the batch is not modified).</summary>
    internal static PretrainingBatch Unmasked(PretrainingBatch batch)
    {
        var ids = (int[])batch.InputIds.Clone();
        for (int i = 0; i < ids.Length; i++) if (batch.MlmLabels[i] != Losses.IgnoreIndex) ids[i] = batch.MlmLabels[i];
        var input = new ModelInput(batch.Batch, batch.Seq, ids, batch.AttentionMask, batch.TokenTypeIds);
        return new PretrainingBatch
        {
            Input = input, MlmLabels = batch.MlmLabels, NextSentenceLabels = batch.NextSentenceLabels, ExampleIndices = batch.ExampleIndices,
            Epoch = batch.Epoch,
        };
    }
}
