using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.PretrainingData;
using MobileBert.Text;
using MobileBert.Training.Optimizers;

namespace MobileBert.Training.Pretraining;

/// <summary>A run stopped because the loss or a gradient became NaN/Inf. The last good checkpoint is kept.</summary>
public sealed class TrainingDivergedException(string message) : MobileBertException(message);

/// <summary>What a finished run produced.</summary>
public sealed record PretrainResult(string OutputDir, long Steps, EvalResult FinalEval, double SecondsTraining, double SequencesPerSecond,
    bool Resumed, long ResumedFromStep);

/// <summary>
/// Masked-LM + next-sentence pre-training from raw text (BERT recipe): data → shards (built once, reused), model from
/// a preset or config, LAMB or AdamW with warm-up + linear decay and global-norm clipping, held-out evaluation, and a
/// normal model folder at the end (config.json + model.safetensors + vocab.txt in <see cref="TrainingRunOptions.OutputDir"/>).
/// <see cref="TrainingHarness"/> runs the loop: atomic checkpoints with exact resume (weights, optimizer moments and the
/// data position are saved; the schedule and dropout seeds are functions of the step), CSV + PNG curves.
/// </summary>
public static class PretrainingRun
{
    public const string StateFile = RunDirectory.StateFile;
    public const string OptimizerFile = RunDirectory.OptimizerFile;
    public const string MetricsFile = RunDirectory.MetricsFile;
    public const string CurvesFile = RunDirectory.CurvesFile;
    public static PretrainResult Run(PretrainOptions o, Action<PretrainProgress>? progress = null, CancellationToken cancel = default)
    {
        o.Validate();
        progress ??= _ => { };
        Directory.CreateDirectory(o.OutputDir);
        var tokenizer = WordPieceTokenizer.FromVocabFile(o.VocabPath);
        if (tokenizer.VocabSize > o.Config.VocabSize)
            throw new ArgumentException($"{o.VocabPath}: {tokenizer.VocabSize} tokens, more than the config's vocab_size = {o.Config.VocabSize}.");

        // 1. Data: shards are built once per settings/inputs and reused (see the manifest in OUT/data).
        progress(new PretrainProgress { Phase = "data", Message = "preparing shards" });
        using var shards = CorpusShards.Prepare(o, o.Seed, Path.Combine(o.OutputDir, "data"), tokenizer, o.Batch,
            m => progress(new PretrainProgress { Phase = "data", Message = m }));
        var (train, heldOut) = (shards.Train, shards.HeldOut);

        // 2. Model, optimizer, schedule — fresh or from the latest checkpoint.
        var c = o.Config;
        var harness = TrainingHarness.Open(o, o.Fingerprint(), new CurveSpec(
            $"Pre-training {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, intra {c.IntraBottleneckSize}",
            [
                ("Loss (MLM + NSP)", ["loss", "eval_loss"]),
                ("MLM accuracy (held-out vs unigram baseline)", ["mlm_acc", "eval_mlm_acc", "unigram_baseline_acc"]),
                ("NSP accuracy", ["nsp_acc", "eval_nsp_acc"]),
            ]));
        MobileBertModel model;
        var position = default(DataPosition);
        if (harness.Resume is { } ck)
        {
            model = ModelFolder.Load(ck.Path, new LoadOptions { Heads = ModelHeads.Pretraining });
            position = new DataPosition(ck.State["epoch"]!.GetValue<int>(), ck.State["index"]!.GetValue<int>());
            progress(new PretrainProgress { Phase = "data", Message = $"resuming from {ck.Path} (step {ck.Step}, {position})" });
        }
        else
        {
            model = new MobileBertModel(o.Config, ModelHeads.Pretraining);
            model.InitializeWeights((int)(o.Seed & int.MaxValue));
        }
        model.Threads = o.Threads;
        var optimizer = OptimizerFactory.Create(o.Optimizer, model.Store, o.WeightDecay, o.Threads);
        if (harness.Resume is { } ck2) optimizer.Load(Path.Combine(ck2.Path, OptimizerFile));
        var schedule = LrSchedule.Linear(o.Lr, o.Warmup, o.Steps);
        var iterator = new PretrainingBatchIterator(train, o.Batch, o.Seed, position);
        int unigram = MostFrequentMaskedToken(train);

        // 3. Train: the step, the window's row (and held-out evaluation), the checkpoint's files.
        double lr = 0, lossSum = 0, mlmCorrect = 0, mlmCount = 0, nspCorrect = 0, nspCount = 0, gradNorm = 0;
        EvalResult? lastEval = null;
        harness.Train(new TrainingLoop
        {
            Steps = o.Steps,
            Step = step =>
            {
                var batch = iterator.Next();
                lr = schedule.At(step);
                var (loss, acc) = TrainStep(model, optimizer, batch, lr, o.MaxGradNorm, TrainingHarness.StepSeed(o.Seed, step), step + 1,
                    out gradNorm);
                lossSum += loss.Total;
                mlmCorrect += acc.MlmCorrect; mlmCount += acc.MlmCount; nspCorrect += acc.NspCorrect; nspCount += batch.Batch;
                return (long)batch.Batch * batch.Seq;
            },
            Log = w =>
            {
                var row = new Dictionary<string, double>
                {
                    ["lr"] = lr, ["loss"] = lossSum / w.WindowSteps, ["mlm_acc"] = mlmCorrect / Math.Max(1, mlmCount),
                    ["nsp_acc"] = nspCorrect / Math.Max(1, nspCount), ["grad_norm"] = gradNorm, ["tokens_per_s"] = w.ItemsPerSecond,
                };
                var report = new PretrainProgress
                {
                    Phase = "train", Step = w.Step, Steps = o.Steps, Loss = row["loss"], MlmAccuracy = row["mlm_acc"], NspAccuracy = row["nsp_acc"],
                    LearningRate = lr, TokensPerSecond = w.ItemsPerSecond, Eta = w.Eta,
                };
                if (w.Evaluate)
                {
                    lastEval = Evaluate(model, heldOut, o.Batch, o.EvalBatches, unigram);
                    AddEvalColumns(row, lastEval);
                    report = report with { Phase = "eval", Eval = lastEval };
                }
                progress(report);
                lossSum = mlmCorrect = mlmCount = nspCorrect = nspCount = 0;
                return row;
            },
            Save = dir =>
            {
                ModelFolder.Save(model, dir, o.VocabPath);
                optimizer.Save(Path.Combine(dir, OptimizerFile));
                return new JsonObject { ["epoch"] = iterator.Position.Epoch, ["index"] = iterator.Position.Index };
            },
            Saved = (step, path) => progress(new PretrainProgress { Phase = "checkpoint", Step = step, Steps = o.Steps, Message = path }),
        }, cancel);
        lastEval ??= Evaluate(model, heldOut, o.Batch, o.EvalBatches, unigram);
        ModelFolder.Save(model, o.OutputDir, o.VocabPath);
        harness.SaveCurves();
        long trained = harness.Step - harness.ResumedFrom;
        progress(new PretrainProgress { Phase = "done", Step = harness.Step, Steps = o.Steps, Eval = lastEval, Message = o.OutputDir });
        return new PretrainResult(o.OutputDir, harness.Step, lastEval, harness.TrainSeconds,
            trained * o.Batch / Math.Max(1e-9, harness.TrainSeconds), harness.ResumedFrom > 0, harness.ResumedFrom);
    }

