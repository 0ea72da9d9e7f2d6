using System.Diagnostics;
using System.Text.Json;

namespace MobileBert.Import;

/// <summary>
/// Gets a NuGet package the ordinary way: a throw-away project in a temporary folder with a
/// <c>&lt;PackageDownload&gt;</c> of the exact version, and <c>dotnet restore</c> on it (the user's NuGet sources,
/// proxy settings and credentials apply; nothing is downloaded by hand). PackageDownload fetches just that package,
/// without its dependency tree. The package is then read in place in the NuGet global packages folder the restore used.
/// </summary>
public static class NuGetRestore
{
    /// <summary>The extracted package folder (…/packages/&lt;id&gt;/&lt;version&gt;/). Throws <see cref="OnnxImportException"/>
    /// with the restore's first error line when the package cannot be had. <paramref name="source"/>: a NuGet source (URL or
    /// folder) to use instead of the configured ones.</summary>
    public static string Restore(string id, string version, string? source = null, TimeSpan? timeout = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "mobilebert-restore-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "restore.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><TargetFramework>net{Environment.Version.Major}.0</TargetFramework></PropertyGroup>
                  <ItemGroup><PackageDownload Include="{id}" Version="[{version}]" /></ItemGroup>
                </Project>
                """);
            string[] args = ["restore", Path.Combine(dir, "restore.csproj"), "--nologo",
                .. source is null ? Array.Empty<string>() : ["--source", source]];
            var (exit, output) = Run(DotnetHost(), args, dir, timeout ?? TimeSpan.FromMinutes(10));
            if (exit != 0)
            {
                // "…/restore.csproj : error NU1101: Unable to find package …" → from "error" on (the throw-away path says nothing)
                string why = output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))
                    .Select(l => l[l.IndexOf("error", StringComparison.OrdinalIgnoreCase)..]).FirstOrDefault() ?? $"exit code {exit}";
                throw new OnnxImportException($"dotnet restore of NuGet package {id} {version} failed: {why}");
            }
            string packages = GlobalPackagesFolder(Path.Combine(dir, "obj", "project.assets.json"));
            string packageDir = Path.Combine(packages, id.ToLowerInvariant(), version.ToLowerInvariant());
            return Directory.Exists(packageDir) ? packageDir
                : throw new OnnxImportException($"dotnet restore reported success but {packageDir} does not exist.");
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The dotnet executable: the one running this process's SDK tooling when known, else <c>dotnet</c> on PATH.</summary>
    static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    static (int Exit, string Output) Run(string exe, string[] args, string workDir, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe)
        {
            WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        Process process;
        try { process = Process.Start(psi) ?? throw new OnnxImportException($"could not start '{exe}'."); }
        catch (System.ComponentModel.Win32Exception e) { throw new OnnxImportException($"could not run '{exe} restore' (is the .NET SDK " +
            $"installed?): {e.Message}"); }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new OnnxImportException($"'{exe} restore' did not finish within {timeout.TotalMinutes:F0} minutes.");
            }
            return (process.ExitCode, stdout.Result + "\n" + stderr.Result);
        }
    }

    /// <summary>The first entry of project.assets.json's "packageFolders" (the global packages folder).</summary>
    static string GlobalPackagesFolder(string assetsPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(assetsPath));
            foreach (var folder in doc.RootElement.GetProperty("packageFolders").EnumerateObject()) return folder.Name;
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new OnnxImportException($"{assetsPath}: cannot read the NuGet packages folder: {e.Message}");
        }
        throw new OnnxImportException($"{assetsPath}: lists no NuGet packages folder.");
    }
}
