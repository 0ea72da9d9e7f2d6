using MobileBert.Model;

namespace MobileBert.Inference;

/// <summary>Per-layer outputs a padded run can also return (<see cref="InferenceEngine.Run(ModelInput, InferenceOutputs)"/>).</summary>
[Flags]
public enum InferenceOutputs
{
    None = 0,
    /// <summary>The embeddings output and every layer's output: (L + 1) × [B, S, H], as model.Forward's hidden_states.</summary>
    HiddenStates = 1,
    /// <summary>Every layer's attention probabilities: L × [B, heads, S, S], as model.Forward's attentions.</summary>
    Attentions = 2,
}

// Per-layer outputs of a padded run (hidden states, attention probabilities) for callers that need them, such as a
// distillation teacher: engine-owned arrays, filled by the row blocks and attention items as they go.
public sealed unsafe partial class InferenceEngine
{
    InferenceOutputs _capture;
    // Bit tests, not Enum.HasFlag: that boxes in unoptimised (tier-0) code, and the hot path must not allocate.
    bool CapturesHidden => (_capture & InferenceOutputs.HiddenStates) != 0;
    bool CapturesAttentions => (_capture & InferenceOutputs.Attentions) != 0;
    float[][] _capHidden = [], _capAttn = [];

    /// <summary>Sizes the per-layer output arrays of a padded run of [b, s] (kept while the shape stays).</summary>
    void PlanCapture(int b, int s)
    {
        int L = _layers.Length;
        long hn = (long)b * s * _c.HiddenSize, an = (long)b * _c.NumAttentionHeads * s * s;
        if (CapturesHidden && (_capHidden.Length != L + 1 || _capHidden[0].Length != hn))
            _capHidden = Arrays(L + 1, hn);
        if (CapturesAttentions && (_capAttn.Length != L || (L > 0 && _capAttn[0].Length != an)))
            _capAttn = Arrays(L, an);
    }

    // A separate method: a lambda capturing the sizes would allocate its closure on every PlanCapture call.
    static float[][] Arrays(int count, long length)
    {
        var a = new float[count][];
        for (int i = 0; i < count; i++) a[i] = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
        return a;
    }

    /// <summary>Copies rows [r0, r0+n) of hidden state <paramref name="src"/> (layer output index i) into the capture.</summary>
    void CaptureHidden(int i, float* src, int r0, int n)
    {
        if (!CapturesHidden) return;
        int h = _c.HiddenSize;
        fixed (float* dst = _capHidden[i]) Buffer.MemoryCopy(src + (long)r0 * h, dst + (long)r0 * h, (long)n * h * 4, (long)n * h * 4);
    }

    /// <summary>Where attention item (layer l, segment, head, first query row q0) writes its probability rows (null: none).</summary>
    float* CaptureProbs(int l, int seg, int hd, int q0)
    {
        if (!CapturesAttentions) return null;
        int s = _segLen[seg];   // a padded run: every sequence is S long
        fixed (float* p = _capAttn[l]) return p + (((long)seg * _c.NumAttentionHeads + hd) * s + q0) * s;   // pinned
    }
}
