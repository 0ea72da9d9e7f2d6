using System.Diagnostics;

namespace MobileBert.Bench;

/// <summary>Starts this bench executable again as a child process (`dotnet MobileBert.Bench.dll …` under `dotnet run`,
/// or the apphost itself), for benchmarks that need a fresh or separate process.</summary>
static class SelfProcess
{
    /// <summary>Start info for `MobileBert.Bench &lt;args…&gt;`, stdout and stderr redirected (stdin too if asked).</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, bool redirectInput = false)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectInput, UseShellExecute = false,
        };
        string self = typeof(SelfProcess).Assembly.Location;
        string host = Environment.ProcessPath ?? "dotnet";
        psi.FileName = host;
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) psi.ArgumentList.Add(self);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
