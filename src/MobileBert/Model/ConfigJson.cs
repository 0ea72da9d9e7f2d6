using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Kernels;

namespace MobileBert.Model;

/// <summary>Reads and writes HuggingFace <c>config.json</c>: model_type "mobilebert" (also when absent) or "bert".</summary>
public static class ConfigJson
{
    // Generic PretrainedConfig / tokenizer fields HF writes that do not change the model's computation.
    static readonly HashSet<string> IgnoredFields =
    [
        "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "initializer_range", "is_decoder",
        "is_encoder_decoder", "output_attentions", "output_hidden_states", "return_dict", "torchscript", "pruned_heads",
        "tie_word_embeddings", "bos_token_id", "eos_token_id", "sep_token_id", "classifier_dropout", "use_cache",
        "chunk_size_feed_forward", "add_cross_attention", "tie_encoder_decoder", "finetuning_task", "label2id",
        "gradient_checkpointing", "position_embedding_type", "_name_or_path", "tokenizer_class", "prefix",
        "task_specific_params", "problem_type", "id2label", "num_labels", "true_hidden_size", "decoder_start_token_id",
        "cross_attention_hidden_size", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
        "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
        "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
        "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
        "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
        "begin_suppress_tokens", "tf_legacy_loss", "use_bfloat16", "_attn_implementation_autoset",
    ];

    /// <summary>Loads and validates a config.json. Errors name the file and field.</summary>
    public static MobileBertConfig Load(string path)
    {
        string text;
        try { text = new MobileBert.Text.TextSanitizer().ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ConfigException(
        $"{path}: cannot read config: {e.Message}"); }
        return Parse(text, path, out _);
    }

    /// <summary>Parses config.json text. <paramref name="warnings"/> lists fields that were not recognised.</summary>
    public static MobileBertConfig Parse(string json, string source, out List<string> warnings)
    {
        warnings = [];
        json = new MobileBert.Text.TextSanitizer().CleanJson(json);   // an unpaired \uD800 escape reads as U+FFFD, never throws
        JsonObject obj;
        try
        {
            obj = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions {
                AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) as JsonObject
                  ?? throw new ConfigException($"{source}: config must be a JSON object.");
        }
        catch (JsonException e) { throw new ConfigException($"{source}: invalid JSON ({MobileBert.Text.JsonKinds.Problem(e)})."); }

        string? modelType = GetString(obj, "model_type", source);
        if (modelType is not (null or "mobilebert" or "bert"))
            throw new ConfigException($"{source}: 'model_type' is '{modelType}', expected 'mobilebert' or 'bert'.");
        var c = modelType == "bert" ? MobileBertConfig.Bert() : new MobileBertConfig();
        if (c.IsBert) CheckBertFields(obj, source);

        c.VocabSize = GetInt(obj, "vocab_size", source) ?? c.VocabSize;
        c.HiddenSize = GetInt(obj, "hidden_size", source) ?? c.HiddenSize;
        c.EmbeddingSize = GetInt(obj, "embedding_size", source) ?? c.EmbeddingSize;
        c.IntraBottleneckSize = GetInt(obj, "intra_bottleneck_size", source) ?? c.IntraBottleneckSize;
        c.NumHiddenLayers = GetInt(obj, "num_hidden_layers", source) ?? c.NumHiddenLayers;
        c.NumAttentionHeads = GetInt(obj, "num_attention_heads", source) ?? c.NumAttentionHeads;
        c.IntermediateSize = GetInt(obj, "intermediate_size", source) ?? c.IntermediateSize;
        c.NumFeedforwardNetworks = GetInt(obj, "num_feedforward_networks", source) ?? c.NumFeedforwardNetworks;
        c.TypeVocabSize = GetInt(obj, "type_vocab_size", source) ?? c.TypeVocabSize;
        c.MaxPositionEmbeddings = GetInt(obj, "max_position_embeddings", source) ?? c.MaxPositionEmbeddings;
        c.PadTokenId = GetInt(obj, "pad_token_id", source) ?? c.PadTokenId;
        c.TrigramInput = GetBool(obj, "trigram_input", source) ?? c.TrigramInput;
        c.UseBottleneck = GetBool(obj, "use_bottleneck", source) ?? c.UseBottleneck;
        c.UseBottleneckAttention = GetBool(obj, "use_bottleneck_attention", source) ?? c.UseBottleneckAttention;
        c.KeyQuerySharedBottleneck = GetBool(obj, "key_query_shared_bottleneck", source) ?? c.KeyQuerySharedBottleneck;
        c.ClassifierActivation = GetBool(obj, "classifier_activation", source) ?? c.ClassifierActivation;
        c.LayerNormEps = GetFloat(obj, "layer_norm_eps", source) ?? c.LayerNormEps;
        c.HiddenDropoutProb = GetFloat(obj, "hidden_dropout_prob", source) ?? c.HiddenDropoutProb;
        c.AttentionProbsDropoutProb = GetFloat(obj, "attention_probs_dropout_prob", source) ?? c.AttentionProbsDropoutProb;
        c.InitializerRange = GetFloat(obj, "initializer_range", source) ?? c.InitializerRange;
        c.ProblemType = GetString(obj, "problem_type", source);
        if (c.IsBert) c.EmbeddingSize = c.IntraBottleneckSize = c.HiddenSize;

        string? norm = GetString(obj, "normalization_type", source);
        if (norm is not null)
            c.NormalizationType = norm switch
            {
                "no_norm" => NormalizationType.NoNorm,
                "layer_norm" => NormalizationType.LayerNorm,
                _ => throw new ConfigException($"{source}: 'normalization_type' is '{norm}'; expected 'no_norm' or 'layer_norm'."),
            };
        string? act = GetString(obj, "hidden_act", source);
        if (act is not null)
            c.HiddenAct = act switch
            {
                "relu" => Activation.Relu,
                "gelu" => Activation.Gelu,
                "gelu_new" or "gelu_pytorch_tanh" => Activation.GeluNew,
                "tanh" => Activation.Tanh,
                _ => throw new ConfigException($"{source}: 'hidden_act' is '{act}'; expected relu, gelu, gelu_new or tanh."),
            };

        c.Labels = ReadLabels(obj, source) ?? c.Labels;
        if (obj["architectures"] is JsonArray arch)
            c.Architectures = arch.Select(a => a?.GetValueKind() == JsonValueKind.String ? a.GetValue<string>()
                : throw new ConfigException($"{source}: 'architectures' must be a list of strings.")).ToList();

        int? trueHidden = c.IsBert ? null : GetInt(obj, "true_hidden_size", source);
        if (trueHidden is int th && th != c.TrueHiddenSize)
            throw new ConfigException($"{source}: 'true_hidden_size' is {th} but must be {c.TrueHiddenSize} (intra_bottleneck_size when " +
                $"use_bottleneck, else hidden_size).");

        var known = new HashSet<string>(IgnoredFields)
        {
            "vocab_size", "hidden_size", "embedding_size", "intra_bottleneck_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "num_feedforward_networks", "type_vocab_size", "max_position_embeddings", "pad_token_id",
            "trigram_input", "use_bottleneck", "use_bottleneck_attention", "key_query_shared_bottleneck",
            "classifier_activation", "layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob",
            "normalization_type", "hidden_act",
        };
        foreach (var kv in obj)
            if (!known.Contains(kv.Key)) warnings.Add($"{source}: unknown field '{kv.Key}' ignored.");

        c.Validate(source);
        return c;
    }

