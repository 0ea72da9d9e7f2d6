using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace MobileBert.Serving.Tests;

/// <summary>`mobilebert serve` as its own process (the CLI next to the tests), for start-up failures and signals.</summary>
public sealed partial class ServeProcess : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _stdout = new(), _stderr = new();
    readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServeProcess(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost(), [Path.Combine(AppContext.BaseDirectory, "MobileBert.Cli.dll"), "serve", .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stdout) _stdout.AppendLine(e.Data);
            if (ListeningLine().Match(e.Data) is { Success: true } m) _listening.TrySetResult(new Uri(m.Groups[1].Value));
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.Exited += (_, _) => _listening.TrySetException(new InvalidOperationException($"serve exited before listening: {StdErr}"));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string StdOut { get { lock (_stdout) return _stdout.ToString(); } }
    public string StdErr { get { lock (_stderr) return _stderr.ToString(); } }
    public Process Process => _process;

    /// <summary>The address the server printed once it listens.</summary>
    public Task<Uri> Listening(TimeSpan timeout) => _listening.Task.WaitAsync(timeout);

    /// <summary>Waits for the exit (killing the process after <paramref name="timeout"/>) and returns the exit code.</summary>
    public async Task<int> ExitCode(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); throw new TimeoutException($"serve did not exit within " +
            $"{timeout}: {StdOut}{StdErr}"); }
        _process.WaitForExit();   // flushes the redirected output
        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM (what `docker stop` and Kubernetes send).</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);

    static string DotnetHost() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    [GeneratedRegex(@"^listening on (http://\S+)")]
    private static partial Regex ListeningLine();

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
