using MobileBert.Inference;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Inference;

/// <summary>The fast fp32 executor against the reference path (<see cref="MobileBertModel.Forward"/>): ≤ 1e-5 relative per tensor.</summary>
public class InferenceEngineTests
{
    const double Rel = 1e-5;

    internal static MobileBertModel Build(MobileBertConfig c, int seed, ModelHeads heads = ModelHeads.SequenceClassification)
        => TestModels.Perturbed(c, seed, heads);

    /// <summary>Row 0 full, row 1 right-padded, row 2 left-padded, further rows random lengths (right-padded).</summary>
    internal static ModelInput Padded(MobileBertConfig c, int batch, int seq, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[batch * seq]; var mask = new int[batch * seq]; var types = new int[batch * seq];
        for (int b = 0; b < batch; b++)
        {
            int len = b >= 3 ? rng.Next(1, seq + 1) : seq;
            for (int t = 0; t < seq; t++)
            {
                bool real = b switch { 1 => t < seq - 4, 2 => t >= 3, _ => t < len };
                int i = b * seq + t;
                mask[i] = real ? 1 : 0;
                ids[i] = real ? rng.Next(1, c.VocabSize) : c.PadTokenId;
                types[i] = real && t >= seq / 2 ? 1 : 0;
            }
        }
        return new ModelInput(batch, seq, ids, mask, types);
    }

    static void Compare(MobileBertModel model, InferenceEngine engine, ModelInput input, double rel = Rel)
    {
        var o = model.Forward(input, new ForwardOptions { Heads = ModelHeads.SequenceClassification });
        var r = engine.Run(input);
        Tolerance.AssertClose("last_hidden_state", o.LastHiddenState, r.LastHiddenState, rel);
        if (o.PooledOutput is not null) Tolerance.AssertClose("pooler_output", o.PooledOutput, r.PooledOutput, rel);
        if (o.SequenceClassificationLogits is not null) Tolerance.AssertClose("logits", o.SequenceClassificationLogits, r.Logits, rel);
    }

    public static TheoryData<string> Golden => new() { "tiny", "tiny_ln_gelu", "tiny_bottleneck_attn", "tiny_no_bottleneck", "bert_tiny" };

    [Theory, MemberData(nameof(Golden))]
    public void GoldenConfigsMatchForward(string name)
    {
        var (model, input) = GoldenForwardTests.LoadGolden(name);
        model.Threads = 2;
        foreach (int threads in new[] { 1, 2 })
        {
            using var engine = new InferenceEngine(model, new InferenceOptions { Threads = threads });
            Compare(model, engine, input);
            engine.BlockRowsOption = 8; engine.AttentionChunk = 3;        // many row blocks and query chunks
            Compare(model, engine, input);
        }
    }

    public static TheoryData<string> Shapes => new() { "ib_bert_shaped", "mobilebert_shaped", "tiny_shaped", "tiny_shaped_with_kq_flag",
        "no_bottleneck", "ln_gelu_new" };

    [Theory, MemberData(nameof(Shapes))]
    public void RandomConfigsMatchForwardPadded(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = Build(c, 7);
        using var engine = new InferenceEngine(model, new InferenceOptions { Threads = 2 });
        Compare(model, engine, Padded(c, 6, 19, 3));
        Compare(model, engine, Padded(c, 1, 33, 4));                     // larger after smaller: buffers grow
        Compare(model, engine, Padded(c, 2, 5, 5));                      // smaller again: reused buffers
        engine.BlockRowsOption = 16; engine.AttentionChunk = 7;
        Compare(model, engine, Padded(c, 5, 37, 6));
    }

    [Theory]
    [InlineData("ib_bert_large_1layer")]
    [InlineData("bert_base_1layer")]
    [InlineData("minilm_1layer")]
    public void FullSizeOneLayerMatchesForward(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = Build(c, 11);
        using var engine = new InferenceEngine(model);
        Compare(model, engine, Padded(c, 3, 24, 8));
    }

