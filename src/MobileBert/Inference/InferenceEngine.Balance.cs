namespace MobileBert.Inference;

// Adaptive two-way row split. At batch 1 (or a few sequences) on 2 threads each row-wise region has one block per
// thread, and the region lasts as long as its slower block. On a shared VM the two cores' speeds differ by ~10–25 %
// for stretches of many regions (measured: per-region |block0 − block1| / (block0 + block1) ≈ 0.08–0.10 with a
// lag-1 autocorrelation of 0.4–0.7), so an even split leaves one core waiting. The engine times both blocks of every
// row-wise region and moves the boundary toward equal times for the next region (an exponential average of the rows
// per tick each block achieved), in steps of SplitGranule rows. Each row's results do not depend on which block it is
// in (the GEMM sums every output in the same k order whatever the m tiling), so outputs are bit-identical to any
// other split.
public sealed partial class InferenceEngine
{
    /// <summary>Balance the two row blocks of a 2-thread row-block run by their measured speed (false: an even split;
    /// for A/B benches and the equality tests).</summary>
    internal bool AdaptiveSplit { get; set; } = true;

    /// <summary>Rows the boundary moves by (the fp32 micro-kernel's tile height, so block 0 keeps whole tiles).</summary>
    internal const int SplitGranule = 8;
    const double SplitRate = 0.5;          // weight of the latest region in the running share
    const double MinShare = 0.25;          // neither block goes below a quarter of the rows

    double _share0 = 0.5;                  // fraction of the rows in block 0 (kept across runs: the imbalance persists)
    bool _track;                           // this run has two row blocks on two threads: their times are taken
    bool _adapt;                           // … and it adapts its split
    readonly long[] _blkTicks = new long[2];

    /// <summary>Whether a run adapts: row blocks (not whole sequences), automatic block size, exactly 2 threads and 2
    /// blocks (then block 0 is the calling thread's and block 1 the one worker's, region after region), enough rows.</summary>
    bool TracksSplit(int threads, int blocks) => !_seqBlocks && threads == 2 && blocks == 2;
    bool AdaptsSplit(int rows) => _track && AdaptiveSplit && BlockRowsOption == 0 && rows >= 4 * SplitGranule;

    /// <summary>Rows of block 0 for a share of <paramref name="rows"/>: the nearest multiple of <see cref="SplitGranule"/>,
    /// at least a quarter of the rows (rounded down to the granule, ≥ one granule) on each side.</summary>
    internal static int SplitRows(int rows, double share)
    {
        int min = Math.Max(SplitGranule, (int)(rows * MinShare) / SplitGranule * SplitGranule);
        int n0 = (int)Math.Round(rows * share / SplitGranule) * SplitGranule;
        return Math.Clamp(n0, min, rows - min);
    }

    /// <summary>The share of block 0 after a region in which block 0 ran <paramref name="rows0"/> rows in
    /// <paramref name="t0"/> ticks and block 1 <paramref name="rows1"/> in <paramref name="t1"/>: an exponential average
    /// toward the share that would have made both take equal time, within [¼, ¾]; unchanged without two timings.</summary>
    internal static double NextShare(double share, int rows0, long t0, int rows1, long t1)
    {
        if (t0 <= 0 || t1 <= 0 || rows0 <= 0 || rows1 <= 0) return share;
        double r0 = rows0 / (double)t0, r1 = rows1 / (double)t1;
        return Math.Clamp(share + SplitRate * (r0 / (r0 + r1) - share), MinShare, 1 - MinShare);
    }

    /// <summary>Sets the two blocks from <see cref="_share0"/>.</summary>
    void ApplySplit()
    {
        int rows = _rows, n0 = SplitRows(rows, _share0);
        _blkStart[0] = 0; _blkLen[0] = n0;
        _blkStart[1] = n0; _blkLen[1] = rows - n0;
        _blkTicks[0] = _blkTicks[1] = 0;
    }

    /// <summary>After a row-wise region: move the share toward equal block times, then re-split.</summary>
    void AfterRowRegion()
    {
        if (!_track) return;
        Profile?.Balance(_blkTicks[0], _blkTicks[1], _blkLen[0]);
        if (_adapt) UpdateSplit();
    }

    void UpdateSplit()
    {
        _share0 = NextShare(_share0, _blkLen[0], _blkTicks[0], _blkLen[1], _blkTicks[1]);
        ApplySplit();
    }

    /// <summary>The current share of block 0 (tests, benches).</summary>
    internal double SplitShare { get => _share0; set => _share0 = Math.Clamp(value, MinShare, 1 - MinShare); }
}
