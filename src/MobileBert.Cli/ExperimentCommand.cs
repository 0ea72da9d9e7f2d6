using System.CommandLine;
using System.Globalization;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.FineTuning;
using MobileBert.Model;

namespace MobileBert.Cli;

/// <summary>`mobilebert experiment kt` and `kt-bert` (the knowledge-transfer comparisons, <see cref="KtExperiment"/> and
/// <see cref="BertKtExperiment"/>), `experiment kt-cost` and `experiment matching-heads` (<see cref="MatchingHeads"/>).</summary>
public static class ExperimentCommand
{
    public static Command Create()
    {
        var cmd = new Command("experiment", "Reproducible experiments.");
        cmd.Subcommands.Add(CreateKt());
        cmd.Subcommands.Add(CreateKtBert());
        cmd.Subcommands.Add(CreateCost());
        cmd.Subcommands.Add(CreateMatchingHeads());
        return cmd;
    }

    static Option<T> Opt<T>(string name, T value, string? description = null) =>
        new(name) { DefaultValueFactory = _ => value, Description = description };

    static long[] Seeds(string list) => [.. list.Split(',').Select(x => long.Parse(x, CultureInfo.InvariantCulture))];

    static string CommandLine => string.Join(" ", Environment.GetCommandLineArgs().Skip(1));

