using MobileBert.PretrainingData;
using Xunit;

namespace MobileBert.Tests.Pretraining;

/// <summary>Pair and mask semantics on ~120 KB of Genesis (in-memory examples).</summary>
public sealed class ExampleCreationTests
{
    private static readonly Lazy<(string Dir, string File)> Kjv = new(() =>
    {
        string dir = TestPaths.NewTempDir();
        return (dir, PretrainingTestData.KjvSlice(dir));
    });

    private static readonly Lazy<PretrainingExampleSet> Default = new(() =>
        PretrainingDataBuilder.CreateExamples([Kjv.Value.File], PretrainingTestData.Tok, PretrainingTestData.Options(dupe: 4)));

    private static PretrainingExampleSet Create(PretrainingOptions o) => PretrainingDataBuilder.CreateExamples(
        [Kjv.Value.File], PretrainingTestData.Tok, o);

    [Fact]
    public void SameSeedSameExamplesAcrossThreadCounts_DifferentSeedDiffers()
    {
        var o = PretrainingTestData.Options(dupe: 2);
        var a = Create(o with { MaxDegreeOfParallelism = 1 });
        var b = Create(o with { MaxDegreeOfParallelism = 4 });
        Assert.Equal(a.Train.Count, b.Train.Count);
        for (int i = 0; i < a.Train.Count; i++) Assert.True(a.Train[i].ContentEquals(b.Train[i]), $"example {i} differs");
        var c = Create(o with { Seed = 8 });
        int same = Enumerable.Range(0, Math.Min(a.Train.Count, c.Train.Count)).Count(i => a.Train[i].ContentEquals(c.Train[i]));
        Assert.True(same < a.Train.Count / 20, $"{same} of {a.Train.Count} examples identical with another seed");
    }

    [Fact]
    public void LayoutLengthsAndTokenTypes()
    {
        var tok = PretrainingTestData.Tok;
        var set = Default.Value;
        Assert.True(set.Train.Count > 500, $"only {set.Train.Count} examples");
        foreach (var e in set.Train)
        {
            Assert.InRange(e.Length, 5, 128);
            Assert.Equal(tok.ClsId, e.InputIds[0]);
            Assert.Equal(tok.SepId, e.InputIds[^1]);
            int firstB = Array.IndexOf(e.TokenTypeIds, 1);
            Assert.True(firstB >= 3, "segment A must have at least one token");
            Assert.Equal(tok.SepId, e.InputIds[firstB - 1]);
            Assert.All(e.TokenTypeIds[firstB..], t => Assert.Equal(1, t));
            Assert.All(e.TokenTypeIds[..firstB], t => Assert.Equal(0, t));
            Assert.True(e.Length - firstB >= 2, "segment B must have at least one token");
        }
        // Most sequences are filled up to the maximum.
        Assert.True(set.Train.Count(e => e.Length == 128) > set.Train.Count / 2);
    }

