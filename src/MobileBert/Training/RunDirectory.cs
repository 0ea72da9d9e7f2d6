using System.Globalization;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;

namespace MobileBert.Training;

/// <summary>
/// A training run's checkpoints: <c>checkpoints/step-0000500/</c> folders, each written into a temporary folder and
/// renamed into place (a checkpoint either exists whole or not at all, so a run killed at any moment resumes from the
/// last complete one), keeping the newest <see cref="Keep"/>. Old checkpoints are renamed to a trash name before they
/// are deleted, so a kill mid-deletion never leaves a half-deleted <c>step-N</c>; <see cref="CleanStale"/> removes what
/// a killed run left (trash, temporary folders and <c>*.tmp-*</c> files). Each checkpoint carries the metrics.csv rows
/// up to its step, written before it is published, so a resumed run continues on the same loss curve.
/// </summary>
public sealed class RunDirectory
{
    const string Prefix = "step-";

    // File names shared by every training run (pre-training, distillation, fine-tuning; see TrainingHarness).
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string MetricsFile = "metrics.csv";
    public const string CurvesFile = "curves.png";

    public RunDirectory(string root, int keep)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), keep, "Keep at least one checkpoint.");
        Root = root; Keep = keep;
        CheckpointsDir = Path.Combine(root, "checkpoints");
    }

    /// <summary>
    /// Checks that a checkpoint's saved fingerprint (<paramref name="saved"/>, read from <paramref name="path"/>) has every
    /// setting of the current run's <paramref name="now"/>; the first difference throws "PATH: cannot resume: 'key' was
    /// … in the checkpoint but is … now." (values cut to 80 characters).
    /// </summary>
    public static void CheckFingerprint(JsonObject now, JsonObject saved, string path)
    {
        foreach (var (key, value) in now)
        {
            string a = saved[key]?.ToJsonString() ?? "null", b = value?.ToJsonString() ?? "null";
            if (a != b) throw new ArgumentException($"{path}: cannot resume: '{key}' was {Trim(a)} in the checkpoint but is {Trim(b)} now.");
        }
        static string Trim(string s) => s.Length > 80 ? s[..77] + "…" : s;
    }

    public string Root { get; }
    public string CheckpointsDir { get; }
    public int Keep { get; }

    public static string Name(long step) => Prefix + step.ToString("D7", CultureInfo.InvariantCulture);

    /// <summary>Writes a checkpoint: <paramref name="write"/> fills a temporary folder, which is then renamed to step-N.
    /// <paramref name="metrics"/> (the curve up to <paramref name="step"/>) is saved into the checkpoint and to
    /// ROOT/metrics.csv before the rename, so no published checkpoint is ever ahead of its curve.</summary>
    public string Save(long step, Action<string> write, MetricsLog? metrics = null)
    {
        Directory.CreateDirectory(CheckpointsDir);
        string final = Path.Combine(CheckpointsDir, Name(step));
        string tmp = Path.Combine(CheckpointsDir, ".tmp-" + Name(step) + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(tmp);
        try
        {
            write(tmp);
            if (metrics is not null)
            {
                metrics.Save(Path.Combine(tmp, MetricsFile));
                metrics.Save(Path.Combine(Root, MetricsFile));
            }
            if (Directory.Exists(final)) DeleteAtomically(final);
            Directory.Move(tmp, final);
        }
        catch
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
            throw;
        }
        Prune();
        return final;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(long Step, string Path)> List()
    {
        if (!Directory.Exists(CheckpointsDir)) return [];
        var list = new List<(long, string)>();
        foreach (var d in Directory.GetDirectories(CheckpointsDir))
        {
            string name = System.IO.Path.GetFileName(d);
            if (name.StartsWith(Prefix, StringComparison.Ordinal) && long.TryParse(
                name[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long step))
                list.Add((step, d));
        }
        return list.OrderBy(x => x.Item1).ToList();
    }

    public (long Step, string Path)? Latest() { var l = List(); return l.Count == 0 ? null : l[^1]; }

    /// <summary>The curve of a resumed run: the checkpoint's own metrics.csv (exactly its rows), else ROOT/metrics.csv, cut after <paramref
    /// name="step"/>.</summary>
    public MetricsLog LoadMetrics(string checkpointPath, long step)
    {
        string own = Path.Combine(checkpointPath, MetricsFile), shared = Path.Combine(Root, MetricsFile);
        var log = File.Exists(own) ? MetricsLog.Load(own) : File.Exists(shared) ? MetricsLog.Load(shared) : new MetricsLog();
        log.TruncateAfter(step);
        return log;
    }

    /// <summary>Deletes what a killed run left: trash and temporary checkpoint folders, and <c>*.tmp-*</c> files and
    /// folders (metrics.csv, best/, model files) in the run folder. Call at start and resume, before writing.</summary>
    public void CleanStale()
    {
        StaleTemp.Clean(CheckpointsDir);
        StaleTemp.Clean(Root);
    }

    /// <summary>Renames <paramref name="dir"/> to a trash name in the same folder, then deletes it: a kill in between leaves
    /// trash (removed by <see cref="CleanStale"/>), never a half-deleted folder under its real name.</summary>
    public static void DeleteAtomically(string dir)
    {
        string trash = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dir))!,
            StaleTemp.TrashPrefix + Path.GetFileName(Path.GetFullPath(dir)) + "-" + Guid.NewGuid().ToString("N"));
        Directory.Move(dir, trash);
        TryDelete(trash);
    }

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    void Prune()
    {
        var all = List();
        for (int i = 0; i < all.Count - Keep; i++) DeleteAtomically(all[i].Path);
        CleanStale();
    }
}
