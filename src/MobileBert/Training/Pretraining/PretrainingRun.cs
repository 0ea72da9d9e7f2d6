using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Pretraining;
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
/// a preset or config, LAMB or AdamW with warm-up + linear decay and global-norm clipping, held-out evaluation,
/// atomic checkpoints with exact resume (weights, optimizer moments, schedule position, data position, dropout seeds
/// are a function of the step), CSV + PNG curves, and a normal model folder at the end (config.json +
/// model.safetensors + vocab.txt in <see cref="PretrainOptions.OutputDir"/>).
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
        var runDir = new RunDirectory(o.OutputDir, o.KeepCheckpoints);
        runDir.CleanStale();   // what a killed run left: trash, temporary folders and files
        var latest = runDir.Latest();
        if (latest is not null && !o.Resume)
            throw new ArgumentException($"{o.OutputDir} already has checkpoints (latest {Path.GetFileName(latest.Value.Path)}); pass --resume to " +
                $"continue it or choose another --out.");
        MobileBertModel model;
        long step = 0;
        var position = default(DataPosition);
        var metrics = new MetricsLog();
        if (latest is { } ck && o.Resume)
        {
            var state = JsonNode.Parse(File.ReadAllText(Path.Combine(ck.Path, StateFile)))!.AsObject();
            RunDirectory.CheckFingerprint(o.Fingerprint(), state["fingerprint"]!.AsObject(), Path.Combine(ck.Path, StateFile));
            model = ModelFolder.Load(ck.Path, new LoadOptions { Heads = ModelHeads.Pretraining });
            step = state["step"]!.GetValue<long>();
            position = new DataPosition(state["epoch"]!.GetValue<int>(), state["index"]!.GetValue<int>());
            metrics = runDir.LoadMetrics(ck.Path, step);
            progress(new PretrainProgress { Phase = "data", Message = $"resuming from {ck.Path} (step {step}, {position})" });
        }
        else
        {
            model = new MobileBertModel(o.Config, ModelHeads.Pretraining);
            model.InitializeWeights((int)(o.Seed & int.MaxValue));
        }
        model.Threads = o.Threads;
        Optimizer optimizer = o.Optimizer == "lamb"
            ? new Lamb(model.Store, new LambOptions { WeightDecay = o.WeightDecay })
            : new AdamW(model.Store, new AdamWOptions { WeightDecay = o.WeightDecay, DecayBiasesAndNorms = false });
        optimizer.Threads = o.Threads;
        if (latest is { } ck2 && o.Resume) optimizer.Load(Path.Combine(ck2.Path, OptimizerFile));
        var schedule = LrSchedule.Linear(o.Lr, o.Warmup, o.Steps);
        var iterator = new PretrainingBatchIterator(train, o.Batch, o.Seed, position);
        int unigram = MostFrequentMaskedToken(train);
        long resumedFrom = step;

        // 3. Train.
        var sw = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        double trainSeconds = 0;
        long windowSteps = 0, windowTokens = 0;
        double lossSum = 0, mlmCorrect = 0, mlmCount = 0, nspCorrect = 0, nspCount = 0, gradNorm = 0;
        EvalResult? lastEval = null;
        while (step < o.Steps)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = iterator.Next();
            double lr = schedule.At(step);
            var (loss, acc) = TrainStep(model, optimizer, batch, lr, o.MaxGradNorm, StepSeed(o.Seed, step), step + 1, out double norm);
            step++;
            lossSum += loss.Total; gradNorm = norm;
            mlmCorrect += acc.MlmCorrect; mlmCount += acc.MlmCount; nspCorrect += acc.NspCorrect; nspCount += batch.Batch;
            windowSteps++; windowTokens += (long)batch.Batch * batch.Seq;

            bool log = step % o.LogEvery == 0 || step == o.Steps, eval = step % o.EvalEvery == 0 || step == o.Steps,
                save = step % o.CheckpointEvery == 0 || step == o.Steps;
            if (log || eval)
            {
                double secs = window.Elapsed.TotalSeconds; trainSeconds += secs;
                var row = new Dictionary<string, double>
                {
                    ["lr"] = lr, ["loss"] = lossSum / windowSteps, ["mlm_acc"] = mlmCorrect / Math.Max(1, mlmCount),
                        ["nsp_acc"] = nspCorrect / Math.Max(1, nspCount),
                    ["grad_norm"] = gradNorm, ["tokens_per_s"] = windowTokens / Math.Max(1e-9, secs),
                };
                var report = new PretrainProgress
                {
                    Phase = "train", Step = step, Steps = o.Steps, Loss = row["loss"], MlmAccuracy = row["mlm_acc"], NspAccuracy = row["nsp_acc"],
                        LearningRate = lr,
                    TokensPerSecond = row["tokens_per_s"], Eta = TimeSpan.FromSeconds(secs / windowSteps * (o.Steps - step)),
                };
                if (eval)
                {
                    lastEval = Evaluate(model, heldOut, o.Batch, o.EvalBatches, unigram);
                    row["eval_loss"] = lastEval.Loss; row["eval_mlm_acc"] = lastEval.MlmAccuracy; row["eval_nsp_acc"] = lastEval.NspAccuracy;
                    row["unigram_baseline_acc"] = lastEval.UnigramBaselineAccuracy;
                    report = report with { Phase = "eval", Eval = lastEval };
                }
                metrics.Add(step, row);
                progress(report);
                lossSum = mlmCorrect = mlmCount = nspCorrect = nspCount = 0; windowSteps = windowTokens = 0;
                window.Restart();
            }
            if (save)
            {
                var fingerprint = o.Fingerprint();
                var pos = iterator.Position;
                var path = runDir.Save(step, dir =>
                {
                    ModelFolder.Save(model, dir, o.VocabPath);
                    optimizer.Save(Path.Combine(dir, OptimizerFile));
                    var state = new JsonObject { ["step"] = step, ["epoch"] = pos.Epoch, ["index"] = pos.Index, ["fingerprint"] = fingerprint };
                    File.WriteAllText(Path.Combine(dir, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                }, metrics);
                SaveCurves(metrics, o);
                progress(new PretrainProgress { Phase = "checkpoint", Step = step, Steps = o.Steps, Message = path });
                window.Restart();
            }
        }
        lastEval ??= Evaluate(model, heldOut, o.Batch, o.EvalBatches, unigram);
        ModelFolder.Save(model, o.OutputDir, o.VocabPath);
        SaveCurves(metrics, o);
        long trained = step - resumedFrom;
        progress(new PretrainProgress { Phase = "done", Step = step, Steps = o.Steps, Eval = lastEval, Message = o.OutputDir });
        return new PretrainResult(o.OutputDir, step, lastEval, trainSeconds, trained * o.Batch / Math.Max(1e-9, trainSeconds), resumedFrom > 0,
            resumedFrom);
    }

    /// <summary>Passes on a data-preparation report when its stage changes or at most every 2 s.</summary>

    /// <summary>Dropout seed of a step: a pure function of (run seed, step), so a resumed run draws the same masks.</summary>
    public static ulong StepSeed(long seed, long step) => (ulong)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)step
        + 0x632BE59BD9B4E019UL) * 0xBF58476D1CE4E5B9UL;

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
                $"checkpoint is kept. Lower --lr or raise --warmup.");
        model.ZeroGrad();
        model.Backward(output, loss.Gradients);
        try { gradNorm = GradientClipper.ClipGlobalNorm(model.Store, maxGradNorm, optimizer.Groups, threads: model.Threads).Norm; }
        catch (NonFiniteGradientException e)
        {
            throw new TrainingDivergedException($"step {stepNumber}: gradient of '{e.ParameterName}' is {e.Value} at element {e.Index}; stopped, " +
                $"the last checkpoint is kept.");
        }
        optimizer.Step(lr);
        return (loss, acc);
    }

    static int[] MaskedPositions(int[] mlmLabels)
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

    static void SaveCurves(MetricsLog metrics, PretrainOptions o)
    {
        metrics.Save(Path.Combine(o.OutputDir, MetricsFile));
        metrics.Plot(Path.Combine(o.OutputDir, CurvesFile), $"Pre-training {o.Config.NumHiddenLayers} layers, hidden {o.Config.HiddenSize}, " +
            $"intra {o.Config.IntraBottleneckSize}",
        [
            ("Loss (MLM + NSP)", ["loss", "eval_loss"]),
            ("MLM accuracy (held-out vs unigram baseline)", ["mlm_acc", "eval_mlm_acc", "unigram_baseline_acc"]),
            ("NSP accuracy", ["nsp_acc", "eval_nsp_acc"]),
        ]);
    }
}
