using System.Text;
using MobileBert.Tasks.Classification;
using Xunit;

namespace MobileBert.Tests.Tasks.Classification;

public class UserDataTests
{
    static string Write(string name, string content)
    {
        string path = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    [Fact]
    public void Csv_Rfc4180_QuotedDelimitersQuotesAndNewlines()
    {
        string path = Write("train.csv",
            "id,text,label\r\n" +
            "a,\"Hello, world\",pos\r\n" +
            "b,\"She said \"\"hi\"\"\",neg\r\n" +
            "c,\"line one\nline two\",pos\r\n" +
            "d,plain \"inner\" quote,neg\r\n" +
            "e,\"\",pos\r\n");
        var raw = UserDataReader.Read(path, new UserDataOptions { Id = "id" });
        Assert.Equal(["Hello, world", "She said \"hi\"", "line one\nline two", "plain \"inner\" quote"], raw.Rows.Select(r => r.Text));
        Assert.Equal(["a", "b", "c", "d"], raw.Rows.Select(r => r.Id));
        Assert.Equal([2, 3, 4, 6], raw.Rows.Select(r => r.Line)); // the multi-line record starts on line 4
        Assert.Equal([new SkippedRow(7, "empty text")], raw.Skipped);
        Assert.Equal(3, raw.LabelColumnNumber);
    }

    [Fact]
    public void Csv_Errors_NameLineAndColumn()
    {
        string unclosed = Write("x.csv", "text,label\nok,1\n\"never closed,1\n");
        var ex = Assert.Throws<DataFormatException>(() => UserDataReader.Read(unclosed));
        Assert.Equal((3, 1), (ex.Line, ex.Column));

        string garbage = Write("x.csv", "text,label\n\"quoted\"x,1\n");
        var ex2 = Assert.Throws<DataFormatException>(() => UserDataReader.Read(garbage));
        Assert.Equal((2, 1), (ex2.Line, ex2.Column));

        string ragged = Write("x.csv", "text,label\na,1\nb,1,extra\n");
        var ex3 = Assert.Throws<DataFormatException>(() => UserDataReader.Read(ragged));
        Assert.Equal((3, 3), (ex3.Line, ex3.Column));
        Assert.StartsWith($"{ragged}:3:3:", ex3.Message);
        var skipped = UserDataReader.Read(ragged, new UserDataOptions { SkipBadRows = true });
        Assert.Single(skipped.Rows);
        Assert.Equal(3, Assert.Single(skipped.Skipped).Line);

        string noColumn = Write("x.csv", "sentence,label\na,1\n");
        var ex4 = Assert.Throws<DataFormatException>(() => UserDataReader.Read(noColumn));
        Assert.Contains("'text'", ex4.Message);
    }

    [Fact]
    public void Delimiter_Headerless_Indices_AndTsvPairs()
    {
        string semi = Write("data.txt", "1;first text;x\n0;\"second; text\";y\n");
        var raw = UserDataReader.Read(semi, new UserDataOptions { Format = UserDataFormat.Csv, Delimiter = ';', HasHeader = false, Text = 1,
            Label = 0 });
        Assert.Equal(["first text", "second; text"], raw.Rows.Select(r => r.Text));
        Assert.Equal(["1", "0"], raw.Rows.Select(r => r.Label));

        string tsv = Write("pairs.tsv", "premise\thypothesis\tlabel\nA cat.\tAn animal.\tyes\nA car.\tA fruit.\tno\n");
        var (task, train, _) = UserDataReader.LoadClassification("nli", tsv,
            options: new UserDataOptions { Text = "premise", TextPair = "hypothesis" });
        Assert.True(task.IsSentencePair);
        Assert.Equal(["no", "yes"], task.Labels); // sorted
        Assert.Equal("An animal.", train.Examples[0].TextPair);
        Assert.Equal([1, 0], train.LabelIds());
    }

    [Fact]
    public void StringLabels_InferredOrder_And_UnknownDevLabel()
    {
        string train = Write("train.jsonl", "{\"text\":\"a\",\"label\":\"sports\"}\n{\"text\":\"b\",\"label\":\"arts\"}\n\n"
            + "{\"text\":\"c\",\"label\":\"sports\"}\n{\"text\":\"d\",\"label\":\"news\"}\n");
        string dev = Write("dev.jsonl", "{\"text\":\"e\",\"label\":\"arts\"}\n{\"text\":\"f\",\"label\":\"weather\"}\n");
        var raw = UserDataReader.Read(train);
        Assert.Equal([new SkippedRow(3, "empty line")], raw.Skipped);
        Assert.Equal(["arts", "news", "sports"], TaskDefinition.InferClassification("t", raw).Labels);
        Assert.Equal(["sports", "arts", "news"], TaskDefinition.InferClassification("t", raw, LabelOrder.FirstSeen).Labels);
        Assert.Equal(["10", "2", "x"], TaskDefinition.InferLabels(["x", "10", "2"])); // ordinal when not all integers
        Assert.Equal(["-1", "2", "10"], TaskDefinition.InferLabels(["10", "2", "-1"])); // numeric sort when all integers

        var ex = Assert.Throws<DataFormatException>(() => UserDataReader.LoadClassification("t", train, dev));
        Assert.Equal(dev, ex.File);
        Assert.Equal(2, ex.Line);
        Assert.Equal("label", ex.ColumnName);
        Assert.Contains("'weather'", ex.Message);

        var (task, t, _) = UserDataReader.LoadClassification("t", train);
        Assert.Equal([2, 0, 2, 1], t.LabelIds());
        Assert.Equal(2, task.LabelToId("sports"));
        Assert.Throws<KeyNotFoundException>(() => task.LabelToId("Sports")); // exact match
    }

    [Fact]
    public void Regression_ParsesFloats_AndNamesBadValue()
    {
        string ok = Write("r.csv", "s1,s2,score\na,b,4.5\nc,d,-1e-1\n");
        var (task, train, _) = UserDataReader.LoadRegression("sim", ok, options: new UserDataOptions {
            Text = "s1", TextPair = "s2", Label = "score" });
        Assert.Equal(TaskKind.Regression, task.Kind);
        Assert.Equal([4.5f, -0.1f], train.Targets());
        Assert.Equal("corr", task.MainMetric);

        string bad = Write("r.csv", "s1,s2,score\na,b,4.5\nc,d,high\n");
        var ex = Assert.Throws<DataFormatException>(() => UserDataReader.LoadRegression(
            "sim", bad, options: new UserDataOptions { Text = "s1", TextPair = "s2", Label = "score" }));
        Assert.Equal((3, 3), (ex.Line, ex.Column));
        Assert.Contains("'high'", ex.Message);
        Assert.StartsWith($"{bad}:3:3", ex.Message);
    }

    [Fact]
    public void JsonArray_LinesNullsAndBadEntries()
    {
        string path = Write("d.json", "[\n  {\"text\": \"one\", \"class\": 1},\n  {\"text\": \"two\",\n   \"class\": 0},\n  {\"text\": \"\", " +
            "\"class\": null},\n  {\"text\": \"four\", \"class\": null}\n]");
        var raw = UserDataReader.Read(path, new UserDataOptions { Label = "class" });
        Assert.Equal(["one", "two"], raw.Rows.Select(r => r.Text));
        Assert.Equal(["1", "0"], raw.Rows.Select(r => r.Label));
        Assert.Equal([2, 3], raw.Rows.Select(r => r.Line));
        Assert.Equal([5, 6], raw.Skipped.Select(s => s.Line));
        Assert.Equal(["empty text", "missing or null label"], raw.Skipped.Select(s => s.Reason));
        Assert.Equal(["line 5, array entry 3", "line 6, array entry 4"], raw.Skipped.Select(s => s.Where));

        // A one-line array (as the UCI sentiment files): the note names the entry, not just "line 1".
        string oneLine = Write("one.json", "[{\"text\":\"a\",\"class\":1},{\"text\":\"b\",\"class\":0},{\"text\":\"\",\"class\":0}]");
        var one = UserDataReader.Read(oneLine, new UserDataOptions { Label = "class" });
        Assert.Equal($"{oneLine}: 1 row(s) skipped (line 1, array entry 3: empty text)",
            MobileBert.FineTuning.TaskData.DescribeSkipped(oneLine, one.Skipped));

        string bad = Write("d.json", "[{\"text\":\"a\",\"label\":1},\n 42]");
        var ex = Assert.Throws<DataFormatException>(() => UserDataReader.Read(bad));
        Assert.Equal(2, ex.Line);

        string broken = Write("d.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\": oops}\n");
        Assert.Equal(2, Assert.Throws<DataFormatException>(() => UserDataReader.Read(broken)).Line);
        Assert.Throws<ArgumentException>(() => UserDataReader.Read(broken, new UserDataOptions { Text = 0 }));
    }

    [Fact]
    public void BundledSentimentJson_LoadsThroughGenericPath()
    {
        var options = new UserDataOptions { Text = "text", Label = "class" };
        var raws = new[] { "imdb", "yelp", "amazon" }
            .Select(n => UserDataReader.Read(Path.Combine(TestPaths.RepoRoot, "data", "sentiment", n + ".json"), options)).ToArray();
        foreach (var r in raws)
        {
            var s = Assert.Single(r.Skipped); // the empty trailing entry, reported
            Assert.Equal("empty text", s.Reason);
        }
        var task = TaskDefinition.InferClassification("sentiment", raws[0]);
        Assert.Equal(["0", "1"], task.Labels);
        var examples = raws.SelectMany(r => TaskDataset.FromRaw(task, r).Examples).ToArray();
        Assert.InRange(examples.Length, 2997, 3000);
        int positives = examples.Count(e => e.LabelId == 1);
        Assert.Equal(examples.Length / 2, positives);
        Assert.All(examples, e => Assert.False(string.IsNullOrWhiteSpace(e.Text)));
    }
}
