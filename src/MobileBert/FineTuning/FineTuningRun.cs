using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Training;
using MobileBert.Training.Optimizers;
using MobileBert.Training.Pretraining;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>
/// Fine-tuning of a sequence classification/regression task or SQuAD, the BERT recipe: AdamW (no decay on biases and
/// norms), linear warm-up + decay, global-norm clipping, dropout in training, evaluation on dev at the end of every epoch,
/// the best model (by the selection metric) kept. <see cref="TrainingHarness"/> runs the loop: atomic checkpoints with
/// exact resume (weights, optimizer moments, best and last evaluations; batch order and dropout masks are pure functions
/// of (seed, epoch/step)), CSV + PNG curves. The output folder is a model folder: config.json (id2label, problem_type) +
/// model.safetensors + vocab.txt + task.json, from the best evaluation.
/// </summary>
public static class FineTuningRun
{
    public const string StateFile = RunDirectory.StateFile;
    public const string OptimizerFile = RunDirectory.OptimizerFile;
    public const string MetricsFile = RunDirectory.MetricsFile;
    public const string CurvesFile = RunDirectory.CurvesFile;
    public const string EvalResultsFile = "eval_results.json";
    public const string BestDir = "best";

    public static FineTuneResult Run(FineTuneOptions o, FineTuneTask task, Action<FineTuneProgress>? progress = null,
        CancellationToken cancel = default)
    {
        o.Validate();
        progress ??= _ => { };
        if (o.ModelDir is not null) ModelFolder.RequireFolder(o.ModelDir);   // before anything is created
        var tokenizer = TaskModels.Tokenizer(o.VocabPath, o.ModelDir);
        Directory.CreateDirectory(o.OutputDir);
        string vocabPath = o.VocabPath ?? Path.Combine(o.ModelDir!, ModelFolder.VocabFile);
        var info = task.Info(o);

        // 1. Data.
        progress(new FineTuneProgress { Phase = "data", Message = "reading and encoding data" });
        foreach (var line in task.Prepare(tokenizer, o)) progress(new FineTuneProgress { Phase = "data", Message = line });
        if (!task.HasDev) progress(new FineTuneProgress { Phase = "data", Message = "no dev set: the last epoch's model is kept" });
        void Say(string message) => progress(new FineTuneProgress { Phase = "data", Message = message });
        var balance = task.TrainBalance;
        if (balance is not null) Say($"training labels: {balance.Describe(info.Labels)}");
        var selection = ModelSelection.Resolve(o.SelectBy, info, balance);
        if (task.HasDev) Say($"best checkpoint by dev {selection}");
        var weights = ClassWeights.Resolve(o.ClassWeight, info, balance);
        if (weights is not null) Say($"class weights: {ClassWeights.Describe(weights, info.Labels)}");
        else if (balance is { IsImbalanced: true })
            Say("note: the training labels are imbalanced; a model that never predicts the minority class is likely — " +
                "balanced class weights (ClassWeight \"balanced\"; --class-weight balanced in the CLI) weight it up");
        string? teacherId = o.TeacherDir is null ? null : FineTuneTeacher.ComputeIdentity(o.TeacherDir);

        // 2. Model and optimizer, fresh or from the latest checkpoint.
        var fingerprint = Fingerprint(o, info, task);
        fingerprint["select_by"] = selection.Metric;
        fingerprint["class_weights"] = weights is null ? null : new JsonArray(weights.Select(w => (JsonNode?)JsonValue.Create(w)).ToArray());
        fingerprint["teacher_sha256"] = teacherId;
        var harness = TrainingHarness.Open(o, fingerprint, new CurveSpec($"Fine-tuning {info.Name}",
            [("Loss", ["loss", "eval_loss", "kd_layers"]), ($"Dev {selection.Metric}", ["train_acc", "eval_" + selection.Metric]),
                ("Layer distillation (feature-map MSE, attention KL)", ["fmt_mse", "at"])]));
        MobileBertModel model;
        long bestStep = -1;
        EvalMetrics? best = null, last = null;
        var history = new JsonArray();
        if (harness.Resume is { } ck)
        {
            model = ModelFolder.Load(ck.Path, new LoadOptions { Heads = TaskModels.HeadsFor(info) });
            bestStep = ck.State["best_step"]!.GetValue<long>();
            best = ReadMetrics(ck.State["best"]);
            last = ReadMetrics(ck.State["last"]);
            history = ck.State["history"]?.DeepClone().AsArray() ?? [];
            progress(new FineTuneProgress { Phase = "data", Message = $"resuming from {ck.Path} (step {ck.Step})" });
        }
        else model = TaskModels.ForFineTuning(o.ModelDir, o.Config, info, (int)(o.Seed & int.MaxValue));
        model.Threads = o.Threads;
        // The teacher's logits of this data, when a run into this folder saved them; the teacher model is loaded only to compute
        // them or for layer distillation.
        string? dataHash = o.TeacherDir is null ? null : task.DataHash();
        var savedLogits = dataHash is null ? null : TeacherLogits.TryLoad(o.OutputDir, teacherId!, dataHash);
        using var teacher = o.TeacherDir is not null && (o.KdLayers > 0 || savedLogits is null)
            ? FineTuneTeacher.Load(o.TeacherDir, info, vocabPath, o.Seq, o.Threads, teacherId) : null;
        task.Objective = new TrainingObjective
        {
            ClassWeights = weights, KdAlpha = o.KdAlpha, KdTemperature = o.KdTemperature,
            Teacher = dataHash is null ? null : TeacherTargets(o, info, task, savedLogits, teacher, teacherId!, dataHash, progress),
        };
        var layerKd = teacher is not null && o.KdLayers > 0 ? LayerDistillation.Create(teacher, model.Config, o.KdLayers) : null;
        if (layerKd is not null)
            progress(new FineTuneProgress { Phase = "data", Message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"layer distillation β {o.KdLayers}: hidden states and attention maps of the teacher on every batch ({layerKd.Map})") });
        var optimizer = OptimizerFactory.Create(o.Optimizer, model.Store, o.WeightDecay, o.Threads);
        if (harness.Resume is { } ck2) optimizer.Load(Path.Combine(ck2.Path, OptimizerFile));

