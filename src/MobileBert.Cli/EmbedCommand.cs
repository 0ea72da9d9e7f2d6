using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Text;

namespace MobileBert.Cli;

/// <summary>
/// `mobilebert embed --model DIR --input FILE --output FILE [--pooling mean|cls] [--normalize] [--prompt-name NAME]`: one sentence vector per
/// input line (plain text, or JSONL {"text", optional "id"}), streamed to JSONL, .npy [N, H] or .safetensors
/// ("embeddings" [N, H]). The output appears only when complete (temporary file, then rename).
/// </summary>
public static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (any BERT / MobileBERT checkpoint, fp32 or int8).", Required = true };
        var input = new Option<string>("--input") { Description = "Input: .jsonl ({\"text\", optional \"id\"} per line) or plain text, one text " +
            "per line.", Required = true };
        var output = new Option<string>("--output") { Description = "Output: .jsonl, .npy or .safetensors.", Required = true };
        var pooling = new Option<string?>("--pooling") { Description = "mean or cls (default: a sentence-transformers folder's own pooling, else " +
            "mean)." };
        var normalize = new Option<bool>("--normalize") { Description = "Scale every vector to unit L2 norm (cosine = dot product); on by default " +
            "for a sentence-transformers folder with a Normalize module." };
        var maxLength = new Option<int>("--max-length") { Description = "Maximum tokens per text (default: a sentence-transformers folder's " +
            "max_seq_length, else the model's max_position_embeddings).", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Texts per forward pass.", DefaultValueFactory = _ => 32 };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores).",
            DefaultValueFactory = _ => Environment.ProcessorCount };
        var prompt = new Option<string?>("--prompt-name") { Description = "A prompt of the model folder (config_sentence_transformers.json, " +
            "e.g. query) put before every text (default: the folder's default prompt, if any)." };
        var cmd = new Command("embed", "Sentence embeddings: one vector per input line (mean or [CLS] pooling, optionally L2-normalised).")
        { model, input, output, pooling, normalize, maxLength, batch, threads, prompt };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var options = Options(r.GetValue(pooling), r.GetValue(normalize) ? true : null, r.GetValue(maxLength), r.GetValue(batch),
                r.GetValue(threads)) with { PromptName = r.GetValue(prompt) };
            int n = Run(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(output)!, options, Console.Error);
            Console.Error.WriteLine($"embedded {n} lines → {r.GetValue(output)}");
            return 0;
        }));
        return cmd;
    }

    public static EmbedderOptions Options(string? pooling, bool? normalize, int maxLength, int batchSize, int threads)
    {
        if (batchSize <= 0) throw new InputException($"--batch-size must be positive, got {batchSize}.");
        if (maxLength < 0) throw new InputException($"--max-length must be positive, got {maxLength}.");
        Pooling? p = pooling switch
        {
            null => null,
            "mean" => Pooling.Mean,
            "cls" => Pooling.Cls,
            _ => throw new InputException($"--pooling must be mean or cls, got '{pooling}'."),
        };
        return new EmbedderOptions
        {
            Pooling = p, Normalize = normalize,
            Predictor = new PredictorOptions { BatchSize = batchSize, Threads = threads > 0 ? threads : Environment.ProcessorCount,
                MaxSeqLength = maxLength > 0 ? maxLength : null },
        };
    }

    /// <summary>Embeds every line of <paramref name="inputPath"/> into <paramref name="outputPath"/>; returns the line count.</summary>
    public static int Run(string modelDir, string inputPath, string outputPath, EmbedderOptions options, TextWriter log)
    {
        if (!File.Exists(inputPath)) throw new InputException($"{inputPath}: input file not found.");
        string format = Path.GetExtension(outputPath).ToLowerInvariant();
        if (format is not (".jsonl" or ".npy" or ".safetensors"))
            throw new InputException($"{outputPath}: the output must end in .jsonl, .npy or .safetensors.");
        int maxPositions = ModelMaxPositions(modelDir);
        if (options.Predictor.MaxSeqLength is int m && (m < 3 || m > maxPositions))
            throw new InputException($"--max-length {m} must be in [3, {maxPositions}] (the model's max_position_embeddings).");
        using var embedder = TextEmbedder.Load(modelDir, options);
        var sanitizer = new TextSanitizer();
        int lines = 0;
        if (format != ".jsonl") foreach (var _ in LineReader.ReadFile(inputPath, new TextSanitizer())) lines++;   // the shape comes first
        var vectors = Embeddings(embedder, Inputs(inputPath, sanitizer), options.Predictor.BatchSize);
        int h = embedder.Dimension, written = 0;
        switch (format)
        {
            case ".jsonl":
                written = AtomicFile.WriteText(outputPath, w =>
                {
                    int k = 0;
                    foreach (var (id, v) in vectors) { w.WriteLine(JsonLine(id, v)); k++; }
                    return k;
                });
                break;
            case ".npy":
                Npy.WriteStreaming(outputPath, [lines, h], s => { foreach (var (_, v) in vectors) { s.Write(MemoryMarshal.AsBytes(v.AsSpan()));
                    written++; } });
                break;
            default:
                using (var st = new SafeTensorsStreamWriter(outputPath, [("embeddings", [lines, h])]))
                {
                    foreach (var (_, v) in vectors) st.Write("embeddings", (long)written++ * h, v);
                    st.Commit();
                }
                break;
        }
        sanitizer.Report(log, inputPath);
        return written;
    }

    static int ModelMaxPositions(string modelDir) =>
        MobileBert.Model.ConfigJson.Load(Path.Combine(modelDir, ModelFolder.ConfigFile)).MaxPositionEmbeddings;

    /// <summary>(id, text) of every line. JSONL lines are objects with "text" (and optional "id"); other files are one text a line
    /// (an empty line embeds the empty text: one output per line, always).</summary>
    static IEnumerable<(string? Id, string Text)> Inputs(string path, TextSanitizer sanitizer)
    {
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        foreach (var (lineNo, raw) in LineReader.ReadFile(path, sanitizer))
        {
            if (!jsonl) { yield return (null, raw); continue; }
            string where = $"{path}:{lineNo}";
            JsonNode? node;
            try { node = JsonNode.Parse(sanitizer.CleanJson(raw)); }
            catch (JsonException e) { throw new InputException($"{where}: invalid JSON ({JsonKinds.Problem(e)})."); }
            if (node is not JsonObject o) throw new InputException($"{where}: each line must be a JSON object with a \"text\" field.");
            if (o["text"] is not JsonValue tv || !tv.TryGetValue(out string? text)) throw new InputException($"{where}: 'text' must be a string.");
            string? id = o["id"] switch { null => null, JsonValue v when v.TryGetValue(out string? s) => s, var v => v.ToJsonString() };
            yield return (id, text);
        }
    }

    /// <summary>Embeddings in input order, one batch at a time (memory stays flat with the number of lines).</summary>
    static IEnumerable<(string? Id, float[] Vector)> Embeddings(TextEmbedder embedder, IEnumerable<(string? Id, string Text)> inputs, int batchSize)
    {
        var pending = new List<(string? Id, string Text)>(batchSize);
        foreach (var item in inputs)
        {
            pending.Add(item);
            if (pending.Count < batchSize) continue;
            foreach (var r in Flush(embedder, pending)) yield return r;
        }
        foreach (var r in Flush(embedder, pending)) yield return r;
    }

    static List<(string?, float[])> Flush(TextEmbedder embedder, List<(string? Id, string Text)> pending)
    {
        var vectors = embedder.Embed(pending.Select(p => p.Text).ToArray());
        var result = pending.Select((p, i) => (p.Id, vectors[i])).ToList();
        pending.Clear();
        return result;
    }

    static string JsonLine(string? id, float[] v)
    {
        var o = new JsonObject();
        if (id is not null) o["id"] = id;
        o["embedding"] = new JsonArray(v.Select(x => (JsonNode)JsonValue.Create(x)).ToArray());
        return o.ToJsonString();
    }
}
