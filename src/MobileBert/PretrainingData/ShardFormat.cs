using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace MobileBert.PretrainingData;

/// <summary>
/// The <c>.mbpt</c> shard format (all integers little-endian).
/// </summary>
/// <remarks>
/// <code>
/// header (32 bytes):
///   0  "MBPT"        magic
///   4  u16 version   = 1
///   6  u16 idBytes   = 2 (uint16 token ids, vocab ≤ 65536) or 4 (uint32)
///   8  u32 vocabSize
///  12  u32 maxSeqLength
///  16  u32 maxPredictionsPerSeq
///  20  u32 count     examples in this shard
///  24  u64 indexOffset
/// records (from byte 32), one per example:
///   u16 length L     tokens incl. [CLS]/[SEP]/[SEP]
///   u16 predictions P
///   u8  nextSentenceLabel (0 = actual next, 1 = random)
///   u8  reserved (0)
///   L × idBytes      input ids (after masking)
///   ceil(L/8) bytes  token type ids, bit i of byte i/8 (LSB first) = type of token i
///   P × u16          masked positions (ascending)
///   P × idBytes      original ids at those positions
/// index at indexOffset: (count + 1) × u64 record offsets; the last one = indexOffset (end of records)
/// </code>
/// </remarks>
public static class ShardFormat
{
    public const uint Magic = 0x5450424D; // "MBPT"
    public const ushort Version = 1;
    public const int HeaderSize = 32;
    public const string Extension = ".mbpt";

    internal static int RecordSize(int length, int predictions, int idBytes) =>
        6 + length * idBytes + (length + 7) / 8 + predictions * (2 + idBytes);
}

/// <summary>Streams examples into one shard file (a temp file until <see cref="Complete"/>).</summary>
internal sealed class ShardWriter : IDisposable
{
    private readonly FileStream _fs;
    private readonly List<long> _offsets = [];
    private readonly int _idBytes, _vocabSize, _maxSeq, _maxPred;
    private byte[] _buffer = new byte[1 << 12];
    private long _position = ShardFormat.HeaderSize;
    private bool _completed;