    // MobileBERT-only fields: in a BERT config they would describe a model BERT cannot be.
    static readonly string[] MobileBertOnlyFields =
    [
        "embedding_size", "intra_bottleneck_size", "true_hidden_size", "num_feedforward_networks", "normalization_type",
        "trigram_input", "use_bottleneck", "use_bottleneck_attention", "key_query_shared_bottleneck", "classifier_activation",
    ];

    /// <summary>BERT fields whose values this model cannot compute (relative positions, decoders) and MobileBERT-only fields.</summary>
    static void CheckBertFields(JsonObject obj, string source)
    {
        foreach (var f in MobileBertOnlyFields)
            if (obj.ContainsKey(f)) throw new ConfigException($"{source}: '{f}' is a MobileBERT field; a model_type 'bert' config cannot have it.");
        string? position = GetString(obj, "position_embedding_type", source);
        if (position is not (null or "absolute"))
            throw new ConfigException($"{source}: 'position_embedding_type' is '{position}'; only 'absolute' is supported.");
        if (GetBool(obj, "is_decoder", source) == true) throw new ConfigException($"{source}: 'is_decoder' is true; only encoders are supported.");
        if (GetBool(obj, "add_cross_attention", source) == true)
            throw new ConfigException($"{source}: 'add_cross_attention' is true; only encoders are supported.");
    }

