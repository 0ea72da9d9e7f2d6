using System.CommandLine;
using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Text;

namespace MobileBert.Cli;

/// <summary>
/// `mobilebert encode --model DIR --input FILE.jsonl --output OUT.safetensors [--hidden-states] [--attentions] [--threads N]`.
/// Input lines are either token ids {"input_ids","attention_mask","token_type_ids"} (all the same length) or text
/// {"text","text_pair"} tokenized with DIR/vocab.txt and padded to the longest.
/// </summary>
public static class EncodeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (config.json + model.safetensors [+ vocab.txt]).", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL input file.", Required = true };
        var output = new Option<string>("--output") { Description = "Output .safetensors file.", Required = true };
        var hidden = new Option<bool>("--hidden-states") { Description = "Also write hidden_states [L+1,B,S,H]." };
        var attn = new Option<bool>("--attentions") { Description = "Also write attentions [L,B,heads,S,S]." };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var maxLength = new Option<int>("--max-length") { Description = "Text inputs: maximum tokens (default: the model's max_position_embeddings).", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass (outputs are concatenated).", DefaultValueFactory = _ => 32 };
        var cmd = new Command("encode", "Run the model on a JSONL file and write its outputs as float32 safetensors.") { model, input, output, hidden, attn, threads, maxLength, batchSize };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var result = Run(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(output)!, r.GetValue(hidden), r.GetValue(attn), r.GetValue(threads), r.GetValue(maxLength), r.GetValue(batchSize));
            Console.Error.WriteLine($"encoded {result.Batch} sequences × {result.Seq} tokens → {r.GetValue(output)} ({string.Join(", ", result.Tensors)})");
            return 0;
        }));
        return cmd;
    }

    public sealed record Result(int Batch, int Seq, IReadOnlyList<string> Tensors);

    public static Result Run(string modelDir, string inputPath, string outputPath, bool hiddenStates, bool attentions, int threads, int maxLength = 0, int batchSize = 32)
        => Run(modelDir, inputPath, outputPath, hiddenStates, attentions, threads, maxLength, batchSize, Console.Error);

    /// <summary>Encodes every input line; outputs stream to a temporary file renamed into place at the end (memory stays
    /// flat in the number of lines; a failure leaves no output file). Replacement characters are reported on <paramref name="log"/>.</summary>
    public static Result Run(string modelDir, string inputPath, string outputPath, bool hiddenStates, bool attentions, int threads, int maxLength, int batchSize,
        TextWriter log)
    {
        if (batchSize <= 0) throw new InputException($"--batch-size must be positive, got {batchSize}.");
        if (maxLength < 0 || maxLength == 1) throw new InputException($"--max-length must be at least 2 ([CLS] and [SEP]), or 0 for the model's maximum; got {maxLength}.");
        if (!File.Exists(inputPath)) throw new InputException($"{inputPath}: input file not found.");
        var model = ModelFolder.Load(modelDir);
        model.Threads = threads > 0 ? threads : Environment.ProcessorCount;
        var c = model.Config;
        if (maxLength > c.MaxPositionEmbeddings)
            throw new InputException($"--max-length {maxLength} exceeds the model's max_position_embeddings = {c.MaxPositionEmbeddings}.");
        var sanitizer = new TextSanitizer();
        var all = ReadInput(inputPath, modelDir, maxLength > 0 ? maxLength : c.MaxPositionEmbeddings, c, sanitizer);
        sanitizer.Report(log, inputPath);
        int b = all.Batch, s = all.Seq, h = c.HiddenSize, L = c.NumHiddenLayers, heads = c.NumAttentionHeads;
        var shapes = new List<(string Name, int[] Shape)> { ("last_hidden_state", [b, s, h]) };
        if (model.HasPooler) shapes.Add(("pooler_output", [b, h]));
        if (model.Mlm is not null) shapes.Add(("mlm_logits", [b, s, c.VocabSize]));
        if (model.Nsp is not null) shapes.Add(("nsp_logits", [b, 2]));
        if (model.Classifier is not null) shapes.Add(("seqcls_logits", [b, c.NumLabels]));
        if (model.Qa is not null) { shapes.Add(("qa_start_logits", [b, s])); shapes.Add(("qa_end_logits", [b, s])); }
        if (hiddenStates) shapes.Add(("hidden_states", [L + 1, b, s, h]));
        if (attentions) shapes.Add(("attentions", [L, b, heads, s, s]));
        using var file = new SafeTensorsStreamWriter(outputPath, shapes);
        var written = shapes.ToDictionary(x => x.Name, _ => false);
        void Put(string name, float[]? chunk, long offset, int firstRow)
        {
            if (chunk is null) return;
            for (int i = 0; i < chunk.Length; i++)
                if (!float.IsFinite(chunk[i])) throw new InputException($"{inputPath}: the model's '{name}' is {chunk[i]} for an input near line {all.Lines[firstRow]}; nothing was written.");
            file.Write(name, offset, chunk);
            written[name] = true;
        }
        // The fast executor computes the backbone, pooler and classifier exactly as model.Forward does (padded rows included);
        // per-layer outputs and the MLM/NSP/QA heads need the reference path.
        using var engine = hiddenStates || attentions || model.Mlm is not null || model.Nsp is not null || model.Qa is not null
            ? null : new MobileBert.Inference.InferenceEngine(model, new MobileBert.Inference.InferenceOptions { Threads = model.Threads });
        for (int start = 0; start < b; start += batchSize)
        {
            int n = Math.Min(batchSize, b - start);
            var input = new ModelInput(n, s, all.Input.InputIds[(start * s)..((start + n) * s)], all.Input.AttentionMask[(start * s)..((start + n) * s)],
                all.Input.TokenTypeIds[(start * s)..((start + n) * s)]);
            var o = engine is null ? model.Forward(input, new ForwardOptions { OutputHiddenStates = hiddenStates, OutputAttentions = attentions }) : EngineOutput(engine.Run(input), model);
            Put("last_hidden_state", o.LastHiddenState, (long)start * s * h, start);
            Put("pooler_output", o.PooledOutput, (long)start * h, start);
            Put("mlm_logits", o.MlmLogits, (long)start * s * c.VocabSize, start);
            Put("nsp_logits", o.NspLogits, (long)start * 2, start);
            Put("seqcls_logits", o.SequenceClassificationLogits, (long)start * c.NumLabels, start);
            Put("qa_start_logits", o.QaStartLogits, (long)start * s, start);
            Put("qa_end_logits", o.QaEndLogits, (long)start * s, start);
            for (int l = 0; o.HiddenStates is not null && l <= L; l++)     // [L+1, B, S, H]: layer-major
                Put("hidden_states", o.HiddenStates[l], ((long)l * b + start) * s * h, start);
            for (int l = 0; o.Attentions is not null && l < L; l++)         // [L, B, heads, S, S]
                Put("attentions", o.Attentions[l], ((long)l * b + start) * heads * s * s, start);
        }
        if (written.FirstOrDefault(x => !x.Value) is { Key: { } never }) throw new InvalidOperationException($"encode: the model produced no '{never}'.");
        file.Commit();
        string[] order = ["last_hidden_state", "pooler_output", "mlm_logits", "nsp_logits", "seqcls_logits", "qa_start_logits", "qa_end_logits", "hidden_states", "attentions"];
        return new Result(b, s, order.Where(written.ContainsKey).ToList());
    }

    /// <summary>The engine's result as a <see cref="ModelOutput"/> (copies: the engine reuses its buffers).</summary>
    static ModelOutput EngineOutput(MobileBert.Inference.InferenceResult r, MobileBertModel model) => new()
    {
        LastHiddenState = r.LastHiddenState.ToArray(),
        PooledOutput = r.HasPooler ? r.PooledOutput.ToArray() : null,
        SequenceClassificationLogits = model.Classifier is null ? null : r.Logits.ToArray(),
    };

    /// <summary>Token ids of every input line (row i comes from line <see cref="Lines"/>[i]).</summary>
    public sealed record Inputs(ModelInput Input, int[] Lines)
    {
        public int Batch => Input.Batch;
        public int Seq => Input.Seq;
    }

    /// <summary>Parses the JSONL input into one batch, one row per line. Errors name the file, line and field; a blank
    /// line is an error (nothing is skipped). Text goes through <paramref name="sanitizer"/> (U+FFFD policy).</summary>
    public static Inputs ReadInput(string path, string modelDir, int maxLength, MobileBertConfig c, TextSanitizer? sanitizer = null)
    {
        if (!File.Exists(path)) throw new InputException($"{path}: input file not found.");
        sanitizer ??= new TextSanitizer();
        var idRows = new List<(int[] Ids, int[] Mask, int[] Types)>();
        var texts = new List<(string Text, string? Pair)>();
        var lines = new List<int>();
        foreach (var (lineNo, raw) in LineReader.ReadFile(path, sanitizer))
        {
            string where = $"{path}:{lineNo}";
            if (string.IsNullOrWhiteSpace(raw)) throw new InputException($"{where}: blank line (every line is one input; nothing is skipped).");
            lines.Add(lineNo);
            JsonElement e;
            try { using var doc = sanitizer.ParseJson(raw); e = doc.RootElement.Clone(); }
            catch (JsonException ex) { throw new InputException($"{where}: invalid JSON ({JsonKinds.Problem(ex)})."); }
            if (e.ValueKind != JsonValueKind.Object) throw new InputException($"{where}: each line must be a JSON object.");
            if (e.TryGetProperty("input_ids", out var idsEl))
            {
                if (texts.Count > 0) throw new InputException($"{where}: mixes token-id lines and text lines.");
                var ids = IntArray(idsEl, where, "input_ids");
                var mask = e.TryGetProperty("attention_mask", out var m) ? IntArray(m, where, "attention_mask") : Enumerable.Repeat(1, ids.Length).ToArray();
                var types = e.TryGetProperty("token_type_ids", out var t) ? IntArray(t, where, "token_type_ids") : new int[ids.Length];
                if (ids.Length == 0) throw new InputException($"{where}: 'input_ids' is empty.");
                if (mask.Length != ids.Length || types.Length != ids.Length)
                    throw new InputException($"{where}: 'input_ids' ({ids.Length}), 'attention_mask' ({mask.Length}) and 'token_type_ids' ({types.Length}) must have the same length.");
                if (idRows.Count > 0 && ids.Length != idRows[0].Ids.Length)
                    throw new InputException($"{where}: has {ids.Length} tokens but earlier lines have {idRows[0].Ids.Length}; token-id lines must all be the same length (pad them).");
                if (ids.Length > c.MaxPositionEmbeddings)
                    throw new InputException($"{where}: {ids.Length} tokens exceed the model's max_position_embeddings = {c.MaxPositionEmbeddings}.");
                for (int i = 0; i < ids.Length; i++)
                {
                    if (ids[i] < 0 || ids[i] >= c.VocabSize) throw new InputException($"{where}: input_ids[{i}] = {ids[i]} is outside the vocabulary [0, {c.VocabSize}).");
                    if (types[i] < 0 || types[i] >= c.TypeVocabSize) throw new InputException($"{where}: token_type_ids[{i}] = {types[i]} is outside [0, {c.TypeVocabSize}).");
                    if (mask[i] is not (0 or 1)) throw new InputException($"{where}: attention_mask[{i}] = {mask[i]} must be 0 or 1.");
                }
                idRows.Add((ids, mask, types));
            }
            else if (e.TryGetProperty("text", out var textEl))
            {
                if (idRows.Count > 0) throw new InputException($"{where}: mixes text lines and token-id lines.");
                if (textEl.ValueKind != JsonValueKind.String) throw new InputException($"{where}: 'text' must be a string.");
                string? pair = null;
                if (e.TryGetProperty("text_pair", out var p) && p.ValueKind != JsonValueKind.Null)
                    pair = p.ValueKind == JsonValueKind.String ? p.GetString() : throw new InputException($"{where}: 'text_pair' must be a string.");
                string text = textEl.GetString()!;
                if (string.IsNullOrWhiteSpace(text)) throw new InputException($"{where}: 'text' is empty.");
                texts.Add((text, pair));
            }
            else throw new InputException($"{where}: a line needs either 'input_ids' or 'text'.");
        }
        if (idRows.Count == 0 && texts.Count == 0) throw new InputException($"{path}: no input lines.");
        if (idRows.Count > 0)
        {
            int s = idRows[0].Ids.Length;
            return new Inputs(new ModelInput(idRows.Count, s, idRows.SelectMany(x => x.Ids).ToArray(), idRows.SelectMany(x => x.Mask).ToArray(), idRows.SelectMany(x => x.Types).ToArray()), [.. lines]);
        }
        string vocab = Path.Combine(modelDir, ModelFolder.VocabFile);
        if (!File.Exists(vocab)) throw new InputException($"{vocab}: missing; text input needs the model folder's vocab.txt.");
        var tok = WordPieceTokenizer.FromVocabFile(vocab);
        if (tok.VocabSize > c.VocabSize) throw new InputException($"{vocab}: has {tok.VocabSize} tokens but the model's vocab_size is {c.VocabSize}.");
        int max = Math.Min(maxLength, c.MaxPositionEmbeddings);
        // Ids only: the tokens and offsets of each line are dropped as soon as it is encoded.
        var encoded = texts.Select(t => tok.Encode(t.Text, t.Pair, max) with { Tokens = [], Offsets = [] }).ToList();
        return new Inputs(Batching.Pad(encoded, tok.PadId), [.. lines]);
    }

    static int[] IntArray(JsonElement e, string where, string field)
    {
        if (e.ValueKind != JsonValueKind.Array) throw new InputException($"{where}: '{field}' must be an array of integers.");
        var a = new int[e.GetArrayLength()];
        int i = 0;
        foreach (var v in e.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out a[i])) throw new InputException($"{where}: '{field}[{i}]' must be an integer, got {v.GetRawText()}.");
            i++;
        }
        return a;
    }
}
