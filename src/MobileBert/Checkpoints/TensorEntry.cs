using System.Buffers;
using System.Runtime.InteropServices;

namespace MobileBert.Checkpoints;

/// <summary>One tensor of a <see cref="SafeTensorsFile"/>. Data is read from the file on demand, so the owning
/// file must not be disposed while entries are used.</summary>
public sealed class TensorEntry
{
    private readonly SafeTensorsFile _file;
    private readonly int[] _shape;

    internal TensorEntry(SafeTensorsFile file, string name, TensorDType dtype, int[] shape, long elementCount, long dataBegin, long byteLength)
    {
        _file = file;
        Name = name;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        DataBegin = dataBegin;
        ByteLength = byteLength;
    }

    public string Name { get; }
    public TensorDType DType { get; }

    /// <summary>Dimensions (a fresh copy each call; empty for a scalar).</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>Offset of the first byte relative to the start of the data section.</summary>
    internal long DataBegin { get; }

    /// <summary>Size of the tensor data in bytes.</summary>
    internal long ByteLength { get; }

    /// <summary>Returns a new float32 array with the values, converted from any dtype (bool → 0/1).</summary>
    public float[] ToFloat32()
    {
        var result = new float[CheckedArrayLength()];
        ReadFloat32(result);
        return result;
    }

    /// <summary>Copies the values converted to float32 into <paramref name="destination"/>, whose length must equal <see
    /// cref="ElementCount"/>.</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != ElementCount)
            throw Error($"destination length {destination.Length} does not match element count {ElementCount} " +
                $"(shape {DTypeInfo.FormatShape(_shape)})");
        ReadFloat32(destination);
    }

    /// <summary>Returns the raw values of an I8 tensor (other dtypes throw), without a float conversion.</summary>
    public sbyte[] ToInt8()
    {
        if (DType != TensorDType.I8) throw Error($"dtype {DTypeInfo.ToSafeTensorsName(DType)} cannot be read as int8 (only I8)");
        var result = new sbyte[CheckedArrayLength()];
        ReadRaw<sbyte>(result);
        return result;
    }

    /// <summary>Returns a new int64 array; only for integer and bool dtypes (floating-point dtypes throw).</summary>
    public long[] ToInt64()
    {
        if (DTypeInfo.IsFloatingPoint(DType))
            throw Error($"dtype {DTypeInfo.ToSafeTensorsName(DType)} cannot be read as int64 (only integer/bool dtypes)");
        var result = new long[CheckedArrayLength()];
        if (DType == TensorDType.I64 && BitConverter.IsLittleEndian)
        {
            ReadRaw<long>(result);
            return result;
        }
        ReadConverted(result.AsSpan(), static (dt, src, dst) => DTypeInfo.ConvertToInt64(dt, src, dst));
        return result;
    }

    public override string ToString() => $"{Name} {DTypeInfo.ToSafeTensorsName(DType)} {DTypeInfo.FormatShape(_shape)}";

    private int CheckedArrayLength()
    {
        if (ElementCount > Array.MaxLength)
            throw Error($"{ElementCount} elements do not fit in a single .NET array");
        return (int)ElementCount;
    }

    private CheckpointException Error(string detail) =>
        CheckpointException.ForFile(_file.Path, $"tensor '{Name}': {detail}", Name);

    private void ReadFloat32(Span<float> destination)
    {
        if (DType == TensorDType.F32 && BitConverter.IsLittleEndian)
            ReadRaw(destination); // file bytes go straight into the destination, no intermediate copy
        else
            ReadConverted(destination, static (dt, src, dst) => DTypeInfo.ConvertToFloat32(dt, src, dst));
    }

    /// <summary>Reads the stored bytes verbatim into <paramref name="destination"/> (little-endian host, same element type).</summary>
    private void ReadRaw<T>(Span<T> destination) where T : unmanaged
    {
        int chunk = (1 << 28) / System.Runtime.CompilerServices.Unsafe.SizeOf<T>(); // keeps byte spans within int range
        long fileOffset = DataBegin;
        for (int start = 0; start < destination.Length; start += chunk)
        {
            var bytes = MemoryMarshal.AsBytes(destination.Slice(start, Math.Min(chunk, destination.Length - start)));
            _file.ReadData(bytes, fileOffset, Name);
            fileOffset += bytes.Length;
        }
    }

    private delegate void Converter<T>(TensorDType dtype, ReadOnlySpan<byte> source, Span<T> destination);

    private void ReadConverted<T>(Span<T> destination, Converter<T> convert)
    {
        int elemSize = DTypeInfo.SizeOf(DType);
        int chunkElems = Math.Max(1, (1 << 16) / elemSize);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkElems * elemSize);
        try
        {
            long fileOffset = DataBegin;
            for (int start = 0; start < destination.Length; start += chunkElems)
            {
                int count = Math.Min(chunkElems, destination.Length - start);
                var bytes = buffer.AsSpan(0, count * elemSize);
                _file.ReadData(bytes, fileOffset, Name);
                convert(DType, bytes, destination.Slice(start, count));
                fileOffset += bytes.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
