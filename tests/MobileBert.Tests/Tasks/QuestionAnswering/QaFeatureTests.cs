using MobileBert.Tasks.QuestionAnswering;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Tasks.QuestionAnswering;

public sealed class QaFeatureTests(ITestOutputHelper output)
{
    private static readonly QaFeatureOptions Small = new() { MaxSeqLength = 128, DocStride = 32 };

    private static string Recover(SquadExample ex, QaFeature f) =>
        ex.Context[f.OffsetMapping[f.StartPosition]!.Value.Start..f.OffsetMapping[f.EndPosition]!.Value.End];

    [Theory]
    [InlineData("dev-v1.json")]
    [InlineData("dev-v2.json")]
    public void DocStrideRoundTrip_LabelledSpansRecoverGoldAnswers(string file)
    {
        SquadDataset data = file == "dev-v1.json" ? QaTestData.DevV1 : QaTestData.DevV2;
        QaFeatureSet set = QaTestData.DevFeatures(file, Small.MaxSeqLength, Small.DocStride);

        int answerable = 0, windowsWithAnswer = 0, normalizedEqual = 0, rawEqual = 0, examplesCovered = 0, multiWindowExamples = 0;
        var mismatches = new List<string>();
        for (int e = 0; e < data.Examples.Count; e++)
        {
            SquadExample ex = data.Examples[e];
            IReadOnlyList<int> fis = set.FeaturesPerExample[e];
            Assert.NotEmpty(fis);
            if (fis.Count > 1) multiWindowExamples++;
            if (!ex.HasAnswer)
            {
                Assert.All(fis, fi => Assert.Equal((0, 0), (set.Features[fi].StartPosition, set.Features[fi].EndPosition)));
                continue;
            }

            answerable++;
            bool covered = false;
            foreach (int fi in fis)
            {
                QaFeature f = set.Features[fi];
                if (!f.ContainsAnswer)
                {
                    Assert.Equal(0, f.EndPosition);
                    continue;
                }

                covered = true;
                windowsWithAnswer++;
                Assert.InRange(f.StartPosition, f.ContextTokenStart, f.ContextTokenEnd - 1);
                Assert.InRange(f.EndPosition, f.StartPosition, f.ContextTokenEnd - 1);
                string got = Recover(ex, f);
                string gold = ex.Answers[0].Text;
                if (got == gold) rawEqual++;
                if (SquadEvaluation.NormalizeAnswer(got) == SquadEvaluation.NormalizeAnswer(gold)) normalizedEqual++;
                else mismatches.Add($"{ex.Id}: '{got}' vs '{gold}'");
            }

            // Independent check of the window choice: the answer is in a window iff its character span lies within the window's context span.
            bool fits = fis.Any(fi =>
            {
                QaFeature f = set.Features[fi];
                return f.OffsetMapping[f.ContextTokenStart]!.Value.Start <= ex.Answers[0].AnswerStart
                       && f.OffsetMapping[f.ContextTokenEnd - 1]!.Value.End >= ex.Answers[0].AnswerEnd;
            });
            Assert.Equal(fits, covered);
            if (covered) examplesCovered++;
        }

        output.WriteLine($"{file}: {data.Examples.Count} examples ({answerable} answerable) → {set.Features.Count} features; " +
                         $"{multiWindowExamples} examples span several windows; {examplesCovered}/{answerable} answerable examples have a window " +
                         $"with the answer; " +
                         $"{windowsWithAnswer} windows contain the answer: {normalizedEqual} equal after normalisation, {rawEqual} equal as raw " +
                         $"strings.");
        Assert.Empty(mismatches);
        Assert.Equal(windowsWithAnswer, normalizedEqual);
        Assert.True(multiWindowExamples > 50, "max_seq_length 128 should split many contexts");
        Assert.True(windowsWithAnswer > answerable, "overlapping windows should contain some answers twice");
    }

    [Fact]
    public void WindowsOverlapByDocStrideAndCoverTheContext()
    {
        QaFeatureSet set = QaTestData.DevFeatures("dev-v1.json", 128, 32);
        for (int e = 0; e < 200; e++)
        {
            var fs = set.FeaturesPerExample[e].Select(i => set.Features[i]).ToList();
            var all = QaTestData.Tokenizer.Encode(set.Examples[e].Context, null, int.MaxValue);
            int ctxTokens = all.Length - 2;
            int position = 0;
            for (int w = 0; w < fs.Count; w++)
            {
                QaFeature f = fs[w];
                Assert.Equal(w, f.WindowIndex);
                Assert.True(f.Length <= 128);
                Assert.Equal("[CLS]", f.Input.Tokens[0]);
                Assert.Equal("[SEP]", f.Input.Tokens[f.ContextTokenStart - 1]);
                Assert.Equal("[SEP]", f.Input.Tokens[^1]);
                Assert.Equal(f.Length - 1, f.ContextTokenEnd);
                int window = 128 - (f.ContextTokenStart - 2) - 3;
                int n = f.ContextTokenEnd - f.ContextTokenStart;
                if (w < fs.Count - 1) Assert.Equal(window, n);           // all but the last window are full
                // the window's tokens are the context tokens [position, position + n)
                for (int k = 0; k < n; k++)
                {
                    Assert.Equal(all.InputIds[1 + position + k], f.Input.InputIds[f.ContextTokenStart + k]);
                    Assert.Equal(all.Offsets[1 + position + k], f.OffsetMapping[f.ContextTokenStart + k]);
                }

                for (int t = 0; t < f.Length; t++)
                {
                    bool ctx = t >= f.ContextTokenStart && t < f.ContextTokenEnd;
                    Assert.Equal(ctx, f.OffsetMapping[t] is not null);
                    Assert.Equal(t >= f.ContextTokenStart ? 1 : 0, f.Input.TokenTypeIds[t]);
                    Assert.Equal(ctx ? 1 : t == 0 || t == f.ContextTokenStart - 1 || t == f.Length - 1 ? -1 : 0, f.Input.SequenceIds[t]);
                }

                if (w == fs.Count - 1) Assert.Equal(ctxTokens, position + n); // the last window reaches the end
                position += window - 32;                                      // consecutive windows share DocStride tokens
            }
        }
    }

