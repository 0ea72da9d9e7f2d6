using System.Buffers.Binary;
using System.Text;
using MobileBert.Checkpoints;
using Xunit;
using static MobileBert.Tests.Checkpoints.CheckpointTestUtil;

namespace MobileBert.Tests.Checkpoints;

public class SafeTensorsRoundTripTests
{
    [Fact]
    public void RoundTrip_F32_WithMetadata_EmptyAndScalarTensors()
    {
        using var dir = new TempDir();
        string path = dir.File("rt.safetensors");
        var matrix = new float[] { 1.5f, -2.25f, 3e-8f, float.MaxValue, -0f, 7f };
        var tensors = new List<(string, int[], float[])>
        {
            ("z.matrix", new[] { 2, 3 }, matrix),
            ("a.empty", new[] { 0 }, Array.Empty<float>()),
            ("m.scalar", Array.Empty<int>(), new[] { 42.5f }),
            ("b.empty2d", new[] { 4, 0 }, Array.Empty<float>()),
        };
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        SafeTensorsWriter.Write(path, tensors, meta);

        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { "a.empty", "b.empty2d", "m.scalar", "z.matrix" }, f.Names); // sorted like Python
        Assert.Equal(meta.OrderBy(k => k.Key), f.Metadata.OrderBy(k => k.Key));

        var m = f["z.matrix"];
        Assert.Equal(new[] { 2, 3 }, m.Shape);
        Assert.Equal(6, m.ElementCount);
        Assert.Equal(matrix, m.ToFloat32());

        var empty = f["a.empty"];
        Assert.Equal(new[] { 0 }, empty.Shape);
        Assert.Equal(0, empty.ElementCount);
        Assert.Empty(empty.ToFloat32());
        Assert.Equal(new[] { 4, 0 }, f["b.empty2d"].Shape);

