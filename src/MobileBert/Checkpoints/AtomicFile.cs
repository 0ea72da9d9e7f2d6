namespace MobileBert.Checkpoints;

/// <summary>Write-to-temp-then-rename helper: the destination is either the old file or the complete new one.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<FileStream> writeContent)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                writeContent(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/> through a temporary file renamed into place.</summary>
    public static void Copy(string from, string to) => Write(to, fs => { using var source = File.OpenRead(from); source.CopyTo(fs); });

    /// <summary>Writes UTF-8 text (no BOM) through <paramref name="writeContent"/> to a temporary file renamed into place
    /// only when it returns: a failure leaves no partial output file (the old one, if any, stays).</summary>
    public static T WriteText<T>(string path, Func<TextWriter, T> writeContent)
    {
        T result = default!;
        Write(path, fs =>
        {
            using var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            result = writeContent(w);
            w.Flush();
        });
        return result;
    }
}