    [Theory, MemberData(nameof(Shapes))]
    public void RaggedEqualsEachSequenceAlone(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = Build(c, 21);
        // The trigram of a sequence's last token reads the [PAD] row when padded; unpadded it reads zeros. Keep it zero (as HF's padding_idx).
        model.Store.Span(model.Embeddings.WordEmbeddings).Slice(c.PadTokenId * c.EmbeddingSize, c.EmbeddingSize).Clear();
        var rng = new Random(5);
        var seqs = Enumerable.Range(0, 7).Select(i =>
        {
            int len = i == 0 ? 1 : rng.Next(1, c.MaxPositionEmbeddings + 1);
            return new TokenSequence(Enumerable.Range(0, len).Select(_ => rng.Next(1, c.VocabSize)).ToArray(),
                Enumerable.Range(0, len).Select(t => t >= len / 2 ? 1 : 0).ToArray());
        }).ToArray();
        using var engine = new InferenceEngine(model, new InferenceOptions { Threads = 2, BlockRows = 16, AttentionChunk = 8 });
        var r = engine.Run(seqs);
        Assert.Equal(seqs.Sum(s => s.InputIds.Length), r.Rows);
        int h = c.HiddenSize;
        var pooled = r.PooledOutput.ToArray(); var logits = r.Logits.ToArray();
        var hidden = Enumerable.Range(0, seqs.Length).Select(i => r.HiddenState(i).ToArray()).ToArray();
        for (int i = 0; i < seqs.Length; i++)
        {
            int len = seqs[i].InputIds.Length;
            var o = model.Forward(new ModelInput(1, len, seqs[i].InputIds, null, seqs[i].TokenTypeIds),
                new ForwardOptions { Heads = ModelHeads.SequenceClassification });
            Tolerance.AssertClose($"seq{i}.hidden", o.LastHiddenState, hidden[i], Rel);
            Tolerance.AssertClose($"seq{i}.pooled", o.PooledOutput, pooled.AsSpan(i * h, h), Rel);
            Tolerance.AssertClose($"seq{i}.logits", o.SequenceClassificationLogits, logits.AsSpan(i * c.NumLabels, c.NumLabels), Rel);
        }
        // Right-padded rows of a padded batch agree with the ragged run on the real tokens.
        int maxLen = seqs.Max(s => s.InputIds.Length);
        var ids = new int[seqs.Length * maxLen]; var mask = new int[ids.Length]; var types = new int[ids.Length];
        for (int i = 0; i < seqs.Length; i++)
            for (int t = 0; t < seqs[i].InputIds.Length; t++) { ids[i * maxLen + t] = seqs[i].InputIds[t]; mask[i * maxLen + t] = 1;
                types[i * maxLen + t] = seqs[i].TokenTypeIds![t]; }
        var padded = engine.Run(new ModelInput(seqs.Length, maxLen, ids, mask, types));
        for (int i = 0; i < seqs.Length; i++)
            Tolerance.AssertClose($"padded{i}", hidden[i], padded.LastHiddenState.Slice(i * maxLen * h, seqs[i].InputIds.Length * h), Rel);
    }

    public static TheoryData<string, bool> SequenceBlockCases()
    {
        var d = new TheoryData<string, bool>();
        foreach (var name in new[] { "mobilebert_shaped", "ib_bert_shaped", "tiny_shaped", "no_bottleneck" }) { d.Add(name, false);
            d.Add(name, true); }
        return d;
    }

