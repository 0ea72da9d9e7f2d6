using MobileBert.Model;

namespace MobileBert.Checkpoints;

/// <summary>How to map a checkpoint onto a model.</summary>
public sealed class LoadOptions
{
    /// <summary>Heads to build. Null: exactly the heads whose weights are in the file.</summary>
    public ModelHeads? Heads { get; init; }
    /// <summary>Requested heads missing from the file get HF's random initialisation (seeded) instead of an error — for fine-tuning.</summary>
    public bool InitializeMissingHeads { get; init; }
    public int Seed { get; init; } = 42;
}

/// <summary>
/// A model folder as HuggingFace writes it: <c>config.json</c> + <c>model.safetensors</c> or (older uploads)
/// <c>pytorch_model.bin</c> (+ <c>vocab.txt</c>); saving always writes model.safetensors.
/// Parameter names are HF's: the backbone under <c>mobilebert.</c> or <c>bert.</c> (a bare MobileBertModel / BertModel
/// checkpoint without the prefix, as sentence-transformers saves it, also loads; TF-era <c>gamma</c>/<c>beta</c> norm names
/// are read as <c>weight</c>/<c>bias</c>), heads under <c>cls.</c>, <c>classifier.</c>, <c>qa_outputs.</c>. The tied MLM
/// decoder is not stored twice; a checkpoint that stores it must store the word embeddings' values (an untied decoder is refused).
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string VocabFile = "vocab.txt";

    // Stored by some HF versions / tools, never parameters of ours.
    static readonly HashSet<string> IgnoredTensors = ["embeddings.position_ids", "cls.predictions.decoder.bias"];
    /// <summary>The MLM decoder's weight, tied to the word embeddings (HF's default).</summary>
    internal const string TiedDecoder = "cls.predictions.decoder.weight";

    /// <summary>Throws a <see cref="CheckpointException"/> naming what is missing unless <paramref name="dir"/> is a folder with
    /// config.json and weights (model.safetensors or pytorch_model.bin; checks nothing else; for commands that must fail before
    /// creating their output).</summary>
    public static void RequireFolder(string dir)
    {
        if (!Directory.Exists(dir)) throw new CheckpointException($"{dir}: model folder does not exist.");
        if (!File.Exists(Path.Combine(dir, ConfigFile))) throw new CheckpointException(
            $"{Path.Combine(dir, ConfigFile)}: missing (a model folder needs {ConfigFile} and {WeightsFile} or {PyTorchCheckpoint.HfFileName}).");
        if (WeightsPathOf(dir) is null) throw new CheckpointException(
            $"{Path.Combine(dir, WeightsFile)}: missing (a model folder needs {ConfigFile} and {WeightsFile} or {PyTorchCheckpoint.HfFileName}).");
    }

    /// <summary>The float weights of a model folder: model.safetensors, else HF's older pytorch_model.bin (as HF's own loader
    /// prefers them); null when it has neither.</summary>
    public static string? WeightsPathOf(string dir)
    {
        string safetensors = Path.Combine(dir, WeightsFile), pytorch = Path.Combine(dir, PyTorchCheckpoint.HfFileName);
        return File.Exists(safetensors) ? safetensors : File.Exists(pytorch) ? pytorch : null;
    }

    /// <summary>Opens a weights file: a safetensors file is read lazily; a PyTorch checkpoint (<c>torch.save</c>, any other name)
    /// is read whole into memory, then read the same way.</summary>
    public static SafeTensorsFile OpenWeights(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return SafeTensorsFile.Open(path);
        var tensors = PyTorchCheckpoint.Read(path);
        return SafeTensorsFile.FromTensors(path, tensors.Select(t => (t.Name, t.DType, t.Shape, t.Data)).ToList());
    }

    /// <summary>Loads a model folder: config.json and its weights (<see cref="WeightsPathOf"/>).</summary>
    public static MobileBertModel Load(string dir, LoadOptions? options = null)
    {
        RequireFolder(dir);
        var config = ConfigJson.Load(Path.Combine(dir, ConfigFile));
        using var file = OpenWeights(WeightsPathOf(dir)!);
        return Load(config, file, options);
    }

    /// <summary>Builds a model for <paramref name="config"/> and fills it from an open safetensors file.</summary>
    public static MobileBertModel Load(MobileBertConfig config, SafeTensorsFile file, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        var names = CanonicalNames(file, config.BackbonePrefix);
        // …ForTokenClassification / …ForMultipleChoice store their head as `classifier.*` too: a classifier per token or per
        // choice, not a sequence classifier. Its tensors are left out, so the backbone loads (encode, embed, fine-tuning with
        // a fresh head) and nothing reads them as a sequence classifier.
        if (UnsupportedClassifier(config) is not null)
            foreach (var n in names.Keys.Where(n => n.StartsWith("classifier.", StringComparison.Ordinal)).ToList()) names.Remove(n);
        var inFile = DetectHeads(names.Keys);
        var heads = options.Heads ?? inFile;
        bool needsPooler = (heads & (ModelHeads.NextSentence | ModelHeads.SequenceClassification)) != 0;
        bool filePooler = names.Keys.Any(n => n.StartsWith(config.BackbonePrefix + "pooler.", StringComparison.Ordinal));
        // The pooler exists when the file has its weights, when a head reads it, or when it has no weights at all
        // (classifier_activation = false: the raw [CLS] vector) and the model is a plain backbone.
        bool pooler = needsPooler || filePooler || (heads == ModelHeads.None && !config.ClassifierActivation);
        CheckpointPreflight.Check(config, file, names.Keys, heads, pooler);   // layer count and memory, before building anything
        var model = new MobileBertModel(config, heads, allocate: false, pooler: pooler);
        var missing = new List<string>(); var wrongShape = new List<string>(); var unexpected = new List<string>();
        bool InitializesMissing(string name) => options.InitializeMissingHeads
            && (!name.StartsWith(config.BackbonePrefix, StringComparison.Ordinal) || name.Contains(".pooler.", StringComparison.Ordinal));
        foreach (var p in model.Store.Parameters)
        {
            if (!names.TryGetValue(p.Name, out var stored)) { if (!InitializesMissing(p.Name)) missing.Add(p.Name); continue; }
            var entry = file[stored];
            if (!entry.Shape.SequenceEqual(p.Shape)) wrongShape.Add($"{stored}: file has [{string.Join(",", entry.Shape)}], model needs " +
                $"[{string.Join(",", p.Shape)}]");
        }
        foreach (var (canonical, stored) in names)
        {
            if (model.Store.Contains(canonical) || canonical == TiedDecoder) continue;
            if (IsHeadTensor(canonical) && !IsRequestedHead(canonical, heads)) continue;   // e.g. a pre-training checkpoint loaded for classification
            unexpected.Add(stored);
        }
        if (missing.Count + wrongShape.Count + unexpected.Count > 0)
        {
            var msg = new System.Text.StringBuilder($"{file.Path}: checkpoint does not match the config ({config.NumHiddenLayers} layers, " +
                $"hidden {config.HiddenSize}, intra {config.IntraBottleneckSize}, heads {heads}).");
            if (missing.Count > 0) msg.Append($"\n  missing ({missing.Count}): ").AppendJoin(", ", missing.Take(20)).Append(
                missing.Count > 20 ? ", …" : "");
            if (wrongShape.Count > 0) msg.Append($"\n  wrong shape ({wrongShape.Count}): ").AppendJoin("; ", wrongShape.Take(20)).Append(
                wrongShape.Count > 20 ? "; …" : "");
            if (unexpected.Count > 0) msg.Append($"\n  unexpected ({unexpected.Count}): ").AppendJoin(", ", unexpected.Take(20)).Append(
                unexpected.Count > 20 ? ", …" : "");
            throw new CheckpointException(msg.ToString());
        }
        if (names.TryGetValue(TiedDecoder, out var decoderName) && model.Mlm is not null)
        {
            var decoder = file[decoderName];
            if (!decoder.Shape.SequenceEqual(model.Embeddings.WordEmbeddings.Shape))
                throw new CheckpointException($"{file.Path}: '{decoderName}' has shape [{string.Join(",", decoder.Shape)}]; it is tied to the word " +
                    $"embeddings [{string.Join(",", model.Embeddings.WordEmbeddings.Shape)}].");
        }
        model.Store.Allocate();
        var initRng = new Random(options.Seed);
        foreach (var p in model.Store.Parameters)
        {
            // only missing head tensors; loaded weights stay
            if (!names.TryGetValue(p.Name, out var stored)) { model.InitializeParameter(p, initRng); continue; }
            var values = model.Store.Span(p);
            file[stored].CopyTo(values);
            CheckpointPreflight.RequireFinite(values, stored, file.Path);
        }
        if (decoderName is not null && model.Mlm is not null
            && !file[decoderName].ToFloat32().AsSpan().SequenceEqual(model.Store.Span(model.Embeddings.WordEmbeddings)))
            throw new CheckpointException($"{file.Path}: '{decoderName}' differs from the word embeddings; the MLM decoder is tied to them " +
                "here (HF's default), an untied decoder (tie_word_embeddings = false) is not supported.")
                { FilePath = file.Path, TensorName = decoderName };
        return model;
    }

    /// <summary>Saves config.json + model.safetensors atomically (and copies vocab.txt when given, with the tokenizer_config.json
    /// beside it).</summary>
    public static void Save(MobileBertModel model, string dir, string? vocabPath = null)
    {
        // A model loaded without some float weights (int8, engine only) cannot be saved: say which, before writing anything.
        model.Store.RequireAllResident();
        Directory.CreateDirectory(dir);
        var config = model.Config.Clone();
        config.Architectures = [ArchitectureName(model.Heads, config.ModelType)];
        ConfigJson.Save(config, Path.Combine(dir, ConfigFile));
        var tensors = model.Store.Parameters.Select(p => (p.Name, p.Shape, (ReadOnlyMemory<float>)model.Store.Data.AsMemory(
            (int)p.Offset, p.Length)));
        SafeTensorsWriter.Write(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        if (vocabPath is not null) CopyVocab(vocabPath, dir);
    }

    /// <summary>Copies a vocab file into <paramref name="dir"/> as vocab.txt, with its tokenizer settings (<see cref="CopyTokenizerConfig"/>),
    /// each atomically; nothing when it already is that folder's vocab.txt.</summary>
    public static void CopyVocab(string vocabPath, string dir)
    {
        string to = Path.Combine(dir, VocabFile);
        if (Path.GetFullPath(vocabPath) == Path.GetFullPath(to)) return;
        AtomicFile.Copy(vocabPath, to);
        CopyTokenizerConfig(vocabPath, dir);
    }

    /// <summary>Copies the tokenizer_config.json beside <paramref name="vocabPath"/> into <paramref name="dir"/>, or removes one left
    /// there when the vocab has none (or is null: vocab text without a file): a folder's vocab.txt and its tokenizer settings
    /// always come together.</summary>
    public static void CopyTokenizerConfig(string? vocabPath, string dir)
    {
        string? from = vocabPath is null ? null : Text.TokenizerConfig.PathBeside(vocabPath);
        string to = Path.Combine(dir, Text.TokenizerConfig.FileName);
        if (from is not null && Path.GetFullPath(from) == Path.GetFullPath(to)) return;
        if (from is not null && File.Exists(from)) AtomicFile.Copy(from, to);
        else File.Delete(to);
    }

    /// <summary>The HF class that loads a model with these heads (e.g. BertForSequenceClassification).</summary>
    public static string ArchitectureName(ModelHeads heads, ModelType type) => (type == ModelType.Bert ? "Bert" : "MobileBert") + heads switch
    {
        ModelHeads.Pretraining => "ForPreTraining",
        ModelHeads.MaskedLm => "ForMaskedLM",
        ModelHeads.NextSentence => "ForNextSentencePrediction",
        ModelHeads.SequenceClassification => "ForSequenceClassification",
        ModelHeads.QuestionAnswering => "ForQuestionAnswering",
        _ => "Model",
    };

    /// <summary>Heads whose weights are present among canonical names.</summary>
    public static ModelHeads DetectHeads(IEnumerable<string> canonicalNames)
    {
        var h = ModelHeads.None;
        foreach (var n in canonicalNames)
        {
            if (n.StartsWith("cls.predictions.", StringComparison.Ordinal)) h |= ModelHeads.MaskedLm;
            else if (n.StartsWith("cls.seq_relationship.", StringComparison.Ordinal)) h |= ModelHeads.NextSentence;
            else if (n.StartsWith("classifier.", StringComparison.Ordinal)) h |= ModelHeads.SequenceClassification;
            else if (n.StartsWith("qa_outputs.", StringComparison.Ordinal)) h |= ModelHeads.QuestionAnswering;
        }
        return h;
    }

    /// <summary>The architecture named in config.json whose <c>classifier.*</c> is not a sequence classifier (…ForTokenClassification,
    /// …ForMultipleChoice), or null.</summary>
    public static string? UnsupportedClassifier(MobileBertConfig config) => config.Architectures.FirstOrDefault(a =>
        a.EndsWith("ForTokenClassification", StringComparison.Ordinal) || a.EndsWith("ForMultipleChoice", StringComparison.Ordinal));

    static bool IsHeadTensor(string n) => n.StartsWith("cls.", StringComparison.Ordinal) || n.StartsWith("classifier.", StringComparison.Ordinal)
        || n.StartsWith("qa_outputs.", StringComparison.Ordinal);
    static bool IsRequestedHead(string n, ModelHeads heads) => (DetectHeads([n]) & heads) != 0;

    /// <summary>canonical (our) name → name in the file. Adds the backbone prefix (`mobilebert.` / `bert.`) to bare
    /// checkpoints, reads TF-era `gamma`/`beta` as `weight`/`bias`; drops ignorable buffers.</summary>
    static Dictionary<string, string> CanonicalNames(SafeTensorsFile file, string backbonePrefix)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in file.Names)
        {
            string canonical = name.EndsWith(".gamma", StringComparison.Ordinal) ? name[..^6] + ".weight"
                : name.EndsWith(".beta", StringComparison.Ordinal) ? name[..^5] + ".bias" : name;
            if (!IsHeadTensor(canonical) && !canonical.StartsWith(backbonePrefix, StringComparison.Ordinal)) canonical = backbonePrefix + canonical;
            string bare = canonical.StartsWith(backbonePrefix, StringComparison.Ordinal) ? canonical[backbonePrefix.Length..] : canonical;
            if (IgnoredTensors.Contains(bare)) continue;
            if (!map.TryAdd(canonical, name))
                throw new CheckpointException($"{file.Path}: tensors '{map[canonical]}' and '{name}' both map to '{canonical}'.");
        }
        return map;
    }
}
