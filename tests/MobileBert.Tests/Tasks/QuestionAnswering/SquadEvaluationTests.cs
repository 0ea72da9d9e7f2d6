using MobileBert.Tasks.QuestionAnswering;
using Xunit;

namespace MobileBert.Tests.Tasks.QuestionAnswering;

/// <summary>Worked examples following the rules of the official evaluate-v1.1.py / evaluate-v2.0.py.</summary>
public sealed class SquadEvaluationTests
{
    [Theory]
    [InlineData("The Cat's  hat!", "cats hat")]                 // lower, punctuation (apostrophe too), article, spaces
    [InlineData("An apple a day", "apple day")]
    [InlineData("  the\tend\nof  THE line.  ", "end of line")]
    [InlineData("theater anthem another", "theater anthem another")] // articles only as whole words
    [InlineData("a,the", "athe")]                                // punctuation is removed BEFORE articles
    [InlineData("A.B. the-end", "ab theend")]
    [InlineData("an_a", "ana")]                                  // '_' is ASCII punctuation
    [InlineData("the2 a1 théâtre", "the2 a1 théâtre")]          // digits / accented letters are word characters
    [InlineData("ÉCOLE «Normale»", "école «normale»")]          // non-ASCII punctuation is kept
    [InlineData("foo\u00a0bar\u3000baz\u001cqux", "foo bar baz qux")] // Python str.split() whitespace
    [InlineData("a an the", "")]
    [InlineData("", "")]
    public void NormalizeAnswer_FollowsOfficialRules(string input, string expected) =>
        Assert.Equal(expected, SquadEvaluation.NormalizeAnswer(input));

    [Fact]
    public void ExactMatch_IgnoresCaseArticlesPunctuationWhitespace()
    {
        Assert.True(SquadEvaluation.ExactMatch("The  Eiffel Tower.", "eiffel tower"));
        Assert.True(SquadEvaluation.ExactMatch("a dog", "the dog!"));
        Assert.False(SquadEvaluation.ExactMatch("Eiffel Towers", "Eiffel Tower"));
        Assert.False(SquadEvaluation.ExactMatch("café", "cafe")); // accents are not stripped
    }

    [Fact]
    public void F1_TokenOverlapWithRepeatedTokens()
    {
        // pred tokens [cat, sat, on, mat], gold [cat, on, mat]: P = 3/4, R = 1, F1 = 6/7
        Assert.Equal(6.0 / 7.0, SquadEvaluation.F1V1("the cat sat on the mat", "cat on mat"), 12);
        // pred [red, red, red, blue], gold [red, blue, blue]: common = min(3,1) + min(1,2) = 2, P = 1/2, R = 2/3, F1 = 4/7
        Assert.Equal(4.0 / 7.0, SquadEvaluation.F1V1("red red red blue", "red blue blue"), 12);
        Assert.Equal(4.0 / 7.0, SquadEvaluation.F1V2("red blue blue", "red red red blue"), 12);
        Assert.Equal(0.0, SquadEvaluation.F1V1("dog", "cat"));
        Assert.Equal(1.0, SquadEvaluation.F1V1("The Cat!", "cat"));
    }

    [Fact]
    public void F1_NoAnswerCases_DifferBetweenV1AndV2()
    {
        Assert.Equal(0.0, SquadEvaluation.F1V1("", ""));           // v1.1: num_same == 0 → 0
        Assert.Equal(1.0, SquadEvaluation.F1V2("", ""));           // v2.0: both empty → 1
        Assert.Equal(1.0, SquadEvaluation.F1V2("", "the"));        // "the" normalises to no tokens
        Assert.Equal(0.0, SquadEvaluation.F1V2("", "something"));
        Assert.Equal(0.0, SquadEvaluation.F1V2("something", ""));
        Assert.True(SquadEvaluation.ExactMatch("", "a"));
    }

    private static SquadExample Q(string id, params string[] answers) =>
        new(id, "t", "ctx", "q?", answers.Select(a => new SquadAnswer(a, 0)).ToArray(), answers.Length == 0);

    [Fact]
    public void EvaluateV1_MaxOverGoldAnswers_MissingScoresZero()
    {
        var data = new[] { Q("q1", "Paris", "the city of Paris"), Q("q2", "red", "red blue blue"), Q("q3", "x") };
        var preds = new Dictionary<string, string> { ["q1"] = "paris.", ["q2"] = "red red red blue" };
        var r = SquadEvaluation.EvaluateV1(data, preds, out var missing);
        Assert.Equal(["exact_match", "f1"], r.Keys.ToArray());
        Assert.Equal(100.0 / 3, r["exact_match"], 10);              // q1 exact, q2 not, q3 missing
        Assert.Equal(100.0 * (1 + 4.0 / 7.0) / 3, r["f1"], 10);     // q2: max(F1 vs "red" = 2/5, vs "red blue blue" = 4/7)
        Assert.Equal(["q3"], missing);
        Assert.Equal(2.0 / 5.0, SquadEvaluation.F1V1("red red red blue", "red"), 12);
    }