    /// <summary>The held-out columns of a metrics.csv row.</summary>
    public static void AddEvalColumns(Dictionary<string, double> row, EvalResult e)
    {
        row["eval_loss"] = e.Loss; row["eval_mlm_acc"] = e.MlmAccuracy; row["eval_nsp_acc"] = e.NspAccuracy;
        row["unigram_baseline_acc"] = e.UnigramBaselineAccuracy;
    }

    public readonly record struct BatchAccuracy(int MlmCorrect, int MlmCount, int NspCorrect);

    /// <summary>One optimisation step: forward (training mode, MLM decoded only at masked positions), loss, backward,
    /// clipping (NaN/Inf → <see cref="TrainingDivergedException"/> naming the tensor), update.</summary>
    public static (PretrainingLoss Loss, BatchAccuracy Accuracy) TrainStep(
        MobileBertModel model, Optimizer optimizer, PretrainingBatch batch, double lr, double maxGradNorm, ulong seed, long stepNumber,
        out double gradNorm)
    {
        var positions = MaskedPositions(batch.MlmLabels);
        var output = model.Forward(batch.Input, new ForwardOptions { Training = true, KeepForBackward = true, Seed = seed, MlmPositions = positions,
            Heads = ModelHeads.Pretraining });
        var acc = Accuracy(output, batch, positions, model.Config.VocabSize);
        var loss = Losses.Pretraining(output, batch.MlmLabels, batch.NextSentenceLabels, overwriteLogits: true, threads: model.Threads);
        if (!double.IsFinite(loss.Total))
            throw new TrainingDivergedException($"step {stepNumber}: the loss is {loss.Total} (MLM {loss.Mlm}, NSP {loss.Nsp}); stopped, the last " +
                $"checkpoint is kept. Lower Lr or raise Warmup.") { Settings = ["Lr", "Warmup"] };
        gradNorm = TrainingHarness.BackwardAndUpdate(model, output, loss.Gradients, optimizer, maxGradNorm, lr, stepNumber);
        return (loss, acc);
    }

