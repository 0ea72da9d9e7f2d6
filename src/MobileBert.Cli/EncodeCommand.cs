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
        var cmd = new Command("encode", "Run the model on a JSONL file and write its outputs as float32 safetensors.") { model, input, output, hidden, attn, threads, maxLength };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var result = Run(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(output)!, r.GetValue(hidden), r.GetValue(attn), r.GetValue(threads), r.GetValue(maxLength));
            Console.Error.WriteLine($"encoded {result.Batch} sequences × {result.Seq} tokens → {r.GetValue(output)} ({string.Join(", ", result.Tensors)})");
            return 0;
        }));
        return cmd;
    }

    public sealed record Result(int Batch, int Seq, IReadOnlyList<string> Tensors);

    public static Result Run(string modelDir, string inputPath, string outputPath, bool hiddenStates, bool attentions, int threads, int maxLength = 0)
    {
        var model = ModelFolder.Load(modelDir);
        model.Threads = threads > 0 ? threads : Environment.ProcessorCount;
        var c = model.Config;
        var batch = ReadInput(inputPath, modelDir, maxLength > 0 ? maxLength : c.MaxPositionEmbeddings, c);
        var o = model.Forward(batch, new ForwardOptions { OutputHiddenStates = hiddenStates, OutputAttentions = attentions });
        int b = batch.Batch, s = batch.Seq, h = c.HiddenSize;
        var tensors = new List<(string, int[], float[])> { ("last_hidden_state", [b, s, h], o.LastHiddenState) };
        if (o.PooledOutput is not null) tensors.Add(("pooler_output", [b, h], o.PooledOutput));
        if (o.MlmLogits is not null) tensors.Add(("mlm_logits", [b, s, c.VocabSize], o.MlmLogits));
        if (o.NspLogits is not null) tensors.Add(("nsp_logits", [b, 2], o.NspLogits));
        if (o.SequenceClassificationLogits is not null) tensors.Add(("seqcls_logits", [b, c.NumLabels], o.SequenceClassificationLogits));
        if (o.QaStartLogits is not null) tensors.Add(("qa_start_logits", [b, s], o.QaStartLogits));
        if (o.QaEndLogits is not null) tensors.Add(("qa_end_logits", [b, s], o.QaEndLogits));
        if (o.HiddenStates is not null) tensors.Add(("hidden_states", [c.NumHiddenLayers + 1, b, s, h], o.HiddenStates.SelectMany(x => x).ToArray()));
        if (o.Attentions is not null) tensors.Add(("attentions", [c.NumHiddenLayers, b, c.NumAttentionHeads, s, s], o.Attentions.SelectMany(x => x).ToArray()));
        SafeTensorsWriter.Write(outputPath, tensors);
        return new Result(b, s, tensors.Select(t => t.Item1).ToList());
    }

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
