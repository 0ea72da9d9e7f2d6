using MobileBert.Text;

namespace MobileBert.Tasks.QuestionAnswering;

/// <summary>How examples are cut into model inputs (HF <c>run_qa.py</c> arguments).</summary>
public sealed record QaFeatureOptions
{
    /// <summary>Maximum total tokens per feature, <c>[CLS] question [SEP] context-window [SEP]</c> (HF <c>max_seq_length</c>, default 384).</summary>
    public int MaxSeqLength { get; init; } = 384;

    /// <summary>
    /// Number of context tokens shared by two consecutive windows (HF <c>doc_stride</c>, passed as the tokenizer's
    /// <c>stride</c>, default 128): window <c>k</c> starts at context token <c>k·(W − DocStride)</c> where <c>W</c> is the
    /// window size, and windows stop at the first one that reaches the end of the context. Must be smaller than <c>W</c>.
    /// (Note: the original Google <c>run_squad.py</c> used <c>doc_stride</c> as the step between windows instead.)
    /// </summary>
    public int DocStride { get; init; } = 128;

    /// <summary>Questions are truncated to this many WordPiece tokens (HF legacy / Google <c>max_query_length</c>, default 64).</summary>
    public int MaxQueryLength { get; init; } = 64;
}

/// <summary>One model input: a question with one window of its context.</summary>
public sealed class QaFeature
{
    internal QaFeature(int exampleIndex, string exampleId, int windowIndex, EncodedInput input, (int Start, int End)?[] offsetMapping,
        int contextStart, int contextEnd, int startPosition, int endPosition)
    {
        ExampleIndex = exampleIndex; ExampleId = exampleId; WindowIndex = windowIndex; Input = input; OffsetMapping = offsetMapping;
        ContextTokenStart = contextStart; ContextTokenEnd = contextEnd; StartPosition = startPosition; EndPosition = endPosition;
    }

    /// <summary>Index of the example in the list given to <c>QaFeaturizer.CreateFeatures</c>.</summary>
    public int ExampleIndex { get; }

    /// <summary>The example's question id (HF <c>example_id</c>).</summary>
    public string ExampleId { get; }

    /// <summary>0 for the first window of the example, 1 for the next, …</summary>
    public int WindowIndex { get; }

    /// <summary>
    /// Tokens, ids, token types (0 for <c>[CLS]</c>, question and first <c>[SEP]</c>; 1 for context and last <c>[SEP]</c>),
    /// attention mask (ones, unpadded), per-token offsets into the question (sequence id 0) or the context (sequence id 1), and
    /// <see cref="EncodedInput.SequenceIds"/> (-1 special, 0 question, 1 context).
    /// </summary>
    public EncodedInput Input { get; }

    /// <summary>
    /// Per token: its <c>[Start, End)</c> UTF-16 span in the original context, or null for tokens that are not context
    /// (special tokens, question) — HF's evaluation <c>offset_mapping</c>.
    /// </summary>
    public IReadOnlyList<(int Start, int End)?> OffsetMapping { get; }

    /// <summary>Index of the first context token (always <c>question tokens + 2</c>).</summary>
    public int ContextTokenStart { get; }

    /// <summary>Index one past the last context token of the window (the last <c>[SEP]</c>).</summary>
    public int ContextTokenEnd { get; }

    /// <summary>Number of tokens.</summary>
    public int Length => Input.Length;

    /// <summary>Training label: token index of the answer start in this window, or 0 (<c>[CLS]</c>) when the first gold answer is not fully inside
    /// the window or the question is unanswerable.</summary>
    public int StartPosition { get; }

    /// <summary>Training label: token index of the answer end (inclusive), or 0 like <see cref="StartPosition"/>.</summary>
    public int EndPosition { get; }

    /// <summary>Whether this window contains the (first) gold answer.</summary>
    public bool ContainsAnswer => StartPosition != 0;
}

