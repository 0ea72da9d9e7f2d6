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
    {
        if (batchSize <= 0) throw new InputException($"--batch-size must be positive, got {batchSize}.");
        var model = ModelFolder.Load(modelDir);
        model.Threads = threads > 0 ? threads : Environment.ProcessorCount;
        var c = model.Config;
        var all = ReadInput(inputPath, modelDir, maxLength > 0 ? maxLength : c.MaxPositionEmbeddings, c);
        int b = all.Batch, s = all.Seq, h = c.HiddenSize, L = c.NumHiddenLayers, heads = c.NumAttentionHeads;
        var outputs = new Dictionary<string, (int[] Shape, float[] Data)>();
        void Put(string name, int[] shape, float[]? chunk, long offset)
        {
            if (chunk is null) return;
            if (!outputs.TryGetValue(name, out var t))
            {
                long total = 1; foreach (int d in shape) total *= d;
                if (total > Array.MaxLength) throw new InputException($"output '{name}' would have {total} values; encode fewer lines at a time.");
                outputs[name] = t = (shape, new float[total]);
            }
            chunk.CopyTo(t.Data, offset);
        }
        // The fast executor computes the backbone, pooler and classifier exactly as model.Forward does (padded rows included);
        // per-layer outputs and the MLM/NSP/QA heads need the reference path.
        using var engine = hiddenStates || attentions || model.Mlm is not null || model.Nsp is not null || model.Qa is not null
            ? null : new MobileBert.Inference.InferenceEngine(model, new MobileBert.Inference.InferenceOptions { Threads = model.Threads });
        for (int start = 0; start < b; start += batchSize)
        {
            int n = Math.Min(batchSize, b - start);
            var input = new ModelInput(n, s, all.InputIds[(start * s)..((start + n) * s)], all.AttentionMask[(start * s)..((start + n) * s)], all.TokenTypeIds[(start * s)..((start + n) * s)]);
            var o = engine is null ? model.Forward(input, new ForwardOptions { OutputHiddenStates = hiddenStates, OutputAttentions = attentions }) : EngineOutput(engine.Run(input), model);
            Put("last_hidden_state", [b, s, h], o.LastHiddenState, (long)start * s * h);
            Put("pooler_output", [b, h], o.PooledOutput, (long)start * h);
            Put("mlm_logits", [b, s, c.VocabSize], o.MlmLogits, (long)start * s * c.VocabSize);
            Put("nsp_logits", [b, 2], o.NspLogits, (long)start * 2);
            Put("seqcls_logits", [b, c.NumLabels], o.SequenceClassificationLogits, (long)start * c.NumLabels);
            Put("qa_start_logits", [b, s], o.QaStartLogits, (long)start * s);
            Put("qa_end_logits", [b, s], o.QaEndLogits, (long)start * s);
            for (int l = 0; o.HiddenStates is not null && l <= L; l++)     // [L+1, B, S, H]: layer-major
                Put("hidden_states", [L + 1, b, s, h], o.HiddenStates[l], ((long)l * b + start) * s * h);
            for (int l = 0; o.Attentions is not null && l < L; l++)         // [L, B, heads, S, S]
                Put("attentions", [L, b, heads, s, s], o.Attentions[l], ((long)l * b + start) * heads * s * s);
        }
        string[] order = ["last_hidden_state", "pooler_output", "mlm_logits", "nsp_logits", "seqcls_logits", "qa_start_logits", "qa_end_logits", "hidden_states", "attentions"];
        var written = order.Where(outputs.ContainsKey).ToList();
        SafeTensorsWriter.Write(outputPath, written.Select(k => (k, outputs[k].Shape, outputs[k].Data)));
        return new Result(b, s, written);
    }

    /// <summary>The engine's result as a <see cref="ModelOutput"/> (copies: the engine reuses its buffers).</summary>
    static ModelOutput EngineOutput(MobileBert.Inference.InferenceResult r, MobileBertModel model) => new()
    {
        LastHiddenState = r.LastHiddenState.ToArray(),
        PooledOutput = r.HasPooler ? r.PooledOutput.ToArray() : null,
        SequenceClassificationLogits = model.Classifier is null ? null : r.Logits.ToArray(),
    };

    /// <summary>Parses the JSONL input into one batch. Errors name the file, line and field.</summary>
    public static ModelInput ReadInput(string path, string modelDir, int maxLength, MobileBertConfig c)
    {
        if (!File.Exists(path)) throw new InputException($"{path}: input file not found.");
        var idRows = new List<(int[] Ids, int[] Mask, int[] Types)>();
        var texts = new List<(string Text, string? Pair)>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            string where = $"{path}:{lineNo}";
            JsonElement e;
            try { using var doc = JsonDocument.Parse(raw); e = doc.RootElement.Clone(); }
            catch (JsonException ex) { throw new InputException($"{where}: invalid JSON ({ex.Message})."); }
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
            return new ModelInput(idRows.Count, s, idRows.SelectMany(x => x.Ids).ToArray(), idRows.SelectMany(x => x.Mask).ToArray(), idRows.SelectMany(x => x.Types).ToArray());
        }
        string vocab = Path.Combine(modelDir, ModelFolder.VocabFile);
        if (!File.Exists(vocab)) throw new InputException($"{vocab}: missing; text input needs the model folder's vocab.txt.");
        var tok = WordPieceTokenizer.FromVocabFile(vocab);
        if (tok.VocabSize > c.VocabSize) throw new InputException($"{vocab}: has {tok.VocabSize} tokens but the model's vocab_size is {c.VocabSize}.");
        int max = Math.Min(maxLength, c.MaxPositionEmbeddings);
        var encoded = texts.Select(t => tok.Encode(t.Text, t.Pair, max)).ToList();
        return Batching.Pad(encoded, tok.PadId);
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
