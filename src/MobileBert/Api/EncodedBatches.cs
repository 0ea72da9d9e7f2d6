using MobileBert.Inference;
using MobileBert.Text;

namespace MobileBert;

/// <summary>Runs encoded inputs through an engine the way every predictor does: sorted by length, <c>batchSize</c> per
/// run (ragged, no padding computed), each run under the predictor's engine lock.</summary>
internal static class EncodedBatches
{
    /// <summary>Calls <paramref name="onRow"/>(input index, row in the run, run result) for every input; the result is valid
    /// only during the call.</summary>
    public static void Run(InferenceEngine engine, object engineLock, IReadOnlyList<EncodedInput> encoded, int batchSize, Action<int, int,
        InferenceResult> onRow)
    {
        var order = Enumerable.Range(0, encoded.Count).OrderBy(i => encoded[i].Length).ToArray();
        int bs = Math.Max(1, batchSize);
        var batch = new List<TokenSequence>(Math.Min(bs, order.Length));
        for (int s = 0; s < order.Length; s += bs)
        {
            var idx = order[s..Math.Min(order.Length, s + bs)];
            batch.Clear();
            foreach (int i in idx) batch.Add(new TokenSequence(encoded[i].InputIds, encoded[i].TokenTypeIds));
            lock (engineLock)
            {
                var run = engine.Run(batch);
                for (int r = 0; r < idx.Length; r++) onRow(idx[r], r, run);
            }
        }
    }
}
