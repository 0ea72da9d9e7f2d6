using System.CommandLine;
using System.Globalization;
using MobileBert.Model;
using MobileBert.Training.Pretraining;

namespace MobileBert.Cli;

/// <summary>`mobilebert pretrain`: masked-LM + next-sentence pre-training from raw text, resumable.</summary>
public static class PretrainCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = $"Preset ({string.Join(", ", Presets.All.Keys)}) or config.json.",
            Required = true };
        var data = new Option<string[]>("--data") { Description = "Corpus files or folders (.txt: blank line ends a document; .json/.jsonl with a " +
            "\"text\" field).", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints, data shards, metrics.csv, curves.png, and the final " +
            "model folder.", Required = true };
        var vocab = new Option<string>("--vocab") { Description = "WordPiece vocab.txt.", Required = true };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 1000, Description = "Optimisation steps." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16, Description = "Sequences per step." };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => 128, Description = "Sequence length." };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-3, Description = "Peak learning rate." };
        var optimizer = new Option<string>("--optimizer") { DefaultValueFactory = _ => "lamb", Description = "lamb | adamw." };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 100, Description = "Linear warm-up steps (then linear decay to 0)." };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 42 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out." };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => 10 };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => 200 };
        var evalBatches = new Option<int>("--eval-batches") { DefaultValueFactory = _ => 20 };
        var ckptEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 200 };
        var keep = new Option<int>("--keep-checkpoints") { DefaultValueFactory = _ => 2 };
        var dupe = new Option<int>("--dupe-factor") { DefaultValueFactory = _ => 5,
            Description = "Times each document is turned into examples (different masks)." };
        var maxPred = new Option<int>("--max-predictions") { DefaultValueFactory = _ => 20 };
        var heldOut = new Option<double>("--held-out") { DefaultValueFactory = _ => 0.02,
            Description = "Fraction of documents held out for evaluation." };
        var wwm = new Option<bool>("--whole-word-masking");
        var skipBad = new Option<bool>("--skip-bad-files") { Description = "Skip (and report) unreadable or non-UTF-8 files instead of stopping." };
        var blankLines = new Option<int>("--blank-lines-between-documents") { DefaultValueFactory = _ => 1 };
        var cmd = new Command("pretrain", "Pre-train a MobileBERT-family model (teacher or student) with masked LM + next-sentence prediction.")
        { config, data, output, vocab, steps, batch, seq, lr, optimizer, warmup, seed, threads, resume, logEvery, evalEvery, evalBatches, ckptEvery,
        keep, dupe, maxPred, heldOut, wwm, skipBad, blankLines };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var o = new PretrainOptions
            {
                Config = Presets.Resolve(r.GetValue(config)!), Data = r.GetValue(data)!, OutputDir = r.GetValue(output)!,
                    VocabPath = r.GetValue(vocab)!,
                Steps = r.GetValue(steps), Batch = r.GetValue(batch), Seq = r.GetValue(seq), Lr = r.GetValue(lr), Optimizer = r.GetValue(optimizer)!,
                Warmup = r.GetValue(warmup), Seed = r.GetValue(seed), Threads = r.GetValue(threads), Resume = r.GetValue(resume),
                LogEvery = r.GetValue(logEvery), EvalEvery = r.GetValue(evalEvery), EvalBatches = r.GetValue(evalBatches),
                    CheckpointEvery = r.GetValue(ckptEvery),
                KeepCheckpoints = r.GetValue(keep), DupeFactor = r.GetValue(dupe), MaxPredictions = r.GetValue(maxPred),
                    HeldOutFraction = r.GetValue(heldOut),
                WholeWordMasking = r.GetValue(wwm), SkipBadFiles = r.GetValue(skipBad), BlankLinesBetweenDocuments = r.GetValue(blankLines),
            };
            var result = PretrainingRun.Run(o, Report);
            var e = result.FinalEval;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {result.Steps} steps, {result.SequencesPerSecond:F2} sequences/s; held-out MLM acc {e.MlmAccuracy:P1} (unigram " +
                $"baseline {e.UnigramBaselineAccuracy:P1}), NSP acc {e.NspAccuracy:P1}, loss {e.Loss:F3}; model folder: {result.OutputDir}"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>One line per report: step, loss, accuracies, learning rate, tokens/s, ETA (and held-out metrics at evaluations).</summary>
    public static void Report(PretrainProgress p)
    {
        string line = p.Phase switch
        {
            "train" or "eval" => string.Create(CultureInfo.InvariantCulture,
                $"step {p.Step,6}/{p.Steps}  loss {p.Loss,7:F4}  mlm {p.MlmAccuracy,6:P1}  nsp {p.NspAccuracy,6:P1}  lr {p.LearningRate:0.###e0} " +
                $" {p.TokensPerSecond,7:F0} tok/s  eta {p.EtaText}")
                + (p.Eval is { } e ? string.Create(CultureInfo.InvariantCulture,
                $"\n  held-out: loss {e.Loss:F4}  mlm {e.MlmAccuracy:P1} (unigram {e.UnigramBaselineAccuracy:P1})  nsp {e.NspAccuracy:P1}  " +
                $"[{e.Sequences} seqs, {e.MaskedTokens} masked]") : ""),
            "checkpoint" => $"  checkpoint: {p.Message}",
            _ => $"[{p.Phase}] {p.Message}",
        };
        Console.Error.WriteLine(line);
    }

}
