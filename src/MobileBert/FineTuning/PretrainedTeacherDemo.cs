using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Import;
using MobileBert.Model;

namespace MobileBert.FineTuning;

/// <summary>Sizes of the pretrained-teacher demo (full or --quick).</summary>
public sealed record PretrainedDemoSettings
{
    public required string Mode { get; init; }
    /// <summary>General text for the task-agnostic transfer (relative to the repository root), next to the task's own
    /// unlabelled training sentences.</summary>
    public required string[] TransferCorpus { get; init; }
    public int? MaxTrain { get; init; }
    /// <summary>Fine-tuning and transfer sequence length (the student is distilled at the length it is fine-tuned at).</summary>
    public int Seq { get; init; } = 128;
    public int? TeacherEpochs { get; init; }
    public int? StudentEpochs { get; init; }
    public int EmbeddingSteps { get; init; }
    public int StepsPerLayer { get; init; }
    public int FinalSteps { get; init; }
    public int TransferBatch { get; init; }
    public double TransferLr { get; init; }
    public double KdAlpha { get; init; } = 0.5;
    public double KdTemperature { get; init; } = 2;
    public int LatencyRounds { get; init; }
    public int LatencyRunsPerRound { get; init; }

    public static PretrainedDemoSettings Full => new()
    {
        Mode = "full", TransferCorpus = ["data/corpus/austen/persuasion.txt", "data/corpus/sotu"], StudentEpochs = 6, EmbeddingSteps = 100,
        StepsPerLayer = 100, FinalSteps = 300, TransferBatch = 16, TransferLr = 1e-3, LatencyRounds = 6, LatencyRunsPerRound = 3,
    };

    public static PretrainedDemoSettings Quick => new()
    {
        Mode = "quick", TransferCorpus = ["data/corpus/sotu/2021_joseph_r_biden_d.json"], MaxTrain = 240, Seq = 32, TeacherEpochs = 1,
        StudentEpochs = 1, EmbeddingSteps = 3, StepsPerLayer = 3, FinalSteps = 6, TransferBatch = 8, TransferLr = 1e-3, LatencyRounds = 2,
        LatencyRunsPerRound = 1,
    };

    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, PretrainedDemoJsonContext.Default.PretrainedDemoSettings)!.AsObject();
}

/// <summary>Source-generated (trimming- and AOT-safe) JSON metadata of <see cref="PretrainedDemoSettings"/>.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(PretrainedDemoSettings))]
internal sealed partial class PretrainedDemoJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>
/// The demo on a real pretrained teacher: all-MiniLM-L6-v2 from its NuGet package → fine-tuned on the UCI sentiment
/// sentences → task-agnostic knowledge transfer (embedding stage, progressive layer-wise feature-map and attention
/// transfer, all-layer transfer) into a MobileBERT-shaped student (<see cref="Presets.MobileBertMiniLm"/>) on general
/// text plus the task's unlabelled training sentences → the student fine-tuned with task distillation from the fine-tuned
/// teacher → a random-init student of the same shape fine-tuned with the same recipe (the baseline) → test accuracy,
/// interleaved latency, REPORT.md. Resumable stage by stage like <see cref="Demo"/>.
/// </summary>
public static class PretrainedTeacherDemo
{
    const int StageCount = 8;

