using MobileBert.Model.Heads;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>Which task heads a model carries (HF: ForPreTraining = MLM + NSP, ForMaskedLM, ForSequenceClassification,
/// ForQuestionAnswering).</summary>
[Flags]
public enum ModelHeads
{
    None = 0,
    MaskedLm = 1,
    NextSentence = 2,
    Pretraining = MaskedLm | NextSentence,
    SequenceClassification = 4,
    QuestionAnswering = 8,
}

/// <summary>A batch of token ids, row-major [B, S].</summary>
public sealed class ModelInput
{
    public ModelInput(int batch, int seq, int[] inputIds, int[]? attentionMask = null, int[]? tokenTypeIds = null)
    {
        if (batch <= 0 || seq <= 0) throw new ArgumentException($"Batch ({batch}) and sequence length ({seq}) must be positive.");
        void Check(int[]? a, string name) { if (a is not null && a.Length != batch * seq) throw new ArgumentException(
            $"'{name}' has {a.Length} values; expected batch×seq = {batch}×{seq} = {batch * seq}."); }
        Check(inputIds, "input_ids"); Check(attentionMask, "attention_mask"); Check(tokenTypeIds, "token_type_ids");
        Batch = batch; Seq = seq; InputIds = inputIds;
        AttentionMask = attentionMask ?? Enumerable.Repeat(1, batch * seq).ToArray();
        TokenTypeIds = tokenTypeIds ?? new int[batch * seq];
    }
    public int Batch { get; }
    public int Seq { get; }
    public int[] InputIds { get; }
    public int[] AttentionMask { get; }
    public int[] TokenTypeIds { get; }
}

public sealed class ForwardOptions
{
    public bool OutputHiddenStates { get; init; }
    public bool OutputAttentions { get; init; }
    /// <summary>Keep every layer's intermediates (<see cref="LayerTrace"/>) — for tests, inspection and knowledge transfer.</summary>
    public bool Trace { get; init; }
    /// <summary>Run these heads (default: all the model has).</summary>
    public ModelHeads? Heads { get; init; }

    /// <summary>Training mode: dropout on (HF sites: embeddings output, attention probabilities, attention-output dense
    /// and layer-output dense without bottleneck, output bottleneck dense, classifier input), masks drawn from
    /// <see cref="Seed"/>. Implies <see cref="KeepForBackward"/>. Eval mode (false) has no dropout.</summary>
    public bool Training { get; init; }
    /// <summary>Dropout seed: the same seed (and shapes) gives the same masks.</summary>
    public ulong Seed { get; init; }
    /// <summary>Keep the activations for <see cref="MobileBertModel.Backward(ForwardCache, OutputGradients)"/> (in
    /// <see cref="Cache"/> or the model's own cache); the result's <see cref="ModelOutput.Cache"/> is set.</summary>
    public bool KeepForBackward { get; init; }
    /// <summary>Cache to fill (reused across steps; default: one owned by the model). Arrays of the output then live in it.</summary>
    public ForwardCache? Cache { get; init; }
    /// <summary>Caching forward only: decode only these rows (indices into B·S, e.g. the masked positions) in the MLM
    /// head; <see cref="ModelOutput.MlmLogits"/> is then [positions, V]. Default: every row (as HF).</summary>
    public int[]? MlmPositions { get; init; }
    /// <summary>Override the config's dropout probabilities in training mode (null: config values; the classifier uses
    /// hidden_dropout_prob as HF does when classifier_dropout is unset).</summary>
    public float? HiddenDropout { get; init; }
    public float? AttentionDropout { get; init; }
    /// <summary>Inference forward only: write the last hidden state, pooled output, hidden states and attentions into
    /// the arrays of this earlier output where their sizes match, instead of new arrays (its values are overwritten).
    /// For loops that read an output only until their next call — the teacher forward of every distillation step, which
    /// otherwise allocates (L + 1) hidden-state and L attention arrays of megabytes each per step.</summary>
    public ModelOutput? ReuseOutputs { get; init; }
}

/// <summary>Everything a forward pass produced. Shapes in HF order; arrays are row-major.</summary>
public sealed class ModelOutput
{
    public required float[] LastHiddenState { get; init; }   // [B, S, H]
    public float[]? PooledOutput { get; init; }              // [B, H] (null without a pooler)
    public float[][]? HiddenStates { get; init; }            // (L+1) × [B, S, H], [0] = embeddings
    public float[][]? Attentions { get; init; }              // L × [B, heads, S, S] (training forward: softmax output before attention dropout)
    public float[]? MlmLogits { get; set; }                  // [B, S, V]
    public float[]? NspLogits { get; set; }                  // [B, 2]
    public float[]? SequenceClassificationLogits { get; set; } // [B, num_labels]
    public float[]? QaStartLogits { get; set; }              // [B, S]
    public float[]? QaEndLogits { get; set; }                // [B, S]
    public LayerTrace[]? LayerTraces { get; init; }
    public EmbeddingTrace? EmbeddingTrace { get; init; }
    /// <summary>Set by a caching forward (<see cref="ForwardOptions.KeepForBackward"/> / <see cref="ForwardOptions.Training"/>).</summary>
    public ForwardCache? Cache { get; init; }
    /// <summary>The rows (indices into B·S) the MLM logits were computed for, when <see cref="ForwardOptions.MlmPositions"/> was used.</summary>
    public int[]? MlmPositions { get; init; }
}

/// <summary>
/// The MobileBERT model family (HF MobileBertModel + heads) and plain BERT (HF BertModel + heads), one implementation for
/// every config. All weights live in <see cref="Store"/> under HuggingFace names (`mobilebert.*` or `bert.*`, `cls.*`,
/// `classifier.*`, `qa_outputs.*`).
/// </summary>
public sealed partial class MobileBertModel
{
    /// <summary>HF name prefix of the backbone: <c>mobilebert.</c> or <c>bert.</c> (<see cref="MobileBertConfig.BackbonePrefix"/>).</summary>
    public string BackbonePrefix => Config.BackbonePrefix;

    /// <param name="pooler">Whether the backbone has the pooler (HF add_pooling_layer). Default as HF: yes, except for
    /// MaskedLM-only and QA-only models, which HF builds without it.</param>
    public MobileBertModel(MobileBertConfig config, ModelHeads heads = ModelHeads.None, bool allocate = true, bool? pooler = null)
    {
        config.Validate();
        if (allocate && config.NumHiddenLayers > 2) RequireMemory(config, heads, pooler);   // before building millions of layer objects
        Config = config; Heads = heads;
        HasPooler = pooler ?? (heads == ModelHeads.None || (heads & (ModelHeads.NextSentence | ModelHeads.SequenceClassification)) != 0);
        if (!HasPooler && (heads & (ModelHeads.NextSentence | ModelHeads.SequenceClassification)) != 0)
            throw new ArgumentException("The next-sentence and sequence-classification heads read the pooled output: the model needs its pooler.");
        var s = Store = new ParameterStore();
        string prefix = config.BackbonePrefix;
        Embeddings = new Embeddings(s, prefix + "embeddings.", config);
        Layers = new EncoderLayer[config.NumHiddenLayers];
        for (int l = 0; l < Layers.Length; l++) Layers[l] = new EncoderLayer(s, $"{prefix}encoder.layer.{l}.", config);
        if (HasPooler) Pooler = new Pooler(s, prefix + "pooler.", config);
        if (heads.HasFlag(ModelHeads.MaskedLm)) Mlm = new MlmHead(s, "cls.predictions.", config, Embeddings.WordEmbeddings);
        if (heads.HasFlag(ModelHeads.NextSentence)) Nsp = new NspHead(s, "cls.seq_relationship", config);
        if (heads.HasFlag(ModelHeads.SequenceClassification)) Classifier = new SequenceClassifierHead(s, "classifier", config);
        if (heads.HasFlag(ModelHeads.QuestionAnswering)) Qa = new QuestionAnsweringHead(s, "qa_outputs", config);
        if (allocate) s.Allocate();
    }

    public MobileBertConfig Config { get; }
    public ModelHeads Heads { get; }
    public ParameterStore Store { get; }
    public Embeddings Embeddings { get; }
    public EncoderLayer[] Layers { get; }
    public Pooler? Pooler { get; }
    public bool HasPooler { get; }
    public MlmHead? Mlm { get; }
    public NspHead? Nsp { get; }
    public SequenceClassifierHead? Classifier { get; }
    public QuestionAnsweringHead? Qa { get; }

    /// <summary>Threads used by the kernels (default: all cores).</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Bytes of float32 weights a model of <paramref name="config"/> holds, from one- and two-layer models (the full
    /// one is never built, so a config with a million layers is measured in microseconds).</summary>
    public static long WeightBytes(MobileBertConfig config, ModelHeads heads = ModelHeads.None, bool? pooler = null)
    {
        var one = config.Clone(); one.NumHiddenLayers = 1;
        var two = config.Clone(); two.NumHiddenLayers = 2;
        long c1 = CountParameters(one, heads, pooler), c2 = CountParameters(two, heads, pooler);
        double total = (c1 + (double)(c2 - c1) * (config.NumHiddenLayers - 1)) * sizeof(float);
        return total > long.MaxValue / 2 ? long.MaxValue / 2 : (long)total;
    }

    /// <summary>Memory the process may use (the GC's view: physical memory or the container limit).</summary>
    public static long AvailableMemoryBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>"1.234 GB (1,234,000,000 bytes)".</summary>
    public static string FormatBytes(long bytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{bytes / 1e9:0.###} GB ({bytes:N0} bytes)");

    static void RequireMemory(MobileBertConfig config, ModelHeads heads, bool? pooler)
    {
        long need;
        try { need = WeightBytes(config, heads, pooler); }
        catch (ArgumentException e) { throw new ConfigException($"config describes a model that cannot be built: {e.Message}"); }
        long available = AvailableMemoryBytes();
        if (need > available)
            throw new ConfigException($"config describes a model whose weights need {FormatBytes(need)}, but only {FormatBytes(available)} of " +
                $"memory is available.");
    }

    /// <summary>Parameter count of a config with the given heads, without allocating (tied decoder counted once, as HF).</summary>
    public static long CountParameters(MobileBertConfig config, ModelHeads heads = ModelHeads.None, bool? pooler = null) =>
        new MobileBertModel(config, heads, allocate: false, pooler).Store.Count;

    /// <summary>
    /// The forward pass, one code path for every mode. Eval (default): no dropout, scratch from a pooled workspace, hidden
    /// states ping-pong unless <see cref="ForwardOptions.OutputHiddenStates"/>. Caching (<see cref="ForwardOptions.Training"/> /
    /// <see cref="ForwardOptions.KeepForBackward"/>): every activation the backward pass reads is kept in the
    /// <see cref="ForwardCache"/> (one workspace per layer), with dropout in training mode. <see cref="ForwardOptions.Trace"/>:
    /// the activations are kept in a cache of this call's own and the traces are views of them.
    /// </summary>
    public ModelOutput Forward(ModelInput input, ForwardOptions? options = null)
    {
        options ??= new ForwardOptions();
        if (!Store.IsAllocated) throw new InvalidOperationException("Model weights are not allocated.");
        bool caching = options.Training || options.KeepForBackward;
        if (caching && options.Trace) throw new ArgumentException("Trace is not available in a caching/training forward; read the " +
            "ForwardCache-backed outputs instead.");
        var c = Config;
        int b = input.Batch, s = input.Seq, rows = b * s, n = rows * c.HiddenSize, threads = Math.Max(1, Threads), L = Layers.Length;
        var cache = caching ? options.Cache ?? (_ownCache ??= new ForwardCache()) : options.Trace ? new ForwardCache() : null;
        var ws = cache is null ? RentWorkspace() : null;
        try
        {
            var mode = cache is null ? ForwardMode.Eval : new ForwardMode(caching ? PrepareCache(cache, input, options) : default, Keep: true);
            if (!caching) cache?.Prepare(this, L);
            var mask = caching ? cache!.AdditiveMask : AttentionCore.AdditiveMask(input.AttentionMask);
            var reuse = caching ? null : options.ReuseOutputs;
            bool keepAll = options.OutputHiddenStates;
            if (cache is not null)
            {
                if (cache.Hidden.Length != L + 1) cache.Hidden = new float[L + 1][];
                for (int i = 0; i <= L; i++) cache.Hidden[i] = cache.Model.Get(HiddenKey(i), n);
            }
            // Hidden state i [B·S, H]: the cache's, or (eval) the caller's when kept or last, else one of two ping-pong buffers.
            float[] Hidden(int i) => cache is not null ? cache.Hidden[i]
                : keepAll || i == L ? OutputArray(reuse is null ? null : reuse.HiddenStates is { } rh && rh.Length == L + 1 ? rh[i]
                    : i == L ? reuse.LastHiddenState : null, n)
                : ws!.Get(i % 2 == 0 ? "hidden.0" : "hidden.1", n);
            var hidden = keepAll ? new float[L + 1][] : null;
            var attentions = options.OutputAttentions ? new float[L][] : null;
            var traces = options.Trace ? new LayerTrace[L] : null;
            var embTrace = options.Trace ? new EmbeddingTrace() : null;
            var x = Hidden(0);
            Embeddings.Forward(input.InputIds, input.TokenTypeIds, b, s, x, threads, cache?.Embeddings ?? ws!, mode, embTrace);
            if (hidden is not null) hidden[0] = x;
            for (int l = 0; l < L; l++)
            {
                var y = Hidden(l + 1);
                var store = cache?.Layers[l] ?? ws!;
                float[]? probs = attentions is null || cache is not null ? null
                    : OutputArray(reuse?.Attentions is { } ra && ra.Length == L ? ra[l] : null, b * c.NumAttentionHeads * s * s);
                Layers[l].Forward(x, mask, b, s, y, probs, threads, store, mode, l);
                if (attentions is not null) attentions[l] = probs ?? Layers[l].CachedAttentionProbs(store, b, s);
                if (traces is not null) traces[l] = Layers[l].Trace(store, x, rows);
                if (hidden is not null) hidden[l + 1] = y;
                x = y;
            }
            var output = RunHeads(input, options, x, cache, caching, mode.Dropout, hidden, attentions, traces, embTrace);
            if (caching) cache!.Valid = true;
            return output;
        }
        finally { if (ws is not null) ReturnWorkspace(ws); }
    }

    /// <summary>Readies <paramref name="cache"/> for a caching forward of <paramref name="input"/>: the dropout plan (training
    /// mode), the additive mask, the heads that run and the MLM rows.</summary>
    DropoutPlan PrepareCache(ForwardCache cache, ModelInput input, ForwardOptions options)
    {
        var c = Config;
        int rows = input.Batch * input.Seq;
        cache.Prepare(this, Layers.Length);
        float hidden = options.Training ? options.HiddenDropout ?? c.HiddenDropoutProb : 0f;
        float attn = options.Training ? options.AttentionDropout ?? c.AttentionProbsDropoutProb : 0f;
        if (hidden is < 0 or >= 1 || attn is < 0 or >= 1) throw new ArgumentException("Dropout probabilities must be in [0, 1).");
        cache.Input = input;
        cache.AdditiveMask = AttentionCore.AdditiveMask(input.AttentionMask);
        cache.RanHeads = (options.Heads ?? Heads) & Heads;
        if (options.MlmPositions is { } pos)
            foreach (int p in pos) if ((uint)p >= (uint)rows) throw new ArgumentOutOfRangeException(
                nameof(options), $"MLM position {p} outside [0, {rows}).");
        cache.MlmRows = options.MlmPositions;
        return cache.Dropout = new DropoutPlan(hidden, attn, hidden, options.Seed);
    }

    static readonly string[] s_hiddenKeys = Enumerable.Range(0, 129).Select(l => $"hidden.{l}").ToArray();
    static string HiddenKey(int l) => l < s_hiddenKeys.Length ? s_hiddenKeys[l] : $"hidden.{l}";

    /// <summary>An output array for the caller: <paramref name="old"/> (from <see cref="ForwardOptions.ReuseOutputs"/>) if
    /// its size fits, else a new one. Every element is written before it is read, so new arrays need not be zeroed.</summary>
    static float[] OutputArray(float[]? old, int length) => old is not null
        && old.Length == length ? old : GC.AllocateUninitializedArray<float>(length);

    readonly System.Collections.Concurrent.ConcurrentBag<Workspace> _workspaces = [];
    Workspace RentWorkspace() => _workspaces.TryTake(out var ws) ? ws : new Workspace();
    void ReturnWorkspace(Workspace ws) => _workspaces.Add(ws);

    /// <summary>Pooler and task heads on the last hidden state x [B·S, H]. With a cache, their arrays live in it (a caching
    /// forward also keeps the pooler's [CLS] rows and the classifier's dropped-out input for the backward pass).</summary>
    ModelOutput RunHeads(ModelInput input, ForwardOptions options, float[] x, ForwardCache? cache, bool caching, in DropoutPlan dp,
        float[][]? hidden, float[][]? attentions, LayerTrace[]? traces, EmbeddingTrace? embTrace)
    {
        var c = Config;
        int b = input.Batch, s = input.Seq, rows = b * s, h = c.HiddenSize, threads = Math.Max(1, Threads);
        float[] Out(string key, int length) => cache is not null ? cache.Model.Get(key, length) : new float[length];
        float[]? pooled = null;
        if (Pooler is not null)
        {
            pooled = cache is not null ? cache.Model.Get("pooled", b * h) : OutputArray(options.ReuseOutputs?.PooledOutput, b * h);
            Pooler.Forward(x, b, s, pooled, threads, cache?.Model.Get("pooler.first", b * h));
        }
        if (caching) cache!.Pooled = pooled;
        var output = new ModelOutput { LastHiddenState = x, PooledOutput = pooled, HiddenStates = hidden, Attentions = attentions,
            LayerTraces = traces, EmbeddingTrace = embTrace, Cache = caching ? cache : null, MlmPositions = caching ? cache!.MlmRows : null };

        var run = options.Heads ?? Heads;
        if (Mlm is not null && run.HasFlag(ModelHeads.MaskedLm))
        {
            var positions = caching ? cache!.MlmRows : null;
            output.MlmLogits = Out("mlm.logits", checked((positions?.Length ?? rows) * c.VocabSize));
            Mlm.Forward(x, rows, positions, output.MlmLogits, threads, caching ? cache!.Model : null);
        }
        if (Nsp is not null && run.HasFlag(ModelHeads.NextSentence))
        {
            output.NspLogits = Out("nsp.logits", b * 2);
            Nsp.Forward(pooled!, b, output.NspLogits, threads);
        }
        if (Classifier is not null && run.HasFlag(ModelHeads.SequenceClassification))
        {
            var clsIn = pooled!;                                                     // [B, H]
            if (caching)
            {
                clsIn = cache!.Model.Get("cls.in", b * h);
                pooled!.CopyTo(clsIn, 0);
                if (dp.Classifier > 0) Kernels.Dropout.Apply(clsIn, dp.Classifier, dp.Seed, Kernels.Dropout.Stream(-1, DropoutPlan.SiteClassifier));
            }
            output.SequenceClassificationLogits = Out("cls.logits", b * c.NumLabels);
            Classifier.Forward(clsIn, b, output.SequenceClassificationLogits, threads);
        }
        if (Qa is not null && run.HasFlag(ModelHeads.QuestionAnswering))
        {
            output.QaStartLogits = Out("qa.start", rows); output.QaEndLogits = Out("qa.end", rows);
            Qa.Forward(x, rows, output.QaStartLogits, output.QaEndLogits, threads);
        }
        return output;
    }

    /// <summary>HF's initialisation (seeded): Linear and Embedding weights ~ N(0, initializer_range), biases 0, norms γ=1 β=0,
    /// the padding row of the word embeddings 0.</summary>
    public void InitializeWeights(int seed)
    {
        var rng = new Random(seed);
        foreach (var p in Store.Parameters) InitializeParameter(p, rng);
    }

    /// <summary>HF's initialisation of one parameter (used for heads missing from a checkpoint, leaving the rest untouched).</summary>
    public void InitializeParameter(Parameter p, Random rng)
    {
        var span = Store.Span(p);
        bool isNormOrBias = p.Name.EndsWith(".bias", StringComparison.Ordinal) || p.Name.Contains("LayerNorm.", StringComparison.Ordinal);
        if (p.Name.Contains("LayerNorm.weight", StringComparison.Ordinal)) span.Fill(1f);
        else if (isNormOrBias) span.Clear();
        else for (int i = 0; i < span.Length; i++) span[i] = Config.InitializerRange * Gaussian(rng);
        if (p == Embeddings.WordEmbeddings) span.Slice(Config.PadTokenId * Config.EmbeddingSize, Config.EmbeddingSize).Clear();
    }

    static float Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
