using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert;

/// <summary>
/// One answer candidate: the context substring <c>context[Start..End)</c> (UTF-16 indices), its score
/// (start logit + end logit) and its probability among the n-best (softmax of the scores). For SQuAD v2 models the
/// "no answer" candidate has <see cref="IsNoAnswer"/> set, empty text and span (0, 0).
/// </summary>
public sealed record Answer(string Text, int Start, int End, double Score, double Probability)
{
    public bool IsNoAnswer => Text.Length == 0;
}

/// <summary>
/// Extractive question answering with a fine-tuned model folder — the analogue of TFLite Task Library's
/// <c>BertQuestionAnswerer</c>: <c>QuestionAnswerer.Load(dir).Answer(context, question)</c> → ranked answers with spans
/// and scores. Long contexts are cut into overlapping windows (the doc stride saved in task.json) and the best spans
/// over all windows win. Runs the fast executor (<see cref="Inference.InferenceEngine"/>). Thread-safe for concurrent
/// callers (tokenization and the engine are serialised; each forward uses <see cref="PredictorOptions.Threads"/> cores).
/// </summary>
public sealed class QuestionAnswerer : IDisposable
{
    readonly MobileBertModel _model;
    readonly WordPieceTokenizer _tokenizer;
    readonly QaFeaturizer _featurizer;
    readonly Inference.InferenceEngine _engine;
    readonly object _tokenizerLock = new(), _engineLock = new();
    long _ids;

    QuestionAnswerer(InferenceFolder folder, SquadSettings settings, int maxSeq, PredictorOptions options)
    {
        _model = folder.Model; var tokenizer = _tokenizer = folder.Tokenizer; Settings = settings; MaxSeqLength = maxSeq; Options = options;
        IsQuantized = folder.Int8 is not null;
        _engine = folder.NewEngine(options);
        _featurizer = new QaFeaturizer(tokenizer, new QaFeatureOptions { MaxSeqLength = maxSeq, DocStride = settings.DocStride,
            MaxQueryLength = settings.MaxQueryLength });
    }

    /// <summary>Loads a model folder with a question-answering head (task.json settings, or HF run_qa defaults: 384/128/64).</summary>
    public static QuestionAnswerer Load(string dir, PredictorOptions? options = null)
    {
        options ??= new PredictorOptions();
        var folder = InferenceFolder.Load(dir, options);
        var task = folder.Task;
        if (task is not null && task.Kind != TaskInfoKind.QuestionAnswering) throw new ArgumentException(
            $"{dir}: a {task.Kind} model; use TextClassifier.");
        if (folder.Model.Qa is null) throw new CheckpointException($"{dir}: the model has no question-answering head (qa_outputs.*).");
        return new QuestionAnswerer(folder, task?.Squad ?? new SquadSettings(), options.MaxSeqLength ?? task?.MaxSeqLength ?? 384, options);
    }

    /// <summary>Whether answers come from the int8 path (a folder written by <c>mobilebert quantize</c>).</summary>
    public bool IsQuantized { get; }
    public SquadSettings Settings { get; }
    public int MaxSeqLength { get; }
    public PredictorOptions Options { get; }
    public MobileBertModel Model => _model;
    /// <summary>The WordPiece tokenizer of the folder (vocab.txt).</summary>
    public WordPieceTokenizer Tokenizer => _tokenizer;

    /// <summary>Releases the engine's pinned buffers.</summary>
    public void Dispose() { lock (_engineLock) _engine.Dispose(); }

    /// <summary>The best answers to <paramref name="question"/> in <paramref name="context"/>, best first (at most <paramref
    /// name="topK"/>).</summary>
    public IReadOnlyList<Answer> Answer(string context, string question, int topK = 5) => Answer([(context, question)], topK)[0];

    /// <summary>Answers many (context, question) pairs, windows of all of them batched together.</summary>
    public IReadOnlyList<IReadOnlyList<Answer>> Answer(IReadOnlyList<(string Context, string Question)> items, int topK = 5)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (topK < 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, "Must be positive.");
        if (items.Count == 0) return [];
        long first = Interlocked.Add(ref _ids, items.Count) - items.Count;
        var examples = items.Select((x, i) => new SquadExample($"q{first + i}", "",
            x.Context ?? throw new ArgumentNullException(nameof(items), "A context is null."),
            x.Question ?? throw new ArgumentNullException(nameof(items), "A question is null."), [], false)).ToArray();
        QaFeatureSet features;
        lock (_tokenizerLock) features = _featurizer.CreateFeatures(examples);
        var settings = Settings with { NBestSize = Math.Max(Settings.NBestSize, topK) };
        QaPredictions predictions;
        lock (_engineLock) predictions = QaEvaluator.Predict(_engine, features, _tokenizer.PadId, settings, Math.Max(1, Options.BatchSize));
        return examples.Select(e => (IReadOnlyList<Answer>)predictions.NBest[e.Id]
            .Where(n => n.Text.Length > 0 || Settings.VersionTwoWithNegative)
            .Take(topK)
            .Select(n => new Answer(n.Text, n.Offsets.Start, n.Offsets.End, n.Score, n.Probability)).ToArray()).ToArray();
    }
}
