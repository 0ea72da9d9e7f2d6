using MobileBert.Tensors;
using System.Numerics.Tensors;

namespace MobileBert.Model;

// Backward of one MobileBERT layer (see EncoderLayer for the data flow).
public sealed partial class EncoderLayer
{
    /// <summary>
    /// Backward of <see cref="Forward"/>: dy [B·S, H] → dh [B·S, H] (written; must not alias dy). Parameter gradients
    /// accumulate. dProbs (optional): gradient w.r.t. this layer's attention probabilities, added before the softmax backward.
    /// </summary>
    internal void Backward(ReadOnlySpan<float> h, ReadOnlySpan<float> dy, Span<float> dh, ReadOnlySpan<float> dProbs, int batch, int seq, int threads,
        Workspace cache, Workspace scratch, in DropoutPlan dp, int layer)
    {
        int rows = batch * seq, t = _c.TrueHiddenSize, n = rows * t, nh = rows * _c.HiddenSize;
        var da = scratch.Get("layer.da0", n); var db = scratch.Get("layer.da1", n);
        int last = StackedFfns.Length;
        if (OutputBottleneck is null)
        {
            dh[..nh].Clear();
            LastFfn.Backward(cache.Get(FfnInKey(last), n), dy, da, rows, threads, cache, scratch, dp, layer, DropoutPlan.SiteLayerOutput);
        }
        else
        {
            var dsum = scratch.Get("layer.dob", nh);
            var nrm = OutputBottleneckNorm!;
            nrm.Backward(dy, cache.Get(KObPre, nh), nrm.Stats(cache, KObMean, rows), nrm.Stats(cache, KObRstd, rows), dsum, rows);
            dsum.AsSpan().CopyTo(dh);                                                        // residual h
            if (dp.Hidden > 0) Kernels.DropoutBackward.ApplyRecorded(dsum, dsum, dp.Hidden, ObKeep(cache, rows), 0);
            var dO = scratch.Get("layer.do", n);
            OutputBottleneck.Backward(cache.Get(KOut, n), dsum, dO, rows, threads);
            LastFfn.Backward(cache.Get(FfnInKey(last), n), dO, da, rows, threads, cache, scratch, dp, layer, 0);
        }
        for (int i = StackedFfns.Length - 1; i >= 0; i--)
        {
            StackedFfns[i].Backward(cache.Get(FfnInKey(i), n), da, db, rows, threads, cache, scratch, dp, layer, 0);
            (da, db) = (db, da);
        }

        // Attention block: route the gradients of its three inputs back to h along the layer's data flow.
        ReadOnlySpan<float> li = Flow.InputBottleneck ? cache.Get(KLayerInput, n) : default;
        ReadOnlySpan<float> sk = Flow.SharedQueryKeyBottleneck ? cache.Get(KQk, n) : default;
        ReadOnlySpan<float> qkIn = Flow.Pick(Flow.QueryKeyInput, h, li, sk), vIn = Flow.Pick(Flow.ValueInput, h, li, sk);
        int nqk = rows * Flow.QueryKeyInputSize, nv = rows * Flow.ValueInputSize;
        var dQk = scratch.Get("layer.dqk", nqk); var dV = scratch.Get("layer.dv", nv); var dRes = scratch.Get("layer.dres", n);
        Attention.Backward(qkIn, vIn, da, dProbs, batch, seq, dQk, dV, dRes, threads, cache, scratch, dp, layer);
        // d(layer_input): the residual's gradient when the residual is the input bottleneck's output (always, with bottlenecks).
        Span<float> dLi = !Flow.InputBottleneck ? default
            : Flow.AttentionResidual == LayerTensor.InputBottleneck ? dRes : scratch.Zeroed("layer.dli", n);
        if (Flow.AttentionResidual != LayerTensor.InputBottleneck) Route(Flow.AttentionResidual, h, dRes, dLi, dh, rows, threads, cache, scratch);
        Route(Flow.QueryKeyInput, h, dQk, dLi, dh, rows, threads, cache, scratch);
        Route(Flow.ValueInput, h, dV, dLi, dh, rows, threads, cache, scratch);
        if (Flow.InputBottleneck) Bottleneck!.Input.Backward(h, dLi, dh, rows, threads, cache, scratch);
    }

    /// <summary>Adds g, the gradient w.r.t. one attention input, to the gradient of the tensor it was read from: h (dh),
    /// the input bottleneck's output (dLi) or, through its backward, the shared query/key bottleneck's input h.</summary>
    void Route(LayerTensor from, ReadOnlySpan<float> h, ReadOnlySpan<float> g, Span<float> dLi, Span<float> dh, int rows, int threads,
        Workspace cache, Workspace scratch)
    {
        int nh = rows * _c.HiddenSize;
        if (from == LayerTensor.BlockInput) TensorPrimitives.Add(dh[..nh], g, dh[..nh]);
        else if (from == LayerTensor.InputBottleneck) TensorPrimitives.Add(dLi, g, dLi);
        else Bottleneck!.Attention!.Backward(h, g, dh, rows, threads, cache, scratch);
    }
}
