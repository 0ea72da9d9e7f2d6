using System.Text.RegularExpressions;

namespace MobileBert.Import;

/// <summary>
/// The bare HuggingFace BertModel tensor names (embeddings.*, encoder.layer.N.*, pooler.*) and how ONNX initializer names map
/// onto them: any module prefix in front of the backbone (<c>bert.</c>, <c>0.auto_model.</c>, …) is dropped.
/// </summary>
internal static partial class BertTensorNames
{
    public const string WordEmbeddings = "embeddings.word_embeddings.weight";
    public const string PositionEmbeddings = "embeddings.position_embeddings.weight";
    public const string TokenTypeEmbeddings = "embeddings.token_type_embeddings.weight";
    public const string EmbeddingNorm = "embeddings.LayerNorm";
    public const string Pooler = "pooler.dense";

    /// <summary>The Linear layers of encoder layer N (without ".weight"/".bias").</summary>
    public static readonly string[] LayerLinears = ["attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "intermediate.dense", "output.dense"];
    /// <summary>The LayerNorms of encoder layer N (without ".weight"/".bias").</summary>
    public static readonly string[] LayerNorms = ["attention.output.LayerNorm", "output.LayerNorm"];

    public static string Layer(int layer, string module) => $"encoder.layer.{layer}.{module}";

    [GeneratedRegex(@"^(?:.*?\.)??((?:embeddings\.(?:(?:word|position|token_type)_embeddings\.weight|LayerNorm\.(?:weight|bias)))" +
        @"|(?:encoder\.layer\.\d+\.(?:attention\.self\.(?:query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense" +
        @"|attention\.output\.LayerNorm|output\.LayerNorm)\.(?:weight|bias))|(?:pooler\.dense\.(?:weight|bias)))$")]
    private static partial Regex BackboneName();

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerIndex();

    /// <summary>The bare BertModel name of an ONNX initializer name, or null when it names no backbone tensor.</summary>
    public static string? Canonical(string onnxName)
    {
        var m = BackboneName().Match(onnxName);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>Whether a bare name is the bias of a Linear layer (query … output.dense, pooler.dense).</summary>
    public static bool IsLinearBias(string name) =>
        name.EndsWith(".bias", StringComparison.Ordinal) && !name.Contains("LayerNorm", StringComparison.Ordinal)
        && !name.StartsWith("embeddings.", StringComparison.Ordinal);

    /// <summary>The encoder layer index of a bare name, or −1.</summary>
    public static int LayerOf(string name) =>
        LayerIndex().Match(name) is { Success: true } m && int.TryParse(m.Groups[1].ValueSpan, out int i) ? i : -1;
}
