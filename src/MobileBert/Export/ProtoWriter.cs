using System.Buffers.Binary;
using System.Text;

namespace MobileBert.Export;

/// <summary>
/// The minimal protobuf wire-format encoder the ONNX exporter needs (no protobuf package): varints (wire type 0),
/// fixed32 floats (wire type 5), length-delimited bytes/strings/sub-messages (wire type 2) and packed repeated varints.
/// Fields are appended in call order into a growable byte buffer; a sub-message is encoded into its own writer and then
/// copied in behind its length.
/// </summary>
internal sealed class ProtoWriter
{
    const int WireVarint = 0, WireLength = 2, WireFixed32 = 5;
    byte[] _buf;
    int _len;

    public ProtoWriter(int capacity = 64) { _buf = new byte[Math.Max(16, capacity)]; }

    public int Length => _len;
    public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _len);

    void Ensure(int extra)
    {
        long need = (long)_len + extra;
        if (need <= _buf.Length) return;
        if (need > Array.MaxLength) throw new OnnxExportException($"The ONNX protobuf would exceed {Array.MaxLength} bytes.");
        Array.Resize(ref _buf, (int)Math.Min(Array.MaxLength, Math.Max(need, 2L * _buf.Length)));
    }

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buf.AsSpan(_len));
        _len += bytes.Length;
    }

    public void Varint(ulong v)
    {
        Ensure(10);
        while (v >= 0x80) { _buf[_len++] = (byte)(v | 0x80); v >>= 7; }
        _buf[_len++] = (byte)v;
    }

    public static int VarintSize(ulong v) { int n = 1; while (v >= 0x80) { v >>= 7; n++; } return n; }

    public void Tag(int field, int wireType) => Varint((uint)field << 3 | (uint)wireType);

    /// <summary>int64 / enum / bool field (negative values take 10 bytes, as protobuf encodes them).</summary>
    public void Int64(int field, long value) { Tag(field, WireVarint); Varint((ulong)value); }

    /// <summary>int32 field: negative values are sign-extended to 64 bits (protobuf's int32 encoding).</summary>
    public void Int32(int field, int value) { Tag(field, WireVarint); Varint((ulong)(long)value); }

    public void Float(int field, float value)
    {
        Tag(field, WireFixed32);
        Ensure(4);
        BinaryPrimitives.WriteSingleLittleEndian(_buf.AsSpan(_len), value);
        _len += 4;
    }

    public void Bytes(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, WireLength);
        Varint((ulong)bytes.Length);
        Raw(bytes);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Message(int field, ProtoWriter message) => Bytes(field, message.Written);

    public void Message(int field, Action<ProtoWriter> body)
    {
        var m = new ProtoWriter();
        body(m);
        Message(field, m);
    }

    /// <summary>A sub-message made of <paramref name="head"/> followed by one bytes field <paramref name="tailField"/> =
    /// <paramref name="tail"/>, written without first copying the (large) tail into the sub-message's own buffer.</summary>
    public void MessageWithBytesTail(int field, ProtoWriter head, int tailField, ReadOnlySpan<byte> tail)
    {
        ulong tailTag = (uint)tailField << 3 | WireLength;
        long length = head.Length + VarintSize(tailTag) + VarintSize((ulong)tail.Length) + (long)tail.Length;
        Tag(field, WireLength);
        Varint((ulong)length);
        Raw(head.Written);
        Bytes(tailField, tail);
    }

    /// <summary>Packed repeated int64 (one length-delimited field of concatenated varints).</summary>
    public void PackedInt64(int field, ReadOnlySpan<long> values)
    {
        var m = new ProtoWriter(values.Length * 2 + 8);
        foreach (long v in values) m.Varint((ulong)v);
        Bytes(field, m.Written);
    }
}