    // q1, q2 answerable; q3, q4 unanswerable.
    private static readonly SquadExample[] V2Data = [Q("q1", "Paris"), Q("q2", "blue whale"), Q("q3"), Q("q4")];
    private static readonly Dictionary<string, string> V2Preds = new() { ["q1"] = "Paris", ["q2"] = "whale", ["q3"] = "", ["q4"] = "something" };
    private static readonly Dictionary<string, double> V2Na = new() { ["q1"] = 0.1, ["q2"] = 0.6, ["q3"] = 0.3, ["q4"] = 0.8 };

    [Fact]
    public void EvaluateV2_HasAnsNoAnsBreakdownAndOfficialKeys()
    {
        var r = SquadEvaluation.EvaluateV2(V2Data, V2Preds);
        Assert.Equal(["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1", "NoAns_total"],
            r.Keys.ToArray());
        // raw exact: q1 1, q2 0, q3 1 (empty for impossible is correct), q4 0; raw F1: 1, 2/3 ("whale" vs "blue whale"), 1, 0
        Assert.Equal(50.0, r["exact"], 10);
        Assert.Equal(100.0 * (1 + 2.0 / 3 + 1 + 0) / 4, r["f1"], 10);
        Assert.Equal(4, r["total"]);
        Assert.Equal(50.0, r["HasAns_exact"], 10);
        Assert.Equal(100.0 * (1 + 2.0 / 3) / 2, r["HasAns_f1"], 10);
        Assert.Equal(2, r["HasAns_total"]);
        Assert.Equal(50.0, r["NoAns_exact"], 10);
        Assert.Equal(50.0, r["NoAns_f1"], 10);
        Assert.Equal(2, r["NoAns_total"]);
    }

    [Fact]
    public void EvaluateV2_BestThresholdSearch_HandComputed()
    {
        var r = SquadEvaluation.EvaluateV2(V2Data, V2Preds, V2Na);
        // Start at "no answer for everything": 2 (q3, q4 correct). By increasing na-prob:
        // exact: q1(0.1) +1 → 3 [best, 0.1]; q3(0.3) +0 → 3; q2(0.6) +0 → 3; q4(0.8) −1 → 2  ⇒ best_exact 75 at 0.1
        // f1:    q1 +1 → 3 [0.1]; q3 +0 → 3; q2 +2/3 → 3.667 [best, 0.6]; q4 −1 → 2.667       ⇒ best_f1 91.67 at 0.6
        Assert.Equal(75.0, r["best_exact"], 10);
        Assert.Equal(0.1, r["best_exact_thresh"], 12);
        Assert.Equal(100.0 * (3 + 2.0 / 3) / 4, r["best_f1"], 10);
        Assert.Equal(0.6, r["best_f1_thresh"], 12);
        Assert.Equal(50.0, r["exact"], 10); // na-probs ≤ 1.0 (default na_prob_thresh): no override
        Assert.Equal(["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"], r.Keys.Skip(9).ToArray());
    }

    [Fact]
    public void EvaluateV2_NaProbThresholdOverridesPredictions()
    {
        // na_prob_thresh 0.5: q2 (0.6) and q4 (0.8) count as "no answer": q2 → 0, q4 → 1.
        var r = SquadEvaluation.EvaluateV2(V2Data, V2Preds, V2Na, naProbThresh: 0.5);
        Assert.Equal(75.0, r["exact"], 10);
        Assert.Equal(75.0, r["f1"], 10);
        Assert.Equal(100.0, r["NoAns_exact"], 10);
        Assert.Equal(50.0, r["HasAns_f1"], 10);
    }

    [Fact]
    public void EvaluateV2_GoldAnswersNormalisingToEmptyAreIgnored()
    {
        // answerable (has answers) but its only gold normalises to "": gold becomes [""], so "" is exact.
        var data = new[] { Q("q1", "The!") };
        var r = SquadEvaluation.EvaluateV2(data, new Dictionary<string, string> { ["q1"] = "" });
        Assert.Equal(100.0, r["HasAns_exact"]);
        Assert.False(r.ContainsKey("NoAns_total"));
    }

    [Fact]
    public void EvaluateV2_MissingPredictionIsAnError()
    {
        var ex = Assert.Throws<ArgumentException>(() => SquadEvaluation.EvaluateV2(V2Data, new Dictionary<string, string> { ["q1"] = "x" }));
        Assert.Contains("q2", ex.Message);
    }

    [Fact]
    public void OfficialJson_PrintsTotalsAsIntegers()
    {
        string json = SquadEvaluation.ToOfficialJson(SquadEvaluation.EvaluateV2(V2Data, V2Preds));
        Assert.StartsWith("{\n  \"exact\": 50.0,\n  \"f1\": 66.66666666666666,\n  \"total\": 4,\n", json);
    }
}
