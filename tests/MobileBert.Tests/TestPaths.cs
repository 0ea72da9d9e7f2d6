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

    public static string NewTempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "mobilebert-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
