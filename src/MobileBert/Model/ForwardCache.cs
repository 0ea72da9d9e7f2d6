using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>Dropout settings of one forward pass (all zero in eval mode). Masks are functions of (seed, stream, index), see <see
/// cref="Kernels.Dropout"/>.</summary>
public readonly record struct DropoutPlan(float Hidden, float Attention, float Classifier, ulong Seed)
{
    public static DropoutPlan None => default;

    // Dropout streams: one per (layer, site) so masks never repeat across sites.
    internal const int SiteEmbeddings = 1, SiteAttentionProbs = 2, SiteAttentionOutput = 3, SiteLayerOutput = 4, SiteOutputBottleneck = 5,
        SiteClassifier = 6;

    internal void Hid(Span<float> x, int layer, int site) { if (Hidden > 0) Dropout.Apply(x, Hidden, Seed, Dropout.Stream(layer, site)); }
}

/// <summary>
/// How a module's forward runs. Eval (<see cref="Eval"/>): no dropout, nothing kept, scratch reused (ping-pong buffers,
/// fused add + norm). Keep: every activation the backward pass reads is written to the module's store under its own key
/// (pre-norm sums, row statistics, pre-activation values, dropout keep-masks), with the dropout of <see cref="Dropout"/>.
/// </summary>
internal readonly record struct ForwardMode(DropoutPlan Dropout, bool Keep)
{
    public static ForwardMode Eval => default;

    /// <summary>The store to keep activations in (null in eval mode).</summary>
    public Workspace? Kept(Workspace store) => Keep ? store : null;
}

/// <summary>
/// What a forward pass with <see cref="ForwardOptions.KeepForBackward"/> (or <see cref="ForwardOptions.Training"/>)
/// kept for <see cref="MobileBertModel.Backward(ForwardCache, OutputGradients)"/>: every activation the backward pass
/// reads (inputs of each dense layer, pre-norm sums, LayerNorm mean/rstd, pre-activation values where the derivative
/// needs them, pre-dropout attention probabilities), plus the gradient scratch of the backward pass. Dropout masks are
/// not stored: they are regenerated from the seed.
/// <para>A cache is reused across steps (its buffers are only reallocated when the batch shape changes). Arrays handed
/// out through <see cref="ModelOutput"/> by a caching forward (logits, hidden states, attentions) live in this cache and
/// are overwritten by the next forward that uses it.</para>
/// </summary>
public sealed class ForwardCache
{
    internal readonly Workspace Model = new();       // hidden states, heads
    internal readonly Workspace Embeddings = new();
    internal Workspace[] Layers = [];
    internal readonly Workspace Grad = new();        // backward scratch (shared by all layers)

    internal MobileBertModel? Owner;
    internal bool Valid;
    internal ModelInput Input = null!;
    internal float[] AdditiveMask = [];
    internal DropoutPlan Dropout;
    internal ModelHeads RanHeads;
    internal int[]? MlmRows;
    internal float[][] Hidden = [];                   // (L+1) × [B·S, H]
    internal float[]? Pooled;                        // [B, H]

    /// <summary>Bytes of activations and scratch currently held.</summary>
    public long Bytes => Model.Bytes + Embeddings.Bytes + Grad.Bytes + Layers.Sum(a => a.Bytes);

    internal void Prepare(MobileBertModel owner, int layers)
    {
        if (Owner is not null && !ReferenceEquals(Owner, owner)) throw new ArgumentException("This ForwardCache belongs to another model.");
        Owner = owner;
        if (Layers.Length != layers) { Layers = new Workspace[layers]; for (int l = 0; l < layers; l++) Layers[l] = new Workspace(); }
        Valid = false;
    }
}

/// <summary>
/// Gradients of a scalar loss w.r.t. the outputs of a caching forward pass, for <see cref="MobileBertModel.Backward(ForwardCache,
/// OutputGradients)"/>.
/// Every field is optional (null = zero). Shapes follow <see cref="ModelOutput"/>. Arrays may be modified in place by the
/// backward pass (logit gradients are used as scratch) — pass copies if you need them afterwards.
/// </summary>
public sealed class OutputGradients
{
    /// <summary>[rows, V] where rows = B·S, or the number of <see cref="ForwardOptions.MlmPositions"/>.</summary>
    public float[]? MlmLogits { get; set; }
    public float[]? NspLogits { get; set; }                       // [B, 2]
    public float[]? SequenceClassificationLogits { get; set; }    // [B, num_labels]
    public float[]? QaStartLogits { get; set; }                   // [B, S]
    public float[]? QaEndLogits { get; set; }                     // [B, S]
    /// <summary>dL/d(pooled output) [B, H] (added to what the NSP/classifier heads send back).</summary>
    public float[]? PooledOutput { get; set; }
    /// <summary>dL/d(last hidden state) [B, S, H] (e.g. a distillation loss on the final layer).</summary>
    public float[]? LastHiddenState { get; set; }
    /// <summary>(L+1) entries, each null or [B, S, H]: dL/d(hidden state l), [0] = embeddings output, [L] = last layer
    /// (same tensor as <see cref="LastHiddenState"/>; both are added). For layer-wise knowledge transfer.</summary>
    public float[]?[]? HiddenStates { get; set; }
    /// <summary>L entries, each null or [B, heads, S, S]: dL/d(attention probabilities of layer l), the softmax output
    /// BEFORE attention dropout (what <see cref="ModelOutput.Attentions"/> returns). For attention transfer.</summary>
    public float[]?[]? Attentions { get; set; }
}
