using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;

namespace MobileBert;

/// <summary>
/// The embedding settings a sentence-transformers model folder records beside the transformer: <c>modules.json</c> (is
/// there a Normalize module), <c>1_Pooling/config.json</c> (pooling_mode_cls_token / pooling_mode_mean_tokens) and
/// <c>sentence_bert_config.json</c> (max_seq_length). Each is null when the folder does not say.
/// </summary>
public sealed record SentenceTransformersFolder(Pooling? Pooling, bool? Normalize, int? MaxSeqLength)
{
    /// <summary>Reads what the folder has; a malformed file is a <see cref="CheckpointException"/> naming it.</summary>
    public static SentenceTransformersFolder Read(string dir)
    {
        JsonNode? Load(string relative)
        {
            string path = Path.Combine(dir, relative);
            if (!File.Exists(path)) return null;
            try { return JsonNode.Parse(File.ReadAllText(path)); }
            catch (JsonException e) { throw new CheckpointException($"{path}: invalid JSON ({e.Message.Split(" LineNumber:")[0]})."); }
        }
        var modules = Load("modules.json") as JsonArray;
        string poolingDir = "1_Pooling";
        bool? normalize = null;
        if (modules is not null)
        {
            normalize = false;
            foreach (var m in modules.OfType<JsonObject>())
            {
                string type = m["type"]?.GetValueKind() == JsonValueKind.String ? m["type"]!.GetValue<string>() : "";
                if (type.EndsWith(".Normalize", StringComparison.Ordinal)) normalize = true;
                if (type.EndsWith(".Pooling", StringComparison.Ordinal) && m["path"]?.GetValueKind() == JsonValueKind.String) poolingDir = m["path"]!.GetValue<string>();
            }
        }
        Pooling? pooling = null;
        if (Load(Path.Combine(poolingDir, "config.json")) is JsonObject p)
        {
            bool Flag(string name) => p[name]?.GetValueKind() == JsonValueKind.True;
            if (Flag("pooling_mode_mean_tokens")) pooling = MobileBert.Pooling.Mean;
            else if (Flag("pooling_mode_cls_token")) pooling = MobileBert.Pooling.Cls;
            else throw new CheckpointException($"{Path.Combine(dir, poolingDir, "config.json")}: only mean-token or CLS-token pooling is supported.");
        }
        int? max = Load("sentence_bert_config.json") is JsonObject sb && sb["max_seq_length"] is JsonValue v && v.TryGetValue(out int len) ? len : null;
        return new SentenceTransformersFolder(pooling, normalize, max);
    }
}
