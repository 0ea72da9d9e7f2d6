using System.CommandLine;
using System.Globalization;
using MobileBert.Distillation;
using MobileBert.Model;
using MobileBert.Training.Pretraining;

namespace MobileBert.Cli;

/// <summary>`mobilebert distill`: knowledge transfer from an IB-BERT teacher to a MobileBERT student, resumable across stages.</summary>
public static class DistillCommand
{
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher") {
            Description = "Teacher model folder (config.json + model.safetensors or pytorch_model.bin, with the MLM head); " +
                "not needed for --strategy scratch." };
        var student = new Option<string>("--student") {
            Description = $"Student preset ({string.Join(", ", Presets.All.Keys)}) or config.json.", Required = true };
        var strategy = new Option<string>("--strategy") {
            DefaultValueFactory = _ => "progressive",
            Description = "progressive | joint | auxiliary | scratch (no teacher: MLM + NSP from random init)." };
        var data = new Option<string[]>("--data") {
            Description = "Corpus files or folders.", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") {
            Description = "Run folder: checkpoints, metrics.csv, curves.png and the final student model folder.", Required = true };
        var vocab = new Option<string>("--vocab") { Description = "WordPiece vocab.txt (default: the teacher's).", };
        var stepsPerLayer = new Option<int>("--steps-per-layer") {
            DefaultValueFactory = _ => 100,
            Description = "Progressive: steps per layer stage; joint: the layer-wise stage has L× this; " +
                "auxiliary/scratch: L× this + --pd-steps in one stage." };
        var embeddingSteps = new Option<int?>("--embedding-steps")
        {
            Description = "Steps of the embedding stage, which runs first when the student's embedding cannot be copied from the teacher " +
                "(a plain BERT teacher); default: --steps-per-layer.",
        };
        var pdSteps = new Option<int>("--pd-steps") {
            DefaultValueFactory = _ => 100, Description = "Pre-training distillation steps after layer-wise transfer." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => 128 };
        var lr = new Option<double>("--lr") {
            DefaultValueFactory = _ => 1e-3,
            Description = "Peak learning rate of every stage (progressive: the trained layer gets ×3, earlier layers ×0.3)." };
        var optimizer = new Option<string>("--optimizer") { DefaultValueFactory = _ => "lamb", Description = "lamb | adamw." };
        var warmup = new Option<double>("--warmup-fraction") {
            DefaultValueFactory = _ => 0.1,
            Description = "Linear warm-up over this fraction of each stage (restarts every stage), then linear decay." };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 42, Description = "Student initialisation, batch order, dropout." };
        var dataSeed = new Option<long>("--data-seed") {
            DefaultValueFactory = _ => 42,
            Description = "Seed of the shards (use the teacher's pre-training seed to share its data and held-out split)." };
        var dataDir = new Option<string>("--data-dir") {
            Description = "Where shards are built or reused (default OUT/data; e.g. TEACHER_RUN/data)." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out (works across stages)." };
        var freezeLower = new Option<bool>("--freeze-lower") { Description = "Progressive: freeze earlier layers instead of training them at ×0.3." };
        var noNormFit = new Option<bool>("--no-embedding-norm-fit") {
            Description = "LayerNorm teacher → NoNorm student: keep the copied embedding LayerNorm γ/β instead of re-fitting the student's NoNorm " +
                "to the teacher on training data (not recommended: the student's activations are then far smaller than the teacher's)." };
        var noProjection = new Option<bool>("--no-embedding-projection")
        {
            Description = "Plain BERT teacher → narrower trigram student: start the student's word embedding from random instead of the " +
                "teacher's table projected onto its principal directions.",
        };
        var layerMap = new Option<string>("--layer-map") {
            Description = "Student←teacher layers, \"0:1,1:3\" or \"1,3\" (default: round((l+1)·Lt/Ls)−1)." };
        var fmtW = new Option<double>("--fmt-weight") { DefaultValueFactory = _ => 100 };
        var meanW = new Option<double>("--mean-weight") { DefaultValueFactory = _ => 5000 };
        var varW = new Option<double>("--var-weight") { DefaultValueFactory = _ => 5 };
        var atW = new Option<double>("--at-weight") { DefaultValueFactory = _ => 1 };
        var alpha = new Option<double>("--alpha") { DefaultValueFactory = _ => 0.5, Description = "PD: α·MLM(hard labels) + (1−α)·KD." };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 1 };
        var dropout = new Option<bool>("--dropout") { Description = "Student dropout during transfer (the reference has none)." };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => 10 };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => 200 };
        var evalBatches = new Option<int>("--eval-batches") { DefaultValueFactory = _ => 20 };
        var ckptEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 200, Description = "Also at every stage boundary." };
        var keep = new Option<int>("--keep-checkpoints") { DefaultValueFactory = _ => 2 };
        var dupe = new Option<int>("--dupe-factor") { DefaultValueFactory = _ => 5 };
        var maxPred = new Option<int>("--max-predictions") { DefaultValueFactory = _ => 20 };
        var heldOut = new Option<double>("--held-out") { DefaultValueFactory = _ => 0.02 };
        var blankLines = new Option<int>("--blank-lines-between-documents") { DefaultValueFactory = _ => 1 };
        var cmd = new Command("distill",
            "Knowledge transfer (MobileBERT §3.3–3.5): IB-BERT teacher → MobileBERT student, progressive / joint / auxiliary.")
        {
            teacher, student, strategy, data, output, vocab, stepsPerLayer, embeddingSteps, pdSteps, batch, seq, lr, optimizer, warmup, seed,
            dataSeed, dataDir, threads, resume, freezeLower, noNormFit, noProjection, layerMap, fmtW, meanW, varW, atW, alpha, temperature, dropout,
            logEvery, evalEvery, evalBatches, ckptEvery, keep, dupe, maxPred, heldOut, blankLines,
        };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var s = r.GetValue(strategy)!.ToLowerInvariant();
            var strat = s switch
            {
                "progressive" => DistillStrategy.Progressive, "joint" => DistillStrategy.Joint, "auxiliary" => DistillStrategy.Auxiliary,
                "scratch" => DistillStrategy.Scratch,
                _ => throw new ArgumentException($"--strategy must be progressive, joint, auxiliary or scratch, got '{s}'."),
            };
            var t = r.GetValue(teacher);
            var v = r.GetValue(vocab) ?? (t is null ? throw new ArgumentException("--vocab is required without --teacher.")
                : Path.Combine(t, "vocab.txt"));
            var o = new DistillOptions
            {
                TeacherDir = t, StudentConfig = Presets.Resolve(r.GetValue(student)!), Strategy = strat, Data = r.GetValue(data)!,
                OutputDir = r.GetValue(output)!, VocabPath = v, StepsPerLayer = r.GetValue(stepsPerLayer),
                EmbeddingSteps = r.GetValue(embeddingSteps), PdSteps = r.GetValue(pdSteps), Batch = r.GetValue(batch), Seq = r.GetValue(seq),
                Lr = r.GetValue(lr), Optimizer = r.GetValue(optimizer)!, WarmupFraction = r.GetValue(warmup), Seed = r.GetValue(seed),
                DataSeed = r.GetValue(dataSeed), DataDir = r.GetValue(dataDir), Threads = r.GetValue(threads), Resume = r.GetValue(resume),
                FreezeLower = r.GetValue(freezeLower), FitEmbeddingNorm = !r.GetValue(noNormFit), ProjectEmbeddings = !r.GetValue(noProjection),
                LayerMapSpec = r.GetValue(layerMap), Dropout = r.GetValue(dropout),
                Weights = new LossWeights
                {
                    FeatureMap = r.GetValue(fmtW), Mean = r.GetValue(meanW), Variance = r.GetValue(varW), Attention = r.GetValue(atW),
                    Alpha = r.GetValue(alpha), Temperature = r.GetValue(temperature),
                },
                LogEvery = r.GetValue(logEvery), EvalEvery = r.GetValue(evalEvery), EvalBatches = r.GetValue(evalBatches),
                CheckpointEvery = r.GetValue(ckptEvery), KeepCheckpoints = r.GetValue(keep), DupeFactor = r.GetValue(dupe),
                MaxPredictions = r.GetValue(maxPred), HeldOutFraction = r.GetValue(heldOut), BlankLinesBetweenDocuments = r.GetValue(blankLines),
            };
            var result = DistillationRun.Run(o, Report);
            Console.Error.WriteLine(Summary(result));
            return 0;
        }));
        return cmd;
    }

    /// <summary>The closing line of a run: steps, time, size and the held-out scores it has.</summary>
    public static string Summary(DistillResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder(string.Create(inv,
            $"done: {result.Steps} steps in {result.SecondsTraining:F0} s; student {result.StudentParameters:N0} parameters"));
        if (result.FinalEval is { } e)
            sb.Append(inv, $"; held-out MLM acc {e.MlmAccuracy:P1} (unigram {e.UnigramBaselineAccuracy:P1}), NSP acc {e.NspAccuracy:P1}, loss " +
                $"{e.Loss:F3}");
        if (result.FinalTransfer is { } t)
            sb.Append(inv, $"; held-out feature-map MSE {t.FeatureMapMse:F4} (embedding {t.EmbeddingMse:F4}), attention KL {t.Attention:F4}");
        if (!result.PredictionDistillation) sb.Append("; no pre-training distillation (the teacher has no MLM head)");
        return sb.Append("; model folder: ").Append(result.OutputDir).ToString();
    }

    /// <summary>One line per report: stage, layer, every loss term, learning rate, tokens/s, ETA (and held-out metrics).</summary>
    public static void Report(DistillProgress p)
    {
        string line = p.Phase switch
        {
            "train" or "eval" => Line(p) + (p.Eval is { } e ? string.Create(CultureInfo.InvariantCulture,
                $"\n  held-out: loss {e.Loss:F4}  mlm {e.MlmAccuracy:P1} (unigram {e.UnigramBaselineAccuracy:P1})  nsp {e.NspAccuracy:P1}") : "")
                + (p.Transfer is { } t ? string.Create(CultureInfo.InvariantCulture,
                    $"\n  held-out transfer: feature-map MSE {t.FeatureMapMse:F4}  embedding {t.EmbeddingMse:F4}  attention KL {t.Attention:F4}")
                        : ""),
            "checkpoint" => $"  checkpoint: {p.Message}",
            _ => $"[{p.Phase}] {p.Message}",
        };
        Console.Error.WriteLine(line);
    }

    static string Line(DistillProgress p)
    {
        var st = p.Stage!;
        var sb = new System.Text.StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"step {p.Step,6}/{p.Steps}  stage {st.Index + 1}/{p.StageCount} {st.Name,-16} " +
            $"{p.StageStep,5}/{st.Steps}");
        var t = p.Terms!;
        foreach (var (key, label, fmt) in new[] { ("loss", "loss", "F4"), ("fmt_emb", "emb", "F4"), ("fmt_mse", "fmt", "F4"),
            ("fmt_mean", "mean", "E2"), ("fmt_var", "var", "F4"), ("at", "at", "F4"), ("mlm", "mlm", "F3"), ("kd", "kd", "F3"), ("nsp", "nsp", "F3"),
            ("mlm_acc", "acc", "P1") })
            if (t.TryGetValue(key, out double v))
                sb.Append(CultureInfo.InvariantCulture, $"  {label} {v.ToString(fmt, CultureInfo.InvariantCulture)}");
        sb.Append(CultureInfo.InvariantCulture, $"  lr {p.LearningRate:0.###e0}  {p.TokensPerSecond,6:F0} tok/s  eta {p.EtaText}");
        return sb.ToString();
    }

}
