using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Cli;
using MobileBert.Model;
using MobileBert.Tests.Api;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Cli;

public class EmbedCommandTests
{
    static readonly string[] Lines = ["the cat sat.", "", "a dog\rbarked", "{\"text\": \"not json here: a plain line\"}"];

    [Fact]
    public void EveryFormatHoldsOneVectorPerLineEqualToTheApi()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        var input = Path.Combine(TestPaths.NewTempDir(), "in.txt");
        File.WriteAllText(input, string.Join("\n", Lines) + "\n");
        var options = EmbedCommand.Options("mean", normalize: true, maxLength: 0, batchSize: 3, threads: 2);
        using var api = TextEmbedder.Load(dir, options);
        var expected = api.Embed(Lines);
        var outDir = TestPaths.NewTempDir();
        string jsonl = Path.Combine(outDir, "e.jsonl"), npy = Path.Combine(outDir, "e.npy"), st = Path.Combine(outDir, "e.safetensors");
        foreach (var path in new[] { jsonl, npy, st }) Assert.Equal(Lines.Length, EmbedCommand.Run(dir, input, path, options, TextWriter.Null));

        var rows = File.ReadAllLines(jsonl).Select(l => JsonNode.Parse(l)!["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray())
            .ToArray();
        var fromNpy = Npy.Read(npy);
        Assert.Equal([Lines.Length, 64], fromNpy.Shape);
        using var file = SafeTensorsFile.Open(st);
        Assert.Equal([Lines.Length, 64], file["embeddings"].Shape);
        for (int i = 0; i < Lines.Length; i++)
        {
            Tolerance.AssertClose($"jsonl {i}", expected[i], rows[i], 1e-6);
            Tolerance.AssertClose($"npy {i}", expected[i], fromNpy.ToFloat32().AsSpan(i * 64, 64), 0);
            Tolerance.AssertClose($"safetensors {i}", expected[i], file["embeddings"].ToFloat32().AsSpan(i * 64, 64), 0);
        }
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp-*"));
    }

    [Fact]
    public void JsonlInputKeepsIdsAndABadLineLeavesNoOutput()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        var inDir = TestPaths.NewTempDir();
        var good = Path.Combine(inDir, "good.jsonl");
        File.WriteAllLines(good, ["{\"id\": \"a\", \"text\": \"one\"}", "{\"id\": 7, \"text\": \"two\"}"]);
        var options = EmbedCommand.Options("cls", normalize: false, maxLength: 16, batchSize: 8, threads: 1);
        var output = Path.Combine(TestPaths.NewTempDir(), "out.jsonl");
        Assert.Equal(2, EmbedCommand.Run(dir, good, output, options, TextWriter.Null));
        Assert.Equal(["a", "7"], File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!["id"]!.GetValue<string>()));

        var bad = Path.Combine(inDir, "bad.jsonl");
        File.WriteAllLines(bad, ["{\"text\": \"one\"}", "{\"text\": 3}"]);
        var target = Path.Combine(TestPaths.NewTempDir(), "bad-out.npy");
        var e = Assert.Throws<InputException>(() => EmbedCommand.Run(dir, bad, target, options, TextWriter.Null));
        Assert.Contains("bad.jsonl:2", e.Message);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(target)!));
    }

    [Theory]
    [InlineData("max", false, 0, "--pooling")]
    [InlineData("mean", false, -1, "--max-length")]
    [InlineData("mean", false, 65, "--max-length 65")]
    public void BadOptionsNameTheFlag(string pooling, bool normalize, int maxLength, string flag)
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        var input = Path.Combine(TestPaths.NewTempDir(), "in.txt");
        File.WriteAllText(input, "x\n");
        var e = Assert.Throws<InputException>(() =>
            EmbedCommand.Run(dir, input, Path.Combine(TestPaths.NewTempDir(), "o.jsonl"), EmbedCommand.Options(pooling, normalize, maxLength, 4, 1),
            TextWriter.Null));
        Assert.Contains(flag, e.Message);
    }

    [Fact]
    public void APromptNameEmbedsEveryLineAfterThatPrompt()
    {
        var dir = BertFolders.Golden(ModelHeads.None);
        new SentenceTransformersFolder(Pooling.Cls, Normalize: true, MaxSeqLength: 64)
            { Prompts = new Dictionary<string, string> { ["query"] = "find: " } }.Write(dir, 64);
        var input = Path.Combine(TestPaths.NewTempDir(), "in.txt");
        File.WriteAllLines(input, ["the cat sat.", "a dog"]);
        var options = EmbedCommand.Options(null, null, 0, 4, 1) with { PromptName = "query" };
        var output = Path.Combine(TestPaths.NewTempDir(), "q.jsonl");
        Assert.Equal(2, EmbedCommand.Run(dir, input, output, options, TextWriter.Null));
        using var api = TextEmbedder.Load(dir);
        var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray());
        Assert.Equal(api.Embed(["find: the cat sat.", "find: a dog"]), rows);
        var e = Assert.Throws<ArgumentException>(() =>
            EmbedCommand.Run(dir, input, output, options with { PromptName = "passage" }, TextWriter.Null));
        Assert.Equal("prompt 'passage' is not defined; the model folder's prompts: query.", e.Message);
    }
}
