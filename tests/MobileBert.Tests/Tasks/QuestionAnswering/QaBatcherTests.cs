using MobileBert.Tasks.QuestionAnswering;
using Xunit;

namespace MobileBert.Tests.Tasks.QuestionAnswering;

public sealed class QaBatcherTests
{
    private static QaFeatureSet Set() =>
        new QaFeaturizer(QaTestData.Tokenizer, new QaFeatureOptions { MaxSeqLength = 64, DocStride = 16 }).CreateFeatures(
        QaTestData.DevV2.Examples.Take(40).ToList());

    [Fact]
    public void Batches_PadAndCarryLabelsAndFeatureIndices()
    {
        QaFeatureSet set = Set();
        var batcher = new QaBatcher(set, QaTestData.Tokenizer.PadId, new QaBatcherOptions { BatchSize = 8 });
        var batches = batcher.Batches().ToList();
        Assert.Equal(batcher.BatchCount, batches.Count);
        Assert.Equal(Enumerable.Range(0, set.Features.Count), batches.SelectMany(b => b.FeatureIndices));
        foreach (QaBatch b in batches)
        {
            int seq = b.Input.Seq;
            Assert.Equal(b.FeatureIndices.Max(i => set.Features[i].Length), seq);
            for (int r = 0; r < b.Input.Batch; r++)
            {
                QaFeature f = set.Features[b.FeatureIndices[r]];
                Assert.Equal(f.StartPosition, b.StartPositions[r]);
                Assert.Equal(f.EndPosition, b.EndPositions[r]);
                for (int t = 0; t < seq; t++)
                {
                    bool real = t < f.Length;
                    Assert.Equal(real ? f.Input.InputIds[t] : QaTestData.Tokenizer.PadId, b.Input.InputIds[r * seq + t]);
                    Assert.Equal(real ? 1 : 0, b.Input.AttentionMask[r * seq + t]);
                    Assert.Equal(real ? f.Input.TokenTypeIds[t] : 0, b.Input.TokenTypeIds[r * seq + t]);
                }
            }
        }

        Assert.Contains(batches, b => b.StartPositions.Any(x => x > 0));
        Assert.Contains(batches, b => b.StartPositions.Any(x => x == 0));
    }

    [Fact]
    public void Shuffle_IsDeterministicPerEpoch_DropLastAndFixedLength()
    {
        QaFeatureSet set = Set();
        var opts = new QaBatcherOptions { BatchSize = 5, Shuffle = true, Seed = 7, DropLast = true, PadToLength = 64 };
        var a = new QaBatcher(set, 0, opts);
        Assert.Equal(a.Order(0), new QaBatcher(set, 0, opts).Order(0));
        Assert.NotEqual(a.Order(0), a.Order(1));
        Assert.Equal(Enumerable.Range(0, set.Features.Count), a.Order(1).Order());
        var batches = a.Batches(1).ToList();
        Assert.Equal(set.Features.Count / 5, batches.Count);
        Assert.All(batches, b => Assert.Equal((5, 64), (b.Input.Batch, b.Input.Seq)));
        Assert.Throws<ArgumentException>(() => new QaBatcher(set, 0, opts with { PadToLength = 10 }));
    }

    [Fact]
    public void LogitCollector_GathersPaddedBatchesBackToFeatures()
    {
        QaFeatureSet set = Set();
        var (s, e) = QaPostProcessorTests.PeakAtLabels(set);
        var collector = new QaLogitCollector(set);
        var batcher = new QaBatcher(set, 0, new QaBatcherOptions { BatchSize = 6, Shuffle = true });
        foreach (QaBatch b in batcher.Batches())
        {
            // what a model would return: [B, S] rows, padding positions filled with large junk that must be ignored
            var bs = new float[b.Input.Batch * b.Input.Seq];
            var be = new float[bs.Length];
            Array.Fill(bs, 100f);
            Array.Fill(be, 100f);
            for (int r = 0; r < b.Input.Batch; r++)
            {
                s[b.FeatureIndices[r]].CopyTo(bs, r * b.Input.Seq);
                e[b.FeatureIndices[r]].CopyTo(be, r * b.Input.Seq);
            }

            Assert.False(collector.IsComplete);
            collector.Add(b, bs, be);
        }

        Assert.True(collector.IsComplete);
        var opts = new QaPostProcessOptions { VersionTwoWithNegative = true, MaxAnswerLength = 64 };
        QaPredictions viaBatches = collector.Finish(opts);
        QaPredictions direct = QaPostProcessor.Process(set, s, e, opts);
        Assert.Equal(direct.Predictions, viaBatches.Predictions);
        Assert.Equal(direct.NullOdds!, viaBatches.NullOdds!);
        Assert.Equal(100.0, SquadEvaluation.EvaluateV2(set.Examples, viaBatches.Predictions)["exact"]);
        Assert.Throws<InvalidOperationException>(() => new QaLogitCollector(set).Finish());
    }
}
