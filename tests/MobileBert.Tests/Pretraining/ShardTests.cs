using MobileBert.PretrainingData;
using Xunit;

namespace MobileBert.Tests.Pretraining;

/// <summary>Shards, manifest, reuse, atomicity, held-out split, batches and resume.</summary>
public sealed class ShardTests
{
    private static (string Dir, string[] Inputs) SmallCorpus()
    {
        string dir = TestPaths.NewTempDir();
        string input = Path.Combine(dir, "corpus");
        Directory.CreateDirectory(input);
        PretrainingTestData.KjvSlice(input, 60_000);
        PretrainingTestData.Slice(input, "persuasion.txt", "austen/persuasion.txt", 40_000, skipChars: 2_000);
        File.Copy(PretrainingTestData.Corpus("sotu", "1790_george_washington_n.json"), Path.Combine(input, "sotu.json"));
        return (dir, [input]);
    }

    private static PretrainingOptions Opts(long seed = 7) => PretrainingTestData.Options(
        seq: 96, dupe: 2, seed: seed) with { ExamplesPerShard = 300, HeldOutFraction = 0.1 };

    private static string[] ShardFiles(string dir) => Directory.GetFiles(dir, "*.mbpt").Select(Path.GetFileName).Order(StringComparer.Ordinal)
        .ToArray()!;