    public static DemoReport Run(DemoOptions o)
    {
        var log = o.Log ?? Console.Error.WriteLine;
        var s = o.Quick ? PretrainedDemoSettings.Quick : PretrainedDemoSettings.Full;
        string root = o.RepoRoot ?? Demo.FindRepoRoot();
        string outDir = Path.GetFullPath(o.OutputDir);
        Directory.CreateDirectory(Path.Combine(outDir, "stages"));
        var total = Stopwatch.StartNew();
        var all = s.ToJson();
        var stages = new DemoStages(outDir, StageCount, log);
        bool fromNuGet = o.Teacher == "minilm";
        stages.Use("seed", o.Seed); stages.Use("mode", s.Mode); stages.Use("teacher", fromNuGet ? "minilm" : Path.GetFullPath(o.Teacher));
        void Uses(params string[] keys) { foreach (var k in keys) stages.Use(k, all[k]); }
        string dataDir = Path.Combine(outDir, "data", "sentiment");
        string teacherDir = fromNuGet ? Path.Combine(outDir, "teacher-pretrained") : Path.GetFullPath(o.Teacher);
        string trainFile = Path.Combine(dataDir, "train.jsonl"), devFile = Path.Combine(dataDir, "dev.jsonl"),
            testFile = Path.Combine(dataDir, "test.jsonl");
        string transferText = Path.Combine(dataDir, "transfer.txt");
        var package = TeacherPackages.MiniLm;
        string teacherName = fromNuGet ? package.Description : Path.GetFileName(teacherDir.TrimEnd(Path.DirectorySeparatorChar));
        log($"MobileBert.NET demo ({s.Mode}, teacher {teacherName}): {Environment.ProcessorCount} cores, {o.Threads} threads, output {outDir}");

        // 1. Data.
        Uses(nameof(PretrainedDemoSettings.MaxTrain));
        var data = stages.Run("data", "data: fixed 80/10/10 split of the UCI Sentiment Labelled Sentences (amazon, imdb, yelp)", () =>
        {
            var (tr, dv, te) = SentimentSplit.Write(Path.Combine(root, "data", "sentiment"), dataDir, s.MaxTrain);
            int sentences = TransferText.Write(tr, transferText);
            int Count(string p) => File.ReadAllLines(p).Length;
            log($"   train {Count(tr)} / dev {Count(dv)} / test {Count(te)} sentences → {dataDir}; {sentences} unlabelled training sentences → " +
                $"{transferText}");
            return new JsonObject { ["train"] = Count(tr), ["dev"] = Count(dv), ["test"] = Count(te) };
        });

        // 2. The teacher from NuGet.
        stages.Run("teacher", fromNuGet ? $"teacher: restore NuGet {package.PackageId} {package.Version} and import its ONNX model"
            : $"teacher: {teacherDir}", () =>
        {
            if (fromNuGet) TeacherPackages.FetchInto(package, teacherDir);
            var model = ModelFolder.Load(teacherDir);
            if (!model.Config.IsBert)
                throw new ArgumentException($"{teacherDir}: the demo's teacher must be a plain BERT model (model_type \"bert\").");
            log($"   {teacherName}: {Describe(model.Config)}, {model.Store.Count:N0} parameters → {teacherDir}");
            return new JsonObject { ["dir"] = teacherDir, ["parameters"] = model.Store.Count };
        });
        string vocab = Path.Combine(teacherDir, "vocab.txt");
        var teacherConfig = ConfigJson.Load(Path.Combine(teacherDir, "config.json"));
        var studentConfig = Presets.StudentOf(teacherConfig);

        // 3–6: fine-tuning and transfer.
        Uses(nameof(PretrainedDemoSettings.Seq), nameof(PretrainedDemoSettings.TeacherEpochs));
        var teacherRecipe = FineTuneRecipe.Pretrained(MobileBertModel.CountParameters(teacherConfig));
        var ftTeacher = FineTune(stages, "finetune-teacher", $"fine-tune the teacher on sentiment (recipe: {teacherRecipe.Why})",
            new FineTuneOptions { ModelDir = teacherDir, OutputDir = Path.Combine(outDir, "teacher-sentiment") }, teacherRecipe, s.TeacherEpochs);

        Uses(nameof(PretrainedDemoSettings.TransferCorpus), nameof(PretrainedDemoSettings.EmbeddingSteps),
            nameof(PretrainedDemoSettings.StepsPerLayer),
            nameof(PretrainedDemoSettings.FinalSteps), nameof(PretrainedDemoSettings.TransferBatch), nameof(PretrainedDemoSettings.TransferLr));
        stages.Use("student", JsonNode.Parse(ConfigJson.ToJson(studentConfig)));
        string studentDir = Path.Combine(outDir, "student-distilled");
        var distill = stages.Run("distill", $"task-agnostic knowledge transfer: teacher → MobileBERT student ({Describe(studentConfig)})", () =>
        {
            var corpus = s.TransferCorpus.Select(c => Path.Combine(root, c)).Append(transferText).ToArray();
            var result = DistillationRun.Run(new DistillOptions
            {
                TeacherDir = teacherDir, StudentConfig = studentConfig, Data = corpus, OutputDir = studentDir, VocabPath = vocab,
                Strategy = DistillStrategy.Progressive, EmbeddingSteps = s.EmbeddingSteps, StepsPerLayer = s.StepsPerLayer, PdSteps = s.FinalSteps,
                Batch = s.TransferBatch, Seq = s.Seq, Lr = s.TransferLr, Optimizer = "adamw", Seed = o.Seed, DataSeed = o.Seed, Threads = o.Threads,
                DupeFactor = 1, HeldOutFraction = o.Quick ? 0.1 : 0.02, LogEvery = Math.Max(1, s.StepsPerLayer / 2),
                EvalEvery = Math.Max(1, 2 * s.StepsPerLayer), EvalBatches = o.Quick ? 2 : 8, CheckpointEvery = Math.Max(1, s.StepsPerLayer),
                Resume = true,
            }, p => { if (DescribeTransfer(p) is { } line) log("   " + line); });
            DropCheckpoints(studentDir);
            var t = result.FinalTransfer!;
            log(string.Create(CultureInfo.InvariantCulture,
                $"   student: held-out feature-map MSE {t.FeatureMapMse:F3} (embedding {t.EmbeddingMse:F3}), attention KL {t.Attention:F3}"));
            return new JsonObject
            {
                ["dir"] = result.OutputDir, ["steps"] = result.Steps, ["fmt_mse"] = t.FeatureMapMse, ["fmt_emb"] = t.EmbeddingMse,
                ["at"] = t.Attention, ["seconds_training"] = result.SecondsTraining, ["prediction_distillation"] = result.PredictionDistillation,
            };
        });

        Uses(nameof(PretrainedDemoSettings.StudentEpochs), nameof(PretrainedDemoSettings.KdAlpha), nameof(PretrainedDemoSettings.KdTemperature));
        string teacherTuned = ftTeacher["dir"]!.GetValue<string>();
        var studentRecipe = FineTuneRecipe.Pretrained(MobileBertModel.CountParameters(studentConfig));
        FineTuneOptions WithKd(FineTuneOptions f) => f with { TeacherDir = teacherTuned, KdAlpha = s.KdAlpha, KdTemperature = s.KdTemperature };
        var ftStudent = FineTune(stages, "finetune-student",
            $"fine-tune the distilled student with task distillation from the fine-tuned teacher " +
            $"(recipe: {studentRecipe.Why}, KD α {s.KdAlpha}, T {s.KdTemperature})",
            WithKd(new FineTuneOptions { ModelDir = studentDir, OutputDir = Path.Combine(outDir, "student-sentiment") }),
            studentRecipe, s.StudentEpochs);
        var ftBaseline = FineTune(stages, "finetune-baseline",
            "fine-tune the baseline: the student's shape, random init, the same recipe and task distillation",
            WithKd(new FineTuneOptions { Config = studentConfig, VocabPath = vocab, OutputDir = Path.Combine(outDir, "baseline-sentiment") }),
            studentRecipe, s.StudentEpochs);

        JsonObject FineTune(DemoStages st, string id, string title, FineTuneOptions f, FineTuneRecipe recipe, int? epochs) => st.Run(id, title, () =>
        {
            var taskData = TaskData.LoadSequenceTask("jsonl", trainFile, devFile, new TaskDataOptions { TaskName = "sentiment" });
            var options = recipe.ApplyTo(f, epochs) with { Seq = s.Seq, Seed = o.Seed, Threads = o.Threads, LogEvery = o.Quick ? 5 : 25,
                Resume = true };
            var r = Demo.Restartable(f.OutputDir, log, () => FineTuningRun.Run(options, FineTuneTask.Sequence(taskData), p =>
            {
                if (p.Phase != "checkpoint") log("   " + Demo.DescribeFinetune(p));
            }));
            DropCheckpoints(f.OutputDir);
            return new JsonObject { ["dir"] = r.OutputDir, ["dev_acc"] = r.Best?.Main, ["best_step"] = r.BestStep,
                ["examples_per_s"] = r.ExamplesPerSecond };
        });

        // 7. Test accuracy and latency (teacher and student architectures timed interleaved; the baseline has the student's).
        Uses(nameof(PretrainedDemoSettings.LatencyRounds), nameof(PretrainedDemoSettings.LatencyRunsPerRound)); stages.Use("threads", o.Threads);
        var evaluation = stages.Run("evaluate", $"test-set accuracy and latency (batch 1 and 32, seq 128, {o.Threads} threads, interleaved)", () =>
        {
            var result = new JsonObject();
            foreach (var (key, ft) in new[] { ("teacher", ftTeacher), ("student", ftStudent), ("baseline", ftBaseline) })
            {
                string dir = ft["dir"]!.GetValue<string>();
                var ev = TaskEvaluation.Run(dir, testFile, Path.Combine(dir, "eval-test"), threads: o.Threads);
                result[$"{key}_test_acc"] = ev.Metrics.Main;
                log(string.Create(CultureInfo.InvariantCulture, $"   {key}: test accuracy {ev.Metrics.Main:P1}"));
            }
            var models = new[] { ModelFolder.Load(teacherTuned), ModelFolder.Load(ftStudent["dir"]!.GetValue<string>()) };
            foreach (int b in new[] { 1, 32 })
            {
                var l = Latency.MeasureInterleaved(models, b, 128, o.Threads, s.LatencyRounds, s.LatencyRunsPerRound);
                for (int m = 0; m < 2; m++)
                {
                    string key = m == 0 ? "teacher" : "student";
                    result[$"{key}_b{b}"] = new JsonObject { ["median"] = l[m].MedianMs, ["p10"] = l[m].P10Ms, ["p90"] = l[m].P90Ms,
                        ["runs"] = l[m].Runs };
                    log(string.Create(CultureInfo.InvariantCulture,
                        $"   {key} architecture: batch {b}: {l[m].MedianMs:F2} ms median (p10 {l[m].P10Ms:F2}, " +
                        $"p90 {l[m].P90Ms:F2}, {l[m].Runs} runs)"));
                }
            }
            result["teacher_parameters"] = models[0].Store.Count; result["student_parameters"] = models[1].Store.Count;
            result["teacher_non_embedding"] = NonEmbedding(models[0]); result["student_non_embedding"] = NonEmbedding(models[1]);
            return result;
        });

        stages.Announce("report");
        var md = PretrainedDemoReport.Markdown(new PretrainedDemoReport.Inputs(s, o, data, distill, ftTeacher, ftStudent, ftBaseline, evaluation,
            stages.Done, total.Elapsed.TotalSeconds, DiskUsage(outDir), teacherConfig, studentConfig, teacherName,
            distill["prediction_distillation"]?.GetValue<bool>() ?? false));
        string reportPath = Path.Combine(outDir, "REPORT.md");
        File.WriteAllText(reportPath, md, new UTF8Encoding(false));
        log($"report: {reportPath}");
        return new DemoReport(outDir, reportPath, [], stages.Done, total.Elapsed.TotalSeconds, md);
    }