    [Fact]
    public void MaskingStatistics()
    {
        var tok = PretrainingTestData.Tok;
        var set = Create(PretrainingTestData.Options(dupe: 4) with { MaxPredictionsPerSeq = 1000 });
        long candidates = 0, masked = 0, asMask = 0, kept = 0, random = 0;
        foreach (var e in set.Train)
        {
            int firstB = Array.IndexOf(e.TokenTypeIds, 1);
            int cand = e.Length - 3;
            candidates += cand;
            masked += e.MaskedPositions.Length;
            Assert.Equal(Math.Max(1, (int)Math.Round(cand * 0.15, MidpointRounding.ToEven)), e.MaskedPositions.Length);
            for (int k = 0; k < e.MaskedPositions.Length; k++)
            {
                int p = e.MaskedPositions[k];
                Assert.True(p > 0 && p < e.Length - 1 && p != firstB - 1, $"masked special position {p}");
                if (k > 0) Assert.True(p > e.MaskedPositions[k - 1]);
                int label = e.MaskedLabelIds[k];
                Assert.NotEqual(tok.ClsId, label);
                Assert.NotEqual(tok.SepId, label);
                Assert.NotEqual(tok.PadId, label);
                if (e.InputIds[p] == tok.MaskId) asMask++;
                else if (e.InputIds[p] == label) kept++;
                else random++;
            }
            // Unmasked positions hold the original tokens: no [MASK] anywhere else.
            var maskedSet = e.MaskedPositions.ToHashSet();
            for (int p = 0; p < e.Length; p++)
                if (!maskedSet.Contains(p)) Assert.NotEqual(tok.MaskId, e.InputIds[p]);
        }

        double rate = (double)masked / candidates;
        Assert.InRange(rate, 0.145, 0.155);
        Assert.True(masked > 10_000, $"only {masked} masked tokens");
        Assert.InRange((double)asMask / masked, 0.78, 0.82);
        Assert.InRange((double)kept / masked, 0.085, 0.115);
        Assert.InRange((double)random / masked, 0.085, 0.115);
    }

    [Fact]
    public void MaxPredictionsIsACap()
    {
        var set = Create(PretrainingTestData.Options(dupe: 1) with { MaxPredictionsPerSeq = 5 });
        Assert.All(set.Train, e => Assert.InRange(e.MaskedPositions.Length, 1, 5));
        Assert.True(set.Train.Count(e => e.MaskedPositions.Length == 5) > set.Train.Count * 0.8);
    }

    private static int WordSplits(PretrainingExampleSet set)
    {
        var tok = PretrainingTestData.Tok;
        int splits = 0;
        foreach (var e in set.Train)
        {
            int[] orig = e.OriginalInputIds();
            var m = e.MaskedPositions.ToHashSet();
            for (int p = 1; p < e.Length - 1; p++)
            {
                // a segment may start mid-word after truncation
                bool cont = tok.IdToToken(orig[p]).StartsWith("##") && orig[p - 1] != tok.SepId && orig[p - 1] != tok.ClsId;
                if (cont && m.Contains(p) != m.Contains(p - 1)) splits++; // a word partly masked
            }
        }
        return splits;
    }

    [Fact]
    public void WholeWordMaskingMasksWholeWords()
    {
        var o = PretrainingTestData.Options(dupe: 2);
        var wwm = Create(o with { WholeWordMasking = true });
        Assert.Equal(0, WordSplits(wwm));
        var tok = PretrainingTestData.Tok;
        int maskedPieces = wwm.Train.Sum(e => e.MaskedLabelIds.Count(id => tok.IdToToken(id).StartsWith("##")));
        Assert.True(maskedPieces > 50, $"only {maskedPieces} ## pieces masked: the test corpus does not exercise whole-word masking");
        Assert.All(wwm.Train, e => Assert.InRange(e.MaskedPositions.Length, 1, 20));
        // Sanity: per-token masking does split words, so the check above can fail.
        Assert.True(WordSplits(Create(o)) > 10);
    }

    [Fact]
    public void NextSentenceIsBalancedAndRandomNextComesFromAnotherDocument()
    {
        var set = Default.Value;
        double randomFraction = set.Train.Average(e => (double)e.NextSentenceLabel);
        Assert.InRange(randomFraction, 0.45, 0.57);
        foreach (var e in set.Train)
        {
            var p = e.Provenance!;
            if (e.NextSentenceLabel == 1) Assert.NotEqual(p.DocumentA, p.DocumentB);
            else
            {
                Assert.Equal(p.DocumentA, p.DocumentB);
                Assert.Equal(p.SentenceEndA, p.SentenceStartB);
            }
        }
    }

