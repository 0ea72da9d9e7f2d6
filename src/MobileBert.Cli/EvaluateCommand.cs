using System.CommandLine;
using MobileBert.FineTuning;

namespace MobileBert.Cli;

/// <summary>`mobilebert evaluate`: the task's official metrics of a fine-tuned model folder on a labelled file.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Fine-tuned model folder (with task.json).", Required = true };
        var task = new Option<string?>("--task") { Description = "Optional check: must match the model's task." };
        var data = new Option<string>("--data") { Description = "Labelled file of the task (GLUE dev TSV, CSV/JSONL, SQuAD JSON).", Required = true };
        var output = new Option<string?>("--out") { Description = "Folder for metrics.json and predictions (default MODEL/eval-<data file name>)." };
        var predictions = new Option<string?>("--output") { Description = "Per-example predictions JSONL with every label's probability (default " +
            "OUT/predictions.jsonl; sequence tasks)." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var skipBad = new Option<bool>("--skip-bad-rows");
        var textCol = new Option<string?>("--text-column") { Description = "Override the text column saved in task.json." };
        var pairCol = new Option<string?>("--pair-column");
        var labelCol = new Option<string?>("--label-column");
        var cmd = new Command("evaluate", "Evaluate a fine-tuned model: prints and writes metrics.json (SQuAD: also predictions.json, " +
            "null_odds.json).")
        { model, task, data, output, predictions, batch, threads, skipBad, textCol, pairCol, labelCol };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            string dir = r.GetValue(model)!, file = r.GetValue(data)!;
            string outDir = r.GetValue(output) ?? Path.Combine(dir, "eval-" + Path.GetFileNameWithoutExtension(file));
            var result = TaskEvaluation.Run(dir, file, outDir, new TaskDataOptions
            {
                SkipBadRows = r.GetValue(skipBad), TextColumn = r.GetValue(textCol), PairColumn = r.GetValue(pairCol),
                    LabelColumn = r.GetValue(labelCol),
            }, r.GetValue(batch), r.GetValue(threads), r.GetValue(task), r.GetValue(predictions));
            foreach (var n in result.Notes) Console.Error.WriteLine($"note: {n}");
            Console.WriteLine($"{result.Task.Name} on {file} ({result.Examples} examples): {result.Metrics}");
            Console.Error.WriteLine($"wrote {string.Join(", ", result.Files)}");
            return 0;
        }));
        return cmd;
    }
}
