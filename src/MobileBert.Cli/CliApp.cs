using System.CommandLine;
using MobileBert.Checkpoints;
using MobileBert.Model;

namespace MobileBert.Cli;

/// <summary>The `mobilebert` command line: thin wrappers that parse options and call the library.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("MobileBert.NET — pure managed MobileBERT: pre-train, distill, fine-tune, quantize, export and serve.");
        NameRoot(root, "mobilebert");   // help and errors say `mobilebert` (the tool's command), not the assembly name
        root.Subcommands.Add(EncodeCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(FillMaskCommand.Create());
        root.Subcommands.Add(TokenizeCli.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        root.Subcommands.Add(ExportOnnxCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(FetchTeacherCommand.Create());
        root.Subcommands.Add(DistillCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
#if !NO_SERVE
        root.Subcommands.Add(ServeCommand.Create());
#endif
        return root.Parse(args).Invoke();
    }

    /// <summary>System.CommandLine names the root command after the executable (MobileBert.Cli when run from source) and
    /// gives no setter; the name lives in Symbol's one string field.</summary>
    static void NameRoot(RootCommand root, string name)
    {
        var field = typeof(Symbol).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)
            .FirstOrDefault(f => f.FieldType == typeof(string) && (string?)f.GetValue(root) == root.Name);
        field?.SetValue(root, name);
    }

    /// <summary>Runs a command body; known input errors become one clear line on stderr and exit code 1 (no stack dump).</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {CliFlags.Message(e)}");
            return 1;
        }
    }

    /// <summary>The library's documented exceptions for bad input, settings or files: the CLI prints them as one `error:`
    /// line. Anything else is a defect (the fuzz tests hold every input path to this set).</summary>
    public static bool IsUserError(Exception e) => e is MobileBertException or ArgumentException or IOException or UnauthorizedAccessException
        or InvalidDataException or FormatException or KeyNotFoundException or System.Text.Json.JsonException;
}

/// <summary>A user input file is malformed; the message names the file and line.</summary>
public sealed class InputException(string message) : MobileBertException(message);
