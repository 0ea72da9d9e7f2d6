using System.CommandLine;
using MobileBert.FineTuning;

namespace MobileBert.Cli;

/// <summary>
/// `mobilebert demo`: the end-to-end run on bundled data — pre-train a small teacher, knowledge transfer to a
/// MobileBERT-style student, fine-tune teacher / student / no-pre-training baseline on sentiment, evaluate, measure
/// latency, write REPORT.md. Rerunning with the same --out skips finished stages.
/// </summary>
public static class DemoCommand
{
    /// <summary>
    /// The knowledge-transfer stage. Null until MobileBert.Distillation lands: the demo then prints
    /// "knowledge transfer not available yet" and skips it. Wire it as
    /// <c>Distill = r => { /* run progressive KT from r.TeacherDir into r.OutputDir with r.StudentConfig on r.Corpus */ return r.OutputDir; }</c>.
    /// </summary>
    public static Func<DistillStageRequest, string>? Distill { get; set; }

    public static Command Create()
    {
        var output = new Option<string>("--out") { DefaultValueFactory = _ => "demo-output", Description = "Output folder (models, data split, REPORT.md); rerun with the same folder to skip finished stages." };
        var quick = new Option<bool>("--quick") { Description = "Tiny settings (≈ a minute): checks the pipeline, not the numbers." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 42 };
        var dataRoot = new Option<string?>("--data-root") { Description = "Repository root holding data/ (default: found above the current directory)." };
        var cmd = new Command("demo", "End-to-end demo on bundled data: pre-train teacher → knowledge transfer → fine-tune teacher, student and baseline on sentiment → accuracy, latency, REPORT.md.")
        { output, quick, threads, seed, dataRoot };
        cmd.SetAction(r => TaskCli.Guard(() =>
        {
            var report = Demo.Run(new DemoOptions
            {
                OutputDir = r.GetValue(output)!, Quick = r.GetValue(quick), Threads = r.GetValue(threads), Seed = r.GetValue(seed), RepoRoot = r.GetValue(dataRoot), Distill = Distill,
            });
            Console.Error.WriteLine($"demo finished in {report.TotalSeconds / 60:F1} min; report: {report.ReportPath}");
            return 0;
        }));
        return cmd;
    }
}
