using System.Text;
using MobileBert.Checkpoints;
using MobileBert.Model;

namespace MobileBert.Import;

/// <summary>
/// Converts a BERT-architecture ONNX export into a model folder: config.json (HF BertConfig, model_type "bert",
/// architectures ["BertModel"]), model.safetensors (bare BertModel names, Linear weights [out, in]) and vocab.txt.
/// The config comes from the graph (<see cref="BertOnnxMapper"/>); a given config.json supplies the fields a graph cannot
/// show (pad_token_id, dropout, labels) and must agree with it on everything the graph does show.
/// </summary>
public static class OnnxImporter
{
    public static BertGraphShape Import(string onnxPath, string outDir, string? vocabPath = null, string? configPath = null)
    {
        string? vocab = null;
        if (vocabPath is not null)
        {
            try
            {
                var sanitizer = new Text.TextSanitizer();   // invalid UTF-8 would turn tokens into U+FFFD: refuse it
                vocab = sanitizer.Decode(File.ReadAllBytes(vocabPath));
                if (sanitizer.Summary(vocabPath) is { } bad) throw new OnnxImportException($"{bad}; a vocab.txt must be valid UTF-8.");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new OnnxImportException($"{vocabPath}: cannot " +
                $"read: {e.Message}"); }
        }
        if (vocabPath is not null) Text.TokenizerConfig.LowerCase(vocabPath);   // a malformed tokenizer_config.json beside it: named
        return Import(OnnxModel.Read(onnxPath), outDir, vocab, vocabPath ?? "vocab", configPath, vocabFile: vocabPath);
    }

    /// <summary>Imports ONNX bytes (<paramref name="source"/> names them in errors) with an optional vocab text (LF or CRLF
    /// lines) and optional sentence-transformers settings to record beside the model (pooling, normalisation, max length).</summary>
    public static BertGraphShape Import(ReadOnlyMemory<byte> onnx, string source, string outDir, string? vocabText, string? configPath = null,
        SentenceTransformersFolder? sentenceTransformers = null) =>
        Import(OnnxModel.Parse(onnx, source), outDir, vocabText, source + " vocab", configPath, sentenceTransformers);

