using MobileBert.Tasks.QuestionAnswering;
using Xunit;

namespace MobileBert.Tests.Tasks.QuestionAnswering;

public sealed class SquadReaderTests
{
    [Fact]
    public void ReadsBundledFiles()
    {
        SquadDataset v1 = QaTestData.DevV1, v2 = QaTestData.DevV2;
        Assert.Equal("1.1", v1.Version);
        Assert.Equal(1000, v1.Examples.Count);
        Assert.False(v1.HasImpossible);
        Assert.Equal(1499, v2.Examples.Count);
        Assert.Equal(499, v2.Examples.Count(e => e.IsImpossible && e.Answers.Count == 0));
        Assert.Empty(v2.SkippedAnswers);
        SquadExample first = v2.Examples[0];
        Assert.Equal("dev-v2-0", first.Id);
        Assert.Equal("How is a greater pichiciego defined?", first.Question);
        Assert.Equal("of southern South America", first.Answers[0].Text);
        Assert.Equal(371, first.Answers[0].AnswerStart);
        Assert.Equal("data[0].paragraphs[0].qas[0]", first.JsonPath);
        Assert.Equal(1000, SquadReader.Read(QaTestData.DataPath("train-v1-subset.json")).Examples.Count);
        Assert.Equal(1500, SquadReader.Read(QaTestData.DataPath("train-v2-subset.json")).Examples.Count);
    }

    private const string Ctx = "Paris is the capital of France.";

    private static string Doc(string qas2) =>
        "{\"version\": \"v2.0\", \"data\": [{\"title\": \"t\", \"paragraphs\": [" +
        "{\"context\": \"" + Ctx + "\", \"qas\": [{\"id\": \"a\", \"question\": \"What?\", \"answers\": [{\"text\": \"Paris\", \"answer_start\": " +
        "0}]}]}," +
        "{\"context\": \"" + Ctx + "\", \"qas\": [{\"id\": \"b\", \"question\": \"Q?\", \"answers\": []}, " + qas2 + "]}]}]}";

    private static SquadFormatException Fails(string json, SquadReadOptions? o = null) =>
        Assert.Throws<SquadFormatException>(() => SquadReader.Parse(json, "my-file.json", o));

    [Fact]
    public void InconsistentAnswerStart_NamesJsonPath()
    {
        var ex = Fails(Doc("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"capital\", \"answer_start\": 9}]}"));
        Assert.Equal("data[0].paragraphs[1].qas[1].answers[0].answer_start", ex.JsonPath);
        Assert.Contains("my-file.json", ex.Message);
        Assert.Contains("data[0].paragraphs[1].qas[1].answers[0].answer_start", ex.Message);
        Assert.Contains("'the cap'", ex.Message); // what the context has there

        ex = Fails(Doc("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"France.\", \"answer_start\": 30}]}"));
        Assert.Contains("runs past the end", ex.Message);
        ex = Fails(Doc("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"x\", \"answer_start\": -1}]}"));
        Assert.Contains("outside the context", ex.Message);
    }

    [Fact]
    public void InconsistentAnswers_CanBeSkippedButAreReported()
    {
        string json = Doc("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"capital\", \"answer_start\": 12}, {\"text\": " +
            "\"capital\", \"answer_start\": 13}]}," +
                          "{\"id\": \"d\", \"question\": \"Q?\", \"answers\": [{\"text\": \"Lyon\", \"answer_start\": 0}]}");
        SquadDataset d = SquadReader.Parse(json, "f.json", new SquadReadOptions { SkipInconsistentAnswers = true });
        Assert.Equal(["a", "b", "c"], d.Examples.Select(e => e.Id).ToArray());
        Assert.Equal([new SquadAnswer("capital", 13)], d.Examples[2].Answers.ToArray());
        Assert.Equal(["data[0].paragraphs[1].qas[1].answers[0]", "data[0].paragraphs[1].qas[2].answers[0]"],
            d.SkippedAnswers.Select(i => i.JsonPath).ToArray());
        Assert.Equal("data[0].paragraphs[1].qas[2]", Assert.Single(d.SkippedQuestions).JsonPath);
    }

    [Theory]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"Paris\", \"answer_start\": \"0\"}]}",
    "data[0].paragraphs[1].qas[1].answers[0].answer_start", "expected a number")]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"Paris\", \"answer_start\": 0.5}]}",
    "data[0].paragraphs[1].qas[1].answers[0].answer_start", "integer")]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"answer_start\": 0}]}", "data[0].paragraphs[1].qas[1].answers[0]", "'text'")]
    [InlineData("{\"id\": \"c\", \"answers\": []}", "data[0].paragraphs[1].qas[1]", "'question'")]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": {}}", "data[0].paragraphs[1].qas[1].answers", "expected an array")]
    [InlineData("{\"id\": \"a\", \"question\": \"Q?\", \"answers\": []}", "data[0].paragraphs[1].qas[1].id", "duplicate question id 'a'")]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [], \"is_impossible\": \"yes\"}", "data[0].paragraphs[1].qas[1].is_impossible",
    "true or false")]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [{\"text\": \"Paris\", \"answer_start\": 0}], \"is_impossible\": true}",
    "data[0].paragraphs[1].qas[1].answers", "unanswerable")]
    [InlineData("{\"id\": \"c\", \"question\": \"Q?\", \"answers\": [], \"is_impossible\": true, "
        + "\"plausible_answers\": [{\"text\": \"Lyon\", \"answer_start\": 0}]}",
        "data[0].paragraphs[1].qas[1].plausible_answers[0].answer_start", "does not match")]
    [InlineData("7", "data[0].paragraphs[1].qas[1]", "expected an object")]
    public void MalformedQuestion_NamesJsonPath(string qa, string path, string message)
    {
        var ex = Fails(Doc(qa));
        Assert.Equal(path, ex.JsonPath);
        Assert.Contains(message, ex.Message);
        Assert.Contains("my-file.json: " + path + ":", ex.Message);
    }

    [Fact]
    public void MalformedStructure_NamesJsonPath()
    {
        Assert.Equal("$", Fails("[]").JsonPath);
        Assert.Equal("$", Fails("{\"version\": \"1.1\"}").JsonPath);
        Assert.Equal("data", Fails("{\"data\": {}}").JsonPath);
        Assert.Equal("data[1]", Fails("{\"data\": [{\"paragraphs\": []}, 3]}").JsonPath);
        Assert.Equal("data[0].paragraphs[0]", Fails("{\"data\": [{\"paragraphs\": [{\"qas\": []}]}]}").JsonPath);
        Assert.Equal("data[0].paragraphs[0].context", Fails("{\"data\": [{\"paragraphs\": [{\"context\": 5, \"qas\": []}]}]}").JsonPath);
    }

    [Fact]
    public void InvalidJson_NamesFileAndPosition()
    {
        var ex = Fails("{\"data\": [{\"paragraphs\": [}]}");
        Assert.Contains("my-file.json", ex.Message);
        Assert.Contains("invalid JSON at line 1", ex.Message);
        Assert.IsType<System.Text.Json.JsonException>(ex.InnerException, exactMatch: false);
    }

    [Fact]
    public void Read_MissingFile_Throws() =>
        Assert.Throws<FileNotFoundException>(() => SquadReader.Read(Path.Combine(TestPaths.NewTempDir(), "none.json")));
}
