using MobileBert.Kernels;

namespace MobileBert.Model;

/// <summary>Named configurations of the model family (paper Table 1 plus small CPU-scale variants for the bundled demo).</summary>
public static class Presets
{
    /// <summary>MobileBERT (paper: 25.3M; 24.8M counted as HF counts MobileBertModel, pooler included): 24 layers, inter-block 512, intra-block 128,
    /// 4 heads, 4 stacked FFNs of 512,
    /// NoNorm + ReLU, trigram embedding 128→512, shared query/key bottleneck. Equals google/mobilebert-uncased's config,
    /// including classifier_activation = false (the pooled output is the raw [CLS] vector: no pooler dense + tanh, which
    /// MobileBertConfig's own default would add).</summary>
    public static MobileBertConfig MobileBert() => new() { ClassifierActivation = false };

    /// <summary>MobileBERT-TINY (paper: 15.1M; 15.7M counted as HF counts MobileBertModel): 2 stacked FFNs, bottleneck
    /// attention (Q = K = V = the 128-wide bottleneck). No separate query/key bottleneck: with bottleneck attention it would be unused.</summary>
    public static MobileBertConfig MobileBertTiny() => new() { NumFeedforwardNetworks = 2, UseBottleneckAttention = true,
        KeyQuerySharedBottleneck = false };

    /// <summary>MobileBERT without the operational optimisations: LayerNorm + GELU (paper Table 8 baseline).</summary>
    public static MobileBertConfig MobileBertNoOpt() => new() { NormalizationType = NormalizationType.LayerNorm, HiddenAct = Activation.Gelu };

    /// <summary>IB-BERT-large, the teacher (paper: 293M): inter-block 512, intra-block 1024, 4 heads, one FFN of 4096,
    /// LayerNorm + GELU; Q/K/V projected from the 512-wide block input (not expressible in HF). 294.5M backbone parameters.</summary>
    public static MobileBertConfig IbBertLarge() => new()
    {
        IntraBottleneckSize = 1024, IntermediateSize = 4096, NumFeedforwardNetworks = 1,
        KeyQuerySharedBottleneck = false, NormalizationType = NormalizationType.LayerNorm, HiddenAct = Activation.Gelu,
    };

    /// <summary>CPU-scale teacher for the bundled demo: the IB-BERT shape rules at 6 layers, inter-block 256, intra-block 512.</summary>
    public static MobileBertConfig IbBertSmall() => new()
    {
        NumHiddenLayers = 6, HiddenSize = 256, EmbeddingSize = 64, IntraBottleneckSize = 512, NumAttentionHeads = 4,
        IntermediateSize = 1024, NumFeedforwardNetworks = 1, KeyQuerySharedBottleneck = false,
        NormalizationType = NormalizationType.LayerNorm, HiddenAct = Activation.Gelu, MaxPositionEmbeddings = 512,
    };

    /// <summary>CPU-scale student for the bundled demo: the MobileBERT shape rules at 6 layers, inter-block 256, intra-block 64,
    /// 4 stacked FFNs of 256 (shares inter-block width, embedding size and vocabulary with <see cref="IbBertSmall"/>).</summary>
    public static MobileBertConfig MobileBertSmall() => new()
    {
        NumHiddenLayers = 6, HiddenSize = 256, EmbeddingSize = 64, IntraBottleneckSize = 64, NumAttentionHeads = 4,
        IntermediateSize = 256, NumFeedforwardNetworks = 4, MaxPositionEmbeddings = 512,
    };

    /// <summary>Minutes-scale teacher for the bundled demo and the knowledge-transfer experiment: IB-BERT shape rules at
    /// 4 layers, inter-block 128, intra-block 256, 4 heads, one FFN of 512, LayerNorm + GELU, embedding 64 (trigram).</summary>
    public static MobileBertConfig IbBertMini() => new()
    {
        NumHiddenLayers = 4, HiddenSize = 128, EmbeddingSize = 64, IntraBottleneckSize = 256, NumAttentionHeads = 4,
        IntermediateSize = 512, NumFeedforwardNetworks = 1, KeyQuerySharedBottleneck = false,
        NormalizationType = NormalizationType.LayerNorm, HiddenAct = Activation.Gelu, MaxPositionEmbeddings = 512,
    };

    /// <summary>Minutes-scale student matching <see cref="IbBertMini"/>: MobileBERT shape rules at 4 layers, inter-block 128,
    /// intra-block 32, 4 heads, 4 stacked FFNs of 128, NoNorm + ReLU, shared query/key bottleneck.</summary>
    public static MobileBertConfig MobileBertMini() => new()
    {
        NumHiddenLayers = 4, HiddenSize = 128, EmbeddingSize = 64, IntraBottleneckSize = 32, NumAttentionHeads = 4,
        IntermediateSize = 128, NumFeedforwardNetworks = 4, MaxPositionEmbeddings = 512,
    };

