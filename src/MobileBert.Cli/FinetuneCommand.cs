using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Training.Pretraining;
using MobileBert.Tasks;

namespace MobileBert.Cli;

/// <summary>`mobilebert finetune`: fine-tune a model folder on a GLUE task, a CSV/TSV/JSONL file or SQuAD; resumable.</summary>
public static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model")
        {
            Description = "Pre-trained model folder (config.json + model.safetensors or pytorch_model.bin + vocab.txt).",
        };
        var init = new Option<string?>("--init-config") {
            Description = "No pre-training baseline: random init of this preset/config.json instead of --model (needs --vocab)." };
        var vocab = new Option<string?>("--vocab") { Description = "WordPiece vocab.txt (default MODEL/vocab.txt)." };
        var task = new Option<string>("--task") { Description = string.Join("|", TaskData.TaskNames), Required = true };
        var train = new Option<string>("--train") { Description = "Training file (GLUE TSV, CSV/TSV/JSONL/JSON, or SQuAD JSON).", Required = true };
        var dev = new Option<string?>("--dev") { Description = "Dev file: evaluated every epoch; the best model is kept." };
        var output = new Option<string>("--out") {
            Description = "Output model folder (+ checkpoints/, best/, metrics.csv, curves.png, eval_results.json).", Required = true };
        var recipe = new Option<string?>("--recipe") { Description = "default (HF run_glue: lr 5e-5, 3 epochs) | pretrained (lr by model size, " +
            "see docs/FINETUNING.md); explicit options override it." };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (recipe: 3)." };
        var batch = new Option<int?>("--batch") { Description = "Batch size (recipe: 32)." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate, AdamW (default 5e-5; --recipe pretrained: by model size)." };
        var seq = new Option<int?>("--seq") { Description = "Max sequence length (default 128; SQuAD 384)." };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 42 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var warmup = new Option<double?>("--warmup") { Description = "Warm-up fraction of all steps (recipe: 0.1)." };
        var wd = new Option<double?>("--weight-decay") { Description = "AdamW weight decay (recipe: 0.01)." };
        var selectBy = new Option<string?>("--select-by") { Description = "Dev metric that picks the best checkpoint: any the task reports " +
            "(acc|f1|macro_f1|mcc|corr|…|loss). Default: minority-class F1 for imbalanced csv/jsonl tasks, else the official metric." };
        var classWeight = new Option<string?>("--class-weight") { Description = "Cross-entropy class weights: balanced (n/(k·n_c) from the " +
            "training labels) or one per label, e.g. 1,5." };
        var teacher = new Option<string?>("--teacher") { Description = "Task distillation: fine-tuned teacher model folder (same vocab and " +
            "labels); its logits are soft targets." };
        var kdAlpha = new Option<double?>("--kd-alpha") { Description = "Distillation weight α (default 0.5): (1−α)·CE(labels) + α·T²·KL(teacher " +
            "‖ student)." };
        var kdTemperature = new Option<double?>("--kd-temperature") { Description = "Distillation temperature T (default 2)." };
        var kdLayers = new Option<double?>("--kd-layers") { Description = "Weight β of intermediate-layer distillation: the student learns " +
            "the teacher's hidden states and attention maps on every batch (needs a student as wide as the teacher; 0: logits only)." };
        var resume = new Option<bool>("--resume") {
            Description = "Continue the run in --out from its latest checkpoint (bit-identical to an uninterrupted run)." };
        var skipBad = new Option<bool>("--skip-bad-rows") {
            Description = "Skip malformed rows (counted and reported) instead of stopping at the first." };
        var textCol = new Option<string?>("--text-column") { Description = "Generic tasks: text column/field (default text)." };
        var pairCol = new Option<string?>("--pair-column") { Description = "Generic tasks: second text column for pairs." };
        var labelCol = new Option<string?>("--label-column") { Description = "Generic tasks: label column (default label)." };
        var regression = new Option<bool>("--regression") { Description = "Generic tasks: the label is a number (MSE, correlation metrics)." };
        var docStride = new Option<int>("--doc-stride") { DefaultValueFactory = _ => 128 };
        var maxQuery = new Option<int>("--max-query-length") { DefaultValueFactory = _ => 64 };
        var maxAnswer = new Option<int>("--max-answer-length") { DefaultValueFactory = _ => 30 };
        var nBest = new Option<int>("--n-best") { DefaultValueFactory = _ => 20 };
        var nullThreshold = new Option<double>("--null-threshold") {
            DefaultValueFactory = _ => 0.0, Description = "SQuAD v2: predict no answer when null − best score exceeds this." };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => 10 };
        var evalEvery = new Option<int>("--eval-every") {
            DefaultValueFactory = _ => 0, Description = "Extra dev evaluations every N steps (0: each epoch)." };
        var ckptEvery = new Option<int>("--checkpoint-every") {
            DefaultValueFactory = _ => 0, Description = "Extra checkpoints every N steps (0: each epoch)." };
        var cmd = new Command("finetune", "Fine-tune on a GLUE task, a generic CSV/TSV/JSONL task or SQuAD v1.1/v2.0.")
        {
            model, init, vocab, task, train, dev, output, recipe, epochs, batch, lr, seq, seed, threads, warmup, wd, selectBy, classWeight, teacher,
            kdAlpha, kdTemperature, kdLayers, resume, skipBad, textCol, pairCol, labelCol, regression, docStride, maxQuery, maxAnswer, nBest,
            nullThreshold, logEvery, evalEvery, ckptEvery,
        };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            string t = TaskData.Normalize(r.GetValue(task)!);
            string? modelDir = r.GetValue(model), initConfig = r.GetValue(init);
            if ((modelDir is null) == (initConfig is null))
                throw new ArgumentException("Give exactly one of --model (pre-trained folder) and --init-config (random initialisation).");
            if (r.GetValue(teacher) is null && (r.GetValue(kdAlpha) is not null || r.GetValue(kdTemperature) is not null
                || r.GetValue(kdLayers) is not null))
                throw new ArgumentException("--kd-alpha, --kd-temperature and --kd-layers apply to task distillation: give the teacher with " +
                    "--teacher DIR.");
            var config = initConfig is null ? null : Presets.Resolve(initConfig);
            var rc = FineTuneRecipe.Resolve(r.GetValue(recipe),
                config ?? (r.GetValue(recipe) is null ? null : ConfigJson.Load(Path.Combine(modelDir!, ModelFolder.ConfigFile))));
            if (rc != FineTuneRecipe.Default) Console.Error.WriteLine($"[data] recipe {rc.Name}: {rc.Why}");
            var o = new FineTuneOptions
            {
                ModelDir = modelDir, Config = config, VocabPath = r.GetValue(vocab), OutputDir = r.GetValue(output)!,
                Epochs = r.GetValue(epochs) ?? rc.Epochs, Batch = r.GetValue(batch) ?? rc.Batch, Lr = r.GetValue(lr) ?? rc.Lr,
                Seq = r.GetValue(seq) ?? (TaskInfo.IsSquad(t) ? 384 : 128), Seed = r.GetValue(seed), Threads = r.GetValue(threads),
                WarmupProportion = r.GetValue(warmup) ?? rc.WarmupProportion, WeightDecay = r.GetValue(wd) ?? rc.WeightDecay,
                Resume = r.GetValue(resume), SelectBy = r.GetValue(selectBy), ClassWeight = r.GetValue(classWeight),
                TeacherDir = r.GetValue(teacher), KdAlpha = r.GetValue(kdAlpha) ?? FineTuneOptions.DefaultKdAlpha,
                KdTemperature = r.GetValue(kdTemperature) ?? FineTuneOptions.DefaultKdTemperature,
                KdLayers = r.GetValue(kdLayers) ?? 0,
                LogEvery = r.GetValue(logEvery), EvalEvery = r.GetValue(evalEvery), CheckpointEvery = r.GetValue(ckptEvery),
                Squad = new SquadSettings { DocStride = r.GetValue(docStride), MaxQueryLength = r.GetValue(maxQuery),
                    MaxAnswerLength = r.GetValue(maxAnswer), NBestSize = r.GetValue(nBest), NullScoreDiffThreshold = r.GetValue(nullThreshold) },
            };
            var dataOptions = new TaskDataOptions
            {
                TextColumn = r.GetValue(textCol), PairColumn = r.GetValue(pairCol), LabelColumn = r.GetValue(labelCol),
                Regression = r.GetValue(regression), SkipBadRows = r.GetValue(skipBad),
            };
            var result = Run(t, r.GetValue(train)!, r.GetValue(dev), o, dataOptions, Report);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {result.Steps} steps, {result.ExamplesPerSecond:F1} examples/s; best dev " +
                    $"{(result.Best is null ? "(no dev set)" : $"{result.Best.MainMetric} {result.Best.Main:0.####} at step {result.BestStep}")}; " +
                    $"model folder: {result.OutputDir}"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>Reads the task's files and runs <see cref="FineTuningRun"/>.</summary>
    public static FineTuneResult Run(string task, string train, string? dev, FineTuneOptions o, TaskDataOptions dataOptions,
        Action<FineTuneProgress>? progress = null)
    {
        task = TaskData.Normalize(task);
        FineTuneTask ft;
        if (TaskInfo.IsSquad(task))
        {
            bool v2 = task == "squad2";
            ft = FineTuneTask.Squad(TaskData.LoadSquad(train, v2, dataOptions.SkipBadRows),
                dev is null ? null : TaskData.LoadSquad(dev, v2, dataOptions.SkipBadRows), v2);
        }
        else ft = FineTuneTask.Sequence(TaskData.LoadSequenceTask(task, train, dev, dataOptions));
        return FineTuningRun.Run(o, ft, progress);
    }

    /// <summary>One line per report on stderr.</summary>
    public static void Report(FineTuneProgress p)
    {
        string line = p.Phase switch
        {
            "train" => string.Create(CultureInfo.InvariantCulture,
                $"epoch {p.Epoch}/{p.Epochs}  step {p.Step,6}/{p.Steps}  loss " +
                    $"{p.Loss,7:F4}{(double.IsNaN(p.TrainAccuracy) ? "" : $"  acc {p.TrainAccuracy,6:P1}")}  lr {p.LearningRate:0.###e0}  " +
                    $"{p.ExamplesPerSecond,6:F1} ex/s  eta {p.EtaText}"),
            "eval" when p.Eval is { } e => $"  dev: {e}{(p.IsBest ? "  (best so far, saved)" : "")}",
            "checkpoint" => $"  checkpoint: {p.Message}",
            "done" => $"[done] {p.Message}",
            _ => $"[{p.Phase}] {p.Message}",
        };
        Console.Error.WriteLine(line);
    }

}

/// <summary>Shared pieces of the task commands.</summary>
public static class TaskCli
{
    public static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