    static List<string>? ReadLabels(JsonObject obj, string source)
    {
        int? numLabels = GetInt(obj, "num_labels", source);
        if (obj["id2label"] is JsonObject id2label && id2label.Count > 0)
        {
            var labels = new string[id2label.Count];
            foreach (var kv in id2label)
            {
                if (!int.TryParse(kv.Key, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id < 0 || id >= labels.Length)
                    throw new ConfigException($"{source}: 'id2label' key '{kv.Key}' must be an integer in [0, {labels.Length}).");
                if (kv.Value?.GetValueKind() != JsonValueKind.String)
                    throw new ConfigException($"{source}: 'id2label[{kv.Key}]' must be a string.");
                labels[id] = kv.Value.GetValue<string>();
            }
            if (numLabels is int n && n != labels.Length)
                throw new ConfigException($"{source}: 'num_labels' is {n} but 'id2label' has {labels.Length} entries.");
            return [.. labels];
        }
        if (numLabels is int count)
        {
            if (count <= 0) throw new ConfigException($"{source}: 'num_labels' must be positive, got {count}.");
            if (count > MobileBertConfig.MaxLabels) throw new ConfigException(
                $"{source}: 'num_labels' = {count} is more than {MobileBertConfig.MaxLabels:N0} labels.");
            return Enumerable.Range(0, count).Select(i => $"LABEL_{i}").ToList();
        }
        return null;
    }

    static int? GetInt(JsonObject o, string name, string source)
    {
        if (!o.TryGetPropertyValue(name, out var n) || n is null) return null;
        if (n.GetValueKind() == JsonValueKind.Number && n.AsValue().TryGetValue(out long l)
            && l is >= int.MinValue and <= int.MaxValue) return (int)l;
        if (n.GetValueKind() == JsonValueKind.Number && n.AsValue().TryGetValue(out double d) && d == Math.Floor(d)
            && Math.Abs(d) < int.MaxValue) return (int)d;
        throw new ConfigException($"{source}: '{name}' must be an integer, got {n.ToJsonString()}.");
    }

    static float? GetFloat(JsonObject o, string name, string source)
    {
        if (!o.TryGetPropertyValue(name, out var n) || n is null) return null;
        if (n.GetValueKind() == JsonValueKind.Number) return (float)n.GetValue<double>();
        throw new ConfigException($"{source}: '{name}' must be a number, got {n.ToJsonString()}.");
    }

    static bool? GetBool(JsonObject o, string name, string source)
    {
        if (!o.TryGetPropertyValue(name, out var n) || n is null) return null;
        return n.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ConfigException($"{source}: '{name}' must be true or false, got {n.ToJsonString()}."),
        };
    }

    static string? GetString(JsonObject o, string name, string source)
    {
        if (!o.TryGetPropertyValue(name, out var n) || n is null) return null;
        if (n.GetValueKind() == JsonValueKind.String) return n.GetValue<string>();
        throw new ConfigException($"{source}: '{name}' must be a string, got {n.ToJsonString()}.");
    }

    /// <summary>Serialises to HF config.json (every MobileBertConfig field, so HF transformers can load it when it can express
    /// the model; a BERT config as HF BertConfig: the fields the two share, without MobileBERT's own).</summary>
    public static string ToJson(MobileBertConfig c)
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(c.Architectures.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            ["model_type"] = c.IsBert ? "bert" : "mobilebert",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["intermediate_size"] = c.IntermediateSize,
            ["hidden_act"] = ActName(c.HiddenAct),
            ["hidden_dropout_prob"] = c.HiddenDropoutProb,
            ["attention_probs_dropout_prob"] = c.AttentionProbsDropoutProb,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["type_vocab_size"] = c.TypeVocabSize,
            ["initializer_range"] = c.InitializerRange,
            ["layer_norm_eps"] = c.LayerNormEps,
            ["pad_token_id"] = c.PadTokenId,
            ["tie_word_embeddings"] = true,
        };
        if (c.IsBert) o["position_embedding_type"] = "absolute";
        else
        {
            o["embedding_size"] = c.EmbeddingSize;
            o["intra_bottleneck_size"] = c.IntraBottleneckSize;
            o["true_hidden_size"] = c.TrueHiddenSize;
            o["num_feedforward_networks"] = c.NumFeedforwardNetworks;
            o["normalization_type"] = c.NormalizationType == NormalizationType.NoNorm ? "no_norm" : "layer_norm";
            o["trigram_input"] = c.TrigramInput;
            o["use_bottleneck"] = c.UseBottleneck;
            o["use_bottleneck_attention"] = c.UseBottleneckAttention;
            o["key_query_shared_bottleneck"] = c.KeyQuerySharedBottleneck;
            o["classifier_activation"] = c.ClassifierActivation;
        }
        o["num_labels"] = c.NumLabels;
        var id2label = new JsonObject(); var label2id = new JsonObject();
        for (int i = 0; i < c.Labels.Count; i++) { id2label[i.ToString(CultureInfo.InvariantCulture)] = c.Labels[i]; label2id[c.Labels[i]] = i; }
        o["id2label"] = id2label; o["label2id"] = label2id;
        if (c.ProblemType is not null) o["problem_type"] = c.ProblemType;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    internal static string ActName(Activation a) => a switch { Activation.Relu => "relu", Activation.Gelu => "gelu", Activation.GeluNew => "gelu_new",
        _ => "tanh" };

    /// <summary>Writes config.json atomically (temporary file, then rename).</summary>
    public static void Save(MobileBertConfig c, string path)
    {
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(tmp, ToJson(c));
        File.Move(tmp, path, overwrite: true);
    }
}