        int stepsPerEpoch = task.EpochBatches(0, o.Batch, o.Seed, o.GroupByLength).Count;
        long total = (long)stepsPerEpoch * o.Epochs;
        var schedule = LrSchedule.Linear(o.Lr, (long)Math.Round(o.WarmupProportion * total), total);
        progress(new FineTuneProgress
        {
            Phase = "data",
            Message = $"{model.Store.Count:N0} parameters; {o.Epochs} epochs × {stepsPerEpoch} steps of {o.Batch} = {total} steps, " +
                $"lr {o.Lr:0.###e0} (warm-up {o.WarmupProportion:P0}), {o.Threads} threads",
        });

        // 3. Train: the step, the window's row (and dev evaluation, keeping the best model), the checkpoint's files.
        double lr = 0, lossSum = 0, gradNorm = 0, layerSum = 0, fmSum = 0, atSum = 0;
        long correct = 0, counted = 0;
        int epochOfOrder = -1; List<int[]> order = [];
        var heads = TaskModels.HeadsFor(info);
        int EpochOf(long stepsDone) => (int)((stepsDone - 1) / stepsPerEpoch) + 1;   // 1-based epoch of the step just trained
        harness.Train(new TrainingLoop
        {
            Steps = total, PeriodEnd = step => step % stepsPerEpoch == 0, EvaluateAtPeriodEnds = true, CanEvaluate = task.HasDev,
            Step = step =>
            {
                int epoch = (int)(step / stepsPerEpoch), index = (int)(step % stepsPerEpoch);
                if (epoch != epochOfOrder) { order = task.EpochBatches(epoch, o.Batch, o.Seed, o.GroupByLength); epochOfOrder = epoch; }
                var batch = task.MakeBatch(order[index]);
                lr = schedule.At(step);
                var output = model.Forward(batch.Input, new ForwardOptions
                {
                    Training = true, KeepForBackward = true, Heads = heads, HiddenDropout = o.HiddenDropout, AttentionDropout = o.AttentionDropout,
                    Seed = TrainingHarness.StepSeed(o.Seed, step), OutputHiddenStates = layerKd is not null, OutputAttentions = layerKd is not null,
                });
                var loss = batch.Loss(output);
                double value = loss.Value;
                if (layerKd is not null)
                {
                    var lk = layerKd.Add(batch.Input, output, model.Config, loss.Gradients, o.Threads);
                    value += lk.Total; layerSum += lk.Total; fmSum += lk.FeatureMap; atSum += lk.Attention;
                }
                if (!double.IsFinite(value))
                    throw new TrainingDivergedException(
                        $"step {step + 1}: the loss is {value}; stopped, the last checkpoint is kept. Lower Lr.") { Settings = ["Lr"] };
                gradNorm = TrainingHarness.BackwardAndUpdate(model, output, loss.Gradients, optimizer, o.MaxGradNorm, lr, step + 1);
                lossSum += value;
                if (loss.Correct >= 0) { correct += loss.Correct; counted += batch.Size; }
                return batch.Size;
            },
            Log = w =>
            {
                var row = new Dictionary<string, double>
                {
                    ["epoch"] = (double)w.Step / stepsPerEpoch, ["lr"] = lr, ["loss"] = lossSum / w.WindowSteps, ["grad_norm"] = gradNorm,
                    ["examples_per_s"] = w.ItemsPerSecond,
                };
                if (counted > 0) row["train_acc"] = (double)correct / counted;
                if (layerKd is not null)
                {
                    row["kd_layers"] = layerSum / w.WindowSteps; row["fmt_mse"] = fmSum / w.WindowSteps; row["at"] = atSum / w.WindowSteps;
                }
                int epoch = EpochOf(w.Step);
                progress(new FineTuneProgress
                {
                    Phase = "train", Step = w.Step, Steps = total, Epoch = epoch, Epochs = o.Epochs, Loss = row["loss"], LearningRate = lr,
                    TrainAccuracy = counted > 0 ? row["train_acc"] : double.NaN, ExamplesPerSecond = w.ItemsPerSecond, Eta = w.Eta,
                });
                if (w.Evaluate)
                {
                    progress(new FineTuneProgress { Phase = "eval", Step = w.Step, Steps = total, Epoch = epoch, Epochs = o.Epochs,
                        Message = "evaluating on dev" });
                    last = task.Evaluate(model, o.EvalBatch) with { MainMetric = selection.Metric };
                    foreach (var (k, v) in last.Values) row["eval_" + k] = v;
                    bool improved = best is null || selection.Better(last.Main, best.Main);
                    history.Add((JsonNode)new JsonObject
                    {
                        ["step"] = w.Step, ["epoch"] = (double)w.Step / stepsPerEpoch, ["metrics"] = MetricsJson(last),
                    });
                    if (improved)
                    {
                        best = last; bestStep = w.Step;
                        SaveModelFolder(Path.Combine(o.OutputDir, BestDir), model, vocabPath, info, best, bestStep);
                    }
                    progress(new FineTuneProgress { Phase = "eval", Step = w.Step, Steps = total, Epoch = epoch, Epochs = o.Epochs, Eval = last,
                        IsBest = improved });
                }
                lossSum = layerSum = fmSum = atSum = 0; correct = counted = 0;
                return row;
            },
            Save = dir =>
            {
                ModelFolder.Save(model, dir, vocabPath);
                info.Save(dir);
                optimizer.Save(Path.Combine(dir, OptimizerFile));
                return new JsonObject
                {
                    ["epoch"] = (double)harness.Step / stepsPerEpoch, ["best_step"] = bestStep, ["best"] = best is null ? null : MetricsJson(best),
                    ["last"] = last is null ? null : MetricsJson(last), ["history"] = history.DeepClone(),
                };
            },
            Saved = (step, path) => progress(new FineTuneProgress
            {
                Phase = "checkpoint", Step = step, Steps = total, Epoch = EpochOf(step), Epochs = o.Epochs, Message = path,
            }),
        }, cancel);

