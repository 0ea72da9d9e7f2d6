using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;

namespace MobileBert;

/// <summary>
/// The embedding settings a sentence-transformers model folder records beside the transformer: <c>modules.json</c> (is
/// there a Normalize module), <c>1_Pooling/config.json</c> (pooling_mode_cls_token / pooling_mode_mean_tokens,
/// include_prompt), <c>sentence_bert_config.json</c> (max_seq_length) and <c>config_sentence_transformers.json</c> (prompts:
/// text put before the input, by name, e.g. "query"; default_prompt_name). Each is null (no prompts: empty) when the folder
/// does not say.
/// </summary>
public sealed record SentenceTransformersFolder(Pooling? Pooling, bool? Normalize, int? MaxSeqLength)
{
    const string PromptsFile = "config_sentence_transformers.json";

    /// <summary>Named prompts (sentence-transformers' <c>prompts</c>): the text put before an input embedded with that name.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; init; } = new Dictionary<string, string>();
    /// <summary>The prompt used when none is named (null: none).</summary>
    public string? DefaultPromptName { get; init; }
    /// <summary>Whether the prompt's tokens count in mean pooling (1_Pooling/config.json include_prompt; true by default).</summary>
    public bool IncludePrompt { get; init; } = true;

    public bool Equals(SentenceTransformersFolder? other) => other is not null && Pooling == other.Pooling && Normalize == other.Normalize
        && MaxSeqLength == other.MaxSeqLength && DefaultPromptName == other.DefaultPromptName && IncludePrompt == other.IncludePrompt
        && Prompts.Count == other.Prompts.Count && Prompts.All(p => other.Prompts.TryGetValue(p.Key, out var v) && v == p.Value);

    public override int GetHashCode() => HashCode.Combine(Pooling, Normalize, MaxSeqLength, DefaultPromptName, Prompts.Count);

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
        bool includePrompt = true;
        if (Load(Path.Combine(poolingDir, "config.json")) is JsonObject p)
        {
            bool Flag(string name) => p[name]?.GetValueKind() == JsonValueKind.True;
            if (Flag("pooling_mode_mean_tokens")) pooling = MobileBert.Pooling.Mean;
            else if (Flag("pooling_mode_cls_token")) pooling = MobileBert.Pooling.Cls;
            else throw new CheckpointException($"{Path.Combine(dir, poolingDir, "config.json")}: only mean-token or CLS-token pooling is supported.");
            includePrompt = p["include_prompt"]?.GetValueKind() != JsonValueKind.False;
        }
        int? max = Load("sentence_bert_config.json") is JsonObject sb && sb["max_seq_length"] is JsonValue v
            && v.TryGetValue(out int len) ? len : null;
        var (prompts, defaultName) = ReadPrompts(Load(PromptsFile), Path.Combine(dir, PromptsFile));
        return new SentenceTransformersFolder(pooling, normalize, max)
            { Prompts = prompts, DefaultPromptName = defaultName, IncludePrompt = includePrompt };
    }

    /// <summary>"prompts" (an object of strings) and "default_prompt_name" (null or one of them) of config_sentence_transformers.json.</summary>
    static (Dictionary<string, string> Prompts, string? DefaultName) ReadPrompts(JsonNode? config, string path)
    {
        var prompts = new Dictionary<string, string>(StringComparer.Ordinal);
        if (config is null) return (prompts, null);
        if (config is not JsonObject o) throw new CheckpointException($"{path}: must be a JSON object.");
        if (o["prompts"] is JsonObject named)
            foreach (var (name, value) in named)
                prompts[name] = value is JsonValue text && text.TryGetValue(out string? prompt) ? prompt
                    : throw new CheckpointException($"{path}: prompts.{name} must be a string.");
        else if (o["prompts"] is not null) throw new CheckpointException($"{path}: 'prompts' must be an object of name → text.");
        string? defaultName = o["default_prompt_name"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) => prompts.ContainsKey(s) ? s
                : throw new CheckpointException($"{path}: default_prompt_name '{s}' is not one of the prompts."),
            _ => throw new CheckpointException($"{path}: default_prompt_name must be a string or null."),
        };
        return (prompts, defaultName);
    }

    /// <summary>The text put before an input embedded with prompt <paramref name="name"/> (null: the default prompt, if any;
    /// "" when none applies). An unknown name throws, listing the folder's.</summary>
    public string PromptText(string? name)
    {
        name ??= DefaultPromptName;
        if (name is null) return "";
        return Prompts.TryGetValue(name, out var text) ? text : throw new ArgumentException(Prompts.Count == 0
            ? $"prompt '{name}': the model folder defines no prompts ({PromptsFile})."
            : $"prompt '{name}' is not defined; the model folder's prompts: {string.Join(", ", Prompts.Keys)}.");
    }

    /// <summary>The files and folders <see cref="Write"/> creates (and <see cref="Read"/> reads).</summary>
    public static IReadOnlyList<string> Entries { get; } = ["modules.json", "1_Pooling", "2_Normalize", "sentence_bert_config.json", PromptsFile];

    /// <summary>Records these settings (pooling, normalisation and length must be set) in <paramref name="dir"/> as
    /// sentence-transformers writes them: modules Transformer → Pooling (1_Pooling) [→ Normalize], the pooling config,
    /// sentence_bert_config.json and, with prompts, config_sentence_transformers.json.</summary>
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
        var poolingConfig = new JsonObject
        {
            ["word_embedding_dimension"] = hiddenSize, ["pooling_mode_cls_token"] = pooling == MobileBert.Pooling.Cls,
            ["pooling_mode_mean_tokens"] = pooling == MobileBert.Pooling.Mean, ["pooling_mode_max_tokens"] = false,
            ["pooling_mode_mean_sqrt_len_tokens"] = false,
        };
        if (!IncludePrompt) poolingConfig["include_prompt"] = false;   // written only when false: true is sentence-transformers' default
        File.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), poolingConfig.ToJsonString(options));
        File.WriteAllText(Path.Combine(dir, "sentence_bert_config.json"),
            new JsonObject { ["max_seq_length"] = max, ["do_lower_case"] = false }.ToJsonString(options));
        if (Prompts.Count > 0)
            File.WriteAllText(Path.Combine(dir, PromptsFile), new JsonObject
            {
                ["prompts"] = new JsonObject(Prompts.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
                ["default_prompt_name"] = DefaultPromptName,
            }.ToJsonString(options));
    }
}
