using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Inference;
using MobileBert.Tasks.Classification;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert;

/// <summary>One candidate for a <c>[MASK]</c>: the vocabulary token, its probability and the text with the mask replaced.</summary>
public sealed record MaskPrediction(string Token, int TokenId, float Probability, string Sequence);

/// <summary>
/// Fill-mask with any model folder that has an MLM head (MobileBERT or BERT pre-training / masked-LM checkpoints):
/// <c>MaskFiller.Load(dir).Fill("paris is the [MASK] of france.")</c> → the most probable tokens for each <c>[MASK]</c>
/// (HF's fill-mask pipeline). The backbone runs on the fast executor; the MLM head decodes only the masked positions.
/// Thread-safe: calls are serialised.
/// </summary>
public sealed class MaskFiller : IDisposable
{
    readonly InferenceFolder _folder;
    readonly Featurizer _featurizer;
    readonly InferenceEngine _engine;
    readonly object _lock = new();

    MaskFiller(InferenceFolder folder, PredictorOptions options)
    {
        _folder = folder;
        MaxSeqLength = options.MaxSeqLength ?? folder.Model.Config.MaxPositionEmbeddings;
        _featurizer = new Featurizer(folder.Tokenizer, MaxSeqLength);
        _engine = folder.NewEngine(options);
    }

    /// <summary>Loads a model folder with an MLM head (cls.predictions.*).</summary>
    public static MaskFiller Load(string dir, PredictorOptions? options = null)
    {
        options ??= new PredictorOptions();
        var folder = InferenceFolder.Load(dir, options);
        if (folder.Model.Mlm is null)
            throw new CheckpointException($"{dir}: the model has no masked-LM head (cls.predictions.*); fill-mask needs a pre-training or MaskedLM " +
                $"checkpoint.");
        return new MaskFiller(folder, options);
    }

    public int MaxSeqLength { get; }
    /// <summary>The WordPiece tokenizer of the folder (vocab.txt).</summary>
    public WordPieceTokenizer Tokenizer => _folder.Tokenizer;
    /// <summary>Whether the backbone runs int8 weights (a folder written by `mobilebert quantize`).</summary>
    public bool IsQuantized => _folder.Int8 is not null;

    public void Dispose() { lock (_lock) _engine.Dispose(); }

    /// <summary>The <paramref name="topK"/> most probable tokens for each <c>[MASK]</c> in <paramref name="text"/>, in the
    /// order the masks appear.</summary>
    /// <exception cref="ArgumentException">The text has no [MASK], or every mask was truncated away.</exception>
    public IReadOnlyList<IReadOnlyList<MaskPrediction>> Fill(string text, int topK = 5)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (topK <= 0) throw new ArgumentOutOfRangeException(nameof(topK), topK, "top-k must be positive.");
        var tok = _folder.Tokenizer;
        var model = _folder.Model;
        int h = model.Config.HiddenSize, v = model.Config.VocabSize;
        lock (_lock)
        {
            var enc = _featurizer.Encode(text, null, out _);
            var masks = Enumerable.Range(0, enc.Length).Where(i => enc.InputIds[i] == tok.MaskId).ToArray();
            if (masks.Length == 0) throw new ArgumentException($"the text has no {MaskToken} token (within the first {MaxSeqLength} tokens).",
                nameof(text));
            var run = _engine.Run([new TokenSequence(enc.InputIds, enc.TokenTypeIds)]);
            var rows = new float[masks.Length * h];                                            // [M, H]
            for (int m = 0; m < masks.Length; m++) run.HiddenState(0).Slice(masks[m] * h, h).CopyTo(rows.AsSpan(m * h));
            var logits = new float[masks.Length * v];                                          // [M, V]
            model.Mlm!.Forward(rows, masks.Length, logits, Math.Max(1, model.Threads));
            var result = new IReadOnlyList<MaskPrediction>[masks.Length];
            for (int m = 0; m < masks.Length; m++)
            {
                var p = SequenceEvaluator.Softmax(logits.AsSpan(m * v, v), v);
                var (start, end) = enc.Offsets[masks[m]];
                result[m] = Enumerable.Range(0, v).OrderByDescending(i => p[i]).Take(Math.Min(topK, v)).Select(id =>
                {
                    string token = tok.IdToToken(id);
                    string word = token.StartsWith("##", StringComparison.Ordinal) ? token[2..] : token;
                    return new MaskPrediction(token, id, p[id], string.Concat(text.AsSpan(0, start), word, text.AsSpan(end)));
                }).ToArray();
            }
            return result;
        }
    }

    public const string MaskToken = "[MASK]";
}
