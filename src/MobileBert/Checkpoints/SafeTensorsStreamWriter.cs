using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace MobileBert.Checkpoints;

/// <summary>
/// Writes a float32 safetensors file whose tensor shapes are known up front, piece by piece at element offsets, so
/// outputs larger than memory stream straight to disk (memory stays flat). The file is a temporary one until
/// <see cref="Commit"/> renames it into place; disposing without committing deletes it (no partial output file).
/// The layout is <see cref="SafeTensorsWriter"/>'s.
/// </summary>
public sealed class SafeTensorsStreamWriter : IDisposable
{
    readonly string _path, _tmp;
    readonly FileStream _fs;
    readonly Dictionary<string, (long Begin, long End)> _offsets;
    readonly long _dataStart;
    bool _committed;

    public SafeTensorsStreamWriter(string path, IReadOnlyList<(string Name, int[] Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var pending = tensors.Select(t =>
        {
            long n = DTypeInfo.TryElementCount(t.Shape, out long c) ? c : throw new ArgumentException(
                $"Tensor '{t.Name}': invalid shape {DTypeInfo.FormatShape(t.Shape)}.");
            return SafeTensorsWriter.Pending.Create(t.Name, TensorDType.F32, t.Shape, n, _ => { });
        }).ToList();
        if (pending.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count() != pending.Count) throw new ArgumentException(
            "Duplicate tensor name.", nameof(tensors));
        var (_, offsets, header) = SafeTensorsWriter.Layout(pending, metadata);
        _offsets = offsets;
        _path = Path.GetFullPath(path);
        _tmp = _path + ".tmp-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        _fs = new FileStream(_tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            _fs.Write(prefix);
            _fs.Write(header);
            _dataStart = _fs.Position;
            _fs.SetLength(_dataStart + (offsets.Count == 0 ? 0 : offsets.Values.Max(o => o.End)));
        }
        catch { Dispose(); throw; }
    }

    /// <summary>Writes <paramref name="values"/> into tensor <paramref name="name"/> starting at element <paramref name="elementOffset"/>.</summary>
    public void Write(string name, long elementOffset, ReadOnlySpan<float> values)
    {
        if (!_offsets.TryGetValue(name, out var o)) throw new ArgumentException($"No tensor '{name}' in this file.", nameof(name));
        long begin = o.Begin + elementOffset * sizeof(float);
        if (elementOffset < 0 || begin + (long)values.Length * sizeof(float) > o.End)
            throw new ArgumentOutOfRangeException(nameof(elementOffset), $"Tensor '{name}': elements " +
                $"[{elementOffset}, {elementOffset + values.Length}) are outside it.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Big-endian hosts are not supported.");
        _fs.Position = _dataStart + begin;
        _fs.Write(MemoryMarshal.AsBytes(values));
    }

    /// <summary>Flushes to disk and renames the file into place.</summary>
    public void Commit()
    {
        _fs.Flush(flushToDisk: true);
        _fs.Dispose();
        File.Move(_tmp, _path, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        _fs.Dispose();
        if (!_committed) try { File.Delete(_tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
