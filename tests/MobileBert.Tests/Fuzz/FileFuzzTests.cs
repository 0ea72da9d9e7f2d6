using System.Text;
using CsCheck;
using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Tests.Api;
using MobileBert.Tests.FineTuning;
using Xunit;
using Xunit.Abstractions;
using MobileBert.Tasks;

namespace MobileBert.Tests.Fuzz;

/// <summary>
/// Property-based / mutation tests of every file the library reads: safetensors headers and bodies, PyTorch checkpoints, config.json, model
/// folders, JSONL/CSV/TSV user data and SQuAD JSON. Properties: only documented user-input exceptions (the CLI's
/// `error:` lines), bounded time and allocation per case, and for data files one row or one skipped entry per line.
/// Deterministic (fixed seed, fixed case counts; see <see cref="FuzzRunner"/>).
/// </summary>
public class FileFuzzTests(ITestOutputHelper output)
{
    /// <summary>Per-case allocation bound: a hostile header or config must fail before allocating for what it claims.</summary>
    const long MaxBytesPerCase = 256L << 20;

    static string Bounded(Action body)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = FuzzRunner.OnlyUserErrors(body);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > MaxBytesPerCase) throw new InvalidOperationException(
            $"allocated {allocated:N0} bytes (bound {MaxBytesPerCase:N0}); error was: {error?.Message}");
        if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new InvalidOperationException($"took {clock.Elapsed}");
        if (error is not null && error.Message.Contains("   at ", StringComparison.Ordinal)) throw new InvalidOperationException(
            "error message holds a stack trace");
        return error is null ? "ok" : "error";
    }

    static byte[] ValidSafeTensors()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "v.safetensors");
        SafeTensorsWriter.Write(path, [("a.weight", new[] { 2, 3 }, new float[] { 1, 2, 3, 4, 5, 6 }),
            ("b.bias", new[] { 3 }, new float[] { 7, 8, 9 })],
            new Dictionary<string, string> { ["format"] = "pt" });
        return File.ReadAllBytes(path);
    }

    /// <summary>Headers written from parts: any dtype string, any shape (negative, huge, overflowing), any offsets.</summary>
    static readonly Gen<byte[]> HostileHeader = Gen.Select(
        Gen.OneOf("F32", "F16", "BF16", "I8", "I64", "U8", "BOOL", "F64", "Q4", ""),
        Gen.OneOf("[2,3]", "[]", "[0]", "[-1]", "[3000000000]", "[65536,65536,65536]", "[1,2,3,4,5,6,7,8,9]", "[2.5]", "\"x\"", "null"),
        Gen.OneOf("[0,24]", "[0,0]", "[24,0]", "[0,999999999999]", "[-8,16]", "[0]", "[\"0\",\"24\"]", "null", "[0,24,48]"),
        Gen.OneOf(0L, 8L, 24L, 100_000_001L, long.MaxValue, -1L),
        (dtype, shape, offsets, claimedLength) =>
        {
            string header = $"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}";
            byte[] h = Encoding.UTF8.GetBytes(header);
            long len = claimedLength == 0 ? h.Length : claimedLength;
            return (byte[])[.. BitConverter.GetBytes(len), .. h, .. new byte[24]];
        });

    [Fact]
    public void SafeTensorsHeadersAndBodies()
    {
        var dir = TestPaths.NewTempDir();
        var gen = Gen.Frequency((3, FuzzInputs.Mutations(ValidSafeTensors())), (2, HostileHeader));
        int n = 0;
        FuzzRunner.Run(output, "safetensors", gen, 400, bytes =>
        {
            var path = Path.Combine(dir, $"f{n++}.safetensors");
            File.WriteAllBytes(path, bytes);
            return Bounded(() =>
            {
                using var f = SafeTensorsFile.Open(path);
                foreach (var e in f.Entries)
                    if (e.DType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16) _ = e.ToFloat32();
            });
        }, b => Convert.ToHexString(b));
    }

    [Theory]
    [InlineData("views.bin")]
    [InlineData("views_legacy.bin")]
    public void PyTorchCheckpoints(string fixture)
    {
        var dir = TestPaths.NewTempDir();
        int n = 0;
        FuzzRunner.Run(output, "pytorch " + fixture, FuzzInputs.Mutations(File.ReadAllBytes(TestPaths.Golden("pytorch", fixture))), 300, bytes =>
        {
            var path = Path.Combine(dir, $"f{n++}.bin");
            File.WriteAllBytes(path, bytes);
            return Bounded(() => _ = PyTorchCheckpoint.Read(path));
        }, b => Convert.ToHexString(b));
    }

    static string MicroConfigJson() => ConfigJson.ToJson(Presets.MobileBertMicro());

    [Fact]
    public void ConfigJsonAndModelFolders()
    {
        var model = PredictorTests.RandomTaskFolder(new TaskInfo
        {
            Task = "csv", Name = "f", Kind = TaskInfoKind.Classification, Labels = ["a", "b"], Metrics = ["acc"], MainMetric = "acc",
                MaxSeqLength = 16,
        });
        string valid = File.ReadAllText(Path.Combine(model, "config.json"));
        FuzzRunner.Run(output, "config.json", FuzzInputs.JsonMutations(valid), 300, json =>
        {
            var dir = TestPaths.NewTempDir();
            File.WriteAllBytes(Path.Combine(dir, "config.json"), Encoding.UTF8.GetBytes(json));   // a lone surrogate becomes EF BF BD
            File.Copy(Path.Combine(model, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
            File.Copy(Path.Combine(model, "vocab.txt"), Path.Combine(dir, "vocab.txt"));
            File.Copy(Path.Combine(model, "task.json"), Path.Combine(dir, "task.json"));
            Bounded(() => ConfigJson.Load(Path.Combine(dir, "config.json")));
            Bounded(() => ModelFolder.Load(dir));
            return Bounded(() => TextClassifier.Load(dir, new PredictorOptions { Threads = 1 }).Dispose());
        });
    }

    [Fact]
    public void ModelFoldersWithMissingOrCorruptFiles()
    {
        var model = PredictorTests.RandomTaskFolder(new TaskInfo
        {
            Task = "csv", Name = "f", Kind = TaskInfoKind.Classification, Labels = ["a", "b"], Metrics = ["acc"], MainMetric = "acc",
                MaxSeqLength = 16,
        });
        string[] files = ["config.json", "model.safetensors", "vocab.txt", "task.json"];
        var originals = files.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(model, f)));
        var gen = Gen.Select(Gen.Int[0, 15], Gen.Int[0, 3], Gen.Int[0, 1_000_000], Gen.Byte.Array[1, 8],
            (present, corrupt, at, junk) => (present, corrupt, at, junk));
        FuzzRunner.Run(output, "model folder", gen, 80, c =>
        {
            var dir = TestPaths.NewTempDir();
            for (int i = 0; i < files.Length; i++)
            {
                // bit set: this file is missing (weights always present, corrupted or not)
                if ((c.present & (1 << i)) != 0 && i != 1) continue;
                var bytes = (byte[])originals[files[i]].Clone();
                if (i == c.corrupt) { int p = c.at % bytes.Length; for (int k = 0; k < c.junk.Length && p + k < bytes.Length;
                    k++) bytes[p + k] = c.junk[k]; }
                File.WriteAllBytes(Path.Combine(dir, files[i]), bytes);
            }
            Bounded(() => ModelFolder.Load(dir));
            Bounded(() => TaskInfo.Load(dir));
            return Bounded(() => TextClassifier.Load(dir, new PredictorOptions { Threads = 1 }).Dispose());
        }, c => $"missing mask {c.present}, corrupt {files[c.corrupt]} at {c.at}: {Convert.ToHexString(c.junk)}");
    }

    static readonly Gen<string> CsvField = Gen.Frequency(
        (5, Gen.String[Gen.Char['a', 'z'], 0, 8]), (1, Gen.OneOf("\"q,uoted\"", "\"bad\"quote", "\"open", "a\"b", "\"multi\nline\"", "pos", "neg",
        "")),
        (1, FuzzInputs.HostileString));

    [Fact]
    public void UserDataJsonlCsvAndTsv()
    {
        var dir = TestPaths.NewTempDir();
        var jsonlLine = Gen.Frequency(
            (5, Gen.Select(FuzzInputs.JsonStringBody, Gen.OneOf("pos", "neg", "1", ""), (t, l) => $"{{\"text\":\"{t}\",\"label\":\"{l}\"}}")),
            (1, Gen.OneOf("{\"text\":\"a\",\"label\":1}", "{\"text\":[1],\"label\":\"pos\"}", "{\"text\":\"a\"}", "[1,2]",
            "{\"text\":\"a\",\"label\":\"pos\"")),
            (1, FuzzInputs.TextJsonLine));
        var delimitedLine = (char d) => CsvField.Array[1, 4].Select(f => string.Join(d, f));
        var gen = Gen.Select(Gen.Int[0, 2], Gen.Bool, Gen.Int[0, 1_000_000], (format, skip, id) => (format, skip, id)).SelectMany(k =>
            FuzzInputs.LinesAsBytes(k.format == 0 ? jsonlLine : delimitedLine(k.format == 1 ? ',' : '\t'), 12).Select(
            bytes => (k.format, k.skip, bytes)));
        int n = 0;
        FuzzRunner.Run(output, "user data (JSONL/CSV/TSV)", gen, 400, c =>
        {
            string ext = c.format switch { 0 => ".jsonl", 1 => ".csv", _ => ".tsv" };
            var path = Path.Combine(dir, $"d{n++}{ext}");
            byte[] bytes = c.format == 0 ? c.bytes : [.. (c.format == 1 ? "text,label\n"u8 : "text\tlabel\n"u8), .. c.bytes];
            File.WriteAllBytes(path, bytes);
            RawDataset? raw = null;
            if (Bounded(() => raw = UserDataReader.Read(path, new UserDataOptions { SkipBadRows = c.skip })) != "ok") return "error";
            if (c.format == 0)
            {
                int lines = new MobileBert.Text.LineReader(new MemoryStream(bytes), new MobileBert.Text.TextSanitizer()).Lines().Count();
                Assert.Equal(lines, raw!.Rows.Count + raw.Skipped.Count);   // every line is a row or a reported skip
            }
            Assert.Equal(raw!.Rows.Select(r => r.Line).Order(), raw.Rows.Select(r => r.Line));
            foreach (var r in raw.Rows) Assert.Equal(r.Text, new MobileBert.Text.TextSanitizer().Clean(r.Text));   // no unpaired surrogate left
            return raw!.Rows.Count == 0 ? "ok (no rows)" : Bounded(() => TaskDataset.FromRaw(
                TaskDefinition.InferClassification("f", raw), raw, c.skip));
        }, c => $"format {c.format}, skip {c.skip}: {Convert.ToHexString(c.bytes)}");
    }

    [Fact]
    public void SquadJson()
    {
        string valid = File.ReadAllText(FineTuneTestData.WordnetQa("dev-v2.json"));
        if (valid.Length > 6000) valid = SmallSquad;   // small inputs: more mutations per second
        FuzzRunner.Run(output, "SQuAD JSON", FuzzInputs.JsonMutations(valid), 300, json =>
        {
            Bounded(() => SquadReader.Parse(json, "fuzz.json"));
            return Bounded(() => SquadReader.Parse(json, "fuzz.json", new SquadReadOptions { SkipInconsistentAnswers = true }));
        });
    }

    const string SmallSquad = """
        {"version":"v2.0","data":[{"title":"T","paragraphs":[{"context":"The cat sat on the mat. It was warm.","qas":[
        {"id":"q1","question":"Where did the cat sit?","answers":[{"text":"on the mat","answer_start":12}],"is_impossible":false},
        {"id":"q2","question":"Who?","answers":[],"plausible_answers":[{"text":"The cat","answer_start":0}],"is_impossible":true}]}]}]}
        """;
}
