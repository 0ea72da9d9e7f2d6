using System.Buffers.Binary;
using System.Text;
using MobileBert.Checkpoints;
using Xunit;
using static MobileBert.Tests.Checkpoints.CheckpointTestUtil;

namespace MobileBert.Tests.Checkpoints;

public class SafeTensorsBadInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteFile(string name, byte[] bytes)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string WriteHeader(string name, string header, byte[] data) => WriteFile(name, BuildSafeTensors(header, data));

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Fact]
    public void ValidHandBuiltFile_Opens() // sanity check for the helpers used below
    {
        string path = WriteHeader("ok.safetensors", "{" + Entry("a", "F32", "[2]", 0, 8) + "}", Floats(1, 2));
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { 1f, 2f }, f["a"].ToFloat32());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void FileShorterThan8Bytes(int length)
    {
        string path = WriteFile($"short{length}.safetensors", new byte[length]);
        AssertOpenFails(path, "8-byte");
    }

    [Fact]
    public void MissingFile_IsCheckpointException()
    {
        string path = _dir.File("does-not-exist.safetensors");
        var ex = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Open(path));
        AssertMessage(ex, path);
        Assert.IsType<FileNotFoundException>(ex.InnerException);
    }

    [Fact]
    public void TruncatedFile_NamesLastTensor()
    {
        string good = _dir.File("good.safetensors");
        SafeTensorsWriter.Write(good, new[] { ("a.first", new[] { 4 }, new float[4]), ("b.last", new[] { 4 }, new float[4]) });
        byte[] bytes = File.ReadAllBytes(good);
        string path = WriteFile("truncated.safetensors", bytes[..^3]);
        AssertOpenFails(path, "b.last", "data_offsets", "truncated");
    }

    [Fact]
    public void TruncatedInsideHeader()
    {
        string good = _dir.File("good2.safetensors");
        SafeTensorsWriter.Write(good, new[] { ("a", new[] { 4 }, new float[4]) });
        string path = WriteFile("cut-header.safetensors", File.ReadAllBytes(good)[..20]);
        AssertOpenFails(path, "header length");
    }

    [Fact]
    public void HeaderLengthLying_TooBig()
    {
        var bytes = BuildSafeTensors("{" + Entry("a", "F32", "[1]", 0, 4) + "}", Floats(1));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 5000);
        string path = WriteFile("lying.safetensors", bytes);
        AssertOpenFails(path, "header length", "5000");
    }

    [Fact]
    public void HeaderLengthAbsurd()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue - 3);
        string path = WriteFile("absurd.safetensors", bytes);
        AssertOpenFails(path, "header length", "limit");
    }

    [Theory]
    [InlineData("garbage", "{not json at all")]
    [InlineData("array", "[1,2,3]")]
    [InlineData("empty", "")]
    [InlineData("trailing", "{} {}")]
    public void HeaderNotJsonObject(string label, string header)
    {
        string path = WriteHeader($"json-{label}.safetensors", header, Array.Empty<byte>());
        AssertOpenFails(path, "header");
    }

    [Fact]
    public void HeaderInvalidUtf8()
    {
        var raw = Encoding.UTF8.GetBytes("{\"a\xff\":{}}      ").ToArray();
        raw[3] = 0xFF; // replace the encoded char with a lone invalid byte
        var bytes = new byte[8 + raw.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)raw.Length);
        raw.CopyTo(bytes, 8);
        string path = WriteFile("badutf8.safetensors", bytes);
        AssertOpenFails(path, "UTF-8");
    }

    [Theory]
    [InlineData("nodtype", "\"t.x\":{\"shape\":[1],\"data_offsets\":[0,4]}", "dtype")]
    [InlineData("noshape", "\"t.x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", "shape")]
    [InlineData("nooffsets", "\"t.x\":{\"dtype\":\"F32\",\"shape\":[1]}", "data_offsets")]
    [InlineData("dtypenum", "\"t.x\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}", "dtype")]
    [InlineData("shapestr", "\"t.x\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}", "shape")]
    [InlineData("shapefloat", "\"t.x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}", "shape")]
    [InlineData("negdim", "\"t.x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", "negative")]
    [InlineData("offsets3", "\"t.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}", "data_offsets")]
    [InlineData("offsetsneg", "\"t.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,4]}", "data_offsets")]
    [InlineData("beginafterend", "\"t.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}", "begin 4 > end 0")]
    [InlineData("notobject", "\"t.x\":[1,2]", "dtype")]
    public void MalformedEntry_NamesTensorAndField(string label, string entry, string field)
    {
        string path = WriteHeader($"entry-{label}.safetensors", "{" + entry + "}", Floats(1));
        AssertOpenFails(path, "t.x", field);
    }

    [Fact]
    public void UnknownDType()
    {
        string path = WriteHeader("dtype.safetensors", "{" + Entry("enc.w", "F8_E4M3", "[4]", 0, 4) + "}", new byte[4]);
        var ex = AssertOpenFails(path, "enc.w", "dtype", "F8_E4M3");
        Assert.Equal("enc.w", ex.TensorName);
    }

    [Fact]
    public void LowercaseDType_IsRejected()
    {
        string path = WriteHeader("lower.safetensors", "{" + Entry("w", "f32", "[1]", 0, 4) + "}", new byte[4]);
        AssertOpenFails(path, "'w'", "dtype", "f32");
    }

    [Fact]
    public void WrongByteLengthForShape()
    {
        // shape [3] of F32 needs 12 bytes, offsets give 8
        string path = WriteHeader("len.safetensors", "{" + Entry("layer.bias", "F32", "[3]", 0, 8) + "}", Floats(1, 2));
        AssertOpenFails(path, "layer.bias", "data_offsets", "12");
    }

    [Fact]
    public void OverlappingOffsets_NameBothTensors()
    {
        string header = "{" + Entry("first", "F32", "[2]", 0, 8) + "," + Entry("second", "F32", "[2]", 4, 12) + "}";
        string path = WriteHeader("overlap.safetensors", header, Floats(1, 2, 3));
        AssertOpenFails(path, "second", "first", "overlaps");
    }

    [Fact]
    public void AliasedTensors_SameOffsets_AreOverlap()
    {
        string header = "{" + Entry("x", "F32", "[2]", 0, 8) + "," + Entry("y", "F32", "[2]", 0, 8) + "}";
        string path = WriteHeader("alias.safetensors", header, Floats(1, 2));
        AssertOpenFails(path, "overlaps", "data_offsets");
    }

    [Fact]
    public void GapBetweenTensors()
    {
        string header = "{" + Entry("x", "F32", "[1]", 0, 4) + "," + Entry("y", "F32", "[1]", 8, 12) + "}";
        string path = WriteHeader("gap.safetensors", header, Floats(1, 2, 3));
        AssertOpenFails(path, "'y'", "gap");
    }

    [Fact]
    public void TrailingBytesAfterLastTensor()
    {
        string path = WriteHeader("trailing.safetensors", "{" + Entry("x", "F32", "[1]", 0, 4) + "}", Floats(1, 2));
        AssertOpenFails(path, "data section", "8 bytes", "4 bytes");
    }

    [Fact]
    public void DuplicateTensorNames()
    {
        string header = "{" + Entry("dup.w", "F32", "[1]", 0, 4) + "," + Entry("dup.w", "F32", "[1]", 4, 8) + "}";
        string path = WriteHeader("dup.safetensors", header, Floats(1, 2));
        AssertOpenFails(path, "dup.w", "duplicate");
    }

    [Fact]
    public void MetadataWithNonStringValue()
    {
        string header = "{\"__metadata__\":{\"epoch\":3}," + Entry("x", "F32", "[1]", 0, 4) + "}";
        string path = WriteHeader("meta.safetensors", header, Floats(1));
        AssertOpenFails(path, "__metadata__.epoch");
    }

    [Fact]
    public void MissingTensorLookup_NamesFileTensorAndCloseNames()
    {
        string path = _dir.File("lookup.safetensors");
        SafeTensorsWriter.Write(path, new[]
        {
            ("encoder.layer.0.attention.self.query.weight", new[] { 1 }, new[] { 1f }),
            ("encoder.layer.0.attention.self.key.weight", new[] { 1 }, new[] { 1f }),
            ("pooler.dense.bias", new[] { 1 }, new[] { 1f }),
        });
        using var f = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<CheckpointException>(() => f["encoder.layer.0.attention.self.querry.weight"]);
        AssertMessage(ex, path, "encoder.layer.0.attention.self.querry.weight", "'encoder.layer.0.attention.self.query.weight'");
        Assert.Equal("encoder.layer.0.attention.self.querry.weight", ex.TensorName);
        // the closest suggestion is listed first
        int q = ex.Message.IndexOf("'encoder.layer.0.attention.self.query.weight'", StringComparison.Ordinal);
        int p = ex.Message.IndexOf("'pooler.dense.bias'", StringComparison.Ordinal);
        Assert.True(p < 0 || q < p);
        Assert.False(f.TryGet("nope", out _));
    }

    [Fact]
    public void FileTruncatedAfterOpen_ReadFailsWithCheckpointException()
    {
        string path = _dir.File("shrink.safetensors");
        SafeTensorsWriter.Write(path, new[] { ("x", new[] { 1024 }, new float[1024]) });
        using var f = SafeTensorsFile.Open(path);
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            fs.SetLength(fs.Length - 100);
        var ex = Assert.Throws<CheckpointException>(() => f["x"].ToFloat32());
        AssertMessage(ex, path, "'x'", "end of file");
    }
}
