using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace MobileBert.Checkpoints;

/// <summary>Element types of tensors stored in safetensors / .npy files. Names follow safetensors
/// ("F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL").</summary>
public enum TensorDType
{
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

/// <summary>Size, naming and element conversion helpers for <see cref="TensorDType"/>.</summary>
internal static class DTypeInfo
{
    public static int SizeOf(TensorDType dtype) => dtype switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        TensorDType.I8 or TensorDType.U8 or TensorDType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static bool IsFloatingPoint(TensorDType dtype) =>
        dtype is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64;

    /// <summary>The safetensors spelling of a dtype ("BOOL" for <see cref="TensorDType.Bool"/>).</summary>
    public static string ToSafeTensorsName(TensorDType dtype) => dtype switch
    {
        TensorDType.Bool => "BOOL",
        _ => dtype.ToString(),
    };

    /// <summary>Parses a safetensors dtype name (exact, case-sensitive, as the reference implementation does).</summary>
    public static bool TryParseSafeTensorsName(string name, out TensorDType dtype)
    {
        switch (name)
        {
            case "F32": dtype = TensorDType.F32; return true;
            case "F16": dtype = TensorDType.F16; return true;
            case "BF16": dtype = TensorDType.BF16; return true;
            case "F64": dtype = TensorDType.F64; return true;
            case "I64": dtype = TensorDType.I64; return true;
            case "I32": dtype = TensorDType.I32; return true;
            case "I16": dtype = TensorDType.I16; return true;
            case "I8": dtype = TensorDType.I8; return true;
            case "U8": dtype = TensorDType.U8; return true;
            case "BOOL": dtype = TensorDType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>Converts little-endian raw elements to float32. <paramref name="source"/> must hold exactly
    /// <c>destination.Length * SizeOf(dtype)</c> bytes.</summary>
    public static void ConvertToFloat32(TensorDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int n = destination.Length;
        if (source.Length != (long)n * SizeOf(dtype))
            throw new ArgumentException("Source byte length does not match destination element count.");
        switch (dtype)
        {
            case TensorDType.F32:
                if (BitConverter.IsLittleEndian)
                    MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                else
                    for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(i * 4));
                break;
            case TensorDType.F16:
                if (BitConverter.IsLittleEndian)
                    TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                else
                    for (int i = 0; i < n; i++) destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source.Slice(i * 2));
                break;
            case TensorDType.BF16:
                for (int i = 0; i < n; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(i * 2)) << 16);
                break;
            case TensorDType.F64:
                for (int i = 0; i < n; i++) destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source.Slice(i * 8));
                break;
            case TensorDType.I64:
                for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadInt64LittleEndian(source.Slice(i * 8));
                break;
            case TensorDType.I32:
                for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadInt32LittleEndian(source.Slice(i * 4));
                break;
            case TensorDType.I16:
                for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadInt16LittleEndian(source.Slice(i * 2));
                break;
            case TensorDType.I8:
                for (int i = 0; i < n; i++) destination[i] = (sbyte)source[i];
                break;
            case TensorDType.U8:
                for (int i = 0; i < n; i++) destination[i] = source[i];
                break;
            case TensorDType.Bool:
                for (int i = 0; i < n; i++) destination[i] = source[i] != 0 ? 1f : 0f;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        }
    }

    /// <summary>Converts little-endian raw integer/bool elements to int64. Floating-point dtypes are rejected by callers.</summary>
    public static void ConvertToInt64(TensorDType dtype, ReadOnlySpan<byte> source, Span<long> destination)
    {
        int n = destination.Length;
        if (source.Length != (long)n * SizeOf(dtype))
            throw new ArgumentException("Source byte length does not match destination element count.");
        switch (dtype)
        {
            case TensorDType.I64:
                if (BitConverter.IsLittleEndian)
                    MemoryMarshal.Cast<byte, long>(source).CopyTo(destination);
                else
                    for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadInt64LittleEndian(source.Slice(i * 8));
                break;
            case TensorDType.I32:
                for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadInt32LittleEndian(source.Slice(i * 4));
                break;
            case TensorDType.I16:
                for (int i = 0; i < n; i++) destination[i] = BinaryPrimitives.ReadInt16LittleEndian(source.Slice(i * 2));
                break;
            case TensorDType.I8:
                for (int i = 0; i < n; i++) destination[i] = (sbyte)source[i];
                break;
            case TensorDType.U8:
                for (int i = 0; i < n; i++) destination[i] = source[i];
                break;
            case TensorDType.Bool:
                for (int i = 0; i < n; i++) destination[i] = source[i] != 0 ? 1 : 0;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not an integer dtype.");
        }
    }

    /// <summary>Product of dims with overflow detection; returns false on overflow or a negative dim.</summary>
    public static bool TryElementCount(ReadOnlySpan<int> shape, out long count)
    {
        count = 1;
        foreach (int d in shape)
        {
            if (d < 0) return false;
            try { count = checked(count * d); }
            catch (OverflowException) { return false; }
        }
        return true;
    }

    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        var parts = new string[shape.Length];
        for (int i = 0; i < shape.Length; i++) parts[i] = shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "[" + string.Join(",", parts) + "]";
    }
}
