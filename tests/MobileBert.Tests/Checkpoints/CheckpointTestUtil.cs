using System.Buffers.Binary;
using System.Text;
using MobileBert.Checkpoints;
using Xunit;

namespace MobileBert.Tests.Checkpoints;

/// <summary>A unique scratch directory deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mbckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

internal static class CheckpointTestUtil
{
    public static string GoldenTiny(string file) => Path.Combine(AppContext.BaseDirectory, "golden", "model", "tiny", file);

    /// <summary>Builds a safetensors file by hand: u64 LE header length, header text (padded to 8 with spaces), data.</summary>
    public static byte[] BuildSafeTensors(string headerJson, byte[] data, bool pad = true)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        int padLen = pad ? (8 - header.Length % 8) % 8 : 0;
        var result = new byte[8 + header.Length + padLen + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)(header.Length + padLen));
        header.CopyTo(result, 8);
        result.AsSpan(8 + header.Length, padLen).Fill((byte)' ');
        data.CopyTo(result, 8 + header.Length + padLen);
        return result;
    }

    public static byte[] Floats(params float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), values[i]);
        return b;
    }

    /// <summary>Asserts Open throws CheckpointException whose message names the file and every given fragment.</summary>
    public static CheckpointException AssertOpenFails(string path, params string[] mustContain)
    {
        var ex = Assert.Throws<CheckpointException>(() => { using var f = SafeTensorsFile.Open(path); });
        AssertMessage(ex, path, mustContain);
        return ex;
    }

    public static void AssertMessage(CheckpointException ex, string path, params string[] mustContain)
    {
        Assert.Contains(Path.GetFileName(path), ex.Message);
        Assert.Equal(path, ex.FilePath);
        foreach (var s in mustContain) Assert.Contains(s, ex.Message);
    }
}
