using MobileBert.Tasks.QuestionAnswering;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Tasks.QuestionAnswering;

public sealed class QaPostProcessorTests(ITestOutputHelper output)
{
    /// <summary>Logits that peak (10) at each feature's labelled start/end, i.e. at [CLS] when the window has no answer.</summary>
    internal static (float[][] Start, float[][] End) PeakAtLabels(QaFeatureSet set, int pad = 0)
    {
        var s = new float[set.Features.Count][];
        var e = new float[set.Features.Count][];
        for (int i = 0; i < s.Length; i++)
        {
            QaFeature f = set.Features[i];
            s[i] = new float[f.Length + pad];
            e[i] = new float[f.Length + pad];
            s[i][f.StartPosition] = 10;
            e[i][f.EndPosition] = 10;
        }

        return (s, e);
    }

    [Theory]
    [InlineData("dev-v1.json", 384, 128)]
    [InlineData("dev-v1.json", 128, 32)]
    [InlineData("dev-v2.json", 384, 128)]
    [InlineData("dev-v2.json", 128, 32)]
    public void SyntheticLogitsAtGoldSpans_GiveFullMarks(string file, int maxSeq, int stride)
    {
        bool v2 = file == "dev-v2.json";
        SquadDataset data = v2 ? QaTestData.DevV2 : QaTestData.DevV1;
        QaFeatureSet set = QaTestData.DevFeatures(file, maxSeq, stride);
        int longest = set.Features.Where(f => f.ContainsAnswer).Max(f => f.EndPosition - f.StartPosition + 1);
        var (s, e) = PeakAtLabels(set, pad: 3);
        QaPredictions p = QaPostProcessor.Process(set, s, e, new QaPostProcessOptions {
            VersionTwoWithNegative = v2, MaxAnswerLength = Math.Max(30, longest) });

        Assert.Equal(data.Examples.Select(x => x.Id), p.Predictions.Keys);
        IReadOnlyDictionary<string, double> r;
        if (v2)
        {
            Assert.NotNull(p.NullOdds);
            foreach (SquadExample ex in data.Examples)
            {
                // impossible: null score 20 vs best non-null 0; answerable: the window with the answer has null 0 vs span 20
                Assert.Equal(ex.HasAnswer ? -20.0 : 20.0, p.NullOdds![ex.Id]);
                Assert.Equal(ex.HasAnswer, p.Predictions[ex.Id].Length > 0);
            }

            r = SquadEvaluation.EvaluateV2(data.Examples, p.Predictions, p.NullOdds);
            Assert.Equal(100.0, r["HasAns_exact"]);
            Assert.Equal(100.0, r["NoAns_exact"]);
            Assert.Equal(100.0, r["best_exact"]);
            Assert.Equal(100.0, r["best_f1"]);
            Assert.Equal(100.0, r["exact"]);
            Assert.Equal(100.0, r["f1"]);
        }
        else
        {
            Assert.Null(p.NullOdds);
            r = SquadEvaluation.EvaluateV1(data.Examples, p.Predictions);
            Assert.Equal(100.0, r["exact_match"]);
            Assert.Equal(100.0, r["f1"]);
        }

        int raw = data.Examples.Count(x => x.HasAnswer && p.Predictions[x.Id] == x.Answers[0].Text);
        int over30 = set.Features.Where(f => f.ContainsAnswer && f.EndPosition - f.StartPosition + 1 > 30).Select(f => f.ExampleIndex).Distinct()
            .Count();
        output.WriteLine($"{file} max_seq {maxSeq} stride {stride}: {set.Features.Count} features, longest gold span {longest} tokens " +
                         $"({over30} answers longer than the default max_answer_length 30), " +
                         $"{raw}/{data.Examples.Count(x => x.HasAnswer)} predictions equal the gold text as raw strings; "
                         + string.Join(", ", r.Select(kv => $"{kv.Key}={kv.Value}")));
    }

    // [CLS] which ? [SEP] alpha beta gamma delta [SEP]
    //   0     1   2   3     4    5     6     7     8
    private static QaFeatureSet Tiny() =>
        new QaFeaturizer(QaTestData.Tokenizer).CreateFeatures([QaTestData.ExampleAt("x", "alpha beta  gamma delta", "which?", "beta  gamma")]);