    static Command CreateKt()
    {
        var output = Opt("--out", Path.Combine("experiments", "kt", "run"),
            "Work folder (teacher, students, shards). Finished pieces are reused on a re-run.");
        var report = Opt("--report", Path.Combine("experiments", "kt", "REPORT.md"));
        var data = Opt<string[]>("--data", [Path.Combine("data", "corpus")]);
        data.AllowMultipleArgumentsPerToken = true;
        var vocab = Opt("--vocab", Path.Combine("data", "vocab", "bert-base-uncased-vocab.txt"));
        var seeds = Opt("--seeds", "1,2", "Student seeds (initialisation, batch order).");
        var teacherSteps = Opt("--teacher-steps", 800);
        var teacherLr = Opt("--teacher-lr", 2e-3);
        var stepsPerLayer = Opt("--steps-per-layer", 40);
        var pdSteps = Opt("--pd-steps", 160);
        var batch = Opt("--batch", 16);
        var seq = Opt("--seq", 64);
        var lr = Opt("--lr", 2e-3);
        var threads = Opt("--threads", Environment.ProcessorCount);
        var evalBatches = Opt("--eval-batches", 40);
        var teacherDir = new Option<string>("--teacher")
        {
            Description = "Use this pre-trained teacher model folder (IB-BERT-mini shape, with MLM/NSP heads) instead of pre-training one for " +
                "--teacher-steps. Its held-out split must be the experiment's (same corpus, data seed 42, held-out fraction 0.02).",
        };
        var sentiment = Opt("--sentiment", Path.Combine("data", "sentiment"),
            "UCI sentiment folder for the fine-tuned sentiment column (the demo's fixed split and recipe).");
        var cmd = new Command("kt", "Knowledge-transfer comparison at equal steps: progressive vs joint vs auxiliary vs the same student from " +
            "scratch (a tiny IB-BERT teacher pre-trained first), then every model fine-tuned on sentiment.")
        {
            output, report, data, vocab, seeds, teacherSteps, teacherLr, stepsPerLayer, pdSteps, batch, seq, lr, threads, evalBatches, teacherDir,
            sentiment,
        };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            KtExperiment.Run(new KtOptions
            {
                OutputDir = r.GetValue(output)!, ReportPath = r.GetValue(report)!, Data = r.GetValue(data)!, VocabPath = r.GetValue(vocab)!,
                Seeds = Seeds(r.GetValue(seeds)!), TeacherSteps = r.GetValue(teacherSteps), TeacherLr = r.GetValue(teacherLr),
                StepsPerLayer = r.GetValue(stepsPerLayer), PdSteps = r.GetValue(pdSteps), Batch = r.GetValue(batch), Seq = r.GetValue(seq),
                Lr = r.GetValue(lr), Threads = r.GetValue(threads), EvalBatches = r.GetValue(evalBatches), CommandLine = CommandLine,
                TeacherDir = r.GetValue(teacherDir), Sentiment = r.GetValue(sentiment)!, Log = Console.Error.WriteLine,
                PretrainProgress = PretrainCommand.Report, DistillProgress = DistillCommand.Report,
            });
            return 0;
        }));
        return cmd;
    }

    static Command CreateKtBert()
    {
        var teacher = Opt("--teacher", "minilm", "minilm (restored from NuGet) or a plain BERT model folder.");
        var output = Opt("--out", Path.Combine("experiments", "kt", "run-bert"), "Work folder; finished runs are reused.");
        var report = Opt("--report", Path.Combine("experiments", "kt", "BERT-TEACHER.md"));
        var seeds = Opt("--seeds", "1,2");
        var embeddingSteps = Opt("--embedding-steps", 40);
        var stepsPerLayer = Opt("--steps-per-layer", 40);
        var finalSteps = Opt("--final-steps", 120, "Steps of the last (all-layer) stage.");
        var batch = Opt("--batch", 16);
        var seq = Opt("--seq", 128);
        var lr = Opt("--lr", 1e-3);
        var epochs = Opt("--epochs", 3, "Sentiment fine-tuning epochs.");
        var threads = Opt("--threads", Environment.ProcessorCount);
        var dataRoot = new Option<string?>("--data-root")
        { Description = "Repository root holding data/ (default: found above the current directory)." };
        var reportOnly = new Option<bool>("--report-only") { Description = "Rewrite the report from the runs finished so far." };
        var cmd = new Command("kt-bert", "Knowledge-transfer strategies on a real pretrained BERT teacher (all-MiniLM-L6-v2 by default): " +
            "progressive vs joint vs auxiliary vs no teacher at equal steps, scored by held-out transfer losses, fine-tuned sentiment accuracy " +
            "and QA F1.")
        { teacher, output, report, seeds, embeddingSteps, stepsPerLayer, finalSteps, batch, seq, lr, epochs, threads, dataRoot, reportOnly };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            BertKtExperiment.Run(new BertKtOptions
            {
                Teacher = r.GetValue(teacher)!, OutputDir = r.GetValue(output)!, ReportPath = r.GetValue(report)!,
                RepoRoot = r.GetValue(dataRoot) ?? Demo.FindRepoRoot(), Seeds = Seeds(r.GetValue(seeds)!),
                EmbeddingSteps = r.GetValue(embeddingSteps), StepsPerLayer = r.GetValue(stepsPerLayer), FinalSteps = r.GetValue(finalSteps),
                Batch = r.GetValue(batch), Seq = r.GetValue(seq), Lr = r.GetValue(lr), FineTuneEpochs = r.GetValue(epochs),
                Threads = r.GetValue(threads), CommandLine = CommandLine, ReportOnly = r.GetValue(reportOnly),
            }, Console.Error.WriteLine);
            return 0;
        }));
        return cmd;
    }

    static Command CreateMatchingHeads()
    {
        var models = new Option<string[]>("--model") { Description = "Model folders (one table each).", Required = true,
            AllowMultipleArgumentsPerToken = true };
        var data = new Option<string>("--data") { Description = "SQuAD JSON whose questions are read.", Required = true };
        var questions = Opt("--questions", 60, "The file's first N questions.");
        var seq = Opt("--seq", 192);
        var cmd = new Command("matching-heads", "Per layer and head: the attention a question token puts on the same token in the context " +
            "(the heads extractive QA reads the question with).") { models, data, questions, seq };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var examples = TaskData.LoadSquad(r.GetValue(data)!, v2: false).Examples.Take(r.GetValue(questions)).ToList();
            foreach (var dir in r.GetValue(models)!)
            {
                var model = ModelFolder.Load(dir, new LoadOptions { Heads = ModelHeads.None });
                var tok = Text.WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile));
                var features = new Tasks.QuestionAnswering.QaFeaturizer(tok, new Tasks.QuestionAnswering.QaFeatureOptions
                    { MaxSeqLength = r.GetValue(seq) }).CreateFeatures(examples);
                var (mass, tokens) = MatchingHeads.Measure(model, features.Features, new HashSet<int> { tok.ClsId, tok.SepId, tok.PadId });
                Console.WriteLine($"{dir}: {tokens} question tokens shared with the context; attention mass on the matching context tokens, " +
                    "layer × head:");
                for (int l = 0; l < mass.GetLength(0); l++)
                    Console.WriteLine($"  layer {l}: " + string.Join(" ", Enumerable.Range(0, mass.GetLength(1))
                        .Select(h => mass[l, h].ToString("F2", CultureInfo.InvariantCulture))));
            }
            return 0;
        }));
        return cmd;
    }

    static Command CreateCost()
    {
        var teacher = new Option<string>("--teacher") { Description = "Teacher model folder (default: a random tiny IB-BERT teacher)." };
        var student = new Option<string>("--student") { Description = "Student preset or config.json (default: the kt experiment's student)." };
        var batch = Opt("--batch", 8);
        var seq = Opt("--seq", 128);
        var iterations = Opt("--iterations", 10);
        var threads = Opt("--threads", Environment.ProcessorCount);
        var cmd = new Command("kt-cost", "Per-step cost of distillation vs a plain student step (median ms).")
        { teacher, student, batch, seq, iterations, threads };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            MobileBertModel t;
            if (r.GetValue(teacher) is { } dir) t = ModelFolder.Load(dir);
            else { t = new MobileBertModel(KtExperiment.TinyTeacher(), ModelHeads.Pretraining); t.InitializeWeights(1); }
            var sc = r.GetValue(student) is { } sp ? Presets.Resolve(sp)
                : KtExperiment.WithPositions(KtExperiment.TinyStudent(), t.Config.MaxPositionEmbeddings);
            var c = StepCost.Measure(t, sc, r.GetValue(batch), r.GetValue(seq), r.GetValue(iterations), r.GetValue(threads));
            void Line(string what, double ms) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-57}{ms,8:F1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"batch {c.Batch} × seq {c.Seq}, {c.Threads} threads, median of {c.Iterations} (ms):"));
            Line("teacher forward (engine, hidden states + attentions)", c.TeacherForwardMs);
            Line("plain student step (MLM + NSP)", c.StudentStepMs);
            Line("teacher forward + plain student step", c.TeacherForwardMs + c.StudentStepMs);
            Line("auxiliary distillation step (all layer-wise losses + PD)", c.AuxiliaryStepMs);
            Line("joint layer-wise step (all layers, no heads)", c.JointLayerWiseStepMs);
            Line("progressive stage 1 step (student layer 0 only)", c.ProgressiveFirstLayerStepMs);
            Line("PD step (teacher forward + MLM at masked positions)", c.PdStepMs);
            return 0;
        }));
        return cmd;
    }
}
