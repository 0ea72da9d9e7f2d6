using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace MobileBert.Checkpoints;

/// <summary>
/// Read access to a safetensors file. <see cref="Open"/> validates the whole header (dtypes, shapes, offsets,
/// contiguity of the data section) up front; tensor data is read lazily with positional reads straight into the
/// caller's buffer, so a tensor is copied exactly once. Thread-safe for concurrent reads.
/// <see cref="FromTensors"/> gives the same read access to tensors already in memory (a PyTorch checkpoint read whole): their
/// bytes, in order, form the data section a safetensors file of them would hold.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are rejected as absurd (the reference implementation uses the same limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private readonly SafeFileHandle? _handle;
    private readonly ReadOnlyMemory<byte>[]? _segments;   // in-memory tensors: entry i's bytes at data offset _segmentStarts[i]
    private readonly long[]? _segmentStarts;
    private readonly long _dataStart;
    private readonly long _dataLength;
    private readonly Dictionary<string, TensorEntry> _byName;
    private readonly TensorEntry[] _ordered;
    private readonly string[] _names;
    private volatile bool _disposed;

    private SafeTensorsFile(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;

        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw Error($"file is {fileLength} bytes, shorter than the 8-byte header length prefix");

        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(prefix, 0, null);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLen > MaxHeaderBytes)
            throw Error($"header length field is {headerLen} bytes, which exceeds the {MaxHeaderBytes}-byte limit (corrupt or not a safetensors " +
                $"file)");
        if ((long)headerLen > fileLength - 8)
            throw Error($"header length field says {headerLen} bytes but only {fileLength - 8} bytes follow the prefix (truncated or not a " +
                $"safetensors file)");

        var headerBytes = new byte[(int)headerLen];
        ReadExactly(headerBytes, 8, null);
        _dataStart = 8 + (long)headerLen;
        _dataLength = fileLength - _dataStart;

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<TensorEntry>();
        ParseHeader(headerBytes, metadata, entries);

        Metadata = new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(metadata);
        _ordered = entries.ToArray();
        _names = entries.Select(e => e.Name).ToArray();
        Names = Array.AsReadOnly(_names);
        _byName = new Dictionary<string, TensorEntry>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries) _byName.Add(e.Name, e);

        ValidateLayout();
    }

    private SafeTensorsFile(string path, IReadOnlyList<(string Name, TensorDType DType, int[] Shape, ReadOnlyMemory<byte> Data)> tensors)
    {
        Path = path;
        Metadata = new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(new Dictionary<string, string>());
        _segments = new ReadOnlyMemory<byte>[tensors.Count];
        _segmentStarts = new long[tensors.Count];
        _ordered = new TensorEntry[tensors.Count];
        _byName = new Dictionary<string, TensorEntry>(tensors.Count, StringComparer.Ordinal);
        long offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, dtype, shape, data) = tensors[i];
            if (!DTypeInfo.TryElementCount(shape, out long count) || count * DTypeInfo.SizeOf(dtype) != data.Length)
                throw Error($"shape {DTypeInfo.FormatShape(shape)} of {DTypeInfo.ToSafeTensorsName(dtype)} does not match its " +
                    $"{data.Length} bytes", name);
            var entry = new TensorEntry(this, name, dtype, (int[])shape.Clone(), count, offset, data.Length);
            if (!_byName.TryAdd(name, entry)) throw Error("duplicate tensor name", name);
            _segments[i] = data; _segmentStarts[i] = offset; _ordered[i] = entry;
            offset += data.Length;
        }
        _dataLength = offset;
        _names = _ordered.Select(e => e.Name).ToArray();
        Names = Array.AsReadOnly(_names);
    }

    /// <summary>Read access to tensors held in memory, in the given order, as if they were a safetensors file at
    /// <paramref name="path"/> (which errors name). The memory must stay unchanged while the result is used.</summary>
    public static SafeTensorsFile FromTensors(string path,
        IReadOnlyList<(string Name, TensorDType DType, int[] Shape, ReadOnlyMemory<byte> Data)> tensors)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        return new SafeTensorsFile(path, tensors);
    }

    /// <summary>Opens and fully validates the header of a safetensors file. Any problem (including I/O failure to open)
    /// is reported as a <see cref="CheckpointException"/>.</summary>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"Cannot open tensor file '{path}': {ex.Message}", ex) { FilePath = path };
        }
        try
        {
            return new SafeTensorsFile(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>The free-form string map stored under "__metadata__" (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in header (file) order.</summary>
    public IReadOnlyList<string> Names { get; }

    public int Count => _ordered.Length;

    public bool Contains(string name) => _byName.ContainsKey(name);

    public bool TryGet(string name, out TensorEntry entry) => _byName.TryGetValue(name, out entry!);

    /// <summary>Looks up a tensor; an unknown name throws <see cref="CheckpointException"/> listing close names.</summary>
    public TensorEntry this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            if (_byName.TryGetValue(name, out var e)) return e;
            var close = ClosestNames(name, 3);
            string hint = close.Count == 0 ? "the file has no tensors" : "closest names: " + string.Join(", ", close.Select(n => $"'{n}'"));
            throw Error($"tensor '{name}' not found among {_ordered.Length} tensors; {hint}", name);
        }
    }

    /// <summary>Entries in header (file) order.</summary>
    public IEnumerable<TensorEntry> Entries => Array.AsReadOnly(_ordered);

    public void Dispose()
    {
        _disposed = true;
        _handle?.Dispose();
    }

    /// <summary>Reads bytes of a tensor; <paramref name="dataOffset"/> is relative to the data section.</summary>
    internal void ReadData(Span<byte> destination, long dataOffset, string tensorName)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_segments is null) { ReadExactly(destination, _dataStart + dataOffset, tensorName); return; }
        if (destination.IsEmpty) return;
        // The tensor whose bytes hold the offset (past empty tensors starting there); a read never crosses into the next one.
        int i = Array.BinarySearch(_segmentStarts!, dataOffset);
        if (i < 0) i = ~i - 1;
        while (dataOffset - _segmentStarts![i] >= _segments[i].Length) i++;
        _segments[i].Span.Slice((int)(dataOffset - _segmentStarts![i]), destination.Length).CopyTo(destination);
    }

    private void ReadExactly(Span<byte> destination, long fileOffset, string? tensorName)
    {
        while (!destination.IsEmpty)
        {
            int n;
            try
            {
                n = RandomAccess.Read(_handle!, destination, fileOffset);
            }
            catch (IOException ex)
            {
                throw Error($"I/O error reading at offset {fileOffset}: {ex.Message}", tensorName, ex);
            }
            if (n <= 0)
                throw Error($"unexpected end of file at offset {fileOffset} (file truncated or modified after opening)", tensorName);
            destination = destination[n..];
            fileOffset += n;
        }
    }

    private CheckpointException Error(string detail, string? tensorName = null, Exception? inner = null)
        => CheckpointException.ForFile(Path, tensorName is null ? detail : $"tensor '{tensorName}': {detail}", tensorName, inner);

    private void ParseHeader(byte[] headerBytes, Dictionary<string, string> metadata, List<TensorEntry> entries)
    {
        try
        {
            _ = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetCharCount(headerBytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw Error($"header is not valid UTF-8: {ex.Message}", null, ex);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Error($"header is not valid JSON: {ex.Message}", null, ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Error($"header JSON must be an object, found {root.ValueKind}");

            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in root.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (sawMetadata) throw Error($"duplicate '{MetadataKey}' key in header");
                    sawMetadata = true;
                    ParseMetadata(prop.Value, metadata);
                    continue;
                }
                if (!seen.Add(prop.Name))
                    throw Error("duplicate tensor name in header", prop.Name);
                entries.Add(ParseTensor(prop.Name, prop.Value));
            }
        }
    }

    private void ParseMetadata(JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw Error($"field '{MetadataKey}' must be an object of string values, found {value.ValueKind}");
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw Error($"field '{MetadataKey}.{p.Name}' must be a string, found {p.Value.ValueKind}");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
                throw Error($"duplicate key '{p.Name}' in field '{MetadataKey}'");
        }
    }

    private TensorEntry ParseTensor(string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Error($"entry must be an object with 'dtype', 'shape', 'data_offsets', found {value.ValueKind}", name);

        if (!value.TryGetProperty("dtype", out var dtypeEl))
            throw Error("missing field 'dtype'", name);
        if (dtypeEl.ValueKind != JsonValueKind.String)
            throw Error($"field 'dtype' must be a string, found {dtypeEl.ValueKind}", name);
        string dtypeName = dtypeEl.GetString()!;
        if (!DTypeInfo.TryParseSafeTensorsName(dtypeName, out var dtype))
            throw Error($"field 'dtype' has unsupported value '{dtypeName}' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)", name);

        if (!value.TryGetProperty("shape", out var shapeEl))
            throw Error("missing field 'shape'", name);
        if (shapeEl.ValueKind != JsonValueKind.Array)
            throw Error($"field 'shape' must be an array of integers, found {shapeEl.ValueKind}", name);
        var shape = new int[shapeEl.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim))
                throw Error($"field 'shape' element {i} must be an integer, found {d.GetRawText()}", name);
            if (dim < 0)
                throw Error($"field 'shape' has negative dimension {dim} at index {i}", name);
            if (dim > int.MaxValue)
                throw Error($"field 'shape' dimension {dim} at index {i} is too large", name);
            shape[i++] = (int)dim;
        }

        if (!value.TryGetProperty("data_offsets", out var offEl))
            throw Error("missing field 'data_offsets'", name);
        if (offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw Error($"field 'data_offsets' must be an array [begin, end], found {offEl.GetRawText()}", name);
        long begin = ReadOffset(offEl[0], name, "begin");
        long end = ReadOffset(offEl[1], name, "end");
        if (begin > end)
            throw Error($"field 'data_offsets' has begin {begin} > end {end}", name);
        if (end > _dataLength)
            throw Error($"field 'data_offsets' end {end} is beyond the data section of {_dataLength} bytes (file truncated?)", name);

        if (!DTypeInfo.TryElementCount(shape, out long count))
            throw Error($"field 'shape' {DTypeInfo.FormatShape(shape)} element count overflows", name);
        long expectedBytes;
        try { expectedBytes = checked(count * DTypeInfo.SizeOf(dtype)); }
        catch (OverflowException) { throw Error($"field 'shape' {DTypeInfo.FormatShape(shape)} byte size overflows", name); }
        if (end - begin != expectedBytes)
            throw Error($"field 'data_offsets' [{begin},{end}] spans {end - begin} bytes but shape {DTypeInfo.FormatShape(shape)} of {dtypeName} " +
                $"needs {expectedBytes} bytes", name);

        return new TensorEntry(this, name, dtype, shape, count, begin, end - begin);
    }

    private long ReadOffset(JsonElement el, string name, string which)
    {
        if (el.ValueKind != JsonValueKind.Number || !el.TryGetInt64(out long v) || v < 0)
            throw Error($"field 'data_offsets' {which} must be a non-negative integer, found {el.GetRawText()}", name);
        return v;
    }

    /// <summary>The format forbids holes and overlaps: sorted by offset, tensors must tile the data section exactly.</summary>
    private void ValidateLayout()
    {
        var sorted = _ordered.OrderBy(e => e.DataBegin).ThenBy(e => e.ByteLength).ToArray();
        long expected = 0;
        TensorEntry? previous = null;
        foreach (var e in sorted)
        {
            if (e.DataBegin < expected)
                throw Error($"field 'data_offsets' [{e.DataBegin},{e.DataBegin + e.ByteLength}] overlaps tensor '{previous!.Name}' " +
                    $"[{previous.DataBegin},{expected}]", e.Name);
            if (e.DataBegin > expected)
                throw Error($"field 'data_offsets' begins at {e.DataBegin}, leaving a gap of {e.DataBegin - expected} unused bytes after " +
                    $"offset {expected}", e.Name);
            expected = e.DataBegin + e.ByteLength;
            previous = e;
        }
        if (expected != _dataLength)
            throw Error($"data section is {_dataLength} bytes but tensors cover only {expected} bytes (trailing garbage or missing header entries)");
    }

    private List<string> ClosestNames(string name, int max)
    {
        return _names
            .Select(n => (Name: n, Score: Distance(name, n)))
            .OrderBy(t => t.Score)
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .Take(max)
            .Select(t => t.Name)
            .ToList();
    }

    /// <summary>Levenshtein distance (case-insensitive), bounded work for long names.</summary>
    private static int Distance(string a, string b)
    {
        if (a.Length > 256) a = a[..256];
        if (b.Length > 256) b = b[..256];
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            char ca = char.ToLowerInvariant(a[i - 1]);
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = ca == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