        // 4. The output folder holds the best model (or the last one without a dev set).
        long steps = harness.Step;
        string bestDir = Path.Combine(o.OutputDir, BestDir);
        if (task.HasDev && Directory.Exists(bestDir))
        {
            foreach (var f in new[] { ModelFolder.ConfigFile, ModelFolder.WeightsFile, TaskInfo.FileName })
                AtomicFile.Copy(Path.Combine(bestDir, f), Path.Combine(o.OutputDir, f));
            ModelFolder.CopyVocab(Path.Combine(bestDir, ModelFolder.VocabFile), o.OutputDir);
        }
        else { ModelFolder.Save(model, o.OutputDir, vocabPath); info.Save(o.OutputDir); }
        var results = new JsonObject
        {
            ["task"] = info.Task, ["main_metric"] = info.MainMetric, ["selected_by"] = selection.Metric, ["best_step"] = bestStep, ["steps"] = steps,
            ["best"] = best is null ? null : MetricsJson(best), ["last"] = last is null ? null : MetricsJson(last), ["history"] = history.DeepClone(),
        };
        WriteAtomic(Path.Combine(o.OutputDir, EvalResultsFile), results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        harness.SaveCurves();
        long trained = steps - harness.ResumedFrom;
        progress(new FineTuneProgress
        {
            Phase = "done", Step = steps, Steps = total, Epoch = o.Epochs, Epochs = o.Epochs, Eval = best, Message = o.OutputDir,
        });
        return new FineTuneResult(o.OutputDir, info, steps, best, bestStep, last, harness.TrainSeconds,
            trained * o.Batch / Math.Max(1e-9, harness.TrainSeconds), harness.ResumedFrom > 0, harness.ResumedFrom, model.Store.Count);
    }

