using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Model;
using MobileBert.Reporting;
using MobileBert.Text;
using MobileBert.Training;
using MobileBert.Training.Pretraining;

namespace MobileBert.FineTuning;

/// <summary>Settings of <see cref="KtExperiment"/>.</summary>
public sealed record KtOptions
{
    public required string OutputDir { get; init; }
    public required string ReportPath { get; init; }
    public required string[] Data { get; init; }
    public required string VocabPath { get; init; }
    public IReadOnlyList<long> Seeds { get; init; } = [1, 2];
    public int TeacherSteps { get; init; } = 800;
    public double TeacherLr { get; init; } = 2e-3;
    public int StepsPerLayer { get; init; } = 40;
    public int PdSteps { get; init; } = 160;
    public int Batch { get; init; } = 16;
    public int Seq { get; init; } = 64;
    public double Lr { get; init; } = 2e-3;
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int EvalBatches { get; init; } = 40;
    public string CommandLine { get; init; } = "";
    /// <summary>A pre-trained teacher folder (IB-BERT-mini shape, MLM + NSP heads) instead of pre-training one.</summary>
    public string? TeacherDir { get; init; }
    /// <summary>UCI sentiment folder of the fine-tuned sentiment column.</summary>
    public string Sentiment { get; init; } = Path.Combine("data", "sentiment");
    /// <summary>Fine-tuning recipe of the sentiment column (default: the scratch demo's full recipe).</summary>
    public DemoSettings Recipe { get; init; } = DemoSettings.Full;
    public Action<string> Log { get; init; } = _ => { };
    public Action<PretrainProgress> PretrainProgress { get; init; } = _ => { };
    public Action<DistillProgress> DistillProgress { get; init; } = _ => { };
}

/// <summary>
/// The paper's knowledge-transfer comparison at CPU scale: a tiny IB-BERT teacher pre-trained with MLM + NSP (or a given
/// one), then progressive, joint and auxiliary transfer into a tiny MobileBERT student and the same student pre-trained
/// from scratch — every student the same number of steps on the teacher's shards — scored on the held-out MLM/NSP split and
/// by sentiment accuracy after fine-tuning. Finished runs (result.json) are reused; the report is rewritten from all of them.
/// </summary>
public static class KtExperiment
{
    /// <summary>The teacher: IB-BERT shape rules (Q/K/V from the block input, one wide FFN, LayerNorm + GELU) at 4 layers,
    /// inter-block 128, intra-block 256.</summary>
    public static MobileBertConfig TinyTeacher() => WithPositions(Presets.IbBertMini(), 128);

    /// <summary>The student: MobileBERT shape rules (shared Q/K bottleneck, 4 stacked FFNs, NoNorm + ReLU) at 4 layers,
    /// inter-block 128, intra-block 32.</summary>
    public static MobileBertConfig TinyStudent() => WithPositions(Presets.MobileBertMini(), 128);

    public static MobileBertConfig WithPositions(MobileBertConfig c, int positions) { c.MaxPositionEmbeddings = positions; return c; }

    /// <summary>Methods compared, in table order.</summary>
    public static readonly (string Name, DistillStrategy Strategy)[] Methods =
    [
        ("progressive", DistillStrategy.Progressive), ("joint", DistillStrategy.Joint), ("auxiliary", DistillStrategy.Auxiliary),
        ("from scratch", DistillStrategy.Scratch),
    ];

    const long DataSeed = 42;
    const int BlankLines = 2;

