namespace MobileBert.Checkpoints;

/// <summary>
/// Removes temporary files and folders that the library's write-to-temp-then-rename steps leave when the process is
/// killed between the write and the rename: names containing <c>.tmp-</c> (metrics.csv.tmp-…, best.tmp-…,
/// model.safetensors.tmp-…, .train-00000.tmp-… shards), and trash folders (<c>.trash-…</c>, renamed for deletion).
/// Only direct children of the folder are touched.
/// </summary>
public static class StaleTemp
{
    const string Marker = ".tmp-";
    public const string TrashPrefix = ".trash-";

    /// <summary>Deletes the stale temporary entries of <paramref name="dir"/>; returns how many were removed.</summary>
    public static int Clean(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        int n = 0;
        foreach (var f in Directory.GetFiles(dir).Where(IsTemp))
            try { File.Delete(f); n++; } catch (IOException) { } catch (UnauthorizedAccessException) { }
        foreach (var d in Directory.GetDirectories(dir).Where(IsTemp))
            try { Directory.Delete(d, recursive: true); n++; } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return n;
    }

    static bool IsTemp(string path) => Path.GetFileName(path) is var name
        && (name.Contains(Marker, StringComparison.Ordinal) || name.StartsWith(TrashPrefix, StringComparison.Ordinal));
}
