using System.Buffers.Binary;
using System.Text.Json;
using MobileBert.Checkpoints;
using Xunit;
using static MobileBert.Tests.Checkpoints.CheckpointTestUtil;

namespace MobileBert.Tests.Checkpoints;

public class SafeTensorsGoldenTests
{
    [Fact]
    public void GoldenTinyWeights_HeaderAndValues()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(GoldenTiny("manifest.json")));
        var weights = manifest.RootElement.GetProperty("weights");

        using var f = SafeTensorsFile.Open(GoldenTiny(weights.GetProperty("file").GetString()!));
        Assert.Equal(89, f.Names.Count);
        Assert.Equal(weights.GetProperty("n_tensors").GetInt32(), f.Names.Count);
        Assert.Equal(weights.GetProperty("n_values").GetInt64(), f.Entries.Sum(e => e.ElementCount));
        Assert.Equal("classifier.bias", f.Names[0]); // file order
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal("tiny", f.Metadata["config"]);
        Assert.Equal(f.Names, f.Entries.Select(e => e.Name));

        Assert.True(f.Contains("mobilebert.embeddings.word_embeddings.weight"));
        Assert.False(f.Contains("cls.predictions.decoder.weight")); // tied, not stored
        var emb = f["mobilebert.embeddings.word_embeddings.weight"];
        Assert.Equal(TensorDType.F32, emb.DType);
        Assert.Equal(new[] { 1000, 32 }, emb.Shape);
        Assert.Equal(32000, emb.ElementCount);
        var embValues = emb.ToFloat32();
        // Reference values read from the file with Python's struct module.
        Assert.Equal(-0.7147092223167419f, embValues[0]);
        Assert.Equal(-0.03562493622303009f, embValues[1]);
        Assert.Equal(0.06819964945316315f, embValues[2]);
        Assert.Equal(0.1953764706850052f, embValues[3]);
        Assert.Equal(new[] { 0.02079131454229355f, -0.004822694230824709f, -0.04135490208864212f }, f["classifier.bias"].ToFloat32());
        Assert.Equal(new[] { 32, 64 }, f["mobilebert.encoder.layer.1.output.dense.weight"].Shape);

        double sum = 0, sumAbs = 0;
        foreach (var e in f.Entries)
        {
            var v = e.ToFloat32();
            Assert.Equal(e.ElementCount, v.Length);
            var viaCopy = new float[e.ElementCount];
            e.CopyTo(viaCopy);
            Assert.Equal(v, viaCopy);
            foreach (float x in v)
            {
                Assert.True(float.IsFinite(x), $"{e.Name} has a non-finite value");
                sum += x;
                sumAbs += Math.Abs(x);
            }
        }
        Assert.Equal(480.5223705057681, sum, 1e-6);
        Assert.Equal(20203.933870275567, sumAbs, 1e-5);
    }

    [Theory]
    [InlineData("grads.safetensors")]
    [InlineData("params_after_adamw_step1.safetensors")]
    public void OtherGoldenSafeTensorsFilesOpen(string file)
    {
        using var f = SafeTensorsFile.Open(GoldenTiny(file));
        Assert.NotEmpty(f.Names);
        foreach (var e in f.Entries)
            Assert.All(e.ToFloat32(), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void RewritingGoldenWeights_ReproducesTensorEntriesAndDataSectionByteForByte()
    {
        string src = GoldenTiny("weights.safetensors");
        using var dir = new TempDir();
        string dst = dir.File("rewritten.safetensors");
        using (var f = SafeTensorsFile.Open(src))
            SafeTensorsWriter.Write(dst, f.Entries.Select(e => (e.Name, e.Shape, e.ToFloat32())).ToList(), f.Metadata);

        var (srcHeader, srcData) = Split(File.ReadAllBytes(src));
        var (dstHeader, dstData) = Split(File.ReadAllBytes(dst));
        Assert.Equal(srcData, dstData);
        using var a = JsonDocument.Parse(srcHeader);
        using var b = JsonDocument.Parse(dstHeader);
        foreach (var p in a.RootElement.EnumerateObject())
        {
            var mine = b.RootElement.GetProperty(p.Name);
            if (p.Name == "__metadata__") // same map; our writer sorts metadata keys, the golden file keeps insertion order
                Assert.Equal(p.Value.EnumerateObject().Select(x => (x.Name, x.Value.GetString())).OrderBy(x => x.Name),
                             mine.EnumerateObject().Select(x => (x.Name, x.Value.GetString())));
            else
                Assert.Equal(p.Value.GetRawText(), mine.GetRawText()); // dtype, shape, data_offsets identical
        }
        Assert.Equal(a.RootElement.EnumerateObject().Count(), b.RootElement.EnumerateObject().Count());
    }

    private static (byte[] Header, byte[] Data) Split(byte[] file)
    {
        int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        return (file[8..(8 + n)], file[(8 + n)..]);
    }
}