    public static void Run(KtOptions s)
    {
        var started = DateTime.UtcNow;
        Directory.CreateDirectory(s.OutputDir);
        string teacherResultDir = Path.Combine(s.OutputDir, "teacher");
        string teacherDir = s.TeacherDir ?? teacherResultDir;
        string dataDir = s.TeacherDir is null ? Path.Combine(teacherResultDir, "data") : Path.Combine(s.OutputDir, "data");
        string teacherResult = Path.Combine(teacherResultDir, "result.json");
        if (!File.Exists(teacherResult)) ExperimentResults.Write(teacherResult, Teacher(s, teacherDir, dataDir));
        var teacherConfig = s.TeacherDir is null ? TinyTeacher() : ConfigJson.Load(Path.Combine(s.TeacherDir, "config.json"));
        // The student takes the teacher's position table (copied at initialisation); every student row uses the same config.
        var studentConfig = WithPositions(TinyStudent(), teacherConfig.MaxPositionEmbeddings);

        // Students: every method × seed, same data (the teacher's shards and held-out split), same number of steps.
        foreach (long seed in s.Seeds)
            foreach (var (name, strategy) in Methods)
            {
                string dir = RunDir(s, name, seed), result = Path.Combine(dir, "result.json");
                if (File.Exists(result)) continue;
                bool resume = new RunDirectory(dir, 2).Latest() is not null;
                s.Log($"[kt] {name}, seed {seed}{(resume ? " — resuming" : "")}");
                var t0 = DateTime.UtcNow;
                var dr = DistillationRun.Run(new DistillOptions
                {
                    TeacherDir = strategy == DistillStrategy.Scratch ? null : teacherDir, StudentConfig = studentConfig, Strategy = strategy,
                    Data = s.Data, OutputDir = dir, VocabPath = s.VocabPath, DataDir = dataDir, DataSeed = DataSeed, Seed = seed,
                    StepsPerLayer = s.StepsPerLayer, PdSteps = s.PdSteps, Batch = s.Batch, Seq = s.Seq, Lr = s.Lr, Threads = s.Threads,
                    LogEvery = 20, EvalEvery = 1_000_000, EvalBatches = s.EvalBatches, CheckpointEvery = 1_000_000,
                    BlankLinesBetweenDocuments = BlankLines, Resume = resume,
                }, p => { if (p.Phase is not "train" || p.Step % 100 == 0) s.DistillProgress(p); });
                ExperimentResults.Write(result, Eval(dr.FinalEval!, dr.StudentParameters, (DateTime.UtcNow - t0).TotalSeconds, dr.Steps));
            }

        // Downstream: every model (and the student with no pre-training at all) fine-tuned on sentiment with the demo's recipe.
        var split = SentimentSplit.Write(s.Sentiment, Path.Combine(s.OutputDir, "sentiment-data"), s.Recipe.MaxTrain);
        FineTuneSentiment(s, split, teacherResult, teacherDir, null);
        foreach (long seed in s.Seeds)
            foreach (var (name, _) in Methods)
                FineTuneSentiment(s, split, Path.Combine(RunDir(s, name, seed), "result.json"), RunDir(s, name, seed), null);
        string randomResult = Path.Combine(s.OutputDir, "random-init", "result.json");
        if (!File.Exists(randomResult))
            ExperimentResults.Write(randomResult, new JsonObject
            {
                ["parameters"] = MobileBertModel.CountParameters(studentConfig, ModelHeads.Pretraining), ["steps"] = 0, ["seconds"] = 0.0,
                ["sentiment_acc"] = null,
            });
        FineTuneSentiment(s, split, randomResult, null, studentConfig);
        WriteReport(s, teacherResultDir, teacherConfig, DateTime.UtcNow - started);
    }

    static string RunDir(KtOptions s, string method, long seed) => Path.Combine(s.OutputDir, $"{ExperimentResults.Slug(method)}-seed{seed}");

    /// <summary>Pre-trains the teacher (MLM + NSP, resumable), or evaluates the given one on the experiment's held-out split.</summary>
    static JsonObject Teacher(KtOptions s, string teacherDir, string dataDir)
    {
        var t0 = DateTime.UtcNow;
        if (s.TeacherDir is null)
        {
            bool resume = new RunDirectory(teacherDir, 2).Latest() is not null;
            s.Log($"[kt] pre-training the teacher ({s.TeacherSteps} steps){(resume ? " — resuming" : "")}");
            var tr = PretrainingRun.Run(new PretrainOptions
            {
                Config = TinyTeacher(), Data = s.Data, OutputDir = teacherDir, VocabPath = s.VocabPath, Steps = s.TeacherSteps, Batch = s.Batch,
                Seq = s.Seq, Lr = s.TeacherLr, Warmup = s.TeacherSteps / 10, Seed = DataSeed, Threads = s.Threads, LogEvery = 50,
                EvalEvery = s.TeacherSteps, EvalBatches = s.EvalBatches, CheckpointEvery = Math.Max(1, s.TeacherSteps / 4),
                BlankLinesBetweenDocuments = BlankLines, Resume = resume,
            }, s.PretrainProgress);
            long parameters = MobileBertModel.CountParameters(TinyTeacher(), ModelHeads.Pretraining);
            return Eval(tr.FinalEval, parameters, (DateTime.UtcNow - t0).TotalSeconds, tr.Steps);
        }
        s.Log($"[kt] teacher: {s.TeacherDir} (evaluated on the experiment's held-out split)");
        var teacher = ModelFolder.Load(s.TeacherDir, new LoadOptions { Heads = ModelHeads.Pretraining });
        if (teacher.Mlm is null) throw new ArgumentException($"{s.TeacherDir}: the teacher has no MLM head (cls.predictions.*).");
        teacher.Threads = s.Threads;
        // The shards the students will read (DistillationRun reuses them by manifest): the students' data settings.
        var studentData = new DistillOptions
        {
            StudentConfig = TinyStudent(), Data = s.Data, OutputDir = s.OutputDir, VocabPath = s.VocabPath, Seq = s.Seq,
            BlankLinesBetweenDocuments = BlankLines,
        };
        using var shards = CorpusShards.Prepare(studentData, DataSeed, dataDir, WordPieceTokenizer.FromVocabFile(s.VocabPath), s.Batch);
        var e = PretrainingRun.Evaluate(teacher, shards.HeldOut, s.Batch, s.EvalBatches, PretrainingRun.MostFrequentMaskedToken(shards.Train));
        var r = Eval(e, teacher.Store.Count, 0, TeacherSteps(s.TeacherDir));
        r["external"] = Path.GetFullPath(s.TeacherDir);
        return r;
    }

