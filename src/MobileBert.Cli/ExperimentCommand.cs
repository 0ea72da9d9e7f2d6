using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Reporting;
using MobileBert.Training;
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
        var cmd = new Command("kt", "Knowledge-transfer comparison at equal steps: progressive vs joint vs auxiliary vs the same student from scratch (a tiny IB-BERT teacher pre-trained first).")
        { output, report, data, vocab, seeds, teacherSteps, teacherLr, stepsPerLayer, pdSteps, batch, seq, lr, threads, evalBatches };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            try
            {
                var s = new KtSettings(r.GetValue(output)!, r.GetValue(report)!, r.GetValue(data)!, r.GetValue(vocab)!,
                    [.. r.GetValue(seeds)!.Split(',').Select(x => long.Parse(x, CultureInfo.InvariantCulture))], r.GetValue(teacherSteps), r.GetValue(teacherLr),
                    r.GetValue(stepsPerLayer), r.GetValue(pdSteps), r.GetValue(batch), r.GetValue(seq), r.GetValue(lr), r.GetValue(threads), r.GetValue(evalBatches),
                    string.Join(" ", Environment.GetCommandLineArgs().Skip(1)));
                RunKt(s);
                return 0;
            }
            catch (DistillationException e) { throw new ArgumentException(e.Message, e); }
        }));
        return cmd;
    }

    public sealed record KtSettings(string Out, string Report, string[] Data, string Vocab, long[] Seeds, int TeacherSteps, double TeacherLr,
        int StepsPerLayer, int PdSteps, int Batch, int Seq, double Lr, int Threads, int EvalBatches, string CommandLine);

    const long DataSeed = 42;
    const int BlankLines = 2;

    public static void RunKt(KtSettings s)
    {
        var started = DateTime.UtcNow;
        Directory.CreateDirectory(s.Out);
        // 1. Teacher: MLM + NSP pre-training (reused when finished).
        string teacherDir = Path.Combine(s.Out, "teacher");
        var teacherResult = Path.Combine(teacherDir, "result.json");
        if (!File.Exists(teacherResult))
        {
            bool resume = new RunDirectory(teacherDir, 2).Latest() is not null;
            Console.Error.WriteLine($"[kt] pre-training the teacher ({s.TeacherSteps} steps){(resume ? " — resuming" : "")}");
            var t0 = DateTime.UtcNow;
            var tr = PretrainingRun.Run(new PretrainOptions
            {
                Config = TinyTeacher(), Data = s.Data, OutputDir = teacherDir, VocabPath = s.Vocab, Steps = s.TeacherSteps, Batch = s.Batch, Seq = s.Seq,
                Lr = s.TeacherLr, Warmup = s.TeacherSteps / 10, Seed = DataSeed, Threads = s.Threads, LogEvery = 50, EvalEvery = s.TeacherSteps, EvalBatches = s.EvalBatches,
                CheckpointEvery = Math.Max(1, s.TeacherSteps / 4), BlankLinesBetweenDocuments = BlankLines, Resume = resume,
            }, PretrainCommand.Report);
            WriteJson(teacherResult, Eval(tr.FinalEval, MobileBertModel.CountParameters(TinyTeacher(), ModelHeads.Pretraining), (DateTime.UtcNow - t0).TotalSeconds, tr.Steps));
        }
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
                    TeacherDir = strategy == DistillStrategy.Scratch ? null : teacherDir, StudentConfig = TinyStudent(), Strategy = strategy, Data = s.Data, OutputDir = dir,
                    VocabPath = s.Vocab, DataDir = Path.Combine(teacherDir, "data"), DataSeed = DataSeed, Seed = seed, StepsPerLayer = s.StepsPerLayer, PdSteps = s.PdSteps,
                    Batch = s.Batch, Seq = s.Seq, Lr = s.Lr, Threads = s.Threads, LogEvery = 20, EvalEvery = 1_000_000, EvalBatches = s.EvalBatches,
                    CheckpointEvery = 1_000_000, BlankLinesBetweenDocuments = BlankLines, Resume = resume,
                };
                var dr = DistillationRun.Run(o, p => { if (p.Phase is not "train" || p.Step % 100 == 0) DistillCommand.Report(p); });
                WriteJson(result, Eval(dr.FinalEval, dr.StudentParameters, (DateTime.UtcNow - t0).TotalSeconds, dr.Steps));
            }
        WriteReport(s, teacherDir, DateTime.UtcNow - started);
    }

    static string Slug(string name) => name.Replace(' ', '-');

    static JsonObject Eval(EvalResult e, long parameters, double seconds, long steps) => new()
    {
        ["mlm_acc"] = e.MlmAccuracy, ["nsp_acc"] = e.NspAccuracy, ["loss"] = e.Loss, ["mlm_loss"] = e.MlmLoss, ["unigram_acc"] = e.UnigramBaselineAccuracy,
        ["masked_tokens"] = e.MaskedTokens, ["sequences"] = e.Sequences, ["parameters"] = parameters, ["seconds"] = seconds, ["steps"] = steps,
        // Filled by the fine-tuning issue (sentiment accuracy of the fine-tuned model); "pending" until then.
        ["sentiment_acc"] = null,
    };

    static void WriteJson(string path, JsonObject o) => File.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    static JsonObject ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    /// <summary>One table row: mean ± sample std over seeds, and the per-seed values.</summary>
    static string Row(string name, IReadOnlyList<JsonObject> runs)
    {
        string Stat(string key, bool percent)
        {
            var v = runs.Select(r => r[key]!.GetValue<double>()).ToList();
            double m = v.Average(), sd = v.Count > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1)) : 0;
            string F(double x) => percent ? (100 * x).ToString("F2", CultureInfo.InvariantCulture) : x.ToString("F3", CultureInfo.InvariantCulture);
            return v.Count > 1 ? $"{F(m)} ± {F(sd)} ({string.Join(", ", v.Select(F))})" : F(m);
        }
        string sentiment = runs.All(r => r["sentiment_acc"] is not null) ? Stat("sentiment_acc", true) : "pending";
        return $"| {name} | {Stat("mlm_acc", true)} | {Stat("mlm_loss", false)} | {Stat("nsp_acc", true)} | {runs[0]["parameters"]!.GetValue<long>():N0} | {runs[0]["steps"]} | {runs.Average(r => r["seconds"]!.GetValue<double>()):F0} | {sentiment} |";
    }

    static void WriteReport(KtSettings s, string teacherDir, TimeSpan elapsed)
    {
        var teacher = ReadJson(Path.Combine(teacherDir, "result.json"));
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
        sb.AppendLine(string.Create(inv, $"Corpus `{string.Join(" ", s.Data)}` (BlankLinesBetweenDocuments = {BlankLines}), seq {s.Seq}, batch {s.Batch}, data seed {DataSeed} (shards and held-out split shared by every run), LAMB, peak lr {s.Lr} per stage (warm-up 10 % of each stage, linear decay), no student dropout; teacher: {s.TeacherSteps} MLM+NSP steps at lr {s.TeacherLr}."));
        sb.AppendLine(string.Create(inv, $"Every student run has the same number of optimizer steps: 4 layers × {s.StepsPerLayer} + {s.PdSteps} = {4 * s.StepsPerLayer + s.PdSteps}. Student seeds: {string.Join(", ", s.Seeds)}. Held-out metrics: the first {s.EvalBatches} held-out batches ({teacher["sequences"]} sequences, {teacher["masked_tokens"]} masked tokens), identical for every model. Wall time of this invocation: {elapsed.TotalMinutes:F1} min on {s.Threads} threads."));
        sb.AppendLine();
        sb.AppendLine("| model | held-out MLM acc % (mean ± sd (seeds)) | held-out MLM loss | held-out NSP acc % | parameters | steps | train s (mean) | fine-tuned sentiment acc % |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        sb.AppendLine(Row("teacher (IB-BERT tiny, 4×128, intra 256)", [teacher]));
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
            var sc = r.GetValue(student) is { } sp ? Presets.Resolve(sp) : TinyStudent();
            var c = StepCost.Measure(t, sc, r.GetValue(batch), r.GetValue(seq), r.GetValue(iterations), r.GetValue(threads));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {c.Batch} × seq {c.Seq}, {c.Threads} threads, median of {c.Iterations} (ms):"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  teacher forward (inference, hidden states + attentions)   {c.TeacherForwardMs,8:F1}"));
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
