using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MobileBert.Checkpoints;
using Xunit;
using static MobileBert.Tests.Checkpoints.CheckpointTestUtil;

namespace MobileBert.Tests.Checkpoints;

public class NpyTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Builds a .npy file by hand (version 1.0 unless given), header padded like numpy.</summary>
    private string WriteNpy(string name, string dict, byte[] data, byte major = 1, bool pad = true)
    {
        int lenBytes = major == 1 ? 2 : 4;
        string header = dict;
        if (pad)
        {
            int total = 8 + lenBytes + header.Length + 1;
            header += new string(' ', (64 - total % 64) % 64) + "\n";
        }
        byte[] h = major == 3 ? Encoding.UTF8.GetBytes(header) : Encoding.Latin1.GetBytes(header);
        using var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0]);
        var len = new byte[lenBytes];
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)h.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)h.Length);
        ms.Write(len);
        ms.Write(h);
        ms.Write(data);
        string path = _dir.File(name);
        File.WriteAllBytes(path, ms.ToArray());
        return path;
    }

    private static CheckpointException AssertReadFails(string path, params string[] mustContain)
    {
        var ex = Assert.Throws<CheckpointException>(() => Npy.Read(path));
        AssertMessage(ex, path, mustContain);
        return ex;
    }

    [Fact]
    public void GoldenInputIds_Int64()
    {
        var a = Npy.Read(GoldenTiny("input_ids.npy"));
        Assert.Equal(TensorDType.I64, a.DType);
        Assert.Equal(new[] { 3, 16 }, a.Shape);
        var ids = a.ToInt64();
        Assert.Equal(48, ids.Length);
        Assert.Equal(new long[] { 265, 321, 199, 715 }, ids[..4]);
        Assert.Equal(new long[] { 0, 0, 0 }, ids[27..30]); // padding in row 2
        Assert.Equal(352, ids[^1]);
        Assert.Equal(ids.Select(v => (int)v), a.ToInt32());
        Assert.All(ids, v => Assert.InRange(v, 0, 999));
        Assert.Throws<CheckpointException>(() => Npy.Read(GoldenTiny("last_hidden_state.npy")).ToInt64());
    }

    [Fact]
    public void GoldenLastHiddenState_Float32()
    {
        var a = Npy.Read(GoldenTiny("last_hidden_state.npy"));
        Assert.Equal(TensorDType.F32, a.DType);
        Assert.Equal(new[] { 3, 16, 64 }, a.Shape);
        var v = a.ToFloat32();
        Assert.Equal(3 * 16 * 64, v.Length);
        Assert.Equal(new[] { 0.459325909614563f, -0.4111919105052948f, -0.3089412748813629f }, v[..3]);
        Assert.Equal(0.33830526471138f, v[^1]);
        Assert.Equal(185.41334288666258, v.Sum(x => (double)x), 1e-6);
    }

    [Fact]
    public void AllGoldenNpyFiles_MatchManifestShapesAndDTypes()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(GoldenTiny("manifest.json")));
        int checkedFiles = 0;
        foreach (var section in new[] { "inputs", "outputs" })
        {
            foreach (var item in manifest.RootElement.GetProperty(section).EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.Object || !item.Value.TryGetProperty("file", out var file)) continue;
                string fileName = file.GetString()!;
                if (!fileName.EndsWith(".npy", StringComparison.Ordinal)) continue;
                var a = Npy.Read(GoldenTiny(fileName));
                var expectedShape = item.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                Assert.Equal(expectedShape, a.Shape);
                string dtype = item.Value.GetProperty("dtype").GetString()!;
                Assert.Equal(dtype == "int64" ? TensorDType.I64 : TensorDType.F32, a.DType);
                Assert.Equal(expectedShape.Aggregate(1L, (x, y) => x * y), a.ElementCount);
                if (a.DType == TensorDType.F32) Assert.All(a.ToFloat32(), x => Assert.False(float.IsNaN(x)));
                checkedFiles++;
            }
        }
        Assert.True(checkedFiles >= 20, $"only {checkedFiles} npy files found in manifest");
    }

    [Theory]
    [InlineData("input_ids.npy")]
    [InlineData("last_hidden_state.npy")]
    [InlineData("next_sentence_label.npy")]
    [InlineData("attentions.npy")]
    public void Write_ReproducesNumpyFilesByteForByte(string file)
    {
        string src = GoldenTiny(file);
        var a = Npy.Read(src);
        string dst = _dir.File(file);
        if (a.DType == TensorDType.I64) Npy.Write(dst, a.Shape, a.ToInt64());
        else Npy.Write(dst, a.Shape, a.ToFloat32());
        Assert.Equal(File.ReadAllBytes(src), File.ReadAllBytes(dst));
    }

    [Fact]
    public void RoundTrip_ScalarEmptyAndOverwrite()
    {
        string path = _dir.File("x.npy");
        Npy.Write(path, Array.Empty<int>(), new[] { 3.5f });
        var s = Npy.Read(path);
        Assert.Empty(s.Shape);
        Assert.Equal(new[] { 3.5f }, s.ToFloat32());

        Npy.Write(path, new[] { 0, 5 }, Array.Empty<long>());
        var e = Npy.Read(path);
        Assert.Equal(new[] { 0, 5 }, e.Shape);
        Assert.Equal(TensorDType.I64, e.DType);
        Assert.Empty(e.ToInt64());
        Assert.Single(Directory.GetFiles(_dir.Path)); // no temp files left behind

        Assert.Throws<ArgumentException>(() => Npy.Write(path, new[] { 2, 2 }, new float[3]));
    }

    [Fact]
    public void ToInt32_OutOfRange_Throws()
    {
        string path = _dir.File("big.npy");
        Npy.Write(path, new[] { 2 }, new long[] { 1, 1L << 40 });
        var ex = Assert.Throws<CheckpointException>(() => Npy.Read(path).ToInt32());
        AssertMessage(ex, path, "int32");
    }

    [Fact]
    public void OtherDTypesAndVersions_Read()
    {
        var f8 = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(f8, 0.25);
        BinaryPrimitives.WriteDoubleLittleEndian(f8.AsSpan(8), -1.5);
        var a = Npy.Read(WriteNpy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8));
        Assert.Equal(TensorDType.F64, a.DType);
        Assert.Equal(new[] { 0.25f, -1.5f }, a.ToFloat32());

        var f2 = new byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(f2, 0x3C00);
        BinaryPrimitives.WriteUInt16LittleEndian(f2.AsSpan(2), 0xC100);
        Assert.Equal(new[] { 1f, -2.5f }, Npy.Read(WriteNpy("f2.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }", f2))
            .ToFloat32());

        var i4 = new byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(i4, -7);
        BinaryPrimitives.WriteInt32LittleEndian(i4.AsSpan(4), 9);
        var ai4 = Npy.Read(WriteNpy("i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", i4, major: 2));
        Assert.Equal(TensorDType.I32, ai4.DType);
        Assert.Equal(new[] { -7, 9 }, ai4.ToInt32());

        var b1 = Npy.Read(WriteNpy("b1.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", new byte[] { 1, 0, 1 }, major: 3));
        Assert.Equal(TensorDType.Bool, b1.DType);
        Assert.Equal(new long[] { 1, 0, 1 }, b1.ToInt64());

        var u1 = Npy.Read(WriteNpy("u1.npy", "{\"shape\": (2,), \"descr\": \"|u1\", \"fortran_order\": False}", new byte[] { 200, 3 }));
        Assert.Equal(new[] { 200f, 3f }, u1.ToFloat32());

        var i1 = Npy.Read(WriteNpy("i1.npy", "{'descr': '|i1', 'fortran_order': False, 'shape': (2L,), }", new byte[] { 0xFF, 3 }));
        Assert.Equal(new long[] { -1, 3 }, i1.ToInt64());
    }

    [Fact]
    public void BadMagic()
    {
        string path = _dir.File("bad-magic.npy");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("PK\x03\x04 this is a zip, not npy"));
        AssertReadFails(path, "magic");
        string tiny = _dir.File("tiny.npy");
        File.WriteAllBytes(tiny, new byte[] { 0x93, (byte)'N' });
        AssertReadFails(tiny, "magic");
    }

    [Fact]
    public void UnsupportedVersion()
    {
        string path = WriteNpy("v4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4], major: 4);
        AssertReadFails(path, "version 4.0");
    }

    [Fact]
    public void FortranOrder()
    {
        string path = WriteNpy("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", new byte[24]);
        AssertReadFails(path, "fortran_order");
    }

    [Theory]
    [InlineData("complex", "<c8", "unsupported dtype '<c8'")]
    [InlineData("bigendian", ">f4", "big-endian")]
    [InlineData("string", "<U10", "'<U10'")]
    [InlineData("object", "|O", "'|O'")]
    public void UnsupportedDType(string label, string descr, string expected)
    {
        string path = WriteNpy($"dtype-{label}.npy", $"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}", new byte[8]);
        AssertReadFails(path, "descr", expected);
    }

    [Fact]
    public void StructuredDType()
    {
        string path = WriteNpy("structured.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4]);
        AssertReadFails(path, "descr", "structured");
    }

    [Fact]
    public void TruncatedData()
    {
        string path = WriteNpy("trunc.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16), }", new byte[3 * 16 * 4 - 1]);
        AssertReadFails(path, "truncated", "[3,16]", "192");
    }

    [Fact]
    public void TruncatedGoldenFile()
    {
        byte[] golden = File.ReadAllBytes(GoldenTiny("input_ids.npy"));
        string path = _dir.File("input_ids_cut.npy");
        File.WriteAllBytes(path, golden[..^8]);
        AssertReadFails(path, "truncated", "384");
    }

    [Fact]
    public void TrailingBytes()
    {
        string path = WriteNpy("trail.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[8]);
        AssertReadFails(path, "trailing");
    }

    [Theory]
    [InlineData("nodescr", "{'fortran_order': False, 'shape': (1,), }", "descr")]
    [InlineData("noshape", "{'descr': '<f4', 'fortran_order': False, }", "shape")]
    [InlineData("noorder", "{'descr': '<f4', 'shape': (1,), }", "fortran_order")]
    [InlineData("negshape", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "shape")]
    [InlineData("shapestr", "{'descr': '<f4', 'fortran_order': False, 'shape': 'x', }", "shape")]
    [InlineData("ordernum", "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", "fortran_order")]
    [InlineData("garbage", "{'descr': '<f4', 'fortran_order': Fals", "dict literal")]
    [InlineData("notdict", "('<f4', False, (1,))", "dict")]
    [InlineData("code", "__import__('os').system('echo pwned')", "dict literal")]
    public void MalformedHeader(string label, string dict, string field)
    {
        string path = WriteNpy($"hdr-{label}.npy", dict, new byte[4]);
        AssertReadFails(path, field);
    }

    [Fact]
    public void HeaderLengthPastEndOfFile()
    {
        string path = _dir.File("hdrlen.npy");
        var bytes = new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0xFF, 0x7F, (byte)'{' };
        File.WriteAllBytes(path, bytes);
        AssertReadFails(path, "header length");
    }

    [Fact]
    public void MissingFile()
    {
        string path = _dir.File("missing.npy");
        var ex = AssertReadFails(path);
        Assert.IsType<FileNotFoundException>(ex.InnerException);
    }
}