    /// <summary>The teacher's logits of every training feature: <paramref name="saved"/> (read from the run directory, saved there
    /// for this teacher and data), else computed on the engine of <paramref name="teacher"/> (and saved).</summary>
    static TeacherLogits TeacherTargets(FineTuneOptions o, TaskInfo info, FineTuneTask task, TeacherLogits? saved, FineTuneTeacher? teacher,
        string teacherId, string dataHash, Action<FineTuneProgress> progress)
    {
        if (saved is not null)
        {
            progress(new FineTuneProgress { Phase = "data",
                Message = $"teacher logits of {saved.Rows} training features read from {Path.Combine(o.OutputDir, TeacherLogits.FileName)}" });
            return saved;
        }
        progress(new FineTuneProgress
        {
            Phase = "data", Message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"teacher {o.TeacherDir} ({teacher!.Model.Store.Count:N0} parameters{(teacher.Engine.IsQuantized ? ", int8" : "")}): " +
                $"distillation α {o.KdAlpha}, T {o.KdTemperature}; computing its logits once"),
        });
        var sw = Stopwatch.StartNew();
        var logits = TeacherLogits.Compute(teacher, task.TrainInputs(), info.Kind == TaskInfoKind.QuestionAnswering);
        logits.Save(o.OutputDir, teacherId, dataHash);
        progress(new FineTuneProgress { Phase = "data",
            Message = $"teacher logits of {logits.Rows} training features in {sw.Elapsed.TotalSeconds:F1} s, saved to {TeacherLogits.FileName}" });
        return logits;
    }

    /// <summary>Writes a complete model folder (weights, config with labels, vocab, task.json, eval_results.json) to a temporary
    /// folder and renames it into place.</summary>
    static void SaveModelFolder(string dir, MobileBertModel model, string vocabPath, TaskInfo info, EvalMetrics metrics, long step)
    {
        string tmp = dir + ".tmp-" + Guid.NewGuid().ToString("N");
        ModelFolder.Save(model, tmp, vocabPath);
        info.Save(tmp);
        File.WriteAllText(Path.Combine(tmp, EvalResultsFile),
            new JsonObject { ["step"] = step, ["metrics"] = MetricsJson(metrics) }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Directory.Exists(dir)) RunDirectory.DeleteAtomically(dir);
        Directory.Move(tmp, dir);
    }

    static JsonObject MetricsJson(EvalMetrics m)
    {
        var values = new JsonObject();
        foreach (var (k, v) in m.Values) values[k] = double.IsFinite(v) ? v : null;
        return new JsonObject { ["main_metric"] = m.MainMetric, ["values"] = values };
    }

    static EvalMetrics? ReadMetrics(JsonNode? node)
    {
        if (node is not JsonObject o) return null;
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (k, v) in o["values"]!.AsObject()) values[k] = v is null ? double.NaN : v.GetValue<double>();
        return new EvalMetrics(values, o["main_metric"]!.GetValue<string>());
    }

    static JsonObject Fingerprint(FineTuneOptions o, TaskInfo info, FineTuneTask task)
    {
        var f = o.Fingerprint();
        f["task"] = info.ToJson();
        f["data_sha256"] = task.DataHash();
        if (o.ModelDir is not null)
        {
            using var s = File.OpenRead(ModelFolder.WeightsPathOf(o.ModelDir) ?? Path.Combine(o.ModelDir, ModelFolder.WeightsFile));
            f["init_sha256"] = Convert.ToHexStringLower(SHA256.HashData(s));
        }
        else f["init_config"] = JsonNode.Parse(ConfigJson.ToJson(o.Config!));
        return f;
    }

    static void WriteAtomic(string path, string text)
    {
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
