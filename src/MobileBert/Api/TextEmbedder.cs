using System.Numerics.Tensors;
using MobileBert.Inference;
using MobileBert.Tasks.Classification;
using MobileBert.Text;

namespace MobileBert;

/// <summary>How token vectors become one sentence vector.</summary>
public enum Pooling
{
    /// <summary>Mean of the last hidden state over the sequence's tokens, [CLS] and [SEP] included (sentence-transformers' default).</summary>
    Mean,
    /// <summary>The last hidden state of [CLS].</summary>
    Cls,
}

/// <summary>Options of <see cref="TextEmbedder.Load"/>.</summary>
public sealed record EmbedderOptions
{
    /// <summary>Pooling; null: what a sentence-transformers folder says (1_Pooling/config.json), else mean.</summary>
    public Pooling? Pooling { get; init; }
    /// <summary>Scale every vector to unit L2 norm (then a dot product is the cosine similarity); null: whether a
    /// sentence-transformers folder has a Normalize module (modules.json), else false.</summary>
    public bool? Normalize { get; init; }
    /// <summary>Predictor settings (threads, batch size, maximum tokens per text; default: a sentence-transformers folder's
    /// max_seq_length, else the model's max_position_embeddings).</summary>
    public PredictorOptions Predictor { get; init; } = new();
    /// <summary>The folder's prompt (<see cref="SentenceTransformersFolder.Prompts"/>) put before every text a call does not name
    /// one for; null: the folder's default_prompt_name, if any.</summary>
    public string? PromptName { get; init; }
}

/// <summary>
/// Sentence embeddings with any model folder (BERT, MiniLM and sentence-transformers checkpoints, MobileBERT; fp32 or int8):
/// <c>TextEmbedder.Load(dir).Embed("…")</c> → a vector of hidden_size floats. Unset options come from a
/// sentence-transformers folder's own files (<see cref="SentenceTransformersFolder"/>), so such a folder embeds as
/// sentence-transformers does (all-MiniLM-L6-v2: mean pooling, normalised, 256 tokens), prompts included: a named prompt's
/// text goes before the input, as <c>encode(…, prompt_name=…)</c> does (arctic-embed-xs: "query"). Texts longer than
/// <see cref="MaxSeqLength"/> tokens (prompt included) are truncated. Runs the fast executor; thread-safe like
/// <see cref="TextClassifier"/>.
/// </summary>
public sealed class TextEmbedder : IDisposable
{
    readonly Featurizer _featurizer;
    readonly InferenceEngine _engine;
    readonly object _tokenizerLock = new(), _engineLock = new();

    TextEmbedder(InferenceFolder folder, EmbedderOptions options, SentenceTransformersFolder st)
    {
        Options = options; IsQuantized = folder.Int8 is not null;
        Dimension = folder.Model.Config.HiddenSize;
        Pooling = options.Pooling ?? st.Pooling ?? Pooling.Mean;
        Normalize = options.Normalize ?? st.Normalize ?? false;
        int max = folder.Model.Config.MaxPositionEmbeddings;
        MaxSeqLength = options.Predictor.MaxSeqLength ?? Math.Min(st.MaxSeqLength ?? max, max);
        if (MaxSeqLength < 3 || MaxSeqLength > max)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxSeqLength {MaxSeqLength} must be in [3, {max}] (max_position_embeddings).");
        Tokenizer = folder.Tokenizer;
        _settings = st;
        _defaultPrompt = PromptFor(options.PromptName);
        _featurizer = new Featurizer(folder.Tokenizer, MaxSeqLength);
        _engine = folder.NewEngine(options.Predictor);
    }

    readonly SentenceTransformersFolder _settings;
    readonly string _defaultPrompt;

    /// <summary>The folder's named prompts (sentence-transformers' config_sentence_transformers.json; empty when none).</summary>
    public IReadOnlyDictionary<string, string> Prompts => _settings.Prompts;

    /// <summary>The text put before inputs embedded with prompt <paramref name="name"/> (null: the options' or the folder's
    /// default). A prompt is refused for mean pooling that leaves its tokens out (include_prompt = false), which is not
    /// implemented.</summary>
    string PromptFor(string? name)
    {
        string text = _settings.PromptText(name ?? Options.PromptName);
        if (text.Length > 0 && !_settings.IncludePrompt && Pooling == Pooling.Mean)
            throw new Checkpoints.CheckpointException("the model folder's pooling leaves the prompt's tokens out of the mean (1_Pooling " +
                "include_prompt = false), which TextEmbedder does not implement; embed without a prompt or with [CLS] pooling.");
        return text;
    }