    public ShardWriter(string tempPath, int vocabSize, int maxSeq, int maxPred)
    {
        TempPath = tempPath;
        _vocabSize = vocabSize; _maxSeq = maxSeq; _maxPred = maxPred;
        _idBytes = vocabSize <= 65536 ? 2 : 4;
        _fs = new FileStream(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        _fs.Write(new byte[ShardFormat.HeaderSize]);
    }

    public string TempPath { get; }
    public int Count => _offsets.Count;
    public long Bytes { get; private set; }

    public void Write(PretrainingExample e)
    {
        int len = e.Length, p = e.MaskedPositions.Length;
        if (len > _maxSeq) throw new InvalidOperationException($"Example of {len} tokens exceeds the shard's max sequence length {_maxSeq}.");
        if (p > _maxPred) throw new InvalidOperationException($"Example has {p} predictions; the maximum is {_maxPred}.");
        int size = ShardFormat.RecordSize(len, p, _idBytes);
        if (_buffer.Length < size) _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
        Span<byte> s = _buffer.AsSpan(0, size);
        s.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)len);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], (ushort)p);
        s[4] = (byte)e.NextSentenceLabel;
        int o = 6;
        foreach (int id in e.InputIds) o = WriteId(s, o, id);
        for (int i = 0; i < len; i++)
            if (e.TokenTypeIds[i] != 0) s[o + (i >> 3)] |= (byte)(1 << (i & 7));
        o += (len + 7) / 8;
        foreach (int pos in e.MaskedPositions) { BinaryPrimitives.WriteUInt16LittleEndian(s[o..], (ushort)pos); o += 2; }
        foreach (int id in e.MaskedLabelIds) o = WriteId(s, o, id);
        _offsets.Add(_position);
        _fs.Write(s);
        _position += size;
    }

    private int WriteId(Span<byte> s, int o, int id)
    {
        if ((uint)id >= (uint)_vocabSize) throw new InvalidOperationException($"Token id {id} is outside the vocabulary (size {_vocabSize}).");
        if (_idBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(s[o..], (ushort)id);
        else BinaryPrimitives.WriteUInt32LittleEndian(s[o..], (uint)id);
        return o + _idBytes;
    }

    /// <summary>Writes the index and header, flushes and closes the temp file.</summary>
    public void Complete()
    {
        long indexOffset = _position;
        var entry = new byte[8];
        using (var bs = new BufferedStream(_fs, 1 << 16))
        {
            foreach (long off in _offsets.Append(indexOffset))
            {
                BinaryPrimitives.WriteInt64LittleEndian(entry, off);
                bs.Write(entry);
            }
            bs.Flush();
            Span<byte> h = stackalloc byte[ShardFormat.HeaderSize];
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, ShardFormat.Magic);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], ShardFormat.Version);
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], (ushort)_idBytes);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)_vocabSize);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)_maxSeq);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)_maxPred);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)_offsets.Count);
            BinaryPrimitives.WriteInt64LittleEndian(h[24..], indexOffset);
            _fs.Seek(0, SeekOrigin.Begin);
            _fs.Write(h);
            _fs.Flush(flushToDisk: true);
            Bytes = _fs.Length;
        }
        _completed = true;
    }

    public void Dispose()
    {
        _fs.Dispose();
        if (!_completed)
        {
            try { File.Delete(TempPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}

/// <summary>
/// A memory-mapped <c>.mbpt</c> shard with random access by example index. Thread-safe for reads.
/// </summary>
public sealed unsafe class PretrainingShardReader : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _length, _indexOffset;
    private bool _disposed;

    private PretrainingShardReader(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, byte* basePtr, long length)
    {
        Path = path; _file = file; _view = view; _base = basePtr; _length = length;
        var h = new ReadOnlySpan<byte>(basePtr, ShardFormat.HeaderSize);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != ShardFormat.Magic) throw Bad("bad magic (not a .mbpt shard)");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(h[4..]);
        if (version != ShardFormat.Version) throw Bad($"unsupported version {version} (this reader knows {ShardFormat.Version})");
        TokenIdBytes = BinaryPrimitives.ReadUInt16LittleEndian(h[6..]);
        if (TokenIdBytes is not (2 or 4)) throw Bad($"token id width {TokenIdBytes} is not 2 or 4");
        VocabSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
        MaxSeqLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
        MaxPredictionsPerSeq = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
        _indexOffset = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        if (count > int.MaxValue || _indexOffset < ShardFormat.HeaderSize || _indexOffset + ((long)count + 1) * 8 != length)
            throw Bad("header does not match the file size (truncated or corrupt)");
        Count = (int)count;
    }

    /// <summary>Maps a shard file read-only.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid shard.</exception>
    public static PretrainingShardReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        long length = new FileInfo(path).Length;
        if (length < ShardFormat.HeaderSize + 8) throw new InvalidDataException($"Shard '{path}' is too small ({length} bytes) to be a .mbpt shard.");
        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        byte* ptr = null;
        try
        {
            file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            return new PretrainingShardReader(path, file, view, ptr + view.PointerOffset, length);
        }
        catch
        {
            if (ptr != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            file?.Dispose();
            throw;
        }
    }

    public string Path { get; }
    public int Count { get; }
    public int VocabSize { get; }
    public int MaxSeqLength { get; }
    public int MaxPredictionsPerSeq { get; }
    public int TokenIdBytes { get; }

    private InvalidDataException Bad(string what) => new($"Shard '{Path}' is invalid: {what}.");

    private ReadOnlySpan<byte> Record(int index, out int length, out int predictions, out int nsp)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"Shard '{Path}' has {Count} examples.");
        long start = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(_base + _indexOffset + (long)index * 8, 8));
        long end = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(_base + _indexOffset + ((long)index + 1) * 8, 8));
        if (start < ShardFormat.HeaderSize || end > _indexOffset || end - start < 6 || end - start > int.MaxValue)
            throw Bad($"index entry {index} is out of range");
        var r = new ReadOnlySpan<byte>(_base + start, (int)(end - start));
        length = BinaryPrimitives.ReadUInt16LittleEndian(r);
        predictions = BinaryPrimitives.ReadUInt16LittleEndian(r[2..]);
        nsp = r[4];
        if (length > MaxSeqLength || ShardFormat.RecordSize(length, predictions, TokenIdBytes) != r.Length || nsp > 1)
            throw Bad($"record {index} is corrupt");
        return r;
    }

    private int ReadId(ReadOnlySpan<byte> r, int o) =>
        TokenIdBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(r[o..]) : (int)BinaryPrimitives.ReadUInt32LittleEndian(r[o..]);

    /// <summary>Length (tokens) of example <paramref name="index"/>.</summary>
    public int LengthOf(int index)
    {
        Record(index, out int length, out _, out _);
        return length;
    }

    /// <summary>Decodes example <paramref name="index"/>.</summary>
    public PretrainingExample Read(int index)
    {
        ReadOnlySpan<byte> r = Record(index, out int len, out int p, out int nsp);
        var ids = new int[len];
        var types = new int[len];
        var positions = new int[p];
        var labels = new int[p];
        Decode(r, len, p, ids, types, positions, labels);
        return new PretrainingExample(ids, types, positions, labels, nsp);
    }

    private void Decode(ReadOnlySpan<byte> r, int len, int p, Span<int> ids, Span<int> types, Span<int> positions, Span<int> labels)
    {
        int o = 6;
        for (int i = 0; i < len; i++, o += TokenIdBytes) ids[i] = ReadId(r, o);
        for (int i = 0; i < len; i++) types[i] = (r[o + (i >> 3)] >> (i & 7)) & 1;
        o += (len + 7) / 8;
        for (int i = 0; i < p; i++, o += 2) positions[i] = BinaryPrimitives.ReadUInt16LittleEndian(r[o..]);
        for (int i = 0; i < p; i++, o += TokenIdBytes) labels[i] = ReadId(r, o);
    }

    /// <summary>
    /// Writes example <paramref name="index"/> as one padded row: ids (pad id after the end), attention mask, token
    /// types, dense MLM labels (−100 where not predicted). Returns the next-sentence label.
    /// </summary>
    public int ReadRow(int index, int padId, Span<int> ids, Span<int> mask, Span<int> types, Span<int> mlmLabels)
    {
        ReadOnlySpan<byte> r = Record(index, out int len, out int p, out int nsp);
        int seq = ids.Length;
        if (len > seq || mask.Length != seq || types.Length != seq || mlmLabels.Length != seq)
            throw new ArgumentException($"Row spans must have the same length ≥ {len}.");
        Span<int> positions = p <= 256 ? stackalloc int[p] : new int[p];
        Span<int> labels = p <= 256 ? stackalloc int[p] : new int[p];
        Decode(r, len, p, ids, types, positions, labels);
        ids[len..].Fill(padId);
        types[len..].Clear();
        mask[..len].Fill(1);
        mask[len..].Clear();
        mlmLabels.Fill(PretrainingExample.IgnoreLabel);
        for (int i = 0; i < p; i++)
        {
            if (positions[i] >= len) throw Bad($"record {index} has a masked position {positions[i]} beyond its length {len}");
            mlmLabels[positions[i]] = labels[i];
        }
        return nsp;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