    /// <summary>The step count of an external teacher: its latest checkpoint's trainer state, else 0 (unknown).</summary>
    static long TeacherSteps(string dir)
    {
        var latest = new RunDirectory(dir, 2).Latest();
        string state = latest is { } ck ? Path.Combine(ck.Path, "trainer_state.json") : "";
        return latest is not null && File.Exists(state) ? ExperimentResults.Read(state)["step"]?.GetValue<long>() ?? 0 : 0;
    }

    /// <summary>Fine-tunes one model (a folder, or a config from random init) on the sentiment split with the demo's recipe and
    /// records dev/test accuracy in its result.json (once).</summary>
    static void FineTuneSentiment(KtOptions s, (string Train, string Dev, string Test) split, string resultPath, string? modelDir,
        MobileBertConfig? config)
    {
        var result = ExperimentResults.Read(resultPath);
        if (result["sentiment_acc"] is not null) return;
        var recipe = s.Recipe;
        string outDir = Path.Combine(Path.GetDirectoryName(resultPath)!, "sentiment");
        s.Log($"[kt] fine-tuning {modelDir ?? "the student architecture from random init"} on sentiment → {outDir}");
        var data = TaskData.LoadSequenceTask("jsonl", split.Train, split.Dev, new TaskDataOptions { TaskName = "sentiment" });
        var r = FineTuningRun.Run(new FineTuneOptions
        {
            ModelDir = modelDir, Config = config, VocabPath = s.VocabPath, OutputDir = outDir, Epochs = recipe.FinetuneEpochs,
            Batch = recipe.FinetuneBatch, Seq = recipe.FinetuneSeq, Lr = recipe.FinetuneLr, Seed = DataSeed, Threads = s.Threads,
            LogEvery = 1_000_000, Resume = true,
        }, FineTuneTask.Sequence(data), _ => { });
        var test = TaskEvaluation.Run(r.OutputDir, split.Test, Path.Combine(outDir, "eval-test"), threads: s.Threads);
        result["sentiment_acc"] = test.Metrics.Main;
        result["sentiment_dev_acc"] = r.Best?.Main;
        ExperimentResults.Write(resultPath, result);
        s.Log(string.Create(CultureInfo.InvariantCulture, $"[kt]   sentiment test accuracy {test.Metrics.Main:P2} (dev {r.Best?.Main:P2})"));
    }

    static JsonObject Eval(EvalResult e, long parameters, double seconds, long steps) => new()
    {
        ["mlm_acc"] = e.MlmAccuracy, ["nsp_acc"] = e.NspAccuracy, ["loss"] = e.Loss, ["mlm_loss"] = e.MlmLoss,
        ["unigram_acc"] = e.UnigramBaselineAccuracy, ["masked_tokens"] = e.MaskedTokens, ["sequences"] = e.Sequences,
        ["parameters"] = parameters, ["seconds"] = seconds, ["steps"] = steps,
        ["sentiment_acc"] = null,   // test accuracy after fine-tuning on the sentiment split (FineTuneSentiment)
    };

    /// <summary>One table row: mean ± sample std over seeds, and the per-seed values.</summary>
    static string Row(string name, IReadOnlyList<JsonObject> runs)
    {
        string Stat(string key, bool percent) => ExperimentResults.MeanSd(runs, key, percent, decimals: 2, requireAll: true);
        bool noTime = runs.Any(r => r["external"] is not null || r["seconds"]!.GetValue<double>() == 0);
        string seconds = noTime ? "—" : runs.Average(r => r["seconds"]!.GetValue<double>()).ToString("F0", CultureInfo.InvariantCulture);
        return $"| {name} | {Stat("mlm_acc", true)} | {Stat("mlm_loss", false)} | {Stat("nsp_acc", true)} | " +
            $"{runs[0]["parameters"]!.GetValue<long>():N0} | {runs[0]["steps"]} | {seconds} | {Stat("sentiment_acc", true)} |";
    }

