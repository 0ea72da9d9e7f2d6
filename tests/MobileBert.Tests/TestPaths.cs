namespace MobileBert.Tests;

/// <summary>Locations of test data: golden files are copied next to the test assembly; bundled data sits in the repo.</summary>
public static class TestPaths
{
    public static string Golden(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "golden", .. parts]);

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MobileBert.slnx"))) return d.FullName;
            throw new DirectoryNotFoundException("Repository root (MobileBert.slnx) not found above " + AppContext.BaseDirectory);
        }
    }

    public static string Vocab => Path.Combine(RepoRoot, "data", "vocab", "bert-base-uncased-vocab.txt");

    /// <summary>A fresh folder under this test process's run folder (deleted when the process exits).</summary>
    public static string NewTempDir()
    {
        var d = Path.Combine(RunDir.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>
    /// TEMP/mobilebert-tests/PID-GUID: one folder per test process, removed at exit. A run that was killed never reaches
    /// its exit handler, so each new run first removes the folders of processes that no longer exist (and, from older
    /// versions of this class, bare GUID folders untouched for an hour). The suite writes GBs of checkpoints and shards
    /// per run; left behind, they filled the disk.
    /// </summary>
    static readonly Lazy<string> RunDir = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "mobilebert-tests");
        Directory.CreateDirectory(root);
        foreach (var dir in Directory.GetDirectories(root))
        {
            string name = Path.GetFileName(dir);
            int dash = name.IndexOf('-');
            bool stale = dash > 0 && int.TryParse(name.AsSpan(0, dash), out int pid)
                ? pid != Environment.ProcessId && !IsAlive(pid)
                : Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddHours(-1);
            if (stale) TryDelete(dir);
        }
        string run = Path.Combine(root, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(run);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(run);
        return run;
    });

    static bool IsAlive(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
