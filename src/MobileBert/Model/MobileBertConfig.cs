using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Kernels;

namespace MobileBert.Model;

/// <summary>Normalization after every residual: MobileBERT's NoNorm (h∘γ+β) or a real LayerNorm.</summary>
public enum NormalizationType { NoNorm, LayerNorm }

/// <summary>Which HuggingFace architecture a config describes: MobileBERT (<c>model_type: "mobilebert"</c>) or plain BERT
/// (<c>model_type: "bert"</c>, also MiniLM and sentence-transformers models).</summary>
public enum ModelType { MobileBert, Bert }

/// <summary>Thrown when a config.json or a preset is malformed or inconsistent. The message names the file and field.</summary>
public sealed class ConfigException(string message) : MobileBertException(message);

/// <summary>
/// The MobileBERT model family, one parametric description (HuggingFace MobileBertConfig field names).
/// Student, teacher (IB-BERT), tiny and no-opt models are all instances of this class, never forks of code.
/// <para>IB-BERT: HuggingFace cannot express a teacher whose Q/K/V are projected from the hidden_size-wide
/// block input to the intra_bottleneck_size-wide attention. Here that is simply the case
/// use_bottleneck = true, key_query_shared_bottleneck = false, use_bottleneck_attention = false: query, key and
/// value then read the block input (hidden_size wide), as in the original TensorFlow code. For every config HF
/// accepts, this rule gives HF's shapes.</para>
/// </summary>
public sealed class MobileBertConfig
{
    /// <summary>MobileBERT, or plain BERT: the same parametric model with no trigram, embedding size = hidden size and no
    /// embedding transformation, no bottleneck, one FFN, LayerNorm with layer_norm_eps everywhere, a dense+tanh pooler,
    /// no extra MLM dense, and the backbone under <c>bert.</c>. <see cref="Bert"/> builds a consistent one.</summary>
    public ModelType ModelType { get; set; } = ModelType.MobileBert;
    public int VocabSize { get; set; } = 30522;
    public int HiddenSize { get; set; } = 512;
    public int EmbeddingSize { get; set; } = 128;
    public int IntraBottleneckSize { get; set; } = 128;
    public int NumHiddenLayers { get; set; } = 24;
    public int NumAttentionHeads { get; set; } = 4;
    public int IntermediateSize { get; set; } = 512;
    public int NumFeedforwardNetworks { get; set; } = 4;
    public NormalizationType NormalizationType { get; set; } = NormalizationType.NoNorm;
    public Activation HiddenAct { get; set; } = Activation.Relu;
    public bool TrigramInput { get; set; } = true;
    public bool UseBottleneck { get; set; } = true;
    public bool UseBottleneckAttention { get; set; }
    public bool KeyQuerySharedBottleneck { get; set; } = true;
    public bool ClassifierActivation { get; set; } = true;
    public float LayerNormEps { get; set; } = 1e-12f;
    public int TypeVocabSize { get; set; } = 2;
    public int MaxPositionEmbeddings { get; set; } = 512;
    public int PadTokenId { get; set; }
    public float HiddenDropoutProb { get; set; }
    public float AttentionProbsDropoutProb { get; set; } = 0.1f;
    public float InitializerRange { get; set; } = 0.02f;
    /// <summary>Labels of the sequence-classification head (HF id2label order). Count = num_labels.</summary>
    public List<string> Labels { get; set; } = ["LABEL_0", "LABEL_1"];
    /// <summary>HF problem_type: null, "regression", "single_label_classification", "multi_label_classification".</summary>
    public string? ProblemType { get; set; }
    /// <summary>HF architectures list (informational; written back on save).</summary>
    public List<string> Architectures { get; set; } = [];

    public int NumLabels => Labels.Count;

    /// <summary>A plain BERT config (HF BertConfig defaults = bert-base-uncased) with the BERT invariants set.</summary>
    public static MobileBertConfig Bert(int hidden = 768, int layers = 12, int heads = 12, int intermediate = 3072) => new()
    {
        ModelType = ModelType.Bert, HiddenSize = hidden, EmbeddingSize = hidden, IntraBottleneckSize = hidden, NumHiddenLayers = layers,
        NumAttentionHeads = heads, IntermediateSize = intermediate, NumFeedforwardNetworks = 1, NormalizationType = NormalizationType.LayerNorm,
        HiddenAct = Activation.Gelu, TrigramInput = false, UseBottleneck = false, UseBottleneckAttention = false,
        KeyQuerySharedBottleneck = false, ClassifierActivation = true, HiddenDropoutProb = 0.1f, AttentionProbsDropoutProb = 0.1f,
    };

    public bool IsBert => ModelType == ModelType.Bert;

    /// <summary>HF name prefix of the backbone in task models: <c>mobilebert.</c> or <c>bert.</c>.</summary>
    public string BackbonePrefix => IsBert ? "bert." : "mobilebert.";

    /// <summary>Width of the intra-block stream: intra_bottleneck_size with bottlenecks, else hidden_size (HF derives it the same way).</summary>
    public int TrueHiddenSize => UseBottleneck ? IntraBottleneckSize : HiddenSize;
    public int AttentionHeadSize => TrueHiddenSize / NumAttentionHeads;