        var scalar = f["m.scalar"];
        Assert.Empty(scalar.Shape);
        Assert.Equal(1, scalar.ElementCount);
        Assert.Equal(new[] { 42.5f }, scalar.ToFloat32());
    }

    [Fact]
    public void HeaderLayout_IsPaddedTo8_WithMetadataFirst_AndSortedKeys()
    {
        using var dir = new TempDir();
        string path = dir.File("layout.safetensors");
        SafeTensorsWriter.Write(path, new[] { ("b", new[] { 1 }, new[] { 1f }), ("a", new[] { 2 }, new[] { 2f, 3f }) },
            new Dictionary<string, string> { ["k"] = "v" });
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":", header);
        Assert.True(header.TrimEnd(' ').EndsWith('}'));
        Assert.Equal(8 + (int)n + 12, bytes.Length);
        Assert.Equal(Floats(2f, 3f, 1f), bytes[(8 + (int)n)..]);
    }

    [Fact]
    public void ReadOnlyMemoryOverload_WritesSlices()
    {
        using var dir = new TempDir();
        string path = dir.File("mem.safetensors");
        var backing = new float[] { 9f, 1f, 2f, 3f, 9f };
        SafeTensorsWriter.Write(path, new[] { ("x", new[] { 3 }, new ReadOnlyMemory<float>(backing, 1, 3)) });
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { 1f, 2f, 3f }, f["x"].ToFloat32());
        Assert.Empty(f.Metadata);
    }

    [Fact]
    public void I64_RoundTrip_AndMixedWithRaw()
    {
        using var dir = new TempDir();
        string path = dir.File("ids.safetensors");
        var ids = new long[] { 101, 2023, -1, long.MaxValue };
        SafeTensorsWriter.Write(path, new[] { ("ids", new[] { 2, 2 }, ids) });
        using (var f = SafeTensorsFile.Open(path))
        {
            Assert.Equal(TensorDType.I64, f["ids"].DType);
            Assert.Equal(ids, f["ids"].ToInt64());
            Assert.Equal(new[] { 101f, 2023f, -1f, (float)long.MaxValue }, f["ids"].ToFloat32());
        }

        string mixed = dir.File("mixed.safetensors");
        var i64 = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(i64, 7);
        BinaryPrimitives.WriteInt64LittleEndian(i64.AsSpan(8), -8);
        SafeTensorsWriter.WriteRaw(mixed, new (string, TensorDType, int[], ReadOnlyMemory<byte>)[]
        {
            ("a.f32", TensorDType.F32, new[] { 1 }, Floats(0.5f)),
            ("b.i64", TensorDType.I64, new[] { 2 }, i64),
        });
        using var m = SafeTensorsFile.Open(mixed);
        Assert.Equal(new[] { 7L, -8L }, m["b.i64"].ToInt64());
        Assert.Equal(new[] { 0.5f }, m["a.f32"].ToFloat32());
    }

    [Fact]
    public void AtomicWrite_OverwritesExisting_AndLeavesNoTempFile()
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        File.WriteAllText(path, "old garbage that is not a safetensors file");
        SafeTensorsWriter.Write(path, new[] { ("w", new[] { 2 }, new[] { 1f, 2f }) });
        SafeTensorsWriter.Write(path, new[] { ("w", new[] { 3 }, new[] { 4f, 5f, 6f }) });
        using (var f = SafeTensorsFile.Open(path))
            Assert.Equal(new[] { 4f, 5f, 6f }, f["w"].ToFloat32());
        Assert.Equal(new[] { "model.safetensors" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FailedWrite_LeavesExistingFileAndNoTempFile()
    {
        using var dir = new TempDir();
        string path = dir.File("keep.safetensors");
        SafeTensorsWriter.Write(path, new[] { ("w", new[] { 1 }, new[] { 1f }) });
        byte[] before = File.ReadAllBytes(path);
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, new[] { ("w", new[] { 5 }, new[] { 1f }) }));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path,
            new[] { ("w", new[] { 1 }, new[] { 1f }), ("w", new[] { 1 }, new[] { 2f }) }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void F16_And_BF16_AndOtherDTypes_ConvertCorrectly()
    {
        using var dir = new TempDir();
        string path = dir.File("halves.safetensors");
        var data = new List<byte>();
        // F16: 1.0, -2.0, 0.5, 65504 (max), smallest subnormal 2^-24, +inf
        foreach (ushort h in new ushort[] { 0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00 }) data.AddRange(BitConverter.GetBytes(h));
        // BF16: 1.0, -2.5, 3.140625, 1e38-ish (0x7E96 -> 9.969e37)
        foreach (ushort h in new ushort[] { 0x3F80, 0xC020, 0x4049, 0x7E96 }) data.AddRange(BitConverter.GetBytes(h));
        // F64: 0.1, -1e300 (overflows float -> -inf)
        data.AddRange(BitConverter.GetBytes(0.1)); data.AddRange(BitConverter.GetBytes(-1e300));
        // I32: -5, 1<<24 ; I16: -300 ; I8: -128, 127 ; U8: 255 ; BOOL: 0, 1, 2
        data.AddRange(BitConverter.GetBytes(-5)); data.AddRange(BitConverter.GetBytes(1 << 24));
        data.AddRange(BitConverter.GetBytes((short)-300));
        data.AddRange(new byte[] { 0x80, 0x7F, 0xFF, 0, 1, 2 });
        string header = "{"
            + "\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[12,20]},"
            + "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[20,36]},"
            + "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[36,44]},"
            + "\"i16\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[44,46]},"
            + "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[46,48]},"
            + "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[48,49]},"
            + "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[49,52]}}";
        File.WriteAllBytes(path, BuildSafeTensors(header, data.ToArray()));

        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { "h", "b", "d", "i32", "i16", "i8", "u8", "bool" }, f.Names);
        Assert.Equal(TensorDType.F16, f["h"].DType);
        Assert.Equal(new[] { 1f, -2f, 0.5f, 65504f, MathF.Pow(2, -24), float.PositiveInfinity }, f["h"].ToFloat32());
        Assert.Equal(TensorDType.BF16, f["b"].DType);
        Assert.Equal(new[] { 1f, -2.5f, 3.140625f, BitConverter.Int32BitsToSingle(0x7E960000) }, f["b"].ToFloat32());
        Assert.Equal(new[] { 0.1f, float.NegativeInfinity }, f["d"].ToFloat32());
        Assert.Equal(new[] { -5f, 16777216f }, f["i32"].ToFloat32());
        Assert.Equal(new[] { -5L, 1L << 24 }, f["i32"].ToInt64());
        Assert.Equal(new[] { -300L }, f["i16"].ToInt64());
        Assert.Equal(new[] { -128L, 127L }, f["i8"].ToInt64());
        Assert.Equal(new[] { 255L }, f["u8"].ToInt64());
        Assert.Equal(new[] { 0L, 1L, 1L }, f["bool"].ToInt64());
        Assert.Equal(new[] { 0f, 1f, 1f }, f["bool"].ToFloat32());

        var span = new float[4];
        f["b"].CopyTo(span);
        Assert.Equal(-2.5f, span[1]);
    }

    [Fact]
    public void LargeF16Tensor_ConvertsAcrossChunkBoundaries()
    {
        using var dir = new TempDir();
        string path = dir.File("bigf16.safetensors");
        const int n = 100_003; // > one 64 KiB conversion chunk, odd length
        var bytes = new byte[n * 2];
        for (int i = 0; i < n; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)(i % 2048));
        File.WriteAllBytes(path, BuildSafeTensors($"{{\"x\":{{\"dtype\":\"F16\",\"shape\":[{n}],\"data_offsets\":[0,{n * 2}]}}}}", bytes));
        using var f = SafeTensorsFile.Open(path);
        var v = f["x"].ToFloat32();
        for (int i = 0; i < n; i++) Assert.Equal(i % 2048, v[i]);
    }

    [Fact]
    public void ToInt64_OnFloatTensor_And_CopyTo_WrongLength_Throw()
    {
        using var dir = new TempDir();
        string path = dir.File("f.safetensors");
        SafeTensorsWriter.Write(path, new[] { ("weights.x", new[] { 2 }, new[] { 1f, 2f }) });
        using var f = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<CheckpointException>(() => f["weights.x"].ToInt64());
        AssertMessage(ex, path, "weights.x", "F32");
        ex = Assert.Throws<CheckpointException>(() => f["weights.x"].CopyTo(new float[3]));
        AssertMessage(ex, path, "weights.x", "3");
        Assert.Equal("weights.x", ex.TensorName);
    }

    [Fact]
    public void AccessAfterDispose_Throws()
    {
        using var dir = new TempDir();
        string path = dir.File("d.safetensors");
        SafeTensorsWriter.Write(path, new[] { ("x", new[] { 1 }, new[] { 1f }) });
        var f = SafeTensorsFile.Open(path);
        var e = f["x"];
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => e.ToFloat32());
    }

    [Fact]
    public void TensorsInMemoryReadLikeAFile()
    {
        // Empty tensors between non-empty ones start at the same data offset; an F16 tensor crosses conversion chunks.
        const int n = 40_001;
        var half = new byte[n * 2];
        for (int i = 0; i < n; i++) BinaryPrimitives.WriteHalfLittleEndian(half.AsSpan(i * 2), (Half)(i % 1000));
        var floats = new[] { 1.5f, -2f, 3f };
        var f32 = System.Runtime.InteropServices.MemoryMarshal.AsBytes(floats.AsSpan()).ToArray();
        var ids = BitConverter.GetBytes(7L);
        var tensors = new List<(string, TensorDType, int[], ReadOnlyMemory<byte>)>
        {
            ("empty.first", TensorDType.F32, [0], ReadOnlyMemory<byte>.Empty),
            ("w", TensorDType.F32, [3], f32),
            ("empty.mid", TensorDType.F16, [2, 0], ReadOnlyMemory<byte>.Empty),
            ("h", TensorDType.F16, [n], half),
            ("id", TensorDType.I64, [], ids),
        };
        using var f = SafeTensorsFile.FromTensors("model.bin", tensors);
        Assert.Equal(["empty.first", "w", "empty.mid", "h", "id"], f.Names);   // the given order
        Assert.Equal(floats, f["w"].ToFloat32());
        Assert.Empty(f["empty.mid"].ToFloat32());
        var h = f["h"].ToFloat32();
        for (int i = 0; i < n; i++) Assert.Equal(i % 1000, h[i]);
        Assert.Equal([7L], f["id"].ToInt64());
        Assert.Equal("model.bin", Assert.Throws<CheckpointException>(() => f["x"]).FilePath);

        var wrong = Assert.Throws<CheckpointException>(() => SafeTensorsFile.FromTensors("model.bin",
            [("w", TensorDType.F32, [4], f32)]));
        AssertMessage(wrong, "model.bin", "w", "12 bytes");
        var twice = Assert.Throws<CheckpointException>(() => SafeTensorsFile.FromTensors("model.bin",
            [("w", TensorDType.F32, [3], f32), ("w", TensorDType.F32, [3], f32)]));
        AssertMessage(twice, "model.bin", "w", "duplicate");
    }
}