    [Fact]
    public void RoundTripThroughMemoryMappedShards()
    {
        var tok = PretrainingTestData.Tok;
        var (dir, inputs) = SmallCorpus();
        string outDir = Path.Combine(dir, "shards");
        var o = Opts();
        var result = PretrainingDataBuilder.Build(inputs, tok, outDir, o);
        Assert.False(result.Reused);
        var mem = PretrainingDataBuilder.CreateExamples(inputs, tok, o);

        foreach ((string split, IReadOnlyList<PretrainingExample> expected) in new[] { ("train", mem.Train), ("heldout", mem.HeldOut) })
        {
            Assert.True(expected.Count > 0);
            using var ds = PretrainingDataset.Open(outDir, split);
            Assert.Equal(expected.Count, ds.Count);
            Assert.Equal(96, ds.MaxSeqLength);
            Assert.Equal(tok.VocabSize, ds.VocabSize);
            for (int i = 0; i < expected.Count; i++) Assert.True(expected[i].ContentEquals(ds[i]),
                $"{split} example {i} differs after the round trip");

            int[] idx = [0, expected.Count - 1, expected.Count / 2];
            var batch = ds.GetBatch(idx);
            Assert.Equal(3, batch.Batch);
            Assert.Equal(96, batch.Seq);
            for (int r = 0; r < idx.Length; r++)
            {
                var e = expected[idx[r]];
                var row = new Range(r * 96, (r + 1) * 96);
                int[] ids = batch.InputIds[row], mask = batch.AttentionMask[row], types = batch.TokenTypeIds[row], labels = batch.MlmLabels[row];
                Assert.Equal(e.InputIds, ids[..e.Length]);
                Assert.All(ids[e.Length..], t => Assert.Equal(tok.PadId, t));
                Assert.Equal(e.TokenTypeIds, types[..e.Length]);
                Assert.All(types[e.Length..], t => Assert.Equal(0, t));
                Assert.All(mask[..e.Length], m => Assert.Equal(1, m));
                Assert.All(mask[e.Length..], m => Assert.Equal(0, m));
                Assert.Equal(e.DenseMlmLabels(96), labels);
                Assert.Equal(e.NextSentenceLabel, batch.NextSentenceLabels[r]);
            }
        }

        var m = PretrainingManifest.Load(result.ManifestPath);
        Assert.True(m.Splits["train"].Shards.Count > 1, "expected several shards");
        Assert.Equal(7, m.Seed);
        Assert.Equal(96, (int)m.Settings["maxSeqLength"]!);
        Assert.Equal(mem.Train.Count, m.Splits["train"].Examples);
        Assert.Equal(ShardFiles(outDir), m.Splits.Values.SelectMany(s => s.Shards).Select(s => s.File).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void SameSettingsGiveIdenticalShardsAndTheSecondBuildIsReused()
    {
        var tok = PretrainingTestData.Tok;
        var (dir, inputs) = SmallCorpus();
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b"), c = Path.Combine(dir, "c");
        PretrainingDataBuilder.Build(inputs, tok, a, Opts() with { MaxDegreeOfParallelism = 1 });
        PretrainingDataBuilder.Build(inputs, tok, b, Opts() with { MaxDegreeOfParallelism = 3 });
        PretrainingDataBuilder.Build(inputs, tok, c, Opts(seed: 8));
        Assert.Equal(ShardFiles(a), ShardFiles(b));
        foreach (string f in ShardFiles(a))
            Assert.True(File.ReadAllBytes(Path.Combine(a, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, f))), $"{f} differs");
        Assert.False(File.ReadAllBytes(Path.Combine(a, "train-00000.mbpt")).AsSpan().SequenceEqual(
            File.ReadAllBytes(Path.Combine(c, "train-00000.mbpt"))));

        var times = ShardFiles(a).ToDictionary(f => f, f => File.GetLastWriteTimeUtc(Path.Combine(a, f)));
        var manifestTime = File.GetLastWriteTimeUtc(Path.Combine(a, "manifest.json"));
        Thread.Sleep(50);
        var progress = new List<PretrainingProgress>();
        var again = PretrainingDataBuilder.Build(inputs, tok, a, Opts(), progress.Add);
        Assert.True(again.Reused);
        Assert.Contains(progress, p => p.Stage == PretrainingStage.Reused);
        Assert.DoesNotContain(progress, p => p.Stage == PretrainingStage.Tokenizing);
        foreach ((string f, DateTime t) in times) Assert.Equal(t, File.GetLastWriteTimeUtc(Path.Combine(a, f)));
        Assert.Equal(manifestTime, File.GetLastWriteTimeUtc(Path.Combine(a, "manifest.json")));

        // Changed input bytes or settings → rebuilt; stale shards of the old build are removed.
        File.AppendAllText(Directory.GetFiles(inputs[0], "*.txt")[0], "\n\nA brand new document. With two sentences.\n");
        Assert.False(PretrainingDataBuilder.Build(inputs, tok, a, Opts()).Reused);
        var rebuilt = PretrainingDataBuilder.Build(inputs, tok, a, Opts() with { ExamplesPerShard = 100_000 });
        Assert.False(rebuilt.Reused);
        Assert.Equal(["heldout-00000.mbpt", "train-00000.mbpt"], ShardFiles(a));
    }

    [Fact]
    public void FailedBuildLeavesNoPartialFilesAndKeepsThePreviousBuild()
    {
        var tok = PretrainingTestData.Tok;
        var (dir, inputs) = SmallCorpus();
        string fresh = Path.Combine(dir, "fresh");
        void Fail(PretrainingProgress p)
        {
            if (p.Stage == PretrainingStage.CreatingExamples && p.Split == "train" && p.Round == 1) throw new IOException("disk full (simulated)");
        }
        Assert.Throws<IOException>(() => PretrainingDataBuilder.Build(inputs, tok, fresh, Opts(), Fail));
        Assert.Empty(Directory.GetFiles(fresh)); // shards of round 0 were written as temp files, then deleted

        string existing = Path.Combine(dir, "existing");
        var good = PretrainingDataBuilder.Build(inputs, tok, existing, Opts());
        var before = Directory.GetFiles(existing).Order().Select(f => (f, File.ReadAllBytes(f))).ToArray();
        Assert.Throws<IOException>(() => PretrainingDataBuilder.Build(inputs, tok, existing, Opts(seed: 99), Fail));
        var after = Directory.GetFiles(existing).Order().ToArray();
        Assert.Equal(before.Select(x => x.f), after);
        foreach ((string f, byte[] bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(f));
        using var ds = PretrainingDataset.Open(existing);
        Assert.Equal(good.Manifest.Splits["train"].Examples, ds.Count);
    }

    [Fact]
    public void HeldOutDocumentsNeverReachTrainingExamples()
    {
        var tok = PretrainingTestData.Tok;
        var (_, inputs) = SmallCorpus();
        var set = PretrainingDataBuilder.CreateExamples(inputs, tok, Opts() with { HeldOutFraction = 0.25, DupeFactor = 3 });
        var heldDocs = set.Documents.HeldOut.Select(d => d.CorpusIndex).ToHashSet();
        var trainDocs = set.Documents.Train.Select(d => d.CorpusIndex).ToHashSet();
        Assert.True(heldDocs.Count > 10);
        Assert.Empty(heldDocs.Intersect(trainDocs));

        // Content check, independent of provenance: every 6-gram of a training example occurs in a training document.
        static IEnumerable<string> Grams(ReadOnlySpan<int> ids)
        {
            var list = new List<string>();
            for (int i = 0; i + 6 <= ids.Length; i++) list.Add(string.Join(',', ids.Slice(i, 6).ToArray()));
            return list;
        }
        var trainGrams = set.Documents.Train.SelectMany(d => Grams(d.Tokens)).ToHashSet();
        var heldOnlyGrams = set.Documents.HeldOut.SelectMany(d => Grams(d.Tokens)).Where(g => !trainGrams.Contains(g)).ToHashSet();
        Assert.True(heldOnlyGrams.Count > 1000);
        foreach (var e in set.Train)
        {
            Assert.DoesNotContain(e.Provenance!.DocumentA, heldDocs);
            Assert.DoesNotContain(e.Provenance!.DocumentB, heldDocs);
            int[] orig = e.OriginalInputIds();
            int firstB = Array.IndexOf(e.TokenTypeIds, 1);
            foreach (string g in Grams(orig.AsSpan(1, firstB - 2)).Concat(Grams(orig.AsSpan(firstB, orig.Length - firstB - 1))))
                Assert.Contains(g, trainGrams);
        }
        foreach (var e in set.HeldOut)
        {
            Assert.Contains(e.Provenance!.DocumentA, heldDocs);
            Assert.Contains(e.Provenance!.DocumentB, heldDocs);
        }
    }

    [Fact]
    public void CorpusTooSmallForHeldOutOrSequenceLength()
    {
        var tok = PretrainingTestData.Tok;
        string dir = TestPaths.NewTempDir();
        string f = Path.Combine(dir, "tiny.txt");
        File.WriteAllText(f, "One small document. Two sentences.\n\nAnother document. Also short.\n\nA third one. Here.\n");
        var o = new PretrainingOptions { MaxSeqLength = 16, DupeFactor = 1 };
        var ex = Assert.Throws<PretrainingDataException>(() => PretrainingDataBuilder.Build(
            [f], tok, Path.Combine(dir, "o1"), o with { HeldOutFraction = 0.5 }));
        Assert.Contains("3 documents", ex.Message);
        Assert.Contains(f, ex.Message);
        var ex2 = Assert.Throws<PretrainingDataException>(() => PretrainingDataBuilder.Build(
            [f], tok, Path.Combine(dir, "o2"), o with { MaxSeqLength = 512 }));
        Assert.Contains("512", ex2.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "o1")) && Directory.GetFiles(Path.Combine(dir, "o1")).Length > 0);
        // Small but sufficient: works.
        var ok = PretrainingDataBuilder.Build([f], tok, Path.Combine(dir, "o3"), o);
        Assert.True(ok.Manifest.Splits["train"].Examples >= 3);
    }