    /// <summary>Checks against an independent tokenization of the source sentences that each segment is text from where the provenance
    /// says.</summary>
    [Fact]
    public void SegmentsAreContiguousTextOfTheirDocuments()
    {
        var tok = PretrainingTestData.Tok;
        var set = Default.Value;
        var docs = set.Documents.Corpus.Documents;
        var cache = new Dictionary<(int, int, int), int[]>();
        int[] Text(int doc, int s, int e)
        {
            if (!cache.TryGetValue((doc, s, e), out int[]? ids))
                cache[(doc, s, e)] = ids = docs[doc].Sentences.Skip(s).Take(e - s).SelectMany(x => tok.Tokenize(x)).Select(tok.TokenToId).ToArray();
            return ids;
        }

        int untruncatedNext = 0;
        foreach (var e in set.Train.Take(600))
        {
            int[] orig = e.OriginalInputIds();
            int firstB = Array.IndexOf(e.TokenTypeIds, 1);
            int[] a = orig[1..(firstB - 1)], b = orig[firstB..^1];
            var p = e.Provenance!;
            int[] srcA = Text(p.DocumentA, p.SentenceStartA, p.SentenceEndA), srcB = Text(p.DocumentB, p.SentenceStartB, p.SentenceEndB);
            Assert.True(IndexOf(srcA, a) >= 0, "segment A is not contiguous text of its sentences");
            Assert.True(IndexOf(srcB, b) >= 0, "segment B is not contiguous text of its sentences");
            if (e.NextSentenceLabel == 0 && a.Length == srcA.Length && b.Length == srcB.Length)
            {
                // Not truncated: A then B is exactly the consecutive text of the document.
                Assert.Equal(Text(p.DocumentA, p.SentenceStartA, p.SentenceEndB), a.Concat(b).ToArray());
                untruncatedNext++;
            }
        }
        Assert.True(untruncatedNext > 20);
    }

    private static int IndexOf(int[] hay, int[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
            if (hay.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }

    [Fact]
    public void ShortSequencesAppearAtTheConfiguredRate()
    {
        int maxNum = 128 - 3;
        var p10 = Default.Value;
        double drawn = p10.Train.Average(e => e.Provenance!.TargetLength < maxNum ? 1.0 : 0.0);
        Assert.InRange(drawn, 0.07, 0.13);
        // KJV sentences are ~30 tokens: a pair is rarely < 64
        double ShortFraction(PretrainingExampleSet s) => s.Train.Average(e => e.Length < 96 ? 1.0 : 0.0);
        var p0 = Create(PretrainingTestData.Options(dupe: 2) with { ShortSeqProbability = 0 });
        var p50 = Create(PretrainingTestData.Options(dupe: 2) with { ShortSeqProbability = 0.5 });
        Assert.All(p0.Train, e => Assert.Equal(maxNum, e.Provenance!.TargetLength));
        Assert.True(ShortFraction(p50) - ShortFraction(p0) > 0.15, $"short: {ShortFraction(p0):F3} at p=0 vs {ShortFraction(p50):F3} at p=0.5");
        Assert.All(p50.Train, e => Assert.True(e.Length <= 128));
    }
}

public sealed class CachedTokenizationTests
{
    [Fact]
    public void WordCacheGivesTheSameIdsAsWholeSentenceTokenization()
    {
        var tok = PretrainingTestData.Tok;
        string[] sentences =
        [
            "Héllo, wörld! unaffable [SEP] text[MASK]word and [UNK].",
            "“Curly quotes” — dashes… and 3.5% of U.S. GDP, e.g. naïve café.",
            "Tabs\tand\u00A0no-break spaces, 中文字符 mixed with ASCII.",
            new string('a', 150) + " short " + "Supercalifragilisticexpialidocious!",
            "Mr. Bennet's \"quoted\" _underscored_ (bracketed) words.",
        ];
        var doc = TokenizedDocument.Create(0, sentences, tok)!;
        for (int i = 0; i < sentences.Length; i++)
        {
            int[] expected = tok.Tokenize(sentences[i]).Select(tok.TokenToId).ToArray();
            Assert.Equal(expected, doc.Sentence(i).ToArray());
        }
    }
}
