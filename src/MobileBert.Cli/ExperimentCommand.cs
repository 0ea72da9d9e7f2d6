using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.FineTuning;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Reporting;
using MobileBert.Training;
using MobileBert.Pretraining;
using MobileBert.Text;
using MobileBert.Training.Pretraining;

namespace MobileBert.Cli;

/// <summary>`mobilebert experiment kt` (the paper's knowledge-transfer comparison at CPU scale) and `experiment kt-cost`.</summary>
public static class ExperimentCommand
{
    /// <summary>The experiment's teacher: IB-BERT shape rules (Q/K/V from the block input, one wide FFN, LayerNorm + GELU) at 4 layers, inter-block 128, intra-block 256.</summary>
    public static MobileBertConfig TinyTeacher() => WithPositions(Presets.IbBertMini(), 128);

    /// <summary>The matching student: MobileBERT shape rules (shared Q/K bottleneck, 4 stacked FFNs, NoNorm + ReLU) at 4 layers, inter-block 128, intra-block 32.</summary>
    public static MobileBertConfig TinyStudent() => WithPositions(Presets.MobileBertMini(), 128);

    static MobileBertConfig WithPositions(MobileBertConfig c, int positions) { c.MaxPositionEmbeddings = positions; return c; }

    /// <summary>Methods compared, in table order. Extend here (and in <see cref="Row"/>) for new columns or methods.</summary>
    public static readonly (string Name, DistillStrategy Strategy)[] Methods =
    [
        ("progressive", DistillStrategy.Progressive), ("joint", DistillStrategy.Joint), ("auxiliary", DistillStrategy.Auxiliary), ("from scratch", DistillStrategy.Scratch),
    ];

    public static Command Create()
    {
        var cmd = new Command("experiment", "Reproducible experiments.");
        cmd.Subcommands.Add(CreateKt());
        cmd.Subcommands.Add(CreateKtBert());
        cmd.Subcommands.Add(CreateCost());
        return cmd;
    }