    [Fact]
    public void QuestionIsLeftStrippedAndTruncatedToMaxQueryLength()
    {
        var ex = QaTestData.ExampleAt("q", "The answer is here.", "   what is the answer to the question about the thing", "here");
        var f = Assert.Single(new QaFeaturizer(QaTestData.Tokenizer, new QaFeatureOptions { MaxQueryLength = 4 }).CreateFeatures(ex));
        Assert.Equal(["[CLS]", "what", "is", "the", "answer", "[SEP]"], f.Input.Tokens[..6]);
        Assert.Equal(6, f.ContextTokenStart);
        Assert.Equal((0, 4), f.Input.Offsets[1]); // offsets into the stripped question
        Assert.Equal("here", ex.Context[f.OffsetMapping[f.StartPosition]!.Value.Start..f.OffsetMapping[f.EndPosition]!.Value.End]);
    }

    [Fact]
    public void AnswerOutsideWindowOrImpossible_LabelsCls()
    {
        string context = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"w{i}")) + " target phrase end";
        var ex = QaTestData.ExampleAt("q", context, "which?", "target phrase");
        var opts = new QaFeatureOptions { MaxSeqLength = 40, DocStride = 10 };
        var fs = new QaFeaturizer(QaTestData.Tokenizer, opts).CreateFeatures(ex);
        Assert.True(fs.Count > 3);
        Assert.All(fs.Take(fs.Count - 1), f => Assert.Equal((0, 0), (f.StartPosition, f.EndPosition)));
        QaFeature last = fs[^1];
        Assert.True(last.ContainsAnswer);
        Assert.Equal("target phrase", context[last.OffsetMapping[last.StartPosition]!.Value.Start..last.OffsetMapping[last.EndPosition]!.Value.End]);

        var impossible = QaTestData.Example("i", context, "which?");
        Assert.All(new QaFeaturizer(QaTestData.Tokenizer, opts).CreateFeatures(impossible), f => Assert.False(f.ContainsAnswer));
    }

    [Fact]
    public void AnswerInLastContextTokenOfWindow_IsLabelledInsideTheContext()
    {
        // HF's run_qa walks past the window into [SEP]/padding in this case; we stop at the last context token.
        var ex = QaTestData.ExampleAt("q", "alpha beta gamma delta", "which?", "delta");
        QaFeature f = Assert.Single(new QaFeaturizer(QaTestData.Tokenizer).CreateFeatures(ex));
        Assert.Equal(f.ContextTokenEnd - 1, f.StartPosition);
        Assert.Equal(f.ContextTokenEnd - 1, f.EndPosition);
    }

    public static TheoryData<string, string> UnicodeCases => new()
    {
        { "Le café  au lait est très bon.", "café  au lait" },                 // accent (stripped by the uncased tokenizer) + double space
        { "Première ligne.\nDeuxième\n\nligne ici.", "Deuxième\n\nligne" },    // newlines inside the answer
        { "Tabs\tand   spaces\t\there.", "and   spaces\t\there" },
        { "我住在北京市中心。", "北京市" },                                           // CJK ideographs are single tokens
        { "東京タワー is tall", "東京" },
        { "Ville: São Paulo, Brasil.", "São Paulo" },
        { "Naïve façade — Ångström units.", "Ångström" },
        { "Decomposed: Cafe\u0301 noir here.", "Cafe\u0301 noir" },              // combining accent (NFC changes length)
        { "Emoji 😀 party 🎉 time now.", "party 🎉 time" },                     // surrogate pairs
        { "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ and more.", "ｔｅｘｔ and" },
    };

    [Theory]
    [MemberData(nameof(UnicodeCases))]
    public void UnicodeAndWhitespace_RawSubstringRecoveredExactly(string context, string answer)
    {
        var ex = QaTestData.ExampleAt("u", context, "what?", answer);
        foreach (var opts in new[] { new QaFeatureOptions(), new QaFeatureOptions { MaxSeqLength = 12, DocStride = 3 } })
        {
            var fs = new QaFeaturizer(QaTestData.Tokenizer, opts).CreateFeatures(ex);
            var with = fs.Where(f => f.ContainsAnswer).ToList();
            Assert.NotEmpty(with);
            Assert.All(with, f => Assert.Equal(answer, Recover(ex, f)));
        }
    }

    [Fact]
    public void TooLongQuestionForStride_Throws()
    {
        var ex = QaTestData.ExampleAt("q", "some context", string.Join(" ", Enumerable.Repeat("word", 40)), "some");
        var e = Assert.Throws<ArgumentException>(() => new QaFeaturizer(QaTestData.Tokenizer,
            new QaFeatureOptions { MaxSeqLength = 48, DocStride = 16 }).CreateFeatures(ex));
        Assert.Contains("DocStride", e.Message);
    }
}
