using MobileBert.Model;

namespace MobileBert.Distillation;

/// <summary>Layer-wise transfer terms of one batch: sums over the transferred layers of the unweighted feature-map terms
/// and attention KL, the embedding-output MSE, and the weighted total (before <c>scale</c>).</summary>
public readonly record struct LayerTransferLoss(double Mse, double Mean, double Variance, double Attention, double Embedding, double Total);

/// <summary>
/// The layer-wise knowledge-transfer step shared by task-agnostic distillation (<see cref="DistillationRun"/>) and
/// fine-tuning's layer distillation: for each transferred student layer l the feature-map loss of hidden state l + 1
/// against the teacher's hidden state map(l) + 1 and the attention KL of layer l against the teacher's layer map(l),
/// optionally the feature-map loss of the embedding output. Gradients (× <c>scale</c>) are added into the slots of
/// <see cref="OutputGradients.HiddenStates"/> / <see cref="OutputGradients.Attentions"/>; an empty slot gets a zeroed buffer
/// reused across steps.
/// </summary>
public sealed class LayerTransfer
{
    readonly Dictionary<(int Index, bool Attention), float[]> _buffers = [];

    /// <summary>teacherHidden: (Lt + 1) × [B·S, H]; teacherAttentions: Lt × [B, Ht, S, S]; student: its forward (of a model with
    /// <paramref name="studentConfig"/>) with hidden states and attentions kept.</summary>
    public LayerTransferLoss Apply(IReadOnlyList<float[]> teacherHidden, IReadOnlyList<float[]> teacherAttentions, int teacherHeads,
        ModelOutput student, MobileBertConfig studentConfig, ModelInput input, LayerMap map, IEnumerable<int> layers, bool embedding,
        LossWeights w, double scale, OutputGradients grads, int threads)
    {
        if (student.HiddenStates is null || student.Attentions is null)
            throw new InvalidOperationException("LayerTransfer: the student's forward must keep hidden states and attentions.");
        int b = input.Batch, s = input.Seq, rows = b * s, h = studentConfig.HiddenSize, sh = studentConfig.NumAttentionHeads;
        int L = studentConfig.NumHiddenLayers;
        grads.HiddenStates ??= new float[L + 1][];
        grads.Attentions ??= new float[L][];
        double mse = 0, mean = 0, vr = 0, at = 0, emb = 0, total = 0;
        foreach (int l in layers)
        {
            int tl = map[l];
            var fm = DistillationLosses.FeatureMap(teacherHidden[tl + 1], student.HiddenStates[l + 1], rows, h, input.AttentionMask, w,
                grads.HiddenStates[l + 1] ??= Buffer(l + 1, false, rows * h), scale, threads);
            double a = DistillationLosses.Attention(teacherAttentions[tl], student.Attentions[l], b, s, teacherHeads, sh, input.AttentionMask,
                grads.Attentions[l] ??= Buffer(l, true, b * sh * s * s), scale * w.Attention, threads);
            mse += fm.Mse; mean += fm.Mean; vr += fm.Variance; at += a;
            total += fm.Total + w.Attention * a;
        }
        if (embedding)
        {
            var fe = DistillationLosses.FeatureMap(teacherHidden[0], student.HiddenStates[0], rows, h, input.AttentionMask, w,
                grads.HiddenStates[0] ??= Buffer(0, false, rows * h), scale, threads);
            emb = fe.Mse;
            total += fe.Total;
        }
        return new LayerTransferLoss(mse, mean, vr, at, emb, total);
    }

    /// <summary>A zeroed buffer of this length, reused across steps.</summary>
    float[] Buffer(int index, bool attention, int length)
    {
        if (!_buffers.TryGetValue((index, attention), out var a) || a.Length != length) _buffers[(index, attention)] = a = new float[length];
        else Array.Clear(a);
        return a;
    }
}
