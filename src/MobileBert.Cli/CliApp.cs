using System.CommandLine;
using MobileBert.Checkpoints;
using MobileBert.Model;

namespace MobileBert.Cli;

/// <summary>The `mobilebert` command line: thin wrappers that parse options and call the library.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        DemoCommand.Distill ??= DemoDistill.Run;   // the demo's knowledge-transfer stage
        var root = new RootCommand("MobileBert.NET — pure managed MobileBERT: pre-train, distill, fine-tune, quantize, export and serve.");
        root.Subcommands.Add(EncodeCommand.Create());
        root.Subcommands.Add(TokenizeCli.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        root.Subcommands.Add(ExportOnnxCommand.Create());
        root.Subcommands.Add(DistillCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        return root.Parse(args).Invoke();
    }

    /// <summary>Runs a command body; known input errors become one clear line on stderr and exit code 1 (no stack dump).</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is ConfigException or CheckpointException or InputException or ArgumentException or IOException or UnauthorizedAccessException
            or InvalidDataException or FormatException or System.Text.Json.JsonException or MobileBert.Pretraining.PretrainingDataException
            or MobileBert.Training.Pretraining.TrainingDivergedException or MobileBert.Tasks.QuestionAnswering.SquadFormatException
            or MobileBert.Distillation.DistillationException or MobileBert.Training.Optimizers.OptimizerStateException or MobileBert.Export.OnnxExportException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}

/// <summary>A user input file is malformed; the message names the file and line.</summary>
public sealed class InputException(string message) : Exception(message);