    /// <summary>Loads a model folder (any heads; only the backbone runs).</summary>
    public static TextEmbedder Load(string dir, EmbedderOptions? options = null)
    {
        options ??= new EmbedderOptions();
        return new TextEmbedder(InferenceFolder.Load(dir, options.Predictor), options, SentenceTransformersFolder.Read(dir));
    }

    public EmbedderOptions Options { get; }
    /// <summary>The pooling in use (the option, the folder's, or mean).</summary>
    public Pooling Pooling { get; }
    /// <summary>Whether vectors are L2-normalised (the option, the folder's Normalize module, or false).</summary>
    public bool Normalize { get; }
    public bool IsQuantized { get; }
    /// <summary>Length of every vector (the model's hidden_size).</summary>
    public int Dimension { get; }
    public int MaxSeqLength { get; }

    public void Dispose() { lock (_engineLock) _engine.Dispose(); }

    /// <summary>The embedding of one text (with prompt <paramref name="promptName"/>; null: the default one, if any).</summary>
    public float[] Embed(string text, string? promptName = null) => Embed([text], promptName)[0];

    /// <summary>Embeddings of many texts, <see cref="PredictorOptions.BatchSize"/> per forward pass (length-sorted, results in
    /// input order), each with prompt <paramref name="promptName"/> (null: the default one, if any).</summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts, string? promptName = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var encoded = new EncodedInput[texts.Count];
        lock (_tokenizerLock)
            for (int i = 0; i < texts.Count; i++) encoded[i] = Encode(texts[i], out _, promptName);
        return Embed(encoded);
    }

    /// <summary>Encodes one text as <see cref="Embed(IReadOnlyList{EncodedInput})"/> takes it: after prompt
    /// <paramref name="promptName"/> (null: the default one, if any), cut to <see cref="MaxSeqLength"/>; <paramref name="truncated"/>
    /// tells whether it was longer. Thread-safe.</summary>
    public EncodedInput Encode(string text, out bool truncated, string? promptName = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _featurizer.Encode(Prompted(text, promptName), null, out truncated);
    }

    /// <summary>Tokens of the text after its prompt, [CLS] and [SEP] included, before any truncation.</summary>
    public int TokenCount(string text, string? promptName = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Tokenizer.Encode(Prompted(text, promptName), null, int.MaxValue).Length;
    }

    string Prompted(string text, string? promptName)
    {
        string prompt = promptName is null ? _defaultPrompt : PromptFor(promptName);
        return prompt.Length == 0 ? text : prompt + text;
    }

    /// <summary>The WordPiece tokenizer of the folder (vocab.txt).</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Embeddings of encoded texts (<see cref="Encode"/>), <see cref="PredictorOptions.BatchSize"/> per forward pass.</summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<EncodedInput> encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var results = new float[encoded.Count][];
        EncodedBatches.Run(_engine, _engineLock, encoded, Options.Predictor.BatchSize, (i, r, run) =>
            results[i] = Pool(run.HiddenState(r), Pooling, Normalize, Dimension));
        return results;
    }

    /// <summary>tokens: [S, H] (one sequence, no padding) → [H].</summary>
    public static float[] Pool(ReadOnlySpan<float> tokens, Pooling pooling, bool normalize, int hidden)
    {
        int seq = tokens.Length / hidden;
        var v = new float[hidden];
        if (pooling == Pooling.Cls) tokens[..hidden].CopyTo(v);
        else
        {
            var sum = new double[hidden];                                   // accumulate in double: sequences of 512 rows
            for (int t = 0; t < seq; t++)
            {
                var row = tokens.Slice(t * hidden, hidden);
                for (int j = 0; j < hidden; j++) sum[j] += row[j];
            }
            for (int j = 0; j < hidden; j++) v[j] = (float)(sum[j] / seq);
        }
        if (normalize)
        {
            float norm = TensorPrimitives.Norm(v);
            if (norm > 0) TensorPrimitives.Divide(v, norm, v);          // as torch.nn.functional.normalize (eps 1e-12)
        }
        return v;
    }

    /// <summary>Cosine similarity of two vectors (the dot product when both are normalised).</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.CosineSimilarity(a, b);
}
