using MobileBert.Checkpoints;
using MobileBert.Model;

namespace MobileBert.Import;

/// <summary>What <see cref="PyTorchImporter.Import"/> wrote.</summary>
public sealed record PyTorchImportResult(int Tensors, long Elements, IReadOnlyList<TensorDType> DTypes, bool DroppedTiedDecoder, bool CopiedVocab,
    MobileBertConfig Config);

/// <summary>
/// Converts a HuggingFace PyTorch checkpoint (<c>pytorch_model.bin</c> + <c>config.json</c> [+ <c>vocab.txt</c>]) into a model
/// folder (config.json + model.safetensors + vocab.txt) that every command loads. Tensors keep their names and dtypes; the
/// MLM decoder tied to the word embeddings is stored once, as HF's safetensors files do. A sentence-transformers folder's
/// embedding settings (modules.json, 1_Pooling/, 2_Normalize/, sentence_bert_config.json) are copied too, so
/// <c>embed</c> pools and normalises as the model was trained. The folder is checked by loading it before the import
/// reports success.
/// </summary>
public static class PyTorchImporter
{
    static readonly string[] Written =
        [ModelFolder.ConfigFile, ModelFolder.WeightsFile, ModelFolder.VocabFile, Text.TokenizerConfig.FileName,
            .. SentenceTransformersFolder.Entries];

    /// <summary><paramref name="source"/>: a folder holding pytorch_model.bin (its config.json and vocab.txt are used unless
    /// given), or the .bin file itself (then config.json is taken from beside it unless given).</summary>
    public static PyTorchImportResult Import(string source, string outDir, string? configPath = null, string? vocabPath = null)
    {
        string binPath = source, folder = Path.GetDirectoryName(Path.GetFullPath(source)) ?? ".";
        if (Directory.Exists(source))
        {
            folder = source;
            binPath = Path.Combine(source, PyTorchCheckpoint.HfFileName);
            if (!File.Exists(binPath))
                throw new CheckpointException($"{binPath}: missing (the folder has no PyTorch checkpoint).") { FilePath = binPath };
        }
        configPath ??= Path.Combine(folder, ModelFolder.ConfigFile);
        if (!File.Exists(configPath))
            throw new CheckpointException($"{configPath}: missing (the HF config.json of the checkpoint; pass --config).") { FilePath = configPath };
        if (vocabPath is null && File.Exists(Path.Combine(folder, ModelFolder.VocabFile))) vocabPath = Path.Combine(folder, ModelFolder.VocabFile);
        if (vocabPath is not null && !File.Exists(vocabPath))
            throw new CheckpointException($"{vocabPath}: vocab file does not exist.") { FilePath = vocabPath };
        if (vocabPath is not null) Text.TokenizerConfig.LowerCase(vocabPath);   // a malformed tokenizer_config.json fails here, named
        var config = ConfigJson.Load(configPath);
        bool sentenceTransformers = Directory.Exists(source) && SentenceTransformersFolder.Read(source) is { } st
            && (st.Pooling is not null || st.Normalize is not null || st.MaxSeqLength is not null
                || st.Prompts.Count > 0);   // read: a malformed file fails here
        CheckOutputFolder(outDir);

        var tensors = PyTorchCheckpoint.Read(binPath).ToList();
        bool dropped = DropTiedDecoder(tensors, config.BackbonePrefix);
        Directory.CreateDirectory(outDir);
        try
        {
            AtomicFile.Copy(configPath, Path.Combine(outDir, ModelFolder.ConfigFile));
            SafeTensorsWriter.WriteRaw(Path.Combine(outDir, ModelFolder.WeightsFile),
                tensors.Select(t => (t.Name, t.DType, t.Shape, t.Data)), new Dictionary<string, string> { ["format"] = "pt" });
            if (vocabPath is not null) ModelFolder.CopyVocab(vocabPath, outDir);
            if (sentenceTransformers) CopySentenceTransformersEntries(source, outDir);
            ModelFolder.Load(outDir);   // the names and shapes must fit the config: fail here, not in the first command that uses it
        }
        catch
        {
            foreach (var f in Written.Select(f => Path.Combine(outDir, f)))
                if (Directory.Exists(f)) Directory.Delete(f, recursive: true); else File.Delete(f);
            throw;
        }
        return new PyTorchImportResult(tensors.Count, tensors.Sum(t => t.Shape.Aggregate(1L, (p, d) => p * d)),
            tensors.Select(t => t.DType).Distinct().ToList(), dropped, vocabPath is not null, config);
    }

    /// <summary>modules.json, sentence_bert_config.json and the module folders (1_Pooling/config.json, 2_Normalize/), as they are.</summary>
    static void CopySentenceTransformersEntries(string source, string outDir)
    {
        foreach (var entry in SentenceTransformersFolder.Entries)
        {
            string from = Path.Combine(source, entry), to = Path.Combine(outDir, entry);
            if (File.Exists(from)) File.Copy(from, to, overwrite: true);
            else if (Directory.Exists(from))
            {
                Directory.CreateDirectory(to);
                foreach (var f in Directory.EnumerateFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
            }
        }
    }

    /// <summary>The folder may be new, empty or hold a previous import's files, nothing else (a task.json or quantized weights
    /// left from another model would be loaded with this one).</summary>
    static void CheckOutputFolder(string outDir)
    {
        if (!Directory.Exists(outDir)) return;
        var other = Directory.EnumerateFileSystemEntries(outDir).Select(Path.GetFileName).FirstOrDefault(f => !Written.Contains(f));
        if (other is not null)
            throw new CheckpointException($"{outDir}: already holds '{other}', which an import does not write; import into a new or empty folder.");
    }

    /// <summary>Removes cls.predictions.decoder.weight when it equals the word embeddings (a tied decoder, stored once).</summary>
    static bool DropTiedDecoder(List<PyTorchTensor> tensors, string backbonePrefix)
    {
        const string words = BertTensorNames.WordEmbeddings;   // the same name under a MobileBERT prefix
        var decoder = tensors.FirstOrDefault(t => t.Name == ModelFolder.TiedDecoder);
        var embeddings = tensors.FirstOrDefault(t => t.Name == backbonePrefix + words || t.Name == words);
        if (decoder is null || embeddings is null || decoder.DType != embeddings.DType) return false;
        if (!decoder.Data.Span.SequenceEqual(embeddings.Data.Span)) return false;
        tensors.Remove(decoder);
        return true;
    }
}
