using System.Text;
using System.Text.Json.Nodes;
using MobileBert.Tasks.Classification;

namespace MobileBert.FineTuning;

/// <summary>
/// The fixed split of the bundled UCI Sentiment Labelled Sentences (data/sentiment: amazon, imdb, yelp; 1,000 sentences
/// each, 500 positive / 500 negative): each source's 1,000 rows (the empty placeholder entry at the end of each file is
/// skipped and reported) are shuffled with <c>new Random(<see cref="Seed"/> + source number)</c> (amazon 0, imdb 1,
/// yelp 2 — .NET's seeded Random sequence is stable) and cut 80/10/10, so train/dev/test = 2,400/300/300 with every
/// source equally represented. Labels are "negative" (class 0) and "positive" (class 1). The split never changes:
/// demo results and tests compare on the same test sentences.
/// </summary>
public static class SentimentSplit
{
    public const int Seed = 2015;
    public static readonly string[] Sources = ["amazon", "imdb", "yelp"];

    public sealed record Row(string Text, string Label, string Source);

    public sealed record Split(IReadOnlyList<Row> Train, IReadOnlyList<Row> Dev, IReadOnlyList<Row> Test, IReadOnlyList<string> Notes);

    public static Split Load(string sentimentDir)
    {
        var train = new List<Row>(); var dev = new List<Row>(); var test = new List<Row>(); var notes = new List<string>();
        for (int s = 0; s < Sources.Length; s++)
        {
            string path = Path.Combine(sentimentDir, Sources[s] + ".json");
            var raw = UserDataReader.Read(path, new UserDataOptions { Format = UserDataFormat.JsonArray, Text = "text", Label = "class" });
            if (raw.Skipped.Count > 0) notes.Add(TaskData.DescribeSkipped(path, raw.Skipped));
            var rows = raw.Rows.Select(r => new Row(r.Text, r.Label switch
            {
                "0" => "negative", "1" => "positive",
                var l => throw new DataFormatException(path, r.Line, 0, "class", $"expected class 0 or 1, found '{l}'."),
            }, Sources[s])).ToArray();
            new Random(Seed + s).Shuffle(rows);
            int nTrain = (int)Math.Round(rows.Length * 0.8), nDev = (int)Math.Round(rows.Length * 0.1);
            train.AddRange(rows[..nTrain]); dev.AddRange(rows[nTrain..(nTrain + nDev)]); test.AddRange(rows[(nTrain + nDev)..]);
        }
        return new Split(train, dev, test, notes);
    }

    /// <summary>Writes train.jsonl / dev.jsonl / test.jsonl (<c>{"text","label","source"}</c>) to <paramref name="outDir"/>; returns their
    /// paths.</summary>
    public static (string Train, string Dev, string Test) Write(string sentimentDir, string outDir, int? maxTrain = null)
    {
        var split = Load(sentimentDir);
        Directory.CreateDirectory(outDir);
        string Save(string name, IEnumerable<Row> rows)
        {
            string path = Path.Combine(outDir, name);
            var sb = new StringBuilder();
            foreach (var r in rows)
                sb.Append(new JsonObject { ["text"] = r.Text, ["label"] = r.Label, ["source"] = r.Source }.ToJsonString()).Append('\n');
            string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
            File.WriteAllText(tmp, sb.ToString(), new UTF8Encoding(false));
            File.Move(tmp, path, overwrite: true);
            return path;
        }
        var train = maxTrain is int m ? split.Train.GroupBy(r => r.Source).SelectMany(g => g.Take(m / Sources.Length)) : split.Train;
        return (Save("train.jsonl", train), Save("dev.jsonl", split.Dev), Save("test.jsonl", split.Test));
    }
}