    /// <summary>Indices of the labelled (masked) positions, in order.</summary>
    internal static int[] MaskedPositions(int[] mlmLabels)
    {
        int n = 0; foreach (int y in mlmLabels) if (y != Losses.IgnoreIndex) n++;
        var p = new int[n]; n = 0;
        for (int i = 0; i < mlmLabels.Length; i++) if (mlmLabels[i] != Losses.IgnoreIndex) p[n++] = i;
        return p;
    }

    static BatchAccuracy Accuracy(ModelOutput output, PretrainingBatch batch, int[] positions, int vocab)
    {
        int mlmCorrect = 0, nspCorrect = 0;
        var logits = output.MlmLogits!;
        for (int r = 0; r < positions.Length; r++)
            if (Argmax(logits.AsSpan(r * vocab, vocab)) == batch.MlmLabels[positions[r]]) mlmCorrect++;
        var nsp = output.NspLogits!;
        for (int b = 0; b < batch.Batch; b++)
            if ((nsp[2 * b + 1] > nsp[2 * b] ? 1 : 0) == batch.NextSentenceLabels[b]) nspCorrect++;
        return new BatchAccuracy(mlmCorrect, positions.Length, nspCorrect);
    }

    static int Argmax(ReadOnlySpan<float> x) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(x);

    /// <summary>Held-out loss and accuracies on fixed batches (eval mode: no dropout), and the unigram baseline.</summary>
    public static EvalResult Evaluate(MobileBertModel model, PretrainingDataset heldOut, int batchSize, int maxBatches, int unigramToken)
    {
        double mlmLoss = 0, nspLoss = 0; int masked = 0, mlmCorrect = 0, nspCorrect = 0, sequences = 0, unigramCorrect = 0;
        for (int i = 0; i < maxBatches && i * batchSize < heldOut.Count; i++)
        {
            int n = Math.Min(batchSize, heldOut.Count - i * batchSize);
            var idx = Enumerable.Range(i * batchSize, n).ToArray();
            var batch = heldOut.GetBatch(idx);
            var positions = MaskedPositions(batch.MlmLabels);
            var output = model.Forward(batch.Input, new ForwardOptions { Training = false, KeepForBackward = true, MlmPositions = positions,
                Heads = ModelHeads.Pretraining });
            var acc = Accuracy(output, batch, positions, model.Config.VocabSize);
            var labels = positions.Select(p => batch.MlmLabels[p]).ToArray();
            mlmLoss += Losses.CrossEntropy(output.MlmLogits!, labels, labels.Length, model.Config.VocabSize) * labels.Length;
            nspLoss += Losses.CrossEntropy(output.NspLogits!, batch.NextSentenceLabels, n, 2) * n;
            masked += labels.Length; sequences += n;
            mlmCorrect += acc.MlmCorrect; nspCorrect += acc.NspCorrect;
            unigramCorrect += labels.Count(y => y == unigramToken);
        }
        double ml = mlmLoss / Math.Max(1, masked), nl = nspLoss / Math.Max(1, sequences);
        return new EvalResult(ml + nl, ml, nl, (double)mlmCorrect / Math.Max(1, masked), (double)nspCorrect / Math.Max(1, sequences),
            (double)unigramCorrect / Math.Max(1, masked), masked, sequences);
    }

    /// <summary>The most frequent masked-LM label in (a prefix of) the training data: the unigram baseline's prediction.</summary>
    public static int MostFrequentMaskedToken(PretrainingDataset train, int maxExamples = 5000)
    {
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < Math.Min(maxExamples, train.Count); i++)
            foreach (int y in train[i].MaskedLabelIds) counts[y] = counts.GetValueOrDefault(y) + 1;
        return counts.Count == 0 ? 0 : counts.MaxBy(kv => kv.Value).Key;
    }
}
