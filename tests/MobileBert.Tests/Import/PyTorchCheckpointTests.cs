using System.IO.Compression;
using System.Text;
using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Import;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Import;

/// <summary>
/// pytorch_model.bin → model folder, on files torch.save wrote (golden/pytorch, made by its make_fixtures.py from the
/// bert_tiny golden weights): both torch.save formats give the golden weights bit for bit, views and dtypes come out as torch
/// reads them, and broken or foreign pickles are refused with the file and the entry named.
/// </summary>
[Collection("Console")]   // redirects the process-wide Console.Error
public class PyTorchCheckpointTests
{
    static string Fixture(string name) => TestPaths.Golden("pytorch", name);
    static string GoldenWeights => TestPaths.Golden("model", "bert_tiny", "weights.safetensors");

    [Theory]
    [InlineData("bert_tiny_zip.bin")]
    [InlineData("bert_tiny_legacy.bin")]
    public void BothTorchSaveFormatsGiveTheGoldenWeightsBitForBit(string file)
    {
        var tensors = PyTorchCheckpoint.Read(Fixture(file)).ToDictionary(t => t.Name);
        using var golden = SafeTensorsFile.Open(GoldenWeights);
        foreach (var name in golden.Names)
        {
            var t = tensors[name];
            Assert.Equal(TensorDType.F32, t.DType);
            Assert.Equal(golden[name].Shape, t.Shape);
            Assert.Equal(golden[name].ToFloat32(), FloatsOf(t));
        }
        // The tied decoder shares the word embeddings' storage in the file; the buffer is int64.
        var words = tensors["bert.embeddings.word_embeddings.weight"].Data.ToArray();
        Assert.Equal(words, tensors["cls.predictions.decoder.weight"].Data.ToArray());
        var positions = tensors["bert.embeddings.position_ids"];
        Assert.Equal(TensorDType.I64, positions.DType);
        Assert.Equal([1, 64], positions.Shape);
        var ids = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(positions.Data.Span).ToArray();
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (long)i), ids);
        Assert.Equal(golden.Names.Count() + 2, tensors.Count);
    }

    [Theory]
    [InlineData("views.bin")]
    [InlineData("views_legacy.bin")]
    public void ViewsAndDtypesComeOutAsTorchReadsThem(string fileName)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture("views_expected.json")));
        var tensors = PyTorchCheckpoint.Read(Fixture(fileName));
        Assert.Equal(doc.RootElement.EnumerateObject().Select(p => p.Name), tensors.Select(t => t.Name));   // the file's order
        // Through a safetensors file, as the import writes them, and back to float32 with the reader every command uses.
        string path = Path.Combine(TestPaths.NewTempDir(), "views.safetensors");
        SafeTensorsWriter.WriteRaw(path, tensors.Select(t => (t.Name, t.DType, t.Shape, t.Data)));
        using var file = SafeTensorsFile.Open(path);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            Assert.Equal(p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), file[p.Name].Shape);
            var expected = p.Value.GetProperty("values").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(expected, file[p.Name].ToFloat32());
        }
        Assert.Equal([TensorDType.F32, TensorDType.F32, TensorDType.F32, TensorDType.F16, TensorDType.BF16, TensorDType.I64, TensorDType.F32],
            tensors.Select(t => t.DType));
    }

    [Fact]
    public void ImportedFolderLoadsWithTheGoldenParameters()
    {
        string src = TestPaths.NewTempDir(), outDir = Path.Combine(TestPaths.NewTempDir(), "model");
        File.Copy(Fixture("bert_tiny_zip.bin"), Path.Combine(src, PyTorchCheckpoint.HfFileName));
        File.Copy(TestPaths.Golden("model", "bert_tiny", "config.json"), Path.Combine(src, ModelFolder.ConfigFile));
        File.WriteAllText(Path.Combine(src, ModelFolder.VocabFile), "[PAD]\n[UNK]\n");
        var r = PyTorchImporter.Import(src, outDir);
        Assert.True(r.DroppedTiedDecoder);
        Assert.True(r.CopiedVocab);
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, ModelFolder.ConfigFile)), File.ReadAllBytes(Path.Combine(outDir, ModelFolder.ConfigFile)));
        using (var written = SafeTensorsFile.Open(Path.Combine(outDir, ModelFolder.WeightsFile)))
            Assert.DoesNotContain("cls.predictions.decoder.weight", written.Names);
        var model = ModelFolder.Load(outDir);
        using var golden = SafeTensorsFile.Open(GoldenWeights);
        int compared = 0;
        foreach (var p in model.Store.Parameters)
        {
            Assert.Equal(golden[p.Name].ToFloat32(), model.Store.Span(p).ToArray());
            compared++;
        }
        Assert.True(compared > 30);
    }

    [Fact]
    public void ASentenceTransformersFolderKeepsItsEmbeddingSettings()
    {
        string src = TestPaths.NewTempDir(), outDir = Path.Combine(TestPaths.NewTempDir(), "model");
        File.Copy(Fixture("bert_tiny_zip.bin"), Path.Combine(src, PyTorchCheckpoint.HfFileName));
        File.Copy(TestPaths.Golden("model", "bert_tiny", "config.json"), Path.Combine(src, ModelFolder.ConfigFile));
        new SentenceTransformersFolder(Pooling.Cls, true, 48).Write(src, 64);
        PyTorchImporter.Import(src, outDir);
        Assert.Equal(new SentenceTransformersFolder(Pooling.Cls, true, 48), SentenceTransformersFolder.Read(outDir));
        Assert.True(Directory.Exists(Path.Combine(outDir, "2_Normalize")));
        PyTorchImporter.Import(src, outDir);   // again into the same folder: a previous import's files are allowed

        // A malformed settings file fails the import, naming it, before anything is written.
        File.WriteAllText(Path.Combine(src, "modules.json"), "[{");
        string other = Path.Combine(TestPaths.NewTempDir(), "other");
        var e = Assert.Throws<CheckpointException>(() => PyTorchImporter.Import(src, other));
        Assert.StartsWith($"{Path.Combine(src, "modules.json")}: invalid JSON", e.Message);
        Assert.False(Directory.Exists(other));
    }

    [Fact]
    public void AHalfPrecisionMobileBertImportsInFloat16AndLoadsItsValues()
    {
        string src = TestPaths.NewTempDir(), outDir = Path.Combine(TestPaths.NewTempDir(), "model");
        File.Copy(Fixture("mobilebert_tiny_fp16.bin"), Path.Combine(src, PyTorchCheckpoint.HfFileName));
        var config = ConfigJson.Load(TestPaths.Golden("model", "tiny", "config.json"));
        config.Labels = ["LABEL_0", "LABEL_1", "LABEL_2"];   // the golden classifier has 3 rows (see golden/README.md)
        ConfigJson.Save(config, Path.Combine(src, ModelFolder.ConfigFile));
        var r = PyTorchImporter.Import(src, outDir);
        Assert.Equal([TensorDType.F16], r.DTypes);   // kept half size on disk
        Assert.False(r.CopiedVocab);
        var model = ModelFolder.Load(outDir);
        Assert.Equal(ModelType.MobileBert, model.Config.ModelType);
        using var golden = SafeTensorsFile.Open(TestPaths.Golden("model", "tiny", "weights.safetensors"));
        foreach (var p in model.Store.Parameters)
            Assert.Equal(golden[p.Name].ToFloat32().Select(v => (float)(Half)v), model.Store.Span(p).ToArray());
    }

    [Fact]
    public void BrokenAndForeignFilesAreRefusedNamingTheFileAndEntry()
    {
        string dir = TestPaths.NewTempDir();
        string Write(string name, byte[] bytes) { string p = Path.Combine(dir, name); File.WriteAllBytes(p, bytes); return p; }
        string Message(string path) => Assert.Throws<CheckpointException>(() => PyTorchCheckpoint.Read(path)).Message;

        string random = Write("random.bin", Encoding.ASCII.GetBytes("this is not a checkpoint"));
        Assert.Contains($"{random}: ", Message(random));
        var legacy = File.ReadAllBytes(Fixture("bert_tiny_legacy.bin"));
        string cut = Write("cut_legacy.bin", legacy[..(legacy.Length / 2)]);
        Assert.StartsWith($"{cut}: ", Message(cut));
        var zip = File.ReadAllBytes(Fixture("bert_tiny_zip.bin"));
        string cutZip = Write("cut_zip.bin", zip[..(zip.Length / 2)]);
        Assert.StartsWith($"{cutZip}: ", Message(cutZip));

        // {'a': 1}: a value that is not a tensor.
        string notTensor = Write("int.bin", ZipCheckpoint([0x80, 2, (byte)'}', .. Unicode("a"), (byte)'K', 1, (byte)'s', (byte)'.']));
        Assert.Equal($"{notTensor}: 'a' is the value 1, not a tensor.", Message(notTensor));
        // SETITEMS with a key and no value: refused, not the key silently dropped.
        string oddItems = Write("odd.bin", ZipCheckpoint([0x80, 2, (byte)'}', (byte)'(', .. Unicode("a"), (byte)'u', (byte)'.']));
        Assert.Contains("SETITEMS with a key and no value (pickle byte 10)", Message(oddItems));
        string badOp = Write("op.bin", ZipCheckpoint([0x80, 2, 0xff]));
        Assert.Contains("unsupported pickle opcode 0xff (pickle byte 2)", Message(badOp));
        // A view reaching past its storage: size 3, stride 2 over 4 elements.
        string past = Write("past.bin", ZipCheckpoint(TensorPickle(size: 3, stride: 2, storageElements: 4), storageBytes: 16));
        Assert.Equal($"{past}: 'w' reaches element 4 of storage '0', which has 4.", Message(past));
        string fine = Write("fine.bin", ZipCheckpoint(TensorPickle(size: 2, stride: 2, storageElements: 4), storageBytes: 16));
        Assert.Equal([2], PyTorchCheckpoint.Read(fine).Single().Shape);
        // The storage record shorter than the pickle says.
        string shortData = Write("short.bin", ZipCheckpoint(TensorPickle(size: 2, stride: 2, storageElements: 4), storageBytes: 8));
        Assert.Equal($"{shortData}: storage data/0 has 8 bytes, needs 16.", Message(shortData));
    }

    [Fact]
    public void CliImportsAFolder()
    {
        string src = TestPaths.NewTempDir(), outDir = Path.Combine(TestPaths.NewTempDir(), "model");
        File.Copy(Fixture("bert_tiny_legacy.bin"), Path.Combine(src, PyTorchCheckpoint.HfFileName));
        var noConfig = Run(["import", "--pytorch", src, "--out", outDir]);
        Assert.Equal((1, $"error: {Path.Combine(src, "config.json")}: missing (the HF config.json of the checkpoint; pass --config).\n"), noConfig);
        Assert.False(Directory.Exists(outDir));
        File.Copy(TestPaths.Golden("model", "bert_tiny", "config.json"), Path.Combine(src, ModelFolder.ConfigFile));
        var (rc, err) = Run(["import", "--pytorch", src, "--out", outDir]);
        Assert.Equal(0, rc);
        Assert.StartsWith("imported PyTorch checkpoint: bert, 2 layers, hidden 64, 51 tensors (145,263 values, F32/I64), " +
            "tied MLM decoder stored once", err);
        Assert.NotNull(ModelFolder.Load(outDir));
        Assert.Equal(1, Run(["import", "--out", outDir]).Rc);
    }

    [Theory]
    [InlineData("bert_tiny_zip.bin")]
    [InlineData("bert_tiny_legacy.bin")]
    public void AFolderWithOnlyPytorchModelBinLoadsDirectly(string file)
    {
        string src = TestPaths.NewTempDir();
        File.Copy(Fixture(file), Path.Combine(src, PyTorchCheckpoint.HfFileName));
        File.Copy(TestPaths.Golden("model", "bert_tiny", "config.json"), Path.Combine(src, ModelFolder.ConfigFile));
        ModelFolder.RequireFolder(src);
        Assert.Equal(Path.Combine(src, PyTorchCheckpoint.HfFileName), ModelFolder.WeightsPathOf(src));
        var model = ModelFolder.Load(src);
        Assert.True(model.Mlm is not null && model.HasPooler);   // every head of the file, the tied decoder checked
        using var golden = SafeTensorsFile.Open(GoldenWeights);
        foreach (var p in model.Store.Parameters) Assert.Equal(golden[p.Name].ToFloat32(), model.Store.Span(p).ToArray());
        Assert.Equal(golden.Names.Count(), model.Store.Parameters.Count());
    }

    [Fact]
    public void ModelSafetensorsIsPreferredAndABrokenBinIsNamed()
    {
        string dir = TestPaths.NewTempDir();
        File.Copy(TestPaths.Golden("model", "bert_tiny", "config.json"), Path.Combine(dir, ModelFolder.ConfigFile));
        var missing = Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir));
        Assert.Equal($"{Path.Combine(dir, ModelFolder.WeightsFile)}: missing (a model folder needs config.json and model.safetensors or " +
            "pytorch_model.bin).", missing.Message);
        string bin = Path.Combine(dir, PyTorchCheckpoint.HfFileName);
        var zip = File.ReadAllBytes(Fixture("bert_tiny_zip.bin"));
        File.WriteAllBytes(bin, zip[..(zip.Length / 2)]);
        Assert.StartsWith($"{bin}: ", Assert.Throws<CheckpointException>(() => ModelFolder.Load(dir)).Message);
        // With both files, model.safetensors is read (as HF's from_pretrained does): the broken .bin is never opened.
        File.Copy(GoldenWeights, Path.Combine(dir, ModelFolder.WeightsFile));
        Assert.Equal(Path.Combine(dir, ModelFolder.WeightsFile), ModelFolder.WeightsPathOf(dir));
        Assert.NotNull(ModelFolder.Load(dir));
    }

    static float[] FloatsOf(PyTorchTensor t) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.Data.Span).ToArray();

    static byte[] Unicode(string s) => [(byte)'X', .. BitConverter.GetBytes(Encoding.UTF8.GetByteCount(s)), .. Encoding.UTF8.GetBytes(s)];

    /// <summary>{'w': torch._utils._rebuild_tensor_v2(storage 0 (float, n elements), 0, (size,), (stride,), False, None)}
    /// in protocol 2, as torch.save writes it.</summary>
    static byte[] TensorPickle(int size, int stride, int storageElements) =>
    [
        0x80, 2, (byte)'}', .. Unicode("w"),
        (byte)'c', .. Encoding.ASCII.GetBytes("torch._utils\n_rebuild_tensor_v2\n"),
        (byte)'(',
        (byte)'(', .. Unicode("storage"), (byte)'c', .. Encoding.ASCII.GetBytes("torch\nFloatStorage\n"), .. Unicode("0"), .. Unicode("cpu"),
        (byte)'K', (byte)storageElements, (byte)'t', (byte)'Q',
        (byte)'K', 0, (byte)'K', (byte)size, 0x85, (byte)'K', (byte)stride, 0x85, 0x89, (byte)'N',
        (byte)'t', (byte)'R', (byte)'s', (byte)'.',
    ];

    static byte[] ZipCheckpoint(byte[] pickle, int storageBytes = -1)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
            if (storageBytes >= 0)
                using (var s = zip.CreateEntry("archive/data/0", CompressionLevel.NoCompression).Open()) s.Write(new byte[storageBytes]);
        }
        return ms.ToArray();
    }

    static (int Rc, string Err) Run(string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { return (CliApp.Run(args), err.ToString().ReplaceLineEndings("\n")); }
        finally { Console.SetError(old); }
    }
}