    /// <summary>With ≥ 4 sequences per thread the engine runs whole-sequence blocks that do their own attention inside
    /// the row-wise region: bit-identical to row blocks + a separate attention region, fp32 and int8, ragged (one
    /// sequence longer than a block's share) and padded; fp32 also equal to model.Forward.</summary>
    [Theory, MemberData(nameof(SequenceBlockCases))]
    public void SequenceBlocksEqualRowBlocks(string name, bool int8)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = Build(c, 41);
        model.Store.Span(model.Embeddings.WordEmbeddings).Slice(c.PadTokenId * c.EmbeddingSize, c.EmbeddingSize).Clear();
        var options = new InferenceOptions { Threads = 2, Quantized = int8 ? QuantizedWeights.Quantize(model, new QuantizationPolicy()) : null };
        using var seqBlocks = new InferenceEngine(model, options);
        using var rowBlocks = new InferenceEngine(model, options) { SequenceBlocks = false };
        var rng = new Random(9);
        var seqs = Enumerable.Range(0, 11).Select(i =>
        {
            int len = i == 4 ? c.MaxPositionEmbeddings : rng.Next(1, Math.Min(40, c.MaxPositionEmbeddings) + 1);
            return new TokenSequence(Enumerable.Range(0, len).Select(_ => rng.Next(1, c.VocabSize)).ToArray());
        }).ToArray();
        var a = seqBlocks.Run(seqs); var b = rowBlocks.Run(seqs);
        Assert.Equal(b.LastHiddenState.ToArray(), a.LastHiddenState.ToArray());
        Assert.Equal(b.PooledOutput.ToArray(), a.PooledOutput.ToArray());
        Assert.Equal(b.Logits.ToArray(), a.Logits.ToArray());
        var padded = Padded(c, 9, 23, 12);
        var pa = seqBlocks.Run(padded).LastHiddenState.ToArray();
        Assert.Equal(rowBlocks.Run(padded).LastHiddenState.ToArray(), pa);
        if (!int8) Compare(model, seqBlocks, padded);
    }

    /// <summary>The adaptive split's rule: equal times keep the share; a block twice as slow per row loses rows (half
    /// way toward the share that would have equalised the times); the share stays in [¼, ¾]; missing timings change
    /// nothing; block 0's rows are a multiple of the granule and at least a quarter of the rows on each side.</summary>
    [Fact]
    public void AdaptiveSplitRule()
    {
        Assert.Equal(0.5, InferenceEngine.NextShare(0.5, 64, 1000, 64, 1000), 12);
        // Block 0 twice as slow per row: equal times at share 1/3; half way from 0.5 is 5/12.
        Assert.Equal(5.0 / 12, InferenceEngine.NextShare(0.5, 64, 2000, 64, 1000), 12);
        Assert.Equal(7.0 / 12, InferenceEngine.NextShare(0.5, 64, 1000, 64, 2000), 12);
        // Already at the balancing share (block 0 half as fast per row, a third of the rows, equal times): stays.
        Assert.Equal(1.0 / 3, InferenceEngine.NextShare(1.0 / 3, 40, 80, 80, 80), 12);
        // Equal speed per row but unequal rows: moves half way back toward the even split.
        Assert.Equal(0.46875, InferenceEngine.NextShare(0.4375, 56, 5600, 72, 7200), 12);
        Assert.Equal(0.25, InferenceEngine.NextShare(0.26, 64, 1_000_000, 64, 1));
        Assert.Equal(0.75, InferenceEngine.NextShare(0.74, 64, 1, 64, 1_000_000));
        Assert.Equal(0.4, InferenceEngine.NextShare(0.4, 64, 0, 64, 1000));
        Assert.Equal(64, InferenceEngine.SplitRows(128, 0.5));
        Assert.Equal(56, InferenceEngine.SplitRows(128, 5.0 / 12));
        Assert.Equal(32, InferenceEngine.SplitRows(128, 0.1));
        Assert.Equal(96, InferenceEngine.SplitRows(128, 0.9));
        Assert.Equal(32, InferenceEngine.SplitRows(61, 0.5));
        Assert.Equal(8, InferenceEngine.SplitRows(32, 0.25));
        Assert.Equal(24, InferenceEngine.SplitRows(32, 0.75));
    }

    /// <summary>The adaptive 2-thread row split (batch 1, a few sequences) moves the boundary between the two row blocks
    /// from region to region; outputs are bit-identical to the even split whatever the starting share (a quarter,
    /// three quarters), fp32 and int8, padded batch 1 (rows a multiple of the granule or not) and a ragged run of three
    /// sequences, with per-layer outputs too; and the share stays within its bounds.</summary>
    [Theory, MemberData(nameof(SequenceBlockCases))]
    public void AdaptiveSplitEqualsEvenSplit(string name, bool int8)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = Build(c, 47);
        var options = new InferenceOptions { Threads = 2, Quantized = int8 ? QuantizedWeights.Quantize(model, new QuantizationPolicy()) : null };
        using var adaptive = new InferenceEngine(model, options);
        using var even = new InferenceEngine(model, options) { AdaptiveSplit = false };
        var rng = new Random(13);
        var ragged = Enumerable.Range(0, 3).Select(i =>
        {
            int len = rng.Next(12, Math.Min(60, c.MaxPositionEmbeddings) + 1);
            return new TokenSequence(Enumerable.Range(0, len).Select(_ => rng.Next(1, c.VocabSize)).ToArray());
        }).ToArray();
        foreach (double share in new[] { 0.25, 0.75 })
            foreach (int seq in new[] { 64, 61 })
            {
                if (seq > c.MaxPositionEmbeddings) continue;
                var input = Padded(c, 1, seq, 7);
                adaptive.SplitShare = share;
                adaptive.Profile = new InferenceEngine.EngineProfile();
                var a = adaptive.Run(input, InferenceOutputs.HiddenStates);
                // The split really was uneven (it starts at the given share and moves from there).
                var prof = adaptive.Profile; adaptive.Profile = null;
                Assert.Equal(c.NumHiddenLayers + 1, prof.BalanceRegions);
                Assert.NotEqual(seq / 2.0, prof.BalanceShare / prof.BalanceRegions);
                var ha = a.HiddenStates!.Select(x => x.ToArray()).ToArray(); var la = a.LastHiddenState.ToArray(); var pa = a.PooledOutput.ToArray();
                var b = even.Run(input, InferenceOutputs.HiddenStates);
                Assert.Equal(b.LastHiddenState.ToArray(), la);
                Assert.Equal(b.PooledOutput.ToArray(), pa);
                for (int l = 0; l < ha.Length; l++) Assert.Equal(b.HiddenStates![l], ha[l]);
                Assert.InRange(adaptive.SplitShare, 0.25, 0.75);
                adaptive.SplitShare = 1 - share;
                var ra = adaptive.Run(ragged).LastHiddenState.ToArray();
                Assert.Equal(even.Run(ragged).LastHiddenState.ToArray(), ra);
            }
    }

    /// <summary>Per-layer outputs (a distillation teacher's): hidden states and attention probabilities equal
    /// model.Forward's (1e-5 relative / 1e-5 absolute for probabilities), both attention paths, 1 and 2 threads, and
    /// the arrays follow shape changes; a run without the request returns none.</summary>
    [Theory, MemberData(nameof(Shapes))]
    public void HiddenStatesAndAttentionsMatchForward(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = Build(c, 17);
        foreach (int threads in new[] { 1, 2 })
            foreach (bool kernel in new[] { true, false })
            {
                using var engine = new InferenceEngine(model, new InferenceOptions { Threads = threads }) { UseSmallHeadAttention = kernel };
                foreach (var input in new[] { Padded(c, 3, 21, 2), Padded(c, 9, 13, 3) })
                {
                    var o = model.Forward(input, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Heads = ModelHeads.None });
                    var r = engine.Run(input, InferenceOutputs.HiddenStates | InferenceOutputs.Attentions);
                    Assert.Equal(c.NumHiddenLayers + 1, r.HiddenStates!.Count);
                    Assert.Equal(c.NumHiddenLayers, r.Attentions!.Count);
                    for (int i = 0; i <= c.NumHiddenLayers; i++) Tolerance.AssertClose(
                        $"hidden[{i}] t{threads} k{kernel}", o.HiddenStates![i], r.HiddenStates[i], Rel);
                    for (int l = 0; l < c.NumHiddenLayers; l++)
                    {
                        var a = o.Attentions![l]; var e = r.Attentions[l];
                        Assert.Equal(a.Length, e.Length);
                        double max = 0; for (int j = 0; j < a.Length; j++) max = Math.Max(max, Math.Abs(a[j] - e[j]));
                        Assert.True(max <= 1e-5, $"attentions[{l}] t{threads} k{kernel}: max |diff| {max}");
                    }
                    Tolerance.AssertClose("last", o.LastHiddenState, r.LastHiddenState, Rel);
                }
                var plain = engine.Run(Padded(c, 2, 8, 4));
                Assert.Null(plain.HiddenStates); Assert.Null(plain.Attentions);
            }
    }

    /// <summary>Dispose waits for a run in progress on another thread (it frees the handle the workers resolve), a run after
    /// it is an ObjectDisposedException, and a second Dispose does nothing.</summary>
    [Fact]
    public async Task DisposeWaitsForTheRunningForwardAndLaterRunsAreRefused()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var engine = new InferenceEngine(Build(c, 3), new InferenceOptions { Threads = 2 });
        var seq = new TokenSequence([.. Enumerable.Range(1, c.MaxPositionEmbeddings)]);
        var expected = engine.Run([seq]).Logits.ToArray();
        using var started = new ManualResetEventSlim();
        var runs = Task.Run(() =>
        {
            started.Set();
            float[] last = [];
            for (int i = 0; i < 200; i++)
            {
                try { last = engine.Run([seq]).Logits.ToArray(); }
                catch (ObjectDisposedException) { break; }
                Assert.Equal(expected, last);
            }
            return last;
        });
        started.Wait();
        await Task.Delay(5);
        engine.Dispose();   // mid-loop: a run either completes before it or is refused after it, never runs on freed state
        Assert.Equal(expected, await runs);
        Assert.Throws<ObjectDisposedException>(() => engine.Run([seq]));
        engine.Dispose();
    }

    [Fact]
    public void GroupedRunCoversEverySequenceOnce()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = Build(c, 3);
        using var engine = new InferenceEngine(model);
        var rng = new Random(1);
        var seqs = Enumerable.Range(0, 20).Select(_ => new TokenSequence(Enumerable.Range(0, rng.Next(1, 40)).Select(_ => rng.Next(1, c.VocabSize))
            .ToArray())).ToArray();
        var seen = new int[seqs.Length];
        var logits = new float[seqs.Length * c.NumLabels];
        engine.RunGrouped(seqs, 64, (idx, res) =>
        {
            Assert.True(res.Rows <= Math.Max(64, idx.Max(i => seqs[i].InputIds.Length)));
            for (int j = 0; j < idx.Length; j++) { seen[idx[j]]++; res.Logits.Slice(j * c.NumLabels, c.NumLabels).CopyTo(
                logits.AsSpan(idx[j] * c.NumLabels)); }
        });
        Assert.All(seen, v => Assert.Equal(1, v));
        var single = engine.Run([seqs[13]]).Logits.ToArray();
        Tolerance.AssertClose("grouped", single, logits.AsSpan(13 * c.NumLabels, c.NumLabels), Rel);
    }

    [Fact]
    public void SteadyStateAllocatesNothing()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = Build(c, 3);
        using var engine = new InferenceEngine(model, new InferenceOptions { Threads = 1 });
        var input = Padded(c, 4, 30, 1);
        Assert.Equal(0, SteadyStateBytes(() => engine.Run(input)));
        // With per-layer outputs too (a distillation teacher's steady state): the arrays are kept while the shape stays.
        var all = InferenceOutputs.HiddenStates | InferenceOutputs.Attentions;
        Assert.Equal(0, SteadyStateBytes(() => engine.Run(input, all)));
        // Two threads at batch 1 (row blocks, an attention region per layer; the calling thread's allocations).
        using var two = new InferenceEngine(model, new InferenceOptions { Threads = 2 });
        var one = Padded(c, 1, 30, 2);
        Assert.Equal(0, SteadyStateBytes(() => two.Run(one)));
    }

    /// <summary>Bytes the calling thread allocates over 5 runs after 2 warm-ups; the least of 3 such windows, so a
    /// one-off allocation of the runtime (a tier-1 re-JIT landing mid-window) is not counted, while anything a run
    /// allocates shows in every window.</summary>
    static long SteadyStateBytes(Action run)
    {
        run(); run();
        long least = long.MaxValue;
        for (int window = 0; window < 3 && least > 0; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) run();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = Build(c, 3);
        using var engine = new InferenceEngine(model);
        Assert.Contains("input_ids[1]", Assert.Throws<ArgumentException>(() => engine.Run([new TokenSequence([1, c.VocabSize])])).Message);
        Assert.Contains("max_position_embeddings", Assert.Throws<ArgumentException>(
            () => engine.Run([new TokenSequence(new int[c.MaxPositionEmbeddings + 1])])).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => engine.Run([new TokenSequence([])])).Message);
        Assert.Contains("token_type_ids", Assert.Throws<ArgumentException>(() => engine.Run([new TokenSequence([1, 2], [0])])).Message);
    }
}