    static Command CreateKt()
    {
        var output = new Option<string>("--out") { DefaultValueFactory = _ => Path.Combine("experiments", "kt", "run"), Description = "Work folder (teacher, students, shards). Finished pieces are reused on a re-run." };
        var report = new Option<string>("--report") { DefaultValueFactory = _ => Path.Combine("experiments", "kt", "REPORT.md") };
        var data = new Option<string[]>("--data") { DefaultValueFactory = _ => [Path.Combine("data", "corpus")], AllowMultipleArgumentsPerToken = true };
        var vocab = new Option<string>("--vocab") { DefaultValueFactory = _ => Path.Combine("data", "vocab", "bert-base-uncased-vocab.txt") };
        var seeds = new Option<string>("--seeds") { DefaultValueFactory = _ => "1,2", Description = "Student seeds (initialisation, batch order)." };
        var teacherSteps = new Option<int>("--teacher-steps") { DefaultValueFactory = _ => 800 };
        var teacherLr = new Option<double>("--teacher-lr") { DefaultValueFactory = _ => 2e-3 };
        var stepsPerLayer = new Option<int>("--steps-per-layer") { DefaultValueFactory = _ => 40 };
        var pdSteps = new Option<int>("--pd-steps") { DefaultValueFactory = _ => 160 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => 64 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 2e-3 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var evalBatches = new Option<int>("--eval-batches") { DefaultValueFactory = _ => 40 };
        var teacherDir = new Option<string>("--teacher") { Description = "Use this pre-trained teacher model folder (IB-BERT-mini shape, with MLM/NSP heads) instead of pre-training one for --teacher-steps. Its held-out split must be the experiment's (same corpus, data seed 42, held-out fraction 0.02)." };
        var sentiment = new Option<string>("--sentiment") { DefaultValueFactory = _ => Path.Combine("data", "sentiment"), Description = "UCI sentiment folder for the fine-tuned sentiment column (the demo's fixed split and recipe)." };
        var cmd = new Command("kt", "Knowledge-transfer comparison at equal steps: progressive vs joint vs auxiliary vs the same student from scratch (a tiny IB-BERT teacher pre-trained first), then every model fine-tuned on sentiment.")
        { output, report, data, vocab, seeds, teacherSteps, teacherLr, stepsPerLayer, pdSteps, batch, seq, lr, threads, evalBatches, teacherDir, sentiment };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            try
            {
                var s = new KtSettings(r.GetValue(output)!, r.GetValue(report)!, r.GetValue(data)!, r.GetValue(vocab)!,
                    [.. r.GetValue(seeds)!.Split(',').Select(x => long.Parse(x, CultureInfo.InvariantCulture))], r.GetValue(teacherSteps), r.GetValue(teacherLr),
                    r.GetValue(stepsPerLayer), r.GetValue(pdSteps), r.GetValue(batch), r.GetValue(seq), r.GetValue(lr), r.GetValue(threads), r.GetValue(evalBatches),
                    string.Join(" ", Environment.GetCommandLineArgs().Skip(1)), r.GetValue(teacherDir), r.GetValue(sentiment)!);
                RunKt(s);
                return 0;
            }
            catch (DistillationException e) { throw new ArgumentException(e.Message, e); }
        }));
        return cmd;
    }

    static Command CreateKtBert()
    {
        var teacher = new Option<string>("--teacher") { DefaultValueFactory = _ => "minilm", Description = "minilm (restored from NuGet) or a plain BERT model folder." };
        var output = new Option<string>("--out") { DefaultValueFactory = _ => Path.Combine("experiments", "kt", "run-bert"), Description = "Work folder; finished runs are reused." };
        var report = new Option<string>("--report") { DefaultValueFactory = _ => Path.Combine("experiments", "kt", "BERT-TEACHER.md") };
        var seeds = new Option<string>("--seeds") { DefaultValueFactory = _ => "1,2" };
        var embeddingSteps = new Option<int>("--embedding-steps") { DefaultValueFactory = _ => 40 };
        var stepsPerLayer = new Option<int>("--steps-per-layer") { DefaultValueFactory = _ => 40 };
        var finalSteps = new Option<int>("--final-steps") { DefaultValueFactory = _ => 120, Description = "Steps of the last (all-layer) stage." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => 128 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-3 };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 3, Description = "Sentiment fine-tuning epochs." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataRoot = new Option<string?>("--data-root") { Description = "Repository root holding data/ (default: found above the current directory)." };
        var reportOnly = new Option<bool>("--report-only") { Description = "Rewrite the report from the runs finished so far." };
        var cmd = new Command("kt-bert", "Knowledge-transfer strategies on a real pretrained BERT teacher (all-MiniLM-L6-v2 by default): progressive vs " +
            "joint vs auxiliary vs no teacher at equal steps, scored by held-out transfer losses and fine-tuned sentiment accuracy.")
        { teacher, output, report, seeds, embeddingSteps, stepsPerLayer, finalSteps, batch, seq, lr, epochs, threads, dataRoot, reportOnly };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            try
            {
                BertKtExperiment.Run(new BertKtOptions
                {
                    Teacher = r.GetValue(teacher)!, OutputDir = r.GetValue(output)!, ReportPath = r.GetValue(report)!, RepoRoot = r.GetValue(dataRoot) ?? Demo.FindRepoRoot(),
                    Seeds = [.. r.GetValue(seeds)!.Split(',').Select(x => long.Parse(x, CultureInfo.InvariantCulture))], EmbeddingSteps = r.GetValue(embeddingSteps),
                    StepsPerLayer = r.GetValue(stepsPerLayer), FinalSteps = r.GetValue(finalSteps), Batch = r.GetValue(batch), Seq = r.GetValue(seq), Lr = r.GetValue(lr),
                    FineTuneEpochs = r.GetValue(epochs), Threads = r.GetValue(threads), CommandLine = string.Join(" ", Environment.GetCommandLineArgs().Skip(1)),
                    ReportOnly = r.GetValue(reportOnly),
                }, Console.Error.WriteLine);
                return 0;
            }
            catch (DistillationException e) { throw new ArgumentException(e.Message, e); }
        }));
        return cmd;
    }

    public sealed record KtSettings(string Out, string Report, string[] Data, string Vocab, long[] Seeds, int TeacherSteps, double TeacherLr,
        int StepsPerLayer, int PdSteps, int Batch, int Seq, double Lr, int Threads, int EvalBatches, string CommandLine, string? TeacherDir = null,
        string Sentiment = "data/sentiment")
    {
        /// <summary>Fine-tuning recipe of the sentiment column (default: the demo's full recipe); tests shrink it.</summary>
        public DemoSettings Recipe { get; init; } = DemoSettings.Full;
    }

    const long DataSeed = 42;
    const int BlankLines = 2;

    public static void RunKt(KtSettings s)
    {
        var started = DateTime.UtcNow;
        Directory.CreateDirectory(s.Out);
        // 1. Teacher: MLM + NSP pre-training (reused when finished), or an existing pre-trained teacher (--teacher) evaluated on the experiment's held-out split.
        string teacherResultDir = Path.Combine(s.Out, "teacher");
        string teacherDir = s.TeacherDir ?? teacherResultDir;
        string dataDir = s.TeacherDir is null ? Path.Combine(teacherResultDir, "data") : Path.Combine(s.Out, "data");
        var teacherResult = Path.Combine(teacherResultDir, "result.json");
        if (!File.Exists(teacherResult))
        {
            var t0 = DateTime.UtcNow;
            if (s.TeacherDir is null)
            {
                bool resume = new RunDirectory(teacherDir, 2).Latest() is not null;
                Console.Error.WriteLine($"[kt] pre-training the teacher ({s.TeacherSteps} steps){(resume ? " — resuming" : "")}");
                var tr = PretrainingRun.Run(new PretrainOptions
                {
                    Config = TinyTeacher(), Data = s.Data, OutputDir = teacherDir, VocabPath = s.Vocab, Steps = s.TeacherSteps, Batch = s.Batch, Seq = s.Seq,
                    Lr = s.TeacherLr, Warmup = s.TeacherSteps / 10, Seed = DataSeed, Threads = s.Threads, LogEvery = 50, EvalEvery = s.TeacherSteps, EvalBatches = s.EvalBatches,
                    CheckpointEvery = Math.Max(1, s.TeacherSteps / 4), BlankLinesBetweenDocuments = BlankLines, Resume = resume,
                }, PretrainCommand.Report);
                WriteJson(teacherResult, Eval(tr.FinalEval, MobileBertModel.CountParameters(TinyTeacher(), ModelHeads.Pretraining), (DateTime.UtcNow - t0).TotalSeconds, tr.Steps));
            }
            else
            {
                Console.Error.WriteLine($"[kt] teacher: {s.TeacherDir} (evaluated on the experiment's held-out split)");
                var teacher = ModelFolder.Load(s.TeacherDir, new LoadOptions { Heads = ModelHeads.Pretraining });
                if (teacher.Mlm is null) throw new ArgumentException($"{s.TeacherDir}: the teacher has no MLM head (cls.predictions.*).");
                teacher.Threads = s.Threads;
                // The shards the students will read (DistillationRun reuses them by manifest): the students' data settings.
                var studentData = new DistillOptions
                {
                    StudentConfig = TinyStudent(), Data = s.Data, OutputDir = s.Out, VocabPath = s.Vocab, Seq = s.Seq, BlankLinesBetweenDocuments = BlankLines,
                };
                using var shards = CorpusShards.Prepare(studentData, DataSeed, dataDir, WordPieceTokenizer.FromVocabFile(s.Vocab), s.Batch);
                var e = PretrainingRun.Evaluate(teacher, shards.HeldOut, s.Batch, s.EvalBatches, PretrainingRun.MostFrequentMaskedToken(shards.Train));
                var r = Eval(e, teacher.Store.Count, 0, TeacherSteps(s.TeacherDir));
                r["external"] = Path.GetFullPath(s.TeacherDir);
                Directory.CreateDirectory(teacherResultDir);
                WriteJson(teacherResult, r);
            }
        }
        var teacherConfig = s.TeacherDir is null ? TinyTeacher() : ConfigJson.Load(Path.Combine(s.TeacherDir, "config.json"));
        // The student takes the teacher's position table (copied at initialisation); every student row uses the same config.
        var studentConfig = WithPositions(TinyStudent(), teacherConfig.MaxPositionEmbeddings);

        // 2. Students: every method × seed, same data (the teacher's shards and held-out split), same number of steps.
        foreach (long seed in s.Seeds)
            foreach (var (name, strategy) in Methods)
            {
                string dir = Path.Combine(s.Out, $"{Slug(name)}-seed{seed}");
                string result = Path.Combine(dir, "result.json");
                if (File.Exists(result)) continue;
                bool resume = new RunDirectory(dir, 2).Latest() is not null;
                Console.Error.WriteLine($"[kt] {name}, seed {seed}{(resume ? " — resuming" : "")}");
                var t0 = DateTime.UtcNow;
                var o = new DistillOptions
                {
                    TeacherDir = strategy == DistillStrategy.Scratch ? null : teacherDir, StudentConfig = studentConfig, Strategy = strategy, Data = s.Data, OutputDir = dir,
                    VocabPath = s.Vocab, DataDir = dataDir, DataSeed = DataSeed, Seed = seed, StepsPerLayer = s.StepsPerLayer, PdSteps = s.PdSteps,
                    Batch = s.Batch, Seq = s.Seq, Lr = s.Lr, Threads = s.Threads, LogEvery = 20, EvalEvery = 1_000_000, EvalBatches = s.EvalBatches,
                    CheckpointEvery = 1_000_000, BlankLinesBetweenDocuments = BlankLines, Resume = resume,
                };
                var dr = DistillationRun.Run(o, p => { if (p.Phase is not "train" || p.Step % 100 == 0) DistillCommand.Report(p); });
                WriteJson(result, Eval(dr.FinalEval!, dr.StudentParameters, (DateTime.UtcNow - t0).TotalSeconds, dr.Steps));
            }

        // 3. Downstream: every model (and the student architecture with no pre-training at all) fine-tuned on sentiment with the demo's recipe.
        var split = SentimentSplit.Write(s.Sentiment, Path.Combine(s.Out, "sentiment-data"), s.Recipe.MaxTrain);
        FineTuneSentiment(s, split, teacherResult, teacherDir, null);
        foreach (long seed in s.Seeds)
            foreach (var (name, _) in Methods)
            {
                string dir = Path.Combine(s.Out, $"{Slug(name)}-seed{seed}");
                FineTuneSentiment(s, split, Path.Combine(dir, "result.json"), dir, null);
            }
        string randomDir = Path.Combine(s.Out, "random-init");
        Directory.CreateDirectory(randomDir);
        string randomResult = Path.Combine(randomDir, "result.json");
        if (!File.Exists(randomResult))
            WriteJson(randomResult, new JsonObject { ["parameters"] = MobileBertModel.CountParameters(studentConfig, ModelHeads.Pretraining), ["steps"] = 0, ["seconds"] = 0.0, ["sentiment_acc"] = null });
        FineTuneSentiment(s, split, randomResult, null, studentConfig);
        WriteReport(s, teacherResultDir, teacherConfig, DateTime.UtcNow - started);
    }

    /// <summary>The step count of an external teacher: its latest checkpoint's trainer state, else 0 (unknown).</summary>
    static long TeacherSteps(string dir)
    {
        var latest = new RunDirectory(dir, 2).Latest();
        return latest is { } ck && File.Exists(Path.Combine(ck.Path, "trainer_state.json"))
            ? ReadJson(Path.Combine(ck.Path, "trainer_state.json"))["step"]?.GetValue<long>() ?? 0 : 0;
    }

    /// <summary>Fine-tunes one model (a folder, or a config from random init) on the sentiment split with the demo's recipe and records dev/test accuracy in its result.json (once).</summary>
    static void FineTuneSentiment(KtSettings s, (string Train, string Dev, string Test) split, string resultPath, string? modelDir, MobileBertConfig? config)
    {
        var result = ReadJson(resultPath);
        if (result["sentiment_acc"] is not null) return;
        var recipe = s.Recipe;
        string outDir = Path.Combine(Path.GetDirectoryName(resultPath)!, "sentiment");
        Console.Error.WriteLine($"[kt] fine-tuning {modelDir ?? "the student architecture from random init"} on sentiment → {outDir}");
        var data = TaskData.LoadSequenceTask("jsonl", split.Train, split.Dev, new TaskDataOptions { TaskName = "sentiment" });
        var r = FineTuningRun.Run(new FineTuneOptions
        {
            ModelDir = modelDir, Config = config, VocabPath = s.Vocab, OutputDir = outDir, Epochs = recipe.FinetuneEpochs, Batch = recipe.FinetuneBatch,
            Seq = recipe.FinetuneSeq, Lr = recipe.FinetuneLr, Seed = DataSeed, Threads = s.Threads, LogEvery = 1_000_000, Resume = true,
        }, FineTuneTask.Sequence(data), _ => { });
        var test = TaskEvaluation.Run(r.OutputDir, split.Test, Path.Combine(outDir, "eval-test"), threads: s.Threads);
        result["sentiment_acc"] = test.Metrics.Main;
        result["sentiment_dev_acc"] = r.Best?.Main;
        WriteJson(resultPath, result);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[kt]   sentiment test accuracy {test.Metrics.Main:P2} (dev {r.Best?.Main:P2})"));
    }

    static string Slug(string name) => name.Replace(' ', '-');

    static JsonObject Eval(EvalResult e, long parameters, double seconds, long steps) => new()
    {
        ["mlm_acc"] = e.MlmAccuracy, ["nsp_acc"] = e.NspAccuracy, ["loss"] = e.Loss, ["mlm_loss"] = e.MlmLoss, ["unigram_acc"] = e.UnigramBaselineAccuracy,
        ["masked_tokens"] = e.MaskedTokens, ["sequences"] = e.Sequences, ["parameters"] = parameters, ["seconds"] = seconds, ["steps"] = steps,
        // Test accuracy after fine-tuning on the sentiment split (step 3 of RunKt).
        ["sentiment_acc"] = null,
    };

    static void WriteJson(string path, JsonObject o) => File.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    static JsonObject ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    /// <summary>One table row: mean ± sample std over seeds, and the per-seed values.</summary>
    static string Row(string name, IReadOnlyList<JsonObject> runs)
    {
        string Stat(string key, bool percent)
        {
            if (runs.Any(r => r[key] is null)) return "—";
            var v = runs.Select(r => r[key]!.GetValue<double>()).ToList();
            double m = v.Average(), sd = v.Count > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1)) : 0;
            string F(double x) => percent ? (100 * x).ToString("F2", CultureInfo.InvariantCulture) : x.ToString("F3", CultureInfo.InvariantCulture);
            return v.Count > 1 ? $"{F(m)} ± {F(sd)} ({string.Join(", ", v.Select(F))})" : F(m);
        }
        string sentiment = Stat("sentiment_acc", true);
        string seconds = runs.Any(r => r["external"] is not null || r["seconds"]!.GetValue<double>() == 0) ? "—" : runs.Average(r => r["seconds"]!.GetValue<double>()).ToString("F0", CultureInfo.InvariantCulture);
        return $"| {name} | {Stat("mlm_acc", true)} | {Stat("mlm_loss", false)} | {Stat("nsp_acc", true)} | {runs[0]["parameters"]!.GetValue<long>():N0} | {runs[0]["steps"]} | {seconds} | {sentiment} |";
    }

    static void WriteReport(KtSettings s, string teacherResultDir, MobileBertConfig teacherConfig, TimeSpan elapsed)
    {
        var teacher = ReadJson(Path.Combine(teacherResultDir, "result.json"));
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# Knowledge transfer at CPU scale: progressive vs joint vs auxiliary vs from scratch");
        sb.AppendLine();
        sb.AppendLine("Generated by `mobilebert experiment kt` (src/MobileBert.Cli/ExperimentCommand.cs); the analysis section below the marker is written by hand.");
        sb.AppendLine();
        sb.AppendLine("```bash");
        sb.AppendLine($"dotnet run -c Release --project src/MobileBert.Cli -- {s.CommandLine}");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Corpus `{string.Join(" ", s.Data)}` (BlankLinesBetweenDocuments = {BlankLines}), seq {s.Seq}, batch {s.Batch}, data seed {DataSeed} (shards and held-out split shared by every run), LAMB, peak lr {s.Lr} per stage (warm-up 10 % of each stage, linear decay), no student dropout; {(s.TeacherDir is null ? $"teacher: {s.TeacherSteps} MLM+NSP steps at lr {s.TeacherLr}" : $"teacher: the pre-trained model folder {s.TeacherDir} ({teacher["steps"]} steps), evaluated on this held-out split")}."));
        sb.AppendLine(string.Create(inv, $"Every student run has the same number of optimizer steps: 4 layers × {s.StepsPerLayer} + {s.PdSteps} = {4 * s.StepsPerLayer + s.PdSteps}. Student seeds: {string.Join(", ", s.Seeds)}. Held-out metrics: the first {s.EvalBatches} held-out batches ({teacher["sequences"]} sequences, {teacher["masked_tokens"]} masked tokens), identical for every model. Wall time of this invocation: {elapsed.TotalMinutes:F1} min on {s.Threads} threads."));
        sb.AppendLine();
        sb.AppendLine("| model | held-out MLM acc % (mean ± sd (seeds)) | held-out MLM loss | held-out NSP acc % | parameters | steps | train s (mean) | fine-tuned sentiment acc % |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        sb.AppendLine(Row($"teacher (IB-BERT, {teacherConfig.NumHiddenLayers}×{teacherConfig.HiddenSize}, intra {teacherConfig.IntraBottleneckSize})", [teacher]));
        var curves = new List<PlotSeries>();
        foreach (var (name, _) in Methods)
        {
            var runs = s.Seeds.Select(seed => Path.Combine(s.Out, $"{Slug(name)}-seed{seed}", "result.json")).Where(File.Exists).Select(ReadJson).ToList();
            if (runs.Count == 0) continue;
            sb.AppendLine(Row($"student, {name}", runs));
            var log = MetricsLog.Load(Path.Combine(s.Out, $"{Slug(name)}-seed{s.Seeds[0]}", DistillationRun.MetricsFile));
            var y = log.Series("mlm", out var x);
            if (y.Count > 0) curves.Add(new PlotSeries(name, x, y));
        }
        string randomResult = Path.Combine(s.Out, "random-init", "result.json");
        if (File.Exists(randomResult)) sb.AppendLine(Row("student architecture, no pre-training (random init)", [ReadJson(randomResult)]));
        sb.AppendLine();
        var recipe = s.Recipe;
        sb.AppendLine(string.Create(inv, $"Sentiment column: test accuracy on the demo's fixed UCI sentiment split (`{s.Sentiment}`, split seed {SentimentSplit.Seed}) after fine-tuning each model with the demo's recipe ({recipe.FinetuneEpochs} epochs, batch {recipe.FinetuneBatch}, max length {recipe.FinetuneSeq}, AdamW lr {recipe.FinetuneLr}, fine-tuning seed {DataSeed}, best dev epoch kept)."));
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Unigram baseline (always the most frequent masked token): {100 * teacher["unigram_acc"]!.GetValue<double>():F2} %."));
        sb.AppendLine();
        string plot = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(s.Report))!, "kt_mlm_loss.png");
        if (curves.Count > 0)
        {
            LinePlot.Save(plot, $"Student MLM training loss (window means), seed {s.Seeds[0]}", [("MLM cross-entropy vs step", curves)]);
            sb.AppendLine($"![MLM training loss by method](kt_mlm_loss.png)");
            sb.AppendLine();
            sb.AppendLine("Layer-wise stages have no MLM loss (the heads do not run), so the progressive and joint curves start at their PD stage.");
        }
        sb.AppendLine();
        sb.AppendLine("<!-- analysis -->");
        string old = File.Exists(s.Report) ? File.ReadAllText(s.Report) : "";
        int marker = old.IndexOf("<!-- analysis -->", StringComparison.Ordinal);
        if (marker >= 0) sb.Append(old[(marker + "<!-- analysis -->".Length)..].TrimStart('\r', '\n').Insert(0, "\n"));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(s.Report))!);
        File.WriteAllText(s.Report, sb.ToString());
        Console.Error.WriteLine($"[kt] report: {s.Report}");
    }

    static Command CreateCost()
    {
        var teacher = new Option<string>("--teacher") { Description = "Teacher model folder (default: a random tiny IB-BERT teacher).", };
        var student = new Option<string>("--student") { Description = "Student preset or config.json (default: the kt experiment's student)." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => 128 };
        var iterations = new Option<int>("--iterations") { DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("kt-cost", "Per-step cost of distillation vs a plain student step (median ms).") { teacher, student, batch, seq, iterations, threads };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            MobileBertModel t;
            if (r.GetValue(teacher) is { } dir) t = ModelFolder.Load(dir);
            else { t = new MobileBertModel(TinyTeacher(), ModelHeads.Pretraining); t.InitializeWeights(1); }
            var sc = r.GetValue(student) is { } sp ? Presets.Resolve(sp) : WithPositions(TinyStudent(), t.Config.MaxPositionEmbeddings);
            var c = StepCost.Measure(t, sc, r.GetValue(batch), r.GetValue(seq), r.GetValue(iterations), r.GetValue(threads));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {c.Batch} × seq {c.Seq}, {c.Threads} threads, median of {c.Iterations} (ms):"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  teacher forward (engine, hidden states + attentions)      {c.TeacherForwardMs,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  plain student step (MLM + NSP)                           {c.StudentStepMs,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  teacher forward + plain student step                     {c.TeacherForwardMs + c.StudentStepMs,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  auxiliary distillation step (all layer-wise losses + PD)  {c.AuxiliaryStepMs,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  joint layer-wise step (all layers, no heads)             {c.JointLayerWiseStepMs,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  progressive stage 1 step (student layer 0 only)          {c.ProgressiveFirstLayerStepMs,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  PD step (teacher forward + MLM at masked positions)      {c.PdStepMs,8:F1}"));
            return 0;
        }));
        return cmd;
    }
}
