using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace MobileBert.Checkpoints;

/// <summary>An array read from a .npy file (C order, little-endian data held as raw bytes).</summary>
public sealed class NpyArray
{
    private readonly int[] _shape;
    private readonly byte[] _data;

    internal NpyArray(string path, TensorDType dtype, int[] shape, long elementCount, byte[] data)
    {
        Path = path;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        _data = data;
    }

    /// <summary>The file this array was read from.</summary>
    public string Path { get; }

    /// <summary>Dimensions (a fresh copy each call; empty for a 0-d array).</summary>
    public int[] Shape => (int[])_shape.Clone();

    public TensorDType DType { get; }

    public long ElementCount { get; }

    /// <summary>Values converted to float32 (bool → 0/1).</summary>
    public float[] ToFloat32()
    {
        var result = new float[ElementCount];
        DTypeInfo.ConvertToFloat32(DType, _data, result);
        return result;
    }

    /// <summary>Values as int64; only for integer and bool dtypes.</summary>
    public long[] ToInt64()
    {
        RequireInteger("int64");
        var result = new long[ElementCount];
        DTypeInfo.ConvertToInt64(DType, _data, result);
        return result;
    }

    /// <summary>Values as int32; only for integer and bool dtypes, and every value must fit in int32.</summary>
    public int[] ToInt32()
    {
        long[] wide = ToInt64();
        var result = new int[wide.Length];
        for (int i = 0; i < wide.Length; i++)
        {
            long v = wide[i];
            if (v < int.MinValue || v > int.MaxValue)
                throw CheckpointException.ForFile(Path, $"element {i} has value {v}, which does not fit in int32");
            result[i] = (int)v;
        }
        return result;
    }

    private void RequireInteger(string target)
    {
        if (DTypeInfo.IsFloatingPoint(DType))
            throw CheckpointException.ForFile(Path, $"field 'descr': dtype {DType} cannot be read as {target} (only integer/bool dtypes)");
    }
}

