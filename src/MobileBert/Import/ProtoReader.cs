using System.Buffers.Binary;

namespace MobileBert.Import;

/// <summary>
/// The minimal protobuf wire-format decoder the ONNX importer needs (the reading twin of Export/ProtoWriter): a cursor over
/// one message's bytes that yields (field, wire type) pairs, varints, fixed32/fixed64 and length-delimited slices. Slices
/// share the file's memory (no copy of large tensors). Groups (wire types 3/4) are refused: ONNX does not use them.
/// A read past the end throws <see cref="OnnxImportException"/> naming <see cref="Context"/>.
/// </summary>
internal sealed class ProtoReader(ReadOnlyMemory<byte> data, string context)
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLength = 2, WireFixed32 = 5;
    readonly ReadOnlyMemory<byte> _data = data;
    int _pos;

    /// <summary>Where this message sits (e.g. "graph node #12"), for error messages.</summary>
    public string Context { get; } = context;

    /// <summary>Reads the next tag; false at the end of the message.</summary>
    public bool Next(out int field, out int wireType)
    {
        field = wireType = 0;
        if (_pos >= _data.Length) return false;
        ulong tag = Varint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field <= 0) throw Truncated("a field number of 0");
        return true;
    }

    public ulong Varint()
    {
        var span = _data.Span;
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= span.Length) throw Truncated("a varint running past the end");
            byte b = span[_pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
        throw Truncated("a varint longer than 10 bytes");
    }

    public long Int64() => (long)Varint();

    public float Float() => BitConverter.Int32BitsToSingle((int)Fixed(4));

    /// <summary>A length-delimited field: sub-message, string, bytes or packed repeated scalars.</summary>
    public ReadOnlyMemory<byte> Bytes()
    {
        ulong len = Varint();
        if (len > (ulong)(_data.Length - _pos)) throw Truncated($"a {len}-byte field with {_data.Length - _pos} bytes left");
        var slice = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return slice;
    }

    public string String() => System.Text.Encoding.UTF8.GetString(Bytes().Span);

    public ProtoReader Message(string context) => new(Bytes(), context);

    /// <summary>One or more int64 values of a repeated field, packed (wire type 2) or not (wire type 0).</summary>
    public void Int64s(int wireType, List<long> into)
    {
        if (wireType == WireVarint) { into.Add(Int64()); return; }
        var packed = new ProtoReader(Bytes(), Context);
        while (packed._pos < packed._data.Length) into.Add(packed.Int64());
    }

    /// <summary>One or more floats of a repeated field, packed (wire type 2) or not (wire type 5).</summary>
    public void Floats(int wireType, List<float> into)
    {
        if (wireType == WireFixed32) { into.Add(Float()); return; }
        var packed = new ProtoReader(Bytes(), Context);
        while (packed._pos < packed._data.Length) into.Add(packed.Float());
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case WireVarint: Varint(); break;
            case WireFixed64: Fixed(8); break;
            case WireLength: Bytes(); break;
            case WireFixed32: Fixed(4); break;
            default: throw Truncated($"wire type {wireType} (groups and unknown wire types are not ONNX)");
        }
    }

    ulong Fixed(int size)
    {
        if (_data.Length - _pos < size) throw Truncated($"a {size}-byte fixed field running past the end");
        var s = _data.Span.Slice(_pos, size);
        _pos += size;
        return size == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
    }

    OnnxImportException Truncated(string what) =>
        new($"{Context}: truncated or corrupt protobuf at byte {_pos}: {what}.");
}
