using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Inference;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Tasks.Classification;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert;

/// <summary>One label with its probability (TFLite Task Library's <c>Category</c>).</summary>
public sealed record Category(string Label, float Probability);

/// <summary>
/// The result for one input: every label with its probability, most probable first (classification: a softmax over the
/// labels; a multi-label model's labels each get their own sigmoid, so they need not sum to 1), or the predicted score
/// (regression: <see cref="Score"/> set, <see cref="Categories"/> empty).
/// </summary>
public sealed record Classification(IReadOnlyList<Category> Categories, float? Score = null)
{
    /// <summary>The most probable label (null for regression).</summary>
    public string? Label => Categories.Count > 0 ? Categories[0].Label : null;
    public float Probability => Categories.Count > 0 ? Categories[0].Probability : float.NaN;
}

/// <summary>Options of <see cref="TextClassifier.Load"/> / <see cref="QuestionAnswerer.Load"/>.</summary>
public sealed record PredictorOptions
{
    /// <summary>Kernel threads of one forward pass (concurrent callers share the machine).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Inputs per forward pass in the batch overloads.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Override the maximum sequence length saved in task.json (default 128 without task.json).</summary>
    public int? MaxSeqLength { get; init; }
    /// <summary>A quantized folder: also keep the dequantized float copies of the int8 weights in <c>Model</c>, so that
    /// <see cref="MobileBert.Model.MobileBertModel.Forward"/> runs on it (default false: the model holds only what stays
    /// float, ≈ 5× less memory for MobileBERT; predictions are the same either way).</summary>
    public bool KeepFloatWeights { get; init; }
    /// <summary>A quantized folder: the int8 GEMM kernel (<see cref="InferenceOptions.Int8Kernel"/>; Auto: the fastest the CPU has).</summary>
    public Int8Path Int8Kernel { get; init; }
}

/// <summary>
/// Text (or text-pair) classification and regression with a fine-tuned model folder — the analogue of TFLite Task
/// Library's <c>BertNLClassifier</c>: <c>TextClassifier.Load(dir).Classify("…")</c> → labels with probabilities.
/// Works on folders written by <c>mobilebert finetune</c> (config.json + model.safetensors + vocab.txt + task.json) and on
/// HuggingFace MobileBertForSequenceClassification folders (labels from config.json id2label).
/// Predictions run through the fast executor (<see cref="InferenceEngine"/>: pre-packed weights, no padding computed);
/// a folder written by <c>mobilebert quantize</c> (model.int8.safetensors) runs its int8 path.
/// Thread-safe: any number of threads may call <see cref="Classify(string, string?)"/> concurrently (tokenization and
/// the engine are serialised; each forward pass uses <see cref="PredictorOptions.Threads"/> cores).
/// </summary>
public sealed class TextClassifier : IDisposable
{
    readonly MobileBertModel _model;
    readonly Featurizer _featurizer;
    readonly WordPieceTokenizer _tokenizer;
    readonly InferenceEngine _engine;
    readonly object _tokenizerLock = new(), _engineLock = new();

    TextClassifier(InferenceFolder folder, PredictorOptions options)
    {
        var model = _model = folder.Model; var task = Task = folder.Task; Options = options;
        IsQuantized = folder.Int8 is not null;
        _engine = folder.NewEngine(options);
        // As HF's models read config.json: problem_type, else one output is a regression score (num_labels = 1).
        IsRegression = task?.Kind == TaskInfoKind.Regression || model.Config.ProblemType == "regression"
            || (task is null && model.Config.ProblemType is null && model.Config.NumLabels == 1);
        IsMultiLabel = !IsRegression && model.Config.ProblemType == "multi_label_classification";
        Labels = IsRegression ? [] : model.Config.Labels;
        MaxSeqLength = options.MaxSeqLength ?? task?.MaxSeqLength ?? 128;
        _tokenizer = folder.Tokenizer;
        _featurizer = new Featurizer(_tokenizer, MaxSeqLength);
    }

    /// <summary>Loads a model folder with a sequence-classification head (fp32, or int8 if the folder holds model.int8.safetensors).</summary>
    public static TextClassifier Load(string dir, PredictorOptions? options = null)
    {
        options ??= new PredictorOptions();
        var folder = InferenceFolder.Load(dir, options);
        if (folder.Task?.Kind == TaskInfoKind.QuestionAnswering) throw new ArgumentException(
            $"{dir}: a question-answering model; use QuestionAnswerer.");
        if (folder.Model.Classifier is null) throw new CheckpointException($"{dir}: the model has no sequence-classification head (classifier.*)" +
            (ModelFolder.UnsupportedClassifier(folder.Model.Config) is { } arch ? $"; config.json names {arch}, whose classifier works per " +
                "token or per choice, which is not supported (the backbone loads for encode, embed and fine-tuning)." : "."));
        return new TextClassifier(folder, options);
    }

