using System.Text;
using System.Text.Json;
using CsCheck;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Tests.Hardening;
using MobileBert.Tests.Text;
using MobileBert.Text;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Fuzz;

/// <summary>
/// The tokenizer on arbitrary Unicode and the text commands (tokenize, encode, predict) on hostile JSONL and plain
/// text: no unhandled exception, exit code 0 with exactly one output per input line, or exit code 1 with one `error:`
/// line and no output file. Deterministic (see <see cref="FuzzRunner"/>).
/// </summary>
[Collection("Console")]
public class TextFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void TokenizerOnArbitraryUnicode()
    {
        var tok = TokenizerTestData.Uncased;
        var gen = Gen.Select(FuzzInputs.HostileString, FuzzInputs.HostileString, Gen.Bool, Gen.Int[2, 24],
            (a, b, pair, max) => (a, b: pair ? b : null, max));
        FuzzRunner.Run(output, "tokenizer", gen, 3000, c =>
        {
            EncodedInput e;
            try { e = tok.Encode(c.a, c.b, c.max); }
            // documented: a pair needs room for 3 special tokens
            catch (ArgumentException) when (c.b is not null && c.max < 3) { return "error (pair in < 3 tokens)"; }
            Assert.InRange(e.InputIds.Length, 2, c.max);
            Assert.Equal(e.InputIds.Length, e.Tokens.Length);
            Assert.All(e.InputIds, id => Assert.InRange(id, 0, tok.VocabSize - 1));
            for (int i = 0; i < e.Offsets.Length; i++)
            {
                var (s, t) = e.Offsets[i];
                int len = e.TokenTypeIds[i] == 0 ? c.a.Length : c.b!.Length;
                Assert.True(0 <= s && s <= t && t <= len, $"offset [{s},{t}) of token {i} outside [0,{len}]");
            }
            string clean = new TextSanitizer().Clean(c.a);
            Assert.Equal(clean.Length, c.a.Length);                                       // replacement keeps UTF-16 offsets
            Assert.Equal(clean, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(clean)));   // well-formed after cleaning
            return "ok";
        }, c => JsonSerializer.Serialize(c));
    }

    static int InputLines(byte[] bytes) => new LineReader(new MemoryStream(bytes), new TextSanitizer()).Lines().Count();

    [Fact]
    public void TokenizeCommand()
    {
        FuzzRunner.Run(output, "tokenize CLI", FuzzInputs.LinesAsBytes(FuzzInputs.TextJsonLine, 8), 100, bytes =>
        {
            var stdout = new StringWriter(); var stderr = new StringWriter();
            int rc = MobileBert.Cli.TokenizeCommand.Run(new MemoryStream(bytes), stdout, stderr, TokenizerTestData.VocabPath, 32);
            int outLines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            if (rc == 0) Assert.Equal(InputLines(bytes), outLines);
            else
            {
                Assert.Equal(1, rc);
                Assert.StartsWith("error: ", stderr.ToString().Split('\n').First(l => !l.StartsWith("warning: ")));
                Assert.True(outLines < InputLines(bytes));
            }
            return rc == 0 ? "ok" : "error";
        }, b => Encoding.UTF8.GetString(b));
    }

    /// <summary>One CLI run on <paramref name="input"/> written to a file: exit 0 with one output per line (counted by
    /// <paramref name="outputs"/>), or exit 1 with an `error:` line and no output file.</summary>
    static string CheckRun(byte[] input, string inputName, string outputName, Func<string, string, string[]> args, Func<string, int> outputs)
    {
        var dir = TestPaths.NewTempDir();
        var inputPath = Path.Combine(dir, inputName);
        File.WriteAllBytes(inputPath, input);
        var outputPath = Path.Combine(Directory.CreateDirectory(Path.Combine(dir, "out")).FullName, outputName);
        var (rc, _, err) = CliHardeningTests.Cli(args(inputPath, outputPath));
        if (rc == 0) Assert.Equal(InputLines(input), outputs(outputPath));
        else
        {
            Assert.Equal(1, rc);
            Assert.NotNull(CliHardeningTests.ErrorLine(err));
            Assert.DoesNotContain("   at ", err);
            Assert.False(File.Exists(outputPath), "an output file was left behind by a failed run");
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(outputPath)!));
        }
        return rc == 0 ? "ok" : "error";
    }

    [Fact]
    public void EncodeCommand()
    {
        var model = CliHardeningTests.ClassifierFolder();
        var idsLine = Gen.Select(Gen.Int[-2, 31000].Array[1, 6], Gen.Int[0, 2], (ids, kind) => kind switch
        {
            0 => $"{{\"input_ids\":[{string.Join(",", ids)}]}}",
            1 => $"{{\"input_ids\":[{string.Join(",", ids)}],\"attention_mask\":[{string.Join(",", ids.Select(_ => 1))}]}}",
            _ => $"{{\"input_ids\":[{string.Join(",", ids)}],\"token_type_ids\":[0]}}",
        });
        var gen = Gen.Frequency((4, FuzzInputs.LinesAsBytes(FuzzInputs.TextJsonLine, 6)), (1, FuzzInputs.LinesAsBytes(idsLine, 4)));
        FuzzRunner.Run(output, "encode CLI", gen, 100, bytes => CheckRun(bytes, "in.jsonl", "o.safetensors",
            (input, outPath) => ["encode", "--model", model, "--input", input, "--output", outPath, "--threads", "1", "--batch-size", "3"], p =>
            {
                using var f = SafeTensorsFile.Open(p);
                Assert.All(f["last_hidden_state"].ToFloat32(), v => Assert.True(float.IsFinite(v)));
                return f["last_hidden_state"].Shape[0];
            }), b => Encoding.UTF8.GetString(b));
    }

    [Fact]
    public void PredictCommand()
    {
        var model = CliHardeningTests.ClassifierFolder();
        var plainLine = Gen.Frequency((3, Gen.String[Gen.Char['a', 'z'], 1, 12]), (1, FuzzInputs.HostileString),
            (1, Gen.OneOf("a\tb", "x\ry", " ", "")));
        var gen = Gen.Frequency((3, FuzzInputs.LinesAsBytes(FuzzInputs.TextJsonLine, 6)), (2, FuzzInputs.LinesAsBytes(plainLine, 6)));
        FuzzRunner.Run(output, "predict CLI", gen, 40, bytes => CheckRun(bytes, "in.txt", "p.jsonl",
            (input, outPath) => ["predict", "--model", model, "--input", input, "--output", outPath, "--threads", "1", "--batch", "2"],
            p => File.ReadAllLines(p).Length), b => Encoding.UTF8.GetString(b));
    }
}
