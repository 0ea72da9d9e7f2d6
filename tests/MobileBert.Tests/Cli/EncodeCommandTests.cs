using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Cli;

[Collection("Console")]   // redirects the process-wide Console.Error
public class EncodeCommandTests
{
    /// <summary>The golden `tiny` checkpoint as a HF model folder (config with its 3-label classifier).</summary>
    static string GoldenFolder(string name)
    {
        var dir = TestPaths.NewTempDir();
        var c = ConfigJson.Load(TestPaths.Golden("model", name, "config.json"));
        c.Labels = ["a", "b", "c"];
        ConfigJson.Save(c, Path.Combine(dir, "config.json"));
        File.Copy(TestPaths.Golden("model", name, "weights.safetensors"), Path.Combine(dir, "model.safetensors"));
        return dir;
    }

    static string IdsJsonl(string name)
    {
        var ids = Npy.Read(TestPaths.Golden("model", name, "input_ids.npy"));
        var mask = Npy.Read(TestPaths.Golden("model", name, "attention_mask.npy")).ToInt32();
        var types = Npy.Read(TestPaths.Golden("model", name, "token_type_ids.npy")).ToInt32();
        int b = ids.Shape[0], s = ids.Shape[1];
        var all = ids.ToInt32();
        var path = Path.Combine(TestPaths.NewTempDir(), "in.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, b).Select(i => JsonSerializer.Serialize(new
        {
            input_ids = all[(i * s)..((i + 1) * s)], attention_mask = mask[(i * s)..((i + 1) * s)], token_type_ids = types[(i * s)..((i + 1) * s)],
        })));
        return path;
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny_bottleneck_attn")]
    public void EncodeWritesEveryHeadMatchingHuggingFace(string name)
    {
        var dir = GoldenFolder(name);
        var output = Path.Combine(TestPaths.NewTempDir(), "out.safetensors");
        // 2 chunks: 2 + 1 rows
        var result = EncodeCommand.Run(dir, IdsJsonl(name), output, hiddenStates: true, attentions: true, threads: 2, batchSize: 2);
        Assert.Equal(3, result.Batch);
        using var f = SafeTensorsFile.Open(output);
        foreach (var (tensor, golden) in new[] { ("last_hidden_state", "last_hidden_state"), ("pooler_output", "pooler_output"),
            ("mlm_logits", "mlm_logits"),
                     ("nsp_logits", "nsp_logits"), ("seqcls_logits", "seqcls_logits"), ("qa_start_logits", "qa_start_logits"),
                         ("qa_end_logits", "qa_end_logits"),
                     ("hidden_states", "hidden_states"), ("attentions", "attentions") })
        {
            var expected = Npy.Read(TestPaths.Golden("model", name, golden + ".npy"));
            Assert.Equal(expected.Shape, f[tensor].Shape);
            Tolerance.AssertClose(tensor, expected.ToFloat32(), f[tensor].ToFloat32(), 1e-4);
        }
    }

    [Fact]
    public void TextInputIsTokenizedAndPaddedToTheLongest()
    {
        var model = new MobileBertModel(Presets.MobileBertMicro(), ModelHeads.SequenceClassification);
        model.InitializeWeights(2);
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir, TestPaths.Vocab);
        var input = Path.Combine(dir, "in.jsonl");
        File.WriteAllLines(input, ["{\"text\":\"Hello world!\"}", "{\"text\":\"Is it good?\",\"text_pair\":\"It was very good indeed.\"}"]);
        var output = Path.Combine(dir, "out.safetensors");
        var r = EncodeCommand.Run(dir, input, output, false, false, 1);
        Assert.Equal(2, r.Batch);
        Assert.Equal(13, r.Seq);   // [CLS] is it good ? [SEP] it was very good indeed . [SEP]
        using var f = SafeTensorsFile.Open(output);
        Assert.Equal([2, 13, 64], f["last_hidden_state"].Shape);
        Assert.Equal([2, 2], f["seqcls_logits"].Shape);
        Assert.False(f.Contains("mlm_logits"));
        // The padded row gives the same prediction as the same text alone (padding is masked out).
        var alone = Path.Combine(dir, "alone.jsonl");
        File.WriteAllLines(alone, ["{\"text\":\"Hello world!\"}"]);
        EncodeCommand.Run(dir, alone, output + "2", false, false, 1);
        using var g = SafeTensorsFile.Open(output + "2");
        Tolerance.AssertClose("seqcls of the padded row", g["seqcls_logits"].ToFloat32(), f["seqcls_logits"].ToFloat32()[..2], 1e-5);
        // Without per-layer outputs encode runs the fast engine; with --hidden-states the reference model.Forward: same outputs.
        EncodeCommand.Run(dir, input, output + "3", hiddenStates: true, attentions: false, 1);
        using var h = SafeTensorsFile.Open(output + "3");
        foreach (var t in new[] { "last_hidden_state", "pooler_output", "seqcls_logits" })
            Tolerance.AssertClose($"{t}: engine vs model.Forward", h[t].ToFloat32(), f[t].ToFloat32(), 1e-5);
    }

    [Theory]
    [InlineData("{\"input_ids\":[1,2,3]}\n{\"input_ids\":[1,2]}", "in.jsonl:2", "same length")]
    [InlineData("{\"input_ids\":[1,2,3]}\n{\"text\":\"hi\"}", "in.jsonl:2", "mixes")]
    [InlineData("{\"input_ids\":[1,2,99999]}", "in.jsonl:1", "input_ids[2] = 99999")]
    [InlineData("{\"input_ids\":[1,2,3],\"attention_mask\":[1,2,1]}", "in.jsonl:1", "attention_mask[1]")]
    [InlineData("{\"input_ids\":[1,2,3],\"token_type_ids\":[0,5,0]}", "in.jsonl:1", "token_type_ids[1]")]
    [InlineData("{\"input_ids\":[1,\"x\"]}", "in.jsonl:1", "input_ids[1]")]
    [InlineData("{\"input_ids\":[1,2],\"attention_mask\":[1]}", "in.jsonl:1", "same length")]
    [InlineData("{\"text\":\"\"}", "in.jsonl:1", "'text' is empty")]
    [InlineData("{\"text\":5}", "in.jsonl:1", "'text' must be a string")]
    [InlineData("{\"txt\":\"a\"}", "in.jsonl:1", "either 'input_ids' or 'text'")]
    [InlineData("{\"text\":\"a\"", "in.jsonl:1", "invalid JSON")]
    [InlineData("\n\n", "in.jsonl:1", "blank line")]
    [InlineData("", "in.jsonl", "no input lines")]
    public void BadInputLinesNameFileLineAndField(string content, string where, string what)
    {
        var model = new MobileBertModel(Presets.MobileBertMicro());
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir, TestPaths.Vocab);
        var input = Path.Combine(dir, "in.jsonl");
        File.WriteAllText(input, content);
        var e = Assert.Throws<InputException>(() => EncodeCommand.Run(dir, input, Path.Combine(dir, "o.safetensors"), false, false, 1));
        Assert.Contains(where, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void TooManyTokenIdsForThePositionTableIsAnError()
    {
        var model = new MobileBertModel(Presets.MobileBertMicro());
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(model, dir);
        var input = Path.Combine(dir, "in.jsonl");
        File.WriteAllText(input, JsonSerializer.Serialize(new { input_ids = Enumerable.Repeat(5, 129).ToArray() }));
        var e = Assert.Throws<InputException>(() => EncodeCommand.Run(dir, input, Path.Combine(dir, "o.safetensors"), false, false, 1));
        Assert.Contains("max_position_embeddings = 128", e.Message);
    }

    [Fact]
    public void CommandLineReportsErrorsWithoutAStackTrace()
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try
        {
            int rc = CliApp.Run(["encode", "--model", "/nonexistent/model", "--input", "x.jsonl", "--output", "o.safetensors"]);
            Assert.Equal(1, rc);
        }
        finally { Console.SetError(old); }
        Assert.Contains("error: /nonexistent/model: model folder does not exist.", err.ToString());
        Assert.DoesNotContain("   at ", err.ToString());
    }
}