    static void WriteReport(KtOptions s, string teacherResultDir, MobileBertConfig teacherConfig, TimeSpan elapsed)
    {
        var teacher = ExperimentResults.Read(Path.Combine(teacherResultDir, "result.json"));
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# Knowledge transfer at CPU scale: progressive vs joint vs auxiliary vs from scratch").AppendLine();
        sb.AppendLine("Generated by `mobilebert experiment kt` (src/MobileBert/FineTuning/KtExperiment.cs); the analysis section below the " +
            "marker is written by hand.").AppendLine();
        sb.AppendLine("```bash").AppendLine($"dotnet run -c Release --project src/MobileBert.Cli -- {s.CommandLine}").AppendLine("```").AppendLine();
        string teacherText = s.TeacherDir is null ? $"teacher: {s.TeacherSteps} MLM+NSP steps at lr {s.TeacherLr}"
            : $"teacher: the pre-trained model folder {s.TeacherDir} ({teacher["steps"]} steps), evaluated on this held-out split";
        sb.AppendLine(string.Create(inv, $"Corpus `{string.Join(" ", s.Data)}` (BlankLinesBetweenDocuments = {BlankLines}), seq {s.Seq}, " +
            $"batch {s.Batch}, data seed {DataSeed} (shards and held-out split shared by every run), LAMB, peak lr {s.Lr} per stage " +
            $"(warm-up 10 % of each stage, linear decay), no student dropout; {teacherText}."));
        sb.AppendLine(string.Create(inv, $"Every student run has the same number of optimizer steps: 4 layers × {s.StepsPerLayer} + {s.PdSteps} = " +
            $"{4 * s.StepsPerLayer + s.PdSteps}. Student seeds: {string.Join(", ", s.Seeds)}. Held-out metrics: the first {s.EvalBatches} " +
            $"held-out batches ({teacher["sequences"]} sequences, {teacher["masked_tokens"]} masked tokens), identical for every model. " +
            $"Wall time of this invocation: {elapsed.TotalMinutes:F1} min on {s.Threads} threads."));
        sb.AppendLine();
        sb.AppendLine("| model | held-out MLM acc % (mean ± sd (seeds)) | held-out MLM loss | held-out NSP acc % | parameters | steps | " +
            "train s (mean) | fine-tuned sentiment acc % |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        var c = teacherConfig;
        sb.AppendLine(Row($"teacher (IB-BERT, {c.NumHiddenLayers}×{c.HiddenSize}, intra {c.IntraBottleneckSize})", [teacher]));
        var curves = new List<PlotSeries>();
        foreach (var (name, _) in Methods)
        {
            var runs = s.Seeds.Select(seed => Path.Combine(RunDir(s, name, seed), "result.json")).Where(File.Exists)
                .Select(ExperimentResults.Read).ToList();
            if (runs.Count == 0) continue;
            sb.AppendLine(Row($"student, {name}", runs));
            var log = MetricsLog.Load(Path.Combine(RunDir(s, name, s.Seeds[0]), DistillationRun.MetricsFile));
            var y = log.Series("mlm", out var x);
            if (y.Count > 0) curves.Add(new PlotSeries(name, x, y));
        }
        string randomResult = Path.Combine(s.OutputDir, "random-init", "result.json");
        if (File.Exists(randomResult))
            sb.AppendLine(Row("student architecture, no pre-training (random init)", [ExperimentResults.Read(randomResult)]));
        sb.AppendLine();
        var recipe = s.Recipe;
        sb.AppendLine(string.Create(inv, $"Sentiment column: test accuracy on the demo's fixed UCI sentiment split (`{s.Sentiment}`, split seed " +
            $"{SentimentSplit.Seed}) after fine-tuning each model with the demo's recipe ({recipe.FinetuneEpochs} epochs, batch " +
            $"{recipe.FinetuneBatch}, max length {recipe.FinetuneSeq}, AdamW lr {recipe.FinetuneLr}, fine-tuning seed {DataSeed}, best dev " +
            $"epoch kept)."));
        sb.AppendLine();
        double unigram = 100 * teacher["unigram_acc"]!.GetValue<double>();
        sb.AppendLine(string.Create(inv, $"Unigram baseline (always the most frequent masked token): {unigram:F2} %."));
        sb.AppendLine();
        string plot = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(s.ReportPath))!, "kt_mlm_loss.png");
        if (curves.Count > 0)
        {
            LinePlot.Save(plot, $"Student MLM training loss (window means), seed {s.Seeds[0]}", [("MLM cross-entropy vs step", curves)]);
            sb.AppendLine("![MLM training loss by method](kt_mlm_loss.png)").AppendLine();
            sb.AppendLine("Layer-wise stages have no MLM loss (the heads do not run), so the progressive and joint curves start at their PD stage.");
        }
        sb.AppendLine();
        ExperimentResults.WriteReport(s.ReportPath, sb);
        s.Log($"[kt] report: {s.ReportPath}");
    }
}