    private static (float[], float[]) TinyLogits(float nullStart = 0, float nullEnd = 0)
    {
        var s = new float[9];
        var e = new float[9];
        s[0] = nullStart; e[0] = nullEnd;
        s[1] = 9;   // question token: never a candidate
        s[5] = 5; s[4] = 3;
        e[6] = 4.5f; e[4] = 2; e[7] = 1; e[5] = 0.5f;
        e[2] = 8;   // question token
        return (s, e);
    }

    [Fact]
    public void HandMadeLogits_NBestRulesAndOriginalText()
    {
        QaFeatureSet set = Tiny();
        Assert.Equal(["[CLS]", "which", "?", "[SEP]", "alpha", "beta", "gamma", "delta", "[SEP]"], set.Features[0].Input.Tokens);
        var (s, e) = TinyLogits();
        QaPredictions p = QaPostProcessor.Process(set, [s], [e]);
        Assert.Equal("beta  gamma", p.Predictions["x"]);           // 5 + 4.5, original inner double space kept
        var nbest = p.NBest["x"];
        // every start ≤ end pair of the 4 context tokens (10), none with a question token; ties keep insertion order
        Assert.Equal(["beta  gamma", "alpha beta  gamma", "beta  gamma delta", "beta", "alpha", "gamma", "alpha beta  gamma delta", "alpha beta",
            "gamma delta", "delta"],
            nbest.Select(n => n.Text));
        Assert.Equal([9.5, 7.5, 6, 5.5, 5, 4.5, 4, 3.5, 1, 1], nbest.Select(n => n.Score));
        Assert.Equal(1.0, nbest.Sum(n => n.Probability), 9);
        Assert.Equal(1 / nbest.Sum(n => Math.Exp(n.Score - 9.5)), nbest[0].Probability, 12);
        Assert.Equal((6, 17), nbest[0].Offsets);

        // max_answer_length 1: single tokens only: beta 5+0.5 > alpha 3+2 > gamma 0+4.5
        p = QaPostProcessor.Process(set, [s], [e], new QaPostProcessOptions { MaxAnswerLength = 1 });
        Assert.Equal(["beta", "alpha", "gamma"], p.NBest["x"].Take(3).Select(n => n.Text));

        // n_best_size 1: top start is the question token, top end too → no candidate → HF's "empty" placeholder
        p = QaPostProcessor.Process(set, [s], [e], new QaPostProcessOptions { NBestSize = 1 });
        Assert.Equal("empty", p.Predictions["x"]);
        Assert.Equal(1.0, Assert.Single(p.NBest["x"]).Probability);
    }

    [Fact]
    public void V2_NullScoreAgainstThreshold()
    {
        QaFeatureSet set = Tiny();
        var (s, e) = TinyLogits(nullStart: 4, nullEnd: 4); // null score 8 vs best span 9.5 → null_odds = −1.5
        var opts = new QaPostProcessOptions { VersionTwoWithNegative = true };
        QaPredictions p = QaPostProcessor.Process(set, [s], [e], opts);
        Assert.Equal(-1.5, p.NullOdds!["x"]);
        Assert.Equal("beta  gamma", p.Predictions["x"]);
        Assert.Contains(p.NBest["x"], n => n.Text == "" && n.Score == 8);
        Assert.Equal("", QaPostProcessor.Process(set, [s], [e], opts with { NullScoreDiffThreshold = -2 }).Predictions["x"]);
        // strictly greater
        Assert.Equal("beta  gamma", QaPostProcessor.Process(set, [s], [e], opts with { NullScoreDiffThreshold = -1.5 }).Predictions["x"]);

        // n_best_size 2: top-2 starts {which, beta}, ends {?, gamma} → one span, plus the null answer
        p = QaPostProcessor.Process(set, [s], [e], opts with { NBestSize = 2 });
        Assert.Equal(["beta  gamma", ""], p.NBest["x"].Select(n => n.Text));

        // a null candidate pushed out of the n-best by better spans is appended back
        var (s2, e2) = TinyLogits(nullStart: -10, nullEnd: -10); // top-3 starts {which, beta, alpha}, ends {?, gamma, alpha}
        p = QaPostProcessor.Process(set, [s2], [e2], opts with { NBestSize = 3 });
        Assert.Equal(["beta  gamma", "alpha beta  gamma", "alpha", ""], p.NBest["x"].Select(n => n.Text));
        Assert.Equal(-20 - 9.5, p.NullOdds!["x"]);
    }