    [Fact]
    public void SkipBadFilesIsRecordedInTheManifest()
    {
        var tok = PretrainingTestData.Tok;
        var (dir, inputs) = SmallCorpus();
        File.WriteAllText(Path.Combine(inputs[0], "zz-bad.json"), "{\"text\": ");   // malformed (invalid UTF-8 is replaced, not skipped)
        var ex = Assert.Throws<PretrainingDataException>(() => PretrainingDataBuilder.Build(inputs, tok, Path.Combine(dir, "x"), Opts()));
        Assert.EndsWith("zz-bad.json", ex.Path);
        var r = PretrainingDataBuilder.Build(inputs, tok, Path.Combine(dir, "y"),
            Opts() with { Corpus = new CorpusReadOptions { SkipBadFiles = true, MinSentencesPerDocument = 2 } });
        var skipped = Assert.Single(r.Manifest.SkippedFiles);
        Assert.EndsWith("zz-bad.json", skipped.Path);
        Assert.Single(PretrainingManifest.Load(r.ManifestPath).SkippedFiles);
    }

    [Fact]
    public void BatchIteratorShufflesPerEpochAndResumesExactly()
    {
        var tok = PretrainingTestData.Tok;
        var (dir, inputs) = SmallCorpus();
        string outDir = Path.Combine(dir, "s");
        PretrainingDataBuilder.Build(inputs, tok, outDir, Opts() with { HeldOutFraction = 0 });
        using var ds = PretrainingDataset.Open(outDir);
        int n = ds.Count, bs = 32;
        var it = new PretrainingBatchIterator(ds, bs, seed: 3);
        int batchesPerEpoch = (n + bs - 1) / bs;
        var seen = new List<int>();
        var all = new List<PretrainingBatch>();
        for (int i = 0; i < batchesPerEpoch; i++) { var b = it.Next(); all.Add(b); seen.AddRange(b.ExampleIndices); Assert.Equal(0, b.Epoch); }
        Assert.Equal(Enumerable.Range(0, n), seen.Order());
        Assert.NotEqual(Enumerable.Range(0, n), seen);
        Assert.Equal(new DataPosition(1, 0), it.Position);
        var e1 = it.Next();
        Assert.Equal(1, e1.Epoch);
        Assert.NotEqual(all[0].ExampleIndices, e1.ExampleIndices);

        // Save mid-epoch, continue, and compare with a fresh iterator resumed from the saved position.
        var saved = it.Position;
        var continued = Enumerable.Range(0, 5).Select(_ => it.Next()).ToArray();
        var resumed = new PretrainingBatchIterator(ds, bs, seed: 3, start: saved);
        foreach (var c in continued)
        {
            var r = resumed.Next();
            Assert.Equal(c.ExampleIndices, r.ExampleIndices);
            Assert.Equal(c.InputIds, r.InputIds);
            Assert.Equal(c.MlmLabels, r.MlmLabels);
            Assert.Equal(c.NextSentenceLabels, r.NextSentenceLabels);
        }
        Assert.Equal(it.Position, resumed.Position);

        var dropLast = new PretrainingBatchIterator(ds, bs, seed: 3, dropLast: true);
        for (int i = 0; i < batchesPerEpoch + 2; i++) Assert.Equal(bs, dropLast.Next().Batch);
    }
}
