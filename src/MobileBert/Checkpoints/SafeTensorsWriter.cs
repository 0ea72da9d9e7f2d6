using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MobileBert.Checkpoints;

/// <summary>
/// Writes safetensors files laid out like the Python library: tensor data ordered by descending element size then
/// name (so every tensor is naturally aligned), header keys "__metadata__" first then tensor names sorted ordinally,
/// header padded with spaces to a multiple of 8 bytes. Writes are atomic (temp file + rename).
/// Invalid arguments (duplicate names, shape/data mismatch) throw <see cref="ArgumentException"/>.
/// </summary>
public static partial class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, tensors.Select(t => (t.Name, t.Shape, new ReadOnlyMemory<float>(
            t.Data ?? throw new ArgumentException($"Tensor '{t.Name}' has null data.", nameof(tensors))))), metadata);
    }

    public static void Write(string path, IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        WriteCore(path, tensors.Select(t => Pending.Create(t.Name, TensorDType.F32, t.Shape, t.Data.Length,
            s => WriteElements(s, t.Data.Span))).ToList(), metadata);
    }

    /// <summary>Writes I64 tensors (e.g. token ids, step counters).</summary>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, long[] Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        WriteCore(path, tensors.Select(t =>
        {
            var data = t.Data ?? throw new ArgumentException($"Tensor '{t.Name}' has null data.", nameof(tensors));
            return Pending.Create(t.Name, TensorDType.I64, t.Shape, data.Length, s => WriteElements<long>(s, data));
        }).ToList(), metadata);
    }

    /// <summary>Writes tensors of any dtype from raw little-endian bytes (mixed dtypes allowed in one file).</summary>
    public static void WriteRaw(string path, IEnumerable<(string Name, TensorDType DType, int[] Shape, ReadOnlyMemory<byte> Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        WriteCore(path, tensors.Select(t =>
        {
            int size = DTypeInfo.SizeOf(t.DType);
            if (t.Data.Length % size != 0)
                throw new ArgumentException($"Tensor '{t.Name}': {t.Data.Length} bytes is not a multiple of the {t.DType} element size {size}.",
                    nameof(tensors));
            return Pending.Create(t.Name, t.DType, t.Shape, t.Data.Length / size, s => s.Write(t.Data.Span));
        }).ToList(), metadata);
    }

    internal sealed record Pending(string Name, TensorDType DType, int[] Shape, long ByteLength, Action<Stream> WriteData)
    {
        public static Pending Create(string name, TensorDType dtype, int[] shape, long dataElements, Action<Stream> write)
        {
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("Tensor names must be non-empty.", nameof(name));
            if (name == "__metadata__")
                throw new ArgumentException("'__metadata__' is reserved and cannot be a tensor name.", nameof(name));
            ArgumentNullException.ThrowIfNull(shape);
            if (!DTypeInfo.TryElementCount(shape, out long count))
                throw new ArgumentException($"Tensor '{name}': invalid shape {DTypeInfo.FormatShape(shape)} (negative or overflowing dimensions).",
                    nameof(shape));
            if (count != dataElements)
                throw new ArgumentException($"Tensor '{name}': shape {DTypeInfo.FormatShape(shape)} has {count} elements but data " +
                    $"has {dataElements}.", nameof(shape));
            return new Pending(name, dtype, (int[])shape.Clone(), checked(count * DTypeInfo.SizeOf(dtype)), write);
        }
    }

    private static void WriteCore(string path, List<Pending> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
            if (!names.Add(t.Name))
                throw new ArgumentException($"Duplicate tensor name '{t.Name}'.", nameof(tensors));

        var (layout, offsets, header) = Layout(tensors, metadata);

        AtomicFile.Write(path, fs =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            fs.Write(prefix);
            fs.Write(header);
            foreach (var t in layout)
            {
                long before = fs.Position;
                t.WriteData(fs);
                if (fs.Position - before != t.ByteLength)
                    throw new InvalidOperationException($"Tensor '{t.Name}': wrote {fs.Position - before} bytes, expected {t.ByteLength}.");
            }
        });
    }

    /// <summary>Data layout (larger elements first, keeping every tensor aligned to its element size, then by name), byte offsets and the padded
    /// header.</summary>
    internal static (List<Pending> Layout, Dictionary<string, (long Begin, long End)> Offsets, byte[] Header) Layout(List<Pending> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var layout = tensors
            .OrderByDescending(t => DTypeInfo.SizeOf(t.DType))
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToList();
        var offsets = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long pos = 0;
        foreach (var t in layout)
        {
            offsets[t.Name] = (pos, pos + t.ByteLength);
            pos += t.ByteLength;
        }
        return (layout, offsets, BuildHeader(tensors, offsets, metadata));
    }

    internal static byte[] BuildHeader(List<Pending> tensors, Dictionary<string, (long Begin, long End)> offsets,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WritePropertyName("__metadata__");
                w.WriteStartObject();
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(kv.Key, nameof(metadata));
                    w.WriteString(kv.Key, kv.Value ?? throw new ArgumentException($"Metadata value for '{kv.Key}' is null.", nameof(metadata)));
                }
                w.WriteEndObject();
            }
            foreach (var t in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                w.WritePropertyName(t.Name);
                w.WriteStartObject();
                w.WriteString("dtype", DTypeInfo.ToSafeTensorsName(t.DType));
                w.WritePropertyName("shape");
                w.WriteStartArray();
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                var (begin, end) = offsets[t.Name];
                w.WritePropertyName("data_offsets");
                w.WriteStartArray();
                w.WriteNumberValue(begin);
                w.WriteNumberValue(end);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    /// <summary>Writes elements little-endian; zero-copy on little-endian hosts.</summary>
    private static void WriteElements<T>(Stream s, ReadOnlySpan<T> data) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian)
        {
            int chunk = (1 << 28) / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            for (int start = 0; start < data.Length; start += chunk)
                s.Write(MemoryMarshal.AsBytes(data.Slice(start, Math.Min(chunk, data.Length - start))));
            return;
        }
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var buf = new byte[size];
        foreach (var v in data)
        {
            var local = v;
            MemoryMarshal.AsBytes(new Span<T>(ref local)).CopyTo(buf);
            buf.AsSpan().Reverse();
            s.Write(buf);
        }
    }
}
