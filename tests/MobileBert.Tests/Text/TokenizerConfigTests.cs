using MobileBert.Checkpoints;
using MobileBert.Import;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Tests.Api;
using MobileBert.Tests.Import;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

/// <summary>A cased model's tokenizer_config.json ("do_lower_case": false) is read wherever its vocab is, and travels with the
/// vocab into every folder written from it.</summary>
public class TokenizerConfigTests
{
    static string VocabWithConfig(string? json)
    {
        string dir = TestPaths.NewTempDir(), vocab = Path.Combine(dir, "vocab.txt");
        File.WriteAllLines(vocab, [.. File.ReadLines(TokenizerTestData.VocabPath), "Paris"]);   // a cased token besides "paris"
        if (json is not null) File.WriteAllText(Path.Combine(dir, TokenizerConfig.FileName), json);
        return vocab;
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("""{"tokenizer_class": "BertTokenizer"}""", true)]
    [InlineData("""{"do_lower_case": false}""", false)]
    [InlineData("""{"do_lower_case": true, "strip_accents": null}""", true)]
    [InlineData("""{"do_lower_case": false, "strip_accents": false}""", false)]
    public void DoLowerCaseDecidesAndDefaultsToUncased(string? json, bool lower)
    {
        string vocab = VocabWithConfig(json);
        Assert.Equal(lower, TokenizerConfig.LowerCase(vocab));
        var tok = WordPieceTokenizer.FromVocabFile(vocab);
        Assert.Equal(lower, tok.LowerCase);
        Assert.Equal(lower ? ["paris"] : ["Paris"], tok.Encode("Paris").Tokens[1..^1]);
        Assert.True(WordPieceTokenizer.FromVocabFile(vocab, lowerCase: true).LowerCase);   // an explicit choice wins
    }

    [Theory]
    [InlineData("{", "invalid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("""{"do_lower_case": "no"}""", "'do_lower_case' must be true, false or null")]
    [InlineData("""{"do_lower_case": true, "strip_accents": false}""", "strip_accents = false with do_lower_case = true is not supported")]
    [InlineData("""{"do_lower_case": false, "strip_accents": true}""", "strip_accents = true with do_lower_case = false is not supported")]
    public void AFileThatCannotBeFollowedIsNamed(string json, string problem)
    {
        string vocab = VocabWithConfig(json);
        var e = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.FromVocabFile(vocab));
        Assert.StartsWith($"{Path.Combine(Path.GetDirectoryName(vocab)!, TokenizerConfig.FileName)}: ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void ACasedModelFolderStaysCasedThroughEveryFolderWrittenFromIt()
    {
        string cased = BertFolders.Golden(ModelHeads.None);
        File.WriteAllText(Path.Combine(cased, TokenizerConfig.FileName), """{"do_lower_case": false}""");
        using (var embedder = TextEmbedder.Load(cased)) Assert.False(embedder.Tokenizer.LowerCase);
        var model = ModelFolder.Load(cased);
        string vocab = Path.Combine(cased, ModelFolder.VocabFile);

        string saved = TestPaths.NewTempDir();
        ModelFolder.Save(model, saved, vocab);
        string quantized = TestPaths.NewTempDir();
        QuantizedCheckpoint.Save(model, QuantizedWeights.Quantize(model), quantized, vocab);
        string imported = Path.Combine(TestPaths.NewTempDir(), "pt");
        string src = TestPaths.NewTempDir();
        File.Copy(TestPaths.Golden("pytorch", "bert_tiny_zip.bin"), Path.Combine(src, PyTorchCheckpoint.HfFileName));
        File.Copy(TestPaths.Golden("model", "bert_tiny", "config.json"), Path.Combine(src, ModelFolder.ConfigFile));
        File.Copy(vocab, Path.Combine(src, ModelFolder.VocabFile));
        File.Copy(Path.Combine(cased, TokenizerConfig.FileName), Path.Combine(src, TokenizerConfig.FileName));
        PyTorchImporter.Import(src, imported);
        foreach (var dir in new[] { saved, quantized, imported, src })
            Assert.False(WordPieceTokenizer.FromVocabFile(Path.Combine(dir, ModelFolder.VocabFile)).LowerCase, dir);

        // An ONNX import takes the file beside --vocab; a vocab without one leaves no stale settings behind.
        var b = new TinyBertOnnx();
        string onnx = Path.Combine(TestPaths.NewTempDir(), "tiny.onnx");
        File.WriteAllBytes(onnx, b.Build());
        string tokens = VocabWithConfig("""{"do_lower_case": false}""");
        File.WriteAllLines(tokens, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", .. Enumerable.Range(5, b.Vocab - 5).Select(i => $"tok{i}")]);
        string fromOnnx = Path.Combine(TestPaths.NewTempDir(), "onnx");
        OnnxImporter.Import(onnx, fromOnnx, tokens);
        Assert.False(WordPieceTokenizer.FromVocabFile(Path.Combine(fromOnnx, ModelFolder.VocabFile)).LowerCase);
        File.Delete(Path.Combine(Path.GetDirectoryName(tokens)!, TokenizerConfig.FileName));
        OnnxImporter.Import(onnx, fromOnnx, tokens);
        Assert.False(File.Exists(Path.Combine(fromOnnx, TokenizerConfig.FileName)));
        ModelFolder.Save(model, saved, TestPaths.Vocab);                      // an uncased vocab replaces the cased one's settings
        Assert.True(WordPieceTokenizer.FromVocabFile(Path.Combine(saved, ModelFolder.VocabFile)).LowerCase);
    }
}