/// <summary>Features of a list of examples with the feature-to-example bookkeeping.</summary>
public sealed class QaFeatureSet
{
    internal QaFeatureSet(IReadOnlyList<SquadExample> examples, IReadOnlyList<QaFeature> features, QaFeatureOptions options)
    {
        Examples = examples; Features = features; Options = options;
        var perExample = new List<int>[examples.Count];
        for (int i = 0; i < perExample.Length; i++) perExample[i] = [];
        for (int f = 0; f < features.Count; f++) perExample[features[f].ExampleIndex].Add(f);
        FeaturesPerExample = perExample;
    }

    /// <summary>The examples, in the order given.</summary>
    public IReadOnlyList<SquadExample> Examples { get; }

    /// <summary>All features, grouped by example in example order, windows in order.</summary>
    public IReadOnlyList<QaFeature> Features { get; }

    /// <summary>For each example, the indices of its features in <see cref="Features"/> (HF <c>features_per_example</c>).</summary>
    public IReadOnlyList<IReadOnlyList<int>> FeaturesPerExample { get; }

    /// <summary>Options used.</summary>
    public QaFeatureOptions Options { get; }

    /// <summary>Length of the longest feature.</summary>
    public int MaxLength => Features.Count == 0 ? 0 : Features.Max(f => f.Length);
}

/// <summary>
/// Turns SQuAD examples into model features like HF <c>run_qa.py</c> (<c>prepare_train_features</c> /
/// <c>prepare_validation_features</c>): question (left-stripped, truncated to <see cref="QaFeatureOptions.MaxQueryLength"/>
/// tokens) then overlapping windows of the context.
/// </summary>
/// <remarks>
/// Every feature carries both the training labels (from the first gold answer) and the evaluation bookkeeping
/// (example id, context offset mapping), so one call serves training and evaluation.
/// One deliberate difference from <c>run_qa.py</c>: the scan that places the start label is bounded by the window's
/// last context token (HF walks on into <c>[SEP]</c>/padding, whose offsets are (0, 0), when the answer starts in the last
/// context token of a window).
/// </remarks>
public sealed class QaFeaturizer
{
    private readonly WordPieceTokenizer _tokenizer;

    public QaFeaturizer(WordPieceTokenizer tokenizer, QaFeatureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        Options = options ?? new QaFeatureOptions();
        if (Options.MaxSeqLength < 4) throw new ArgumentException($"MaxSeqLength must be at least 4, got {Options.MaxSeqLength}.", nameof(options));
        if (Options.DocStride < 0) throw new ArgumentException($"DocStride must be non-negative, got {Options.DocStride}.", nameof(options));
        if (Options.MaxQueryLength < 1) throw new ArgumentException($"MaxQueryLength must be positive, got {Options.MaxQueryLength}.",
            nameof(options));
    }

    public QaFeatureOptions Options { get; }

    private readonly record struct Tok(string Token, int Id, int Start, int End);

    /// <summary>Builds the features of all <paramref name="examples"/>.</summary>
    /// <exception cref="ArgumentException">A question leaves no room for a context window larger than <see
    /// cref="QaFeatureOptions.DocStride"/>.</exception>
    public QaFeatureSet CreateFeatures(IReadOnlyList<SquadExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var features = new List<QaFeature>();
        // Paragraphs are shared by several questions: tokenize each context once.
        var contextCache = new Dictionary<string, Tok[]>(StringComparer.Ordinal);
        for (int e = 0; e < examples.Count; e++)
        {
            SquadExample ex = examples[e];
            if (!contextCache.TryGetValue(ex.Context, out Tok[]? ctx))
            {
                ctx = TokenizeSegment(ex.Context);
                contextCache[ex.Context] = ctx;
            }

            AddFeatures(e, ex, ctx, features);
        }

        return new QaFeatureSet(examples, features, Options);
    }

    /// <summary>Builds the features of one example (its <see cref="QaFeature.ExampleIndex"/> is <paramref name="exampleIndex"/>).</summary>
    public IReadOnlyList<QaFeature> CreateFeatures(SquadExample example, int exampleIndex = 0)
    {
        ArgumentNullException.ThrowIfNull(example);
        var features = new List<QaFeature>();
        AddFeatures(exampleIndex, example, TokenizeSegment(example.Context), features);
        return features;
    }