    /// <summary>Width of the tensor the query and key projections read.</summary>
    public int QueryKeyInputSize => LayerDataFlow.Of(this).QueryKeyInputSize;
    /// <summary>Width of the tensor the value projection reads.</summary>
    public int ValueInputSize => LayerDataFlow.Of(this).ValueInputSize;
    /// <summary>Input width of the embedding transformation (3·E with trigram input).</summary>
    public int EmbeddedInputSize => EmbeddingSize * (TrigramInput ? 3 : 1);
    /// <summary>HF applies the embedding transformation only with trigram input or when E ≠ H (its weights exist regardless).</summary>
    public bool UsesEmbeddingTransformation => TrigramInput || EmbeddingSize != HiddenSize;
    /// <summary>Whether the checkpoint has embedding_transformation weights (MobileBERT always; BERT never).</summary>
    public bool HasEmbeddingTransformation => !IsBert;

    /// <summary>Epsilon of a given norm (MobileBERT's HF quirk: the embedding norm and MobileBertOutput's norm take PyTorch's
    /// default 1e-5; BERT uses layer_norm_eps everywhere).</summary>
    public float EpsFor(NormSite site) => !IsBert && site is NormSite.Embeddings or NormSite.LayerOutput ? 1e-5f : LayerNormEps;

    /// <summary>Upper bounds of the count fields whose value is a number of objects, not of weights (checked before any is built).</summary>
    public const int MaxFeedforwardNetworks = 64, MaxLabels = 1_000_000;

    /// <summary>Throws <see cref="ConfigException"/> naming the first inconsistent field.</summary>
    public void Validate(string source = "config")
    {
        void Positive(int v, string name) { if (v <= 0) throw new ConfigException($"{source}: '{name}' must be a positive integer, got {v}."); }
        Positive(VocabSize, "vocab_size"); Positive(HiddenSize, "hidden_size"); Positive(EmbeddingSize, "embedding_size");
        Positive(IntraBottleneckSize, "intra_bottleneck_size"); Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads"); Positive(IntermediateSize, "intermediate_size");
        Positive(NumFeedforwardNetworks, "num_feedforward_networks"); Positive(TypeVocabSize, "type_vocab_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumFeedforwardNetworks > MaxFeedforwardNetworks)
            throw new ConfigException($"{source}: 'num_feedforward_networks' = {NumFeedforwardNetworks} is more than {MaxFeedforwardNetworks} " +
                $"(MobileBERT stacks 4).");
        if (TrueHiddenSize % NumAttentionHeads != 0)
            throw new ConfigException($"{source}: the attention width ({(UseBottleneck ? "intra_bottleneck_size" : "hidden_size")} " +
                $"= {TrueHiddenSize}) must be divisible by num_attention_heads = {NumAttentionHeads}.");
        if (EmbeddingSize > HiddenSize)
            throw new ConfigException($"{source}: 'embedding_size' ({EmbeddingSize}) must not exceed 'hidden_size' ({HiddenSize}): the MLM decoder " +
                $"is [word_embeddings ‖ dense] of width hidden_size.");
        if (PadTokenId < 0 || PadTokenId >= VocabSize) throw new ConfigException(
            $"{source}: 'pad_token_id' ({PadTokenId}) must be in [0, vocab_size={VocabSize}).");
        if (!(LayerNormEps > 0) || float.IsInfinity(LayerNormEps)) throw new ConfigException(
            $"{source}: 'layer_norm_eps' must be a positive number, got {LayerNormEps}.");
        if (HiddenDropoutProb is < 0 or >= 1 || float.IsNaN(HiddenDropoutProb)) throw new ConfigException(
            $"{source}: 'hidden_dropout_prob' must be in [0,1), got {HiddenDropoutProb}.");
        if (AttentionProbsDropoutProb is < 0 or >= 1 || float.IsNaN(AttentionProbsDropoutProb)) throw new ConfigException(
            $"{source}: 'attention_probs_dropout_prob' must be in [0,1), got {AttentionProbsDropoutProb}.");
        if (Labels.Count == 0) throw new ConfigException($"{source}: 'num_labels' / 'id2label' must name at least one label.");
        if (IsBert) ValidateBert(source);
        if (ProblemType is not (null or "regression" or "single_label_classification" or "multi_label_classification"))
            throw new ConfigException($"{source}: 'problem_type' must be regression, single_label_classification or multi_label_classification, " +
                $"got '{ProblemType}'.");
    }

    /// <summary>The BERT invariants (a BERT config.json cannot break them; code that builds configs by hand can).</summary>
    void ValidateBert(string source)
    {
        void Require(bool ok, string field, string what) { if (!ok) throw new ConfigException($"{source}: BERT model: '{field}' {what}."); }
        Require(EmbeddingSize == HiddenSize, "embedding_size", $"must equal hidden_size ({HiddenSize}), got {EmbeddingSize}");
        Require(!TrigramInput, "trigram_input", "must be false");
        Require(!UseBottleneck && !UseBottleneckAttention && !KeyQuerySharedBottleneck, "use_bottleneck", "must be false (no bottlenecks)");
        Require(NumFeedforwardNetworks == 1, "num_feedforward_networks", $"must be 1, got {NumFeedforwardNetworks}");
        Require(NormalizationType == NormalizationType.LayerNorm, "normalization_type", "must be layer_norm");
        Require(ClassifierActivation, "classifier_activation", "must be true (BERT's pooler is dense + tanh)");
    }

    public MobileBertConfig Clone()
    {
        var c = (MobileBertConfig)MemberwiseClone();
        c.Labels = [.. Labels];
        c.Architectures = [.. Architectures];
        return c;
    }
}

/// <summary>Where a norm sits (only needed for HF's inconsistent epsilons).</summary>
public enum NormSite { Embeddings, Bottleneck, AttentionOutput, Ffn, LayerOutput, OutputBottleneck, MlmTransform }