    [Fact]
    public void V2_NullScoreIsMinimumOverFeatures()
    {
        string context = string.Join(" ", Enumerable.Range(0, 40).Select(i => $"w{i}"));
        var ex = QaTestData.ExampleAt("m", context, "which?", "w3");
        QaFeatureSet set = new QaFeaturizer(QaTestData.Tokenizer, new QaFeatureOptions { MaxSeqLength = 30, DocStride = 8 }).CreateFeatures([ex]);
        Assert.True(set.Features.Count >= 3);
        var s = set.Features.Select(f => new float[f.Length]).ToArray();
        var e = set.Features.Select(f => new float[f.Length]).ToArray();
        for (int i = 0; i < s.Length; i++) { s[i][0] = 5 + i; e[i][0] = 5; }      // null scores 10, 11, 12, …: min is 10
        s[^1][set.Features[^1].ContextTokenStart] = 3; e[^1][set.Features[^1].ContextTokenStart] = 4; // best span 7 in the last window
        QaPredictions p = QaPostProcessor.Process(set, s, e, new QaPostProcessOptions { VersionTwoWithNegative = true });
        Assert.Equal(10.0 - 7.0, p.NullOdds!["m"]);
        Assert.Equal("", p.Predictions["m"]);
    }

    [Fact]
    public void OutputFiles_HaveTheOfficialFormat()
    {
        var ex1 = QaTestData.ExampleAt("q1", "Un café  noir, s'il vous plaît.", "quoi?", "café  noir");
        var ex2 = QaTestData.Example("q2", "Nothing here.", "what?");
        QaFeatureSet set = new QaFeaturizer(QaTestData.Tokenizer).CreateFeatures([ex1, ex2]);
        var (s, e) = PeakAtLabels(set);
        QaPredictions p = QaPostProcessor.Process(set, s, e, new QaPostProcessOptions { VersionTwoWithNegative = true, NBestSize = 2 });
        string dir = TestPaths.NewTempDir();
        var written = p.WriteAll(dir);
        Assert.Equal(["predictions.json", "nbest_predictions.json", "null_odds.json"], written.Select(Path.GetFileName));

        Assert.Equal("{\n    \"q1\": \"caf\\u00e9  noir\",\n    \"q2\": \"\"\n}\n", File.ReadAllText(Path.Combine(dir, "predictions.json")));
        Assert.Equal("{\n    \"q1\": -20.0,\n    \"q2\": 20.0\n}\n", File.ReadAllText(Path.Combine(dir, "null_odds.json")));
        string nbest = File.ReadAllText(Path.Combine(dir, "nbest_predictions.json"));
        Assert.StartsWith("{\n    \"q1\": [\n        {\n            \"start_logit\": 10.0,\n            \"end_logit\": 10.0,\n            " +
            "\"text\": \"caf\\u00e9  noir\",\n            \"probability\": ", nbest);

        // the files read back to the same values and feed the official evaluation
        var preds = PyJson.ReadPredictions(Path.Combine(dir, "predictions.json"));
        var odds = PyJson.ReadNaProbs(Path.Combine(dir, "null_odds.json"));
        Assert.Equal(p.Predictions, preds);
        Assert.Equal(p.NullOdds!, odds);
        var r = SquadEvaluation.EvaluateV2([ex1, ex2], preds, odds);
        Assert.Equal(100.0, r["exact"]);
        Directory.Delete(dir, true);

        Assert.Equal(["predictions.json", "nbest_predictions.json"],
            QaPostProcessor.Process(set, s, e).WriteAll(TestPaths.NewTempDir()).Select(Path.GetFileName)); // v1: no null_odds
        Assert.Equal(["eval_predictions.json", "eval_null_odds.json"],
            p.WriteAll(TestPaths.NewTempDir(), prefix: "eval", writeNBest: false).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(1.0, "1.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00012345, "0.00012345")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(123456789.123, "123456789.123")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(1.5e-10, "1.5e-10")]
    [InlineData(3.0000000000000004, "3.0000000000000004")]
    [InlineData(2.0 / 3, "0.6666666666666666")]
    [InlineData(123.0, "123.0")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void Float_MatchesPythonRepr(double v, string expected) => Assert.Equal(expected, PyJson.Float(v));

    [Fact]
    public void Str_MatchesPythonJsonDumps() =>
        Assert.Equal("\"caf\\u00e9 \\\"q\\\" \\\\ \\n\\t\\u007f\\u0001 \\ud83d\\ude00 \\u6771\"", PyJson.Str("café \"q\" \\ \n\t\x7f\x01 😀 東"));
}
