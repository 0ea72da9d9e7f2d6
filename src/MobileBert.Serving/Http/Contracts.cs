using System.Text.Json.Serialization;

namespace MobileBert.Serving.Http;

// JSON bodies of the HTTP API (snake_case names, as in HuggingFace's pipelines and TF Serving).

/// <summary>POST /v1/models/{name}/classify.</summary>
public sealed class ClassifyRequest
{
    /// <summary>Texts to classify (1…limit).</summary>
    public List<string?>? Texts { get; set; }
    /// <summary>Optional second segment of each text (same count as texts).</summary>
    [JsonPropertyName("text_pairs")] public List<string?>? TextPairs { get; set; }
    /// <summary>Cut inputs longer than the model's maximum instead of refusing them.</summary>
    public bool Truncate { get; set; }
}

/// <param name="Label">Most probable label (classification).</param>
/// <param name="Probabilities">Every label's probability (classification).</param>
/// <param name="Score">Predicted value (regression).</param>
/// <param name="Truncated">The input was cut to the model's maximum length.</param>
public sealed record ClassifyResult(string? Label, float? Probability, IReadOnlyDictionary<string, float>? Probabilities, float? Score,
    bool Truncated);

public sealed record ClassifyResponse(string Model, IReadOnlyList<ClassifyResult> Results);

/// <summary>POST /v1/models/{name}/qa.</summary>
public sealed class QaRequest
{
    public string? Question { get; set; }
    public string? Context { get; set; }
    /// <summary>Answers to return (default 3).</summary>
    [JsonPropertyName("top_k")] public int? TopK { get; set; }
    /// <summary>Cut a question longer than the model's maximum query length instead of refusing it.</summary>
    public bool Truncate { get; set; }
}

/// <param name="Start">UTF-16 index of the answer's first character in the context.</param>
/// <param name="End">UTF-16 index just past the answer (context[start..end] is the text).</param>
/// <param name="IsNoAnswer">The SQuAD v2 "no answer" candidate (empty text, span 0..0).</param>
public sealed record QaAnswer(string Text, int Start, int End, double Score, double Probability,
    [property: JsonPropertyName("is_no_answer")] bool IsNoAnswer);

public sealed record QaResponse(string Model, IReadOnlyList<QaAnswer> Answers);

/// <summary>POST /v1/models/{name}/tokenize.</summary>
public sealed class TokenizeRequest
{
    public string? Text { get; set; }
    [JsonPropertyName("text_pair")] public string? TextPair { get; set; }
    public bool Truncate { get; set; }
}

/// <param name="Offsets">[start, end) UTF-16 range of each token in its text; special tokens [0, 0].</param>
public sealed record TokenizeResponse(string Model, IReadOnlyList<string> Tokens,
    [property: JsonPropertyName("input_ids")] IReadOnlyList<int> InputIds,
    [property: JsonPropertyName("token_type_ids")] IReadOnlyList<int> TokenTypeIds, IReadOnlyList<int[]> Offsets, bool Truncated);

/// <summary>A model's architecture in GET /v1/models.</summary>
public sealed record ConfigSummary([property: JsonPropertyName("model_type")] string ModelType,
    [property: JsonPropertyName("hidden_size")] int HiddenSize, [property: JsonPropertyName("num_hidden_layers")] int NumHiddenLayers,
    [property: JsonPropertyName("num_attention_heads")] int NumAttentionHeads, [property: JsonPropertyName("intermediate_size")] int IntermediateSize,
    [property: JsonPropertyName("embedding_size")] int EmbeddingSize, [property: JsonPropertyName("vocab_size")] int VocabSize,
    [property: JsonPropertyName("max_position_embeddings")] int MaxPositionEmbeddings);

/// <summary>An embedder's vectors in GET /v1/models; <paramref name="Prompts"/>: its named prompts (omitted when none).</summary>
public sealed record EmbeddingInfo(int Dimension, string Pooling, bool Normalized, IReadOnlyDictionary<string, string>? Prompts);

/// <param name="Task">classification, regression, question-answering, embedding or fill-mask.</param>
/// <param name="Precision">int8 (a quantized folder) or fp32.</param>
/// <param name="MultiLabel">Classification only: true when each label has its own probability (they need not sum to 1).</param>
public sealed record ModelInfo(string Name, string Task, IReadOnlyList<string> Labels,
    [property: JsonPropertyName("max_seq_length")] int MaxSeqLength,
    string Precision, ConfigSummary Config, EmbeddingInfo? Embedding,
    [property: JsonPropertyName("multi_label")] bool? MultiLabel);

public sealed record ModelList(IReadOnlyList<ModelInfo> Models);

/// <summary>POST /v1/models/{name}/embed.</summary>
public sealed class EmbedRequest
{
    public List<string?>? Texts { get; set; }
    public bool Truncate { get; set; }
    /// <summary>One of the model's named prompts (GET /v1/models: <c>prompts</c>), put before every text; null: its default, if any.</summary>
    [JsonPropertyName("prompt_name")] public string? PromptName { get; set; }
}

/// <param name="Embeddings">One vector of <paramref name="Dimension"/> floats per text, in input order.</param>
public sealed record EmbedResponse(string Model, int Dimension, string Pooling, bool Normalized, IReadOnlyList<float[]> Embeddings);

/// <summary>POST /v1/models/{name}/fill-mask.</summary>
public sealed class FillMaskRequest
{
    /// <summary>Text with one or more [MASK] tokens.</summary>
    public string? Text { get; set; }
    [JsonPropertyName("top_k")] public int? TopK { get; set; }
    public bool Truncate { get; set; }
}

/// <param name="Sequence">The text with this mask replaced by the token.</param>
public sealed record MaskCandidate(string Token, [property: JsonPropertyName("token_id")] int TokenId, float Probability, string Sequence);

/// <param name="Masks">For each [MASK], in order, its candidates (most probable first).</param>
public sealed record FillMaskResponse(string Model, IReadOnlyList<IReadOnlyList<MaskCandidate>> Masks);
