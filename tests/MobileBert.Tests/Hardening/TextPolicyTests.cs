using System.Text;
using System.Text.Json;
using MobileBert.Cli;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Text;
using MobileBert.Tests.Text;
using Xunit;

namespace MobileBert.Tests.Hardening;

/// <summary>The one text policy: invalid UTF-8 and unpaired surrogates become U+FFFD (counted, reported once), only
/// \n and \r\n end a line, a BOM is accepted, and every input line gives one output line or an error naming it.</summary>
public class TextPolicyTests
{
    const string LoneSurrogateLine = "{\"text\":\"a\\ud800b\"}";

    [Fact]
    public void CleanJsonReplacesOnlyUnpairedSurrogateEscapes()
    {
        var s = new TextSanitizer();
        using var doc = s.ParseJson("{\"a\":\"x\\ud800y\",\"b\":\"\\ud83d\\ude00\",\"c\":\"\\\\ud800\",\"d\":\"\\udc00\"}");
        Assert.Equal("x\uFFFDy", doc.RootElement.GetProperty("a").GetString());
        Assert.Equal("\U0001F600", doc.RootElement.GetProperty("b").GetString());   // a pair stays
        Assert.Equal("\\ud800", doc.RootElement.GetProperty("c").GetString());      // an escaped backslash is not an escape
        Assert.Equal("\uFFFD", doc.RootElement.GetProperty("d").GetString());
        Assert.Equal(2, s.Replaced);
        Assert.Contains("2 invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s) replaced with U+FFFD", s.Summary("in.jsonl"));
        Assert.Equal("a\uFFFDb\U0001F600", new TextSanitizer().Clean("a\ud800b\U0001F600"));
    }

    [Fact]
    public void LineReaderEndsLinesOnlyAtNewlineAndReplacesInvalidBytes()
    {
        var s = new TextSanitizer();
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. "a\rb\nc\r\n"u8, 0xFF, .. "d\n\nlast"u8];
        using var r = new LineReader(new MemoryStream(bytes), s);
        var lines = r.Lines().ToList();
        Assert.Equal([(1, "a\rb"), (2, "c"), (3, "\uFFFDd"), (4, ""), (5, "last")], lines);
        Assert.Equal(1, s.Replaced);
    }

    static (int Code, string Out, string Err) Tokenize(byte[] stdin, int maxLength = 512)
    {
        var output = new StringWriter(); var error = new StringWriter();
        int code = TokenizeCommand.Run(new MemoryStream(stdin), output, error, TokenizerTestData.VocabPath, maxLength);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void TokenizeReplacesALoneSurrogateAndSaysSoOnce()
    {
        var (code, stdout, stderr) = Tokenize(Encoding.UTF8.GetBytes(LoneSurrogateLine + "\n{\"text\":\"\\udfff\"}\n"));
        Assert.Equal(0, code);
        Assert.Equal(2, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal("warning: tokenize: stdin: 2 invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s) replaced with U+FFFD.", stderr.Trim());
    }

    [Fact]
    public void TokenizeAcceptsABomAndInvalidUtf8()
    {
        var (code, stdout, stderr) = Tokenize([0xEF, 0xBB, 0xBF, .. "{\"text\":\"caf"u8, 0xC3, .. "\"}\n"u8]);
        Assert.Equal(0, code);
        Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("1 invalid UTF-8", stderr);
    }

    [Theory]
    [InlineData("{\"text\":\"a\"}\n\n{\"text\":\"b\"}\n", "stdin line 2: blank line")]
    [InlineData("{\"text\":\"a\"}\n   \n", "stdin line 2: blank line")]
    [InlineData("{\"text\": oops}\n", "stdin line 1: invalid JSON")]
    public void TokenizeNeverSkipsALineAndErrorsStartWithErrorPrefix(string input, string expected)
    {
        var (code, _, stderr) = Tokenize(Encoding.UTF8.GetBytes(input));
        Assert.Equal(1, code);
        Assert.StartsWith("error: tokenize: ", stderr);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("LineNumber", stderr);
    }

    [Fact]
    public void TokenizeMaxLengthBelowTwoIsAnErrorLine()
    {
        var (code, _, stderr) = Tokenize("{\"text\":\"a\"}\n"u8.ToArray(), maxLength: -1);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr);
    }

    [Fact]
    public void TokenizeTreatsALoneCarriageReturnAsPartOfTheLine()
    {
        var (code, stdout, _) = Tokenize("{\"text\":\"a\"}\r{\"text\":\"b\"}\r\n{\"text\":\"c\"}\n"u8.ToArray());
        Assert.Equal(1, code);   // "a"}\r{"text… is one (invalid JSON) line, never two
        Assert.Empty(stdout);
        var (ok, outOk, _) = Tokenize("{\"text\":\"a\"}\r\r\n{\"text\":\"c\"}\n"u8.ToArray());   // \r is JSON whitespace
        Assert.Equal(0, ok);
        Assert.Equal(2, outOk.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    static string Write(string name, byte[] bytes)
    {
        var p = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Fact]
    public void TrainingReadersReplaceAndCountInsteadOfCrashing()
    {
        var jsonl = Write("train.jsonl", Encoding.UTF8.GetBytes("{\"text\":\"a\\ud800b\",\"label\":\"x\"}\n{\"text\":\"ok\",\"label\":\"y\"}\n"));
        var raw = UserDataReader.Read(jsonl);
        Assert.Equal("a\uFFFDb", raw.Rows[0].Text);
        Assert.Equal(1, raw.Replaced);

        var array = Write("train.json", Encoding.UTF8.GetBytes("[{\"text\":\"\\udc00\",\"label\":\"x\"}]"));
        Assert.Equal("\uFFFD", UserDataReader.Read(array).Rows[0].Text);

        var csv = Write("train.csv", [.. "text,label\nca"u8, 0xFF, .. "fe,x\nb\rc,y\n"u8]);
        var c = UserDataReader.Read(csv);
        Assert.Equal(["ca\uFFFDfe", "b\rc"], c.Rows.Select(r => r.Text));   // a lone \r is data, not a record end
        Assert.Equal(1, c.Replaced);

        var squad = Write("dev.json", Encoding.UTF8.GetBytes("{\"version\":\"1.1\",\"data\":[{\"title\":\"t\",\"paragraphs\":[{\"context\":\"abc " +
            "\\ud800 def\","
            + "\"qas\":[{\"id\":\"q1\",\"question\":\"which?\",\"answers\":[{\"text\":\"def\",\"answer_start\":6}]}]}]}]}"));
        var sq = SquadReader.Read(squad);
        Assert.Equal("abc \uFFFD def", sq.Examples[0].Context);
        Assert.Equal(1, sq.Replaced);
    }

    [Fact]
    public void JsonErrorsNameTheFileLineWithoutTheParsersLineZero()
    {
        var bad = Write("train.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\": nope}\n"u8.ToArray());
        var e = Assert.Throws<DataFormatException>(() => UserDataReader.Read(bad));
        Assert.StartsWith($"{bad}:2", e.Message);
        Assert.DoesNotContain("LineNumber", e.Message);
    }
}