    /// <param name="vocabFile">The vocab's file, whose tokenizer_config.json goes with it (null: vocab text without one).</param>
    static BertGraphShape Import(OnnxModel model, string outDir, string? vocabText, string vocabSource, string? configPath,
        SentenceTransformersFolder? sentenceTransformers = null, string? vocabFile = null)
    {
        var (shape, tensors) = BertOnnxMapper.Map(model);
        var config = ConfigFor(shape, configPath);
        string[]? vocab = vocabText is null ? null : VocabLines(vocabText, vocabSource, shape.VocabSize);
        CheckOutputFolder(outDir, shape.VocabSize, vocab is null, sentenceTransformers is not null);
        Directory.CreateDirectory(outDir);
        ConfigJson.Save(config, Path.Combine(outDir, ModelFolder.ConfigFile));
        SafeTensorsWriter.Write(Path.Combine(outDir, ModelFolder.WeightsFile), tensors.Select(t => (t.Name, t.Shape, t.Data)),
            new Dictionary<string, string> { ["format"] = "pt" });
        if (vocab is not null)
            AtomicFile.Write(Path.Combine(outDir, ModelFolder.VocabFile), fs =>
            {
                using var w = new StreamWriter(fs, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
                foreach (var token in vocab) w.WriteLine(token);
            });
        if (vocab is not null) ModelFolder.CopyTokenizerConfig(vocabFile, outDir);   // the new vocab's settings, not the old one's
        sentenceTransformers?.Write(outDir, shape.HiddenSize);
        return shape;
    }

    /// <summary>The folder may be new or hold a previous import (config.json, model.safetensors, vocab.txt, and the
    /// sentence-transformers files when this import writes them again), nothing else: a quantized weights file, task.json or
    /// pooling settings left from another model would be loaded with the new one. A vocab.txt kept because no new one is
    /// given must fit the new embeddings.</summary>
    static void CheckOutputFolder(string outDir, int vocabSize, bool keepsVocab, bool writesSentenceTransformers)
    {
        if (!Directory.Exists(outDir)) return;
        string[] ours = [ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.VocabFile, Text.TokenizerConfig.FileName,
            .. writesSentenceTransformers ? SentenceTransformersFolder.Entries : []];
        var other = Directory.EnumerateFileSystemEntries(outDir).Select(Path.GetFileName).FirstOrDefault(f => !ours.Contains(f));
        if (other is not null)
            throw new OnnxImportException($"{outDir}: already holds '{other}', which an import does not write; import into a new or empty folder.");
        string oldVocab = Path.Combine(outDir, ModelFolder.VocabFile);
        if (keepsVocab && File.Exists(oldVocab)) VocabLines(File.ReadAllText(oldVocab), oldVocab + " (kept: no new vocab given)", vocabSize);
    }

    /// <summary>The BertConfig the graph implies, or <paramref name="configPath"/>'s when it agrees with the graph.</summary>
    internal static MobileBertConfig ConfigFor(BertGraphShape s, string? configPath)
    {
        if (configPath is null)
        {
            var c = MobileBertConfig.Bert(s.HiddenSize, s.NumHiddenLayers, s.NumAttentionHeads, s.IntermediateSize);
            c.VocabSize = s.VocabSize;
            c.MaxPositionEmbeddings = s.MaxPositionEmbeddings;
            c.TypeVocabSize = s.TypeVocabSize;
            c.LayerNormEps = s.LayerNormEps;
            c.HiddenAct = s.HiddenAct;
            c.Architectures = ["BertModel"];
            c.Validate("imported config");
            return c;
        }
        var given = ConfigJson.Load(configPath);
        if (!given.IsBert) throw new OnnxImportException($"{configPath}: 'model_type' must be 'bert' for an imported BERT graph.");
        void Same<T>(string field, T file, T graph)
        {
            if (!EqualityComparer<T>.Default.Equals(file, graph))
                throw new OnnxImportException($"{configPath}: '{field}' is {file} but the ONNX graph has {graph}.");
        }
        Same("vocab_size", given.VocabSize, s.VocabSize);
        Same("hidden_size", given.HiddenSize, s.HiddenSize);
        Same("num_hidden_layers", given.NumHiddenLayers, s.NumHiddenLayers);
        Same("num_attention_heads", given.NumAttentionHeads, s.NumAttentionHeads);
        Same("intermediate_size", given.IntermediateSize, s.IntermediateSize);
        Same("max_position_embeddings", given.MaxPositionEmbeddings, s.MaxPositionEmbeddings);
        Same("type_vocab_size", given.TypeVocabSize, s.TypeVocabSize);
        Same("layer_norm_eps", given.LayerNormEps, s.LayerNormEps);
        Same("hidden_act", given.HiddenAct, s.HiddenAct);
        given.Architectures = ["BertModel"];
        return given;
    }

    /// <summary>One token per line (LF or CRLF, a UTF-8 BOM dropped), exactly <paramref name="vocabSize"/> of them.</summary>
    internal static string[] VocabLines(string text, string source, int vocabSize)
    {
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var lines = text.Split('\n');
        int count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;   // a final newline ends the last line
        var tokens = new string[count];
        for (int i = 0; i < count; i++)
        {
            tokens[i] = lines[i].EndsWith('\r') ? lines[i][..^1] : lines[i];
            if (tokens[i].Length == 0) throw new OnnxImportException($"{source}: line {i + 1} is empty (one token per line).");
        }
        return count == vocabSize ? tokens
            : throw new OnnxImportException($"{source}: has {count} tokens but the model's word embeddings have {vocabSize} rows.");
    }
}