    private Tok[] TokenizeSegment(string text)
    {
        EncodedInput enc = _tokenizer.Encode(text, null, int.MaxValue, TruncationStrategy.LongestFirst);
        var toks = new Tok[enc.Length - 2];
        for (int i = 1; i < enc.Length - 1; i++) toks[i - 1] = new Tok(enc.Tokens[i], enc.InputIds[i], enc.Offsets[i].Start, enc.Offsets[i].End);
        return toks;
    }

    private void AddFeatures(int exampleIndex, SquadExample ex, Tok[] ctx, List<QaFeature> output)
    {
        // HF: "Some of the questions have lots of whitespace on the left, which is not useful and will make the truncation
        // of the context fail": questions are left-stripped. Offsets stay relative to the stripped question.
        string question = ex.Question.TrimStart();
        Tok[] q = TokenizeSegment(question);
        if (q.Length > Options.MaxQueryLength) q = q[..Options.MaxQueryLength];
        int window = Options.MaxSeqLength - q.Length - 3;
        if (window <= Options.DocStride)
        {
            throw new ArgumentException(
                $"Question '{ex.Id}' has {q.Length} tokens, leaving {window} context tokens per window with MaxSeqLength {Options.MaxSeqLength}; " +
                $"DocStride {Options.DocStride} must be smaller than that (lower DocStride or MaxQueryLength, or raise MaxSeqLength).");
        }

        bool hasLabel = !ex.IsImpossible && ex.Answers.Count > 0;
        int startChar = hasLabel ? ex.Answers[0].AnswerStart : 0;
        int endChar = hasLabel ? ex.Answers[0].AnswerEnd : 0;

        int windowIndex = 0;
        for (int begin = 0; ; begin += window - Options.DocStride)
        {
            int stop = Math.Min(begin + window, ctx.Length);
            int n = q.Length + (stop - begin) + 3;
            var tokens = new string[n];
            var ids = new int[n];
            var types = new int[n];
            var mask = new int[n];
            var offsets = new (int, int)[n];
            var seq = new int[n];
            var map = new (int Start, int End)?[n];
            int k = 0;
            void Add(string token, int id, int type, (int, int) off, int s)
            {
                tokens[k] = token; ids[k] = id; types[k] = type; mask[k] = 1; offsets[k] = off; seq[k] = s;
                if (s == 1) map[k] = off;
                k++;
            }

            Add("[CLS]", _tokenizer.ClsId, 0, (0, 0), -1);
            foreach (Tok t in q) Add(t.Token, t.Id, 0, (t.Start, t.End), 0);
            Add("[SEP]", _tokenizer.SepId, 0, (0, 0), -1);
            int ctxStart = k;
            for (int i = begin; i < stop; i++) Add(ctx[i].Token, ctx[i].Id, 1, (ctx[i].Start, ctx[i].End), 1);
            int ctxEnd = k;
            Add("[SEP]", _tokenizer.SepId, 1, (0, 0), -1);

            int startPos = 0, endPos = 0;
            if (hasLabel && ctxEnd > ctxStart && offsets[ctxStart].Item1 <= startChar && offsets[ctxEnd - 1].Item2 >= endChar)
            {
                int s = ctxStart;
                while (s < ctxEnd && offsets[s].Item1 <= startChar) s++;
                int en = ctxEnd - 1;
                while (en >= ctxStart && offsets[en].Item2 >= endChar) en--;
                startPos = s - 1;
                endPos = en + 1;
            }

            var input = new EncodedInput(tokens, ids, types, mask, offsets) { SequenceIds = seq };
            output.Add(new QaFeature(exampleIndex, ex.Id, windowIndex++, input, map, ctxStart, ctxEnd, startPos, endPos));
            if (stop >= ctx.Length) break;
        }
    }
}