/// <summary>Reader/writer for NumPy .npy files (format versions 1.0, 2.0, 3.0; little-endian; C order).</summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Largest header accepted when reading (numpy itself refuses headers over 10 000 bytes by default).</summary>
    private const int MaxHeaderBytes = 1 << 20;

    public static NpyArray Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"Cannot open tensor file '{path}': {ex.Message}", ex) { FilePath = path };
        }
        using (fs)
        {
            long fileLength = fs.Length;
            Span<byte> pre = stackalloc byte[12];
            int got = fs.ReadAtLeast(pre[..8], 8, throwOnEndOfStream: false);
            if (got < 8 || !pre[..6].SequenceEqual(Magic))
                throw Error(path, "bad magic: not a .npy file (expected \\x93NUMPY)");
            byte major = pre[6], minor = pre[7];
            if (major is < 1 or > 3 || minor != 0)
                throw Error(path, $"unsupported format version {major}.{minor} (supported: 1.0, 2.0, 3.0)");
            int lenBytes = major == 1 ? 2 : 4;
            if (fs.ReadAtLeast(pre.Slice(8, lenBytes), lenBytes, throwOnEndOfStream: false) < lenBytes)
                throw Error(path, "file truncated inside the header length field");
            long headerLen = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(pre[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(pre[8..]);
            long prefixLen = 8 + lenBytes;
            if (headerLen > MaxHeaderBytes)
                throw Error(path, $"header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit");
            if (headerLen > fileLength - prefixLen)
                throw Error(path, $"header length {headerLen} runs past the end of the {fileLength}-byte file");
            var headerBytes = new byte[headerLen];
            fs.ReadExactly(headerBytes);

            string header;
            try
            {
                header = major == 3
                    ? new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(headerBytes)
                    : Encoding.Latin1.GetString(headerBytes);
            }
            catch (DecoderFallbackException ex)
            {
                throw Error(path, $"header is not valid UTF-8: {ex.Message}", ex);
            }

            var (dtype, shape) = ParseHeader(path, header);
            if (!DTypeInfo.TryElementCount(shape, out long count))
                throw Error(path, $"field 'shape' {DTypeInfo.FormatShape(shape)} element count overflows");
            long expectedBytes;
            try { expectedBytes = checked(count * DTypeInfo.SizeOf(dtype)); }
            catch (OverflowException) { throw Error(path, $"field 'shape' {DTypeInfo.FormatShape(shape)} byte size overflows"); }
            long available = fileLength - prefixLen - headerLen;
            if (available < expectedBytes)
                throw Error(path, $"data truncated: shape {DTypeInfo.FormatShape(shape)} of {dtype} needs {expectedBytes} bytes but " +
                    $"only {available} are present");
            if (available > expectedBytes)
                throw Error(path, $"{available - expectedBytes} unexpected trailing bytes after the data of shape {DTypeInfo.FormatShape(shape)}");
            if (expectedBytes > Array.MaxLength)
                throw Error(path, $"array of {expectedBytes} bytes is too large to load");

            var data = new byte[expectedBytes];
            fs.ReadExactly(data);
            return new NpyArray(path, dtype, shape, count, data);
        }
    }

    /// <summary>Writes a float32 array ('&lt;f4', format 1.0, C order). Atomic (temp file + rename).</summary>
    public static void Write(string path, int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        WriteCore(path, "<f4", shape, data.Length, MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), sizeof(float));
    }

    /// <summary>Writes an int64 array ('&lt;i8', format 1.0, C order). Atomic (temp file + rename).</summary>
    public static void Write(string path, int[] shape, long[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        WriteCore(path, "<i8", shape, data.Length, MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), sizeof(long));
    }

    /// <summary>Writes a float32 array whose data <paramref name="writeData"/> streams (little-endian, C order), for outputs
    /// too large to hold: the shape is known up front, the rows are not. Atomic: a throwing callback leaves no file.</summary>
    public static void WriteStreaming(string path, int[] shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!DTypeInfo.TryElementCount(shape, out long count))
            throw new ArgumentException($"Invalid shape {DTypeInfo.FormatShape(shape)}.", nameof(shape));
        WriteCore(path, "<f4", shape, count * sizeof(float), writeData);
    }

    private static void WriteCore(string path, string descr, int[] shape, int length, byte[] bytes, int elemSize)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!DTypeInfo.TryElementCount(shape, out long count))
            throw new ArgumentException($"Invalid shape {DTypeInfo.FormatShape(shape)}.", nameof(shape));
        if (count != length)
            throw new ArgumentException($"Shape {DTypeInfo.FormatShape(shape)} has {count} elements but data has {length}.", nameof(shape));
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < bytes.Length; i += elemSize) bytes.AsSpan(i, elemSize).Reverse();
        WriteCore(path, descr, shape, count * elemSize, fs => fs.Write(bytes));
    }

    private static void WriteCore(string path, string descr, int[] shape, long dataBytes, Action<Stream> writeData)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);

        // Same text numpy produces: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16), }" padded with spaces
        // and a final '\n' so that the data starts on a 64-byte boundary.
        string shapeText = shape.Length switch
        {
            0 => "()",
            1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
            _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        int major = 1;
        int prefix = 10;
        int total = prefix + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        if (padded - prefix > ushort.MaxValue)
        {
            major = 2;
            prefix = 12;
            total = prefix + dict.Length + 1;
            padded = (total + 63) / 64 * 64;
        }
        string header = dict + new string(' ', padded - total) + "\n";
        byte[] headerBytes = Encoding.Latin1.GetBytes(header);

        AtomicFile.Write(path, fs =>
        {
            fs.Write(Magic);
            fs.WriteByte((byte)major);
            fs.WriteByte(0);
            Span<byte> len = stackalloc byte[4];
            if (major == 1)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)headerBytes.Length);
                fs.Write(len[..2]);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)headerBytes.Length);
                fs.Write(len);
            }
            fs.Write(headerBytes);
            long start = fs.Position;
            writeData(fs);
            if (fs.Position - start != dataBytes)
                throw new InvalidOperationException($"{path}: wrote {fs.Position - start} data bytes, expected {dataBytes}.");
        });
    }

    private static CheckpointException Error(string path, string detail, Exception? inner = null)
        => CheckpointException.ForFile(path, detail, null, inner);

    private static (TensorDType DType, int[] Shape) ParseHeader(string path, string header)
    {
        object? parsed;
        try
        {
            var parser = new PyLiteralParser(header);
            parsed = parser.ParseValue();
            parser.SkipWhitespace();
            if (!parser.AtEnd)
                throw new FormatException($"unexpected text after the dictionary at position {parser.Position}");
        }
        catch (FormatException ex)
        {
            throw Error(path, $"header is not a valid Python dict literal: {ex.Message}", ex);
        }
        if (parsed is not Dictionary<string, object?> dict)
            throw Error(path, "header is not a Python dict literal");

        if (!dict.TryGetValue("descr", out var descrObj))
            throw Error(path, "header is missing field 'descr'");
        if (descrObj is not string descr)
            throw Error(path, "field 'descr' is not a simple dtype string (structured dtypes are not supported)");
        TensorDType dtype = descr switch
        {
            "<f4" => TensorDType.F32,
            "<f8" => TensorDType.F64,
            "<f2" => TensorDType.F16,
            "<i8" => TensorDType.I64,
            "<i4" => TensorDType.I32,
            "<i2" => TensorDType.I16,
            "|i1" or "<i1" => TensorDType.I8,
            "|u1" or "<u1" => TensorDType.U8,
            "|b1" or "<b1" => TensorDType.Bool,
            _ when descr.StartsWith('>') => throw Error(path, $"field 'descr' '{descr}' is big-endian; only little-endian data is supported"),
            _ => throw Error(path, $"field 'descr' has unsupported dtype '{descr}' (supported: <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1)"),
        };

        if (!dict.TryGetValue("fortran_order", out var fortranObj))
            throw Error(path, "header is missing field 'fortran_order'");
        if (fortranObj is not bool fortran)
            throw Error(path, "field 'fortran_order' must be True or False");

        if (!dict.TryGetValue("shape", out var shapeObj))
            throw Error(path, "header is missing field 'shape'");
        if (shapeObj is not List<object?> dims)
            throw Error(path, "field 'shape' must be a tuple of integers");
        var shape = new int[dims.Count];
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] is not long d)
                throw Error(path, $"field 'shape' element {i} is not an integer");
            if (d < 0)
                throw Error(path, $"field 'shape' has negative dimension {d} at index {i}");
            if (d > int.MaxValue)
                throw Error(path, $"field 'shape' dimension {d} at index {i} is too large");
            shape[i] = (int)d;
        }

        // A Fortran-ordered array with at most one non-trivial dimension has the same layout as C order,
        // but reject all of them for clarity: the data would need transposing.
        if (fortran)
            throw Error(path, "field 'fortran_order' is True; only C-order arrays are supported (save with np.ascontiguousarray)");
        return (dtype, shape);
    }

    /// <summary>Minimal parser for the Python literals numpy writes: dicts, tuples, lists, strings, ints, True/False/None.</summary>
    private sealed class PyLiteralParser(string text)
    {
        private int _pos;

        public int Position => _pos;
        public bool AtEnd => _pos >= text.Length;

        public void SkipWhitespace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        public object? ParseValue(int depth = 0)
        {
            if (depth > 16) throw new FormatException("nesting too deep");
            SkipWhitespace();
            if (AtEnd) throw new FormatException("unexpected end of header");
            char c = text[_pos];
            switch (c)
            {
                case '{': return ParseDict(depth);
                case '(': return ParseSequence(')', depth);
                case '[': return ParseSequence(']', depth);
                case '\'':
                case '"': return ParseString();
            }
            if (c == '-' || c == '+' || char.IsAsciiDigit(c)) return ParseInt();
            if (TryKeyword("True")) return true;
            if (TryKeyword("False")) return false;
            if (TryKeyword("None")) return null;
            throw new FormatException($"unexpected character '{c}' at position {_pos}");
        }

        private bool TryKeyword(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            int end = _pos + word.Length;
            if (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_')) return false;
            _pos = end;
            return true;
        }

        private Dictionary<string, object?> ParseDict(int depth)
        {
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            _pos++; // '{'
            while (true)
            {
                SkipWhitespace();
                if (AtEnd) throw new FormatException("unterminated dict");
                if (text[_pos] == '}') { _pos++; return dict; }
                if (text[_pos] is not ('\'' or '"')) throw new FormatException($"dict key at position {_pos} is not a string");
                string key = ParseString();
                SkipWhitespace();
                if (AtEnd || text[_pos] != ':') throw new FormatException($"expected ':' after key '{key}'");
                _pos++;
                var value = ParseValue(depth + 1);
                if (!dict.TryAdd(key, value)) throw new FormatException($"duplicate key '{key}'");
                SkipWhitespace();
                if (AtEnd) throw new FormatException("unterminated dict");
                if (text[_pos] == ',') { _pos++; continue; }
                if (text[_pos] == '}') { _pos++; return dict; }
                throw new FormatException($"expected ',' or '}}' at position {_pos}");
            }
        }

        private List<object?> ParseSequence(char close, int depth)
        {
            var items = new List<object?>();
            _pos++; // '(' or '['
            while (true)
            {
                SkipWhitespace();
                if (AtEnd) throw new FormatException("unterminated tuple/list");
                if (text[_pos] == close) { _pos++; return items; }
                items.Add(ParseValue(depth + 1));
                SkipWhitespace();
                if (AtEnd) throw new FormatException("unterminated tuple/list");
                if (text[_pos] == ',') { _pos++; continue; }
                if (text[_pos] == close) { _pos++; return items; }
                throw new FormatException($"expected ',' or '{close}' at position {_pos}");
            }
        }

        private string ParseString()
        {
            char quote = text[_pos++];
            var sb = new StringBuilder();
            while (true)
            {
                if (AtEnd) throw new FormatException("unterminated string");
                char c = text[_pos++];
                if (c == quote) return sb.ToString();
                if (c == '\\')
                {
                    if (AtEnd) throw new FormatException("unterminated string");
                    char e = text[_pos++];
                    sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => e });
                }
                else sb.Append(c);
            }
        }

        private long ParseInt()
        {
            int start = _pos;
            if (text[_pos] is '-' or '+') _pos++;
            while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
            if (!long.TryParse(text.AsSpan(start, _pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
                throw new FormatException($"invalid integer at position {start}");
            if (_pos < text.Length && text[_pos] is 'L' or 'l') _pos++; // Python 2 long suffix
            return v;
        }
    }
}