    /// <summary>A very small model for unit tests and quick runs (2 layers, 64/32).</summary>
    public static MobileBertConfig MobileBertMicro() => new()
    {
        NumHiddenLayers = 2, HiddenSize = 64, EmbeddingSize = 32, IntraBottleneckSize = 32, NumAttentionHeads = 2,
        IntermediateSize = 64, NumFeedforwardNetworks = 2, MaxPositionEmbeddings = 128,
    };

    /// <summary>bert-base-uncased (plain BERT, HF BertConfig defaults): 12 layers, hidden 768, 12 heads, FFN 3072, GELU; 109.5M.</summary>
    public static MobileBertConfig BertBase() => MobileBertConfig.Bert();

    /// <summary>all-MiniLM-L6-v2's shape (plain BERT): 6 layers, hidden 384, 12 heads, FFN 1536, GELU; 22.7M.</summary>
    public static MobileBertConfig MiniLmL6() => MobileBertConfig.Bert(hidden: 384, layers: 6, heads: 12, intermediate: 1536);

    /// <summary>The MobileBERT-shaped student of all-MiniLM-L6-v2 (<see cref="MiniLmL6"/>), <see cref="StudentOf"/> its config: 6 layers,
    /// inter-block 384, intra-block 96, 4 heads (each learns from a group of 3 teacher heads), 4 stacked FFNs of 384, NoNorm +
    /// ReLU, a 128-d trigram embedding widened to 384. 3.2M parameters outside the word-embedding table against the teacher's 11.0M (29 %).</summary>
    public static MobileBertConfig MobileBertMiniLm() => StudentOf(MiniLmL6());

    /// <summary>
    /// MobileBERT's shape rules applied to a plain BERT teacher: the teacher's depth and hidden size as the inter-block width
    /// (feature maps compare directly), a ¼-wide intra-block path (MobileBERT: 128 of 512), 4 stacked FFNs of 4× the intra
    /// width, NoNorm + ReLU, shared query/key bottleneck, a trigram embedding of ⅓ the hidden size (3 × E = H, as 3 × 128 =
    /// 384; MobileBERT: 128 for 512), a third of the teacher's heads when its count divides by 3 (else as many) so each
    /// student head learns from a group of teacher heads, and the raw [CLS] vector as pooled output (no pooler dense + tanh).
    /// Roughly ¼ of the teacher's non-embedding parameters and compute.
    /// </summary>
    public static MobileBertConfig StudentOf(MobileBertConfig teacher)
    {
        int h = teacher.HiddenSize, intra = Math.Max(1, h / 4);
        int heads = teacher.NumAttentionHeads % 3 == 0 ? teacher.NumAttentionHeads / 3 : teacher.NumAttentionHeads;
        while (heads > 1 && intra % heads != 0) heads--;
        return new MobileBertConfig
        {
            NumHiddenLayers = teacher.NumHiddenLayers, HiddenSize = h, EmbeddingSize = Math.Max(1, h / 3), IntraBottleneckSize = intra,
            NumAttentionHeads = heads, IntermediateSize = 4 * intra, NumFeedforwardNetworks = 4, VocabSize = teacher.VocabSize,
            TypeVocabSize = teacher.TypeVocabSize, MaxPositionEmbeddings = teacher.MaxPositionEmbeddings, PadTokenId = teacher.PadTokenId,
            ClassifierActivation = false,
        };
    }

    public static IReadOnlyDictionary<string, Func<MobileBertConfig>> All { get; } = new Dictionary<string, Func<MobileBertConfig>>
    {
        ["mobilebert"] = MobileBert,
        ["mobilebert-tiny"] = MobileBertTiny,
        ["mobilebert-no-opt"] = MobileBertNoOpt,
        ["ib-bert-large"] = IbBertLarge,
        ["ib-bert-small"] = IbBertSmall,
        ["mobilebert-small"] = MobileBertSmall,
        ["ib-bert-mini"] = IbBertMini,
        ["mobilebert-mini"] = MobileBertMini,
        ["mobilebert-micro"] = MobileBertMicro,
        ["bert-base"] = BertBase,
        ["minilm-l6"] = MiniLmL6,
        ["mobilebert-minilm"] = MobileBertMiniLm,
    };

    /// <summary>A preset by name, or a config.json path. Unknown names list the presets.</summary>
    public static MobileBertConfig Resolve(string nameOrPath)
    {
        if (All.TryGetValue(nameOrPath, out var make)) return make();
        if (File.Exists(nameOrPath)) return ConfigJson.Load(nameOrPath);
        if (Directory.Exists(nameOrPath) && File.Exists(Path.Combine(nameOrPath, "config.json"))) return ConfigJson.Load(
            Path.Combine(nameOrPath, "config.json"));
        throw new ConfigException($"'{nameOrPath}' is neither a preset ({string.Join(", ", All.Keys)}) nor a config.json file.");
    }
}
