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
                if (type.EndsWith(".Pooling", StringComparison.Ordinal) && m["path"]?.GetValueKind() == JsonValueKind.String) poolingDir =
                    m["path"]!.GetValue<string>();
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
        int? max = Load("sentence_bert_config.json") is JsonObject sb && sb["max_seq_length"] is JsonValue v
            && v.TryGetValue(out int len) ? len : null;
        return new SentenceTransformersFolder(pooling, normalize, max);
    }

    /// <summary>The files and folders <see cref="Write"/> creates (and <see cref="Read"/> reads).</summary>
    public static IReadOnlyList<string> Entries { get; } = ["modules.json", "1_Pooling", "2_Normalize", "sentence_bert_config.json"];

    /// <summary>Records these settings (all must be set) in <paramref name="dir"/> as sentence-transformers writes them:
    /// modules Transformer → Pooling (1_Pooling) [→ Normalize], the pooling config and sentence_bert_config.json.</summary>
    public void Write(string dir, int hiddenSize)
    {
        if (Pooling is not { } pooling || Normalize is not { } normalize || MaxSeqLength is not { } max)
            throw new InvalidOperationException("Writing a sentence-transformers folder needs pooling, normalisation and max_seq_length.");
        var options = new JsonSerializerOptions { WriteIndented = true };
        var modules = new JsonArray(
            new JsonObject { ["idx"] = 0, ["name"] = "0", ["path"] = "", ["type"] = "sentence_transformers.models.Transformer" },
            new JsonObject { ["idx"] = 1, ["name"] = "1", ["path"] = "1_Pooling", ["type"] = "sentence_transformers.models.Pooling" });
        if (normalize)
        {
            modules.Add((JsonNode)new JsonObject { ["idx"] = 2, ["name"] = "2", ["path"] = "2_Normalize",
                ["type"] = "sentence_transformers.models.Normalize" });
            Directory.CreateDirectory(Path.Combine(dir, "2_Normalize"));   // the module has no files; its folder exists
        }
        File.WriteAllText(Path.Combine(dir, "modules.json"), modules.ToJsonString(options));
        Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
        File.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), new JsonObject
        {
            ["word_embedding_dimension"] = hiddenSize, ["pooling_mode_cls_token"] = pooling == MobileBert.Pooling.Cls,
            ["pooling_mode_mean_tokens"] = pooling == MobileBert.Pooling.Mean, ["pooling_mode_max_tokens"] = false,
            ["pooling_mode_mean_sqrt_len_tokens"] = false,
        }.ToJsonString(options));
        File.WriteAllText(Path.Combine(dir, "sentence_bert_config.json"),
            new JsonObject { ["max_seq_length"] = max, ["do_lower_case"] = false }.ToJsonString(options));
    }
}