    /// <summary>Whether predictions run the int8 path (a quantized folder).</summary>
    public bool IsQuantized { get; }

    /// <summary>Releases the engine's pinned buffers.</summary>
    public void Dispose() { lock (_engineLock) _engine.Dispose(); }

    /// <summary>task.json of the folder (null for a plain HF folder).</summary>
    public TaskInfo? Task { get; }
    public PredictorOptions Options { get; }
    /// <summary>Labels by id (config.json id2label); empty for regression.</summary>
    public IReadOnlyList<string> Labels { get; }
    public bool IsRegression { get; }
    /// <summary>Labels are independent (config.json problem_type multi_label_classification): each gets a sigmoid probability.</summary>
    public bool IsMultiLabel { get; }
    public int MaxSeqLength { get; }
    /// <summary>Whether the task was trained on text pairs (a pair may still be given to any model).</summary>
    public bool IsPairTask => Task?.IsPair ?? false;
    /// <summary>The model. For a quantized folder it holds no float copies of the int8 weights unless
    /// <see cref="PredictorOptions.KeepFloatWeights"/> (then <c>Model.Forward</c> runs; otherwise it throws, naming a weight).</summary>
    public MobileBertModel Model => _model;

    /// <summary>Classifies one text, or one text pair.</summary>
    public Classification Classify(string text, string? textPair = null) => Classify([(text, textPair)])[0];

    /// <summary>Classifies many texts, <see cref="PredictorOptions.BatchSize"/> per forward pass (length-sorted, results in input order).</summary>
    public IReadOnlyList<Classification> Classify(IReadOnlyList<string> texts) => Classify(texts.Select(t => (t, (string?)null)).ToArray());

    /// <summary>Classifies many (text, text pair) inputs.</summary>
    public IReadOnlyList<Classification> Classify(IReadOnlyList<(string Text, string? TextPair)> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var encoded = new EncodedInput[inputs.Count];
        lock (_tokenizerLock)
            for (int i = 0; i < inputs.Count; i++)
            {
                ArgumentNullException.ThrowIfNull(inputs[i].Text);
                encoded[i] = _featurizer.Encode(inputs[i].Text, inputs[i].TextPair, out _);
            }
        return Classify(encoded);
    }

    /// <summary>Encodes one input as <see cref="Classify(IReadOnlyList{EncodedInput})"/> takes it (<c>[CLS] A [SEP] (B [SEP])</c>,
    /// cut to <see cref="MaxSeqLength"/>); <paramref name="truncated"/> tells whether it was longer. Thread-safe.</summary>
    public EncodedInput Encode(string text, string? textPair, out bool truncated)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _featurizer.Encode(text, textPair, out truncated);
    }

    /// <summary>The WordPiece tokenizer of the folder (vocab.txt).</summary>
    public WordPieceTokenizer Tokenizer => _tokenizer;

    /// <summary>Classifies encoded inputs (<see cref="Encode"/>), <see cref="PredictorOptions.BatchSize"/> per forward pass
    /// (length-sorted, no padding computed; results in input order).</summary>
    public IReadOnlyList<Classification> Classify(IReadOnlyList<EncodedInput> encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var results = new Classification[encoded.Count];
        int k = _model.Config.NumLabels;
        EncodedBatches.Run(_engine, _engineLock, encoded, Options.BatchSize, (i, r, run) =>
            results[i] = IsRegression ? new Classification([], run.Logits[r * k]) : ToClassification(run.Logits.Slice(r * k, k)));
        return results;
    }

    Classification ToClassification(ReadOnlySpan<float> logits)
    {
        var p = IsMultiLabel ? Sigmoid(logits) : SequenceEvaluator.Softmax(logits, logits.Length);
        var cats = new Category[p.Length];
        for (int j = 0; j < p.Length; j++) cats[j] = new Category(Labels[j], p[j]);
        return new Classification(cats.OrderByDescending(c => c.Probability).ToArray());
    }

    static float[] Sigmoid(ReadOnlySpan<float> logits)
    {
        var p = new float[logits.Length];
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(logits, p);
        return p;
    }
}
