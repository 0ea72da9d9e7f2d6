using System.Text.Json;
using MobileBert.Cli;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

public sealed class TokenizeCommandTests
{
    private static (int Code, string Out, string Err) Run(string input, int maxLength = 512, string? vocab = null)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = TokenizeCommand.Run(new StringReader(input), output, error, vocab ?? TokenizerTestData.VocabPath, maxLength);
        return (code, output.ToString(), error.ToString());
    }

    private static string[] Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void WritesOneCompactJsonLinePerInput()
    {
        string input = "{\"text\":\"Héllo, wörld!\"}\n{\"text\":\"Hi there\",\"text_pair\":\"Who?\"}\n{\"text\":\"x\",\"text_pair\":null}\n";
        (int code, string stdout, string stderr) = Run(input);

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        string[] lines = Lines(stdout);
        Assert.Equal(3, lines.Length);
        Assert.True(stdout.EndsWith('\n'));
        Assert.Equal(
            "{\"tokens\":[\"[CLS]\",\"hello\",\",\",\"world\",\"!\",\"[SEP]\"],\"input_ids\":[101,7592,1010,2088,999,102],"
            + "\"token_type_ids\":[0,0,0,0,0,0],\"offsets\":[[0,0],[0,5],[5,6],[7,12],[12,13],[0,0]]}",
            lines[0]);

        EncodedInput expected = TokenizerTestData.Uncased.Encode("Hi there", "Who?");
        JsonElement d = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(expected.Tokens, d.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(expected.InputIds, d.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected.TokenTypeIds, d.GetProperty("token_type_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected.Offsets, d.GetProperty("offsets").EnumerateArray().Select(e => (e[0].GetInt32(), e[1].GetInt32())));
        Assert.Equal(["[CLS]", "x", "[SEP]"], JsonDocument.Parse(lines[2]).RootElement.GetProperty("tokens").EnumerateArray().Select(
            e => e.GetString()!));
    }

    [Fact]
    public void RespectsMaxLength()
    {
        (int code, string stdout, _) = Run("{\"text\":\"one two three four five\"}", maxLength: 4);
        Assert.Equal(0, code);
        JsonElement d = JsonDocument.Parse(Lines(stdout)[0]).RootElement;
        Assert.Equal(["[CLS]", "one", "two", "[SEP]"], d.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()!));
    }

    [Fact]
    public void EmptyInputWritesNothing()
    {
        (int code, string stdout, string stderr) = Run("");
        Assert.Equal(0, code);
        Assert.Equal("", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void BadJsonStopsAtThatLineAfterWritingPreviousOnes()
    {
        (int code, string stdout, string stderr) = Run("{\"text\":\"a\"}\n{\"text\": oops}\n{\"text\":\"b\"}\n");
        Assert.Equal(1, code);
        Assert.Single(Lines(stdout));
        Assert.Contains("line 2", stderr);
        Assert.Contains("invalid JSON", stderr);
    }

    [Theory]
    [InlineData("{\"txt\":\"a\"}", "missing \"text\"")]
    [InlineData("{\"text\":5}", "\"text\" must be a string, got a number")]
    [InlineData("{\"text\":null}", "\"text\" must be a string, got null")]
    [InlineData("{\"text\":\"a\",\"text_pair\":[1]}", "\"text_pair\" must be a string or null, got an array")]
    [InlineData("[\"a\"]", "expected a JSON object, got an array")]
    public void InvalidRecordsAreReportedWithLineNumber(string badLine, string problem)
    {
        (int code, string stdout, string stderr) = Run("{\"text\":\"ok\"}\n" + badLine + "\n");
        Assert.Equal(1, code);
        Assert.Single(Lines(stdout));
        Assert.Contains("line 2", stderr);
        Assert.Contains(problem, stderr);
    }

    [Fact]
    public void PairThatCannotFitIsReportedWithLineNumber()
    {
        (int code, _, string stderr) = Run("{\"text\":\"a\",\"text_pair\":\"b\"}", maxLength: 2);
        Assert.Equal(1, code);
        Assert.Contains("line 1", stderr);
    }

    [Fact]
    public void BadVocabPathIsReported()
    {
        string path = Path.Combine(Path.GetTempPath(), "missing-" + Guid.NewGuid() + ".txt");
        (int code, string stdout, string stderr) = Run("{\"text\":\"a\"}", vocab: path);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains(path, stderr);
    }

    [Fact]
    public void MaxLengthBelowTwoIsReported()
    {
        (int code, _, string stderr) = Run("{\"text\":\"a\"}", maxLength: 1);
        Assert.Equal(1, code);
        Assert.Contains("--max-length must be at least 2", stderr);
    }
}