    /// <summary>Parameters outside the word-embedding table (the paper's "non-embedding" count).</summary>
    public static long NonEmbedding(MobileBertModel m) =>
        m.Store.Count - m.Store.Parameters
            .Where(p => p.Name.Contains(".embeddings.word_embeddings", StringComparison.Ordinal)).Sum(p => (long)p.Length);

    /// <summary>A finished stage's training checkpoints (model + optimizer state, resumption only) are removed: its marker
    /// records the result and the model folder stays.</summary>
    static void DropCheckpoints(string runDir)
    {
        string dir = Path.Combine(runDir, "checkpoints");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static long DiskUsage(string dir) => new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    internal static string Describe(MobileBertConfig c) => c.IsBert
        ? $"BERT, {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads, FFN {c.IntermediateSize}, LayerNorm+GELU"
        : $"{c.NumHiddenLayers} layers, inter-block {c.HiddenSize}, intra-block {c.IntraBottleneckSize}, embedding {c.EmbeddingSize} (trigram), " +
          $"{c.NumAttentionHeads} heads, {c.NumFeedforwardNetworks}×FFN {c.IntermediateSize}, {c.NormalizationType}+{c.HiddenAct}";

    /// <summary>One progress line of the transfer (null: nothing worth printing), without raw record dumps.</summary>
    internal static string? DescribeTransfer(DistillProgress p)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (p.Phase)
        {
            case "train" or "eval":
                var st = p.Stage!;
                var sb = new StringBuilder(string.Create(inv, $"transfer step {p.Step}/{p.Steps}  stage {st.Index + 1}/{p.StageCount} {st.Name} " +
                    $"{p.StageStep}/{st.Steps}"));
                foreach (var (key, label) in new[] { ("fmt_emb", "emb"), ("fmt_mse", "fmt"), ("at", "at"), ("mlm", "mlm"), ("kd", "kd") })
                    if (p.Terms!.TryGetValue(key, out double v)) sb.Append(inv, $"  {label} {v:F3}");
                sb.Append(inv, $"  {p.TokensPerSecond:F0} tok/s  eta {p.Eta:mm\\:ss}");
                if (p.Transfer is { } t) sb.Append(inv, $"  held-out fmt {t.FeatureMapMse:F3} at {t.Attention:F3}");
                return sb.ToString();
            case "checkpoint": return null;
            case "data" when p.Message is not null && !p.Message.Contains("shards", StringComparison.Ordinal)
                && !p.Message.Contains("held-out", StringComparison.Ordinal):
                return null;
            default: return $"[{p.Phase}] {p.Message}";
        }
    }
}
