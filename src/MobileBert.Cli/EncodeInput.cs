using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Text;

namespace MobileBert.Cli;

/// <summary>
/// The JSONL input of `encode`, read as a stream of rows (one per line): token-id lines
/// <c>{"input_ids","attention_mask","token_type_ids"}</c> (all the same length) or text lines <c>{"text","text_pair"}</c>
/// tokenized with the model folder's vocab.txt. <see cref="Scan"/> validates every line and measures the batch shape;
/// <see cref="Batches"/> reads the file again batch by batch, so memory does not grow with the number of lines.
/// Errors name the file, line and field; a blank line is an error (nothing is skipped).
/// </summary>
public sealed class EncodeInput
{
    readonly string _path, _modelDir;
    readonly MobileBertConfig _config;
    readonly int _maxLength;
    WordPieceTokenizer? _tokenizer;

    EncodeInput(string path, string modelDir, MobileBertConfig config, int maxLength)
    {
        _path = path; _modelDir = modelDir; _config = config; _maxLength = Math.Min(maxLength, config.MaxPositionEmbeddings);
    }

    /// <summary>Rows (lines) in the file.</summary>
    public int Count { get; private set; }

    /// <summary>Padded length: the longest row.</summary>
    public int Seq { get; private set; }

    /// <summary>Pad id of the rows (the vocab's [PAD] for text; token-id lines are never padded).</summary>
    int PadId => _tokenizer?.PadId ?? 0;

    /// <summary>Reads and validates every line once (text through <paramref name="sanitizer"/>, whose count is the file's).</summary>
    public static EncodeInput Scan(string path, string modelDir, MobileBertConfig config, int maxLength, TextSanitizer sanitizer)
    {
        if (!File.Exists(path)) throw new InputException($"{path}: input file not found.");
        var input = new EncodeInput(path, modelDir, config, maxLength);
        foreach (var row in input.Rows(sanitizer))
        {
            input.Count++;
            input.Seq = Math.Max(input.Seq, row.Ids.Length);
        }
        if (input.Count == 0) throw new InputException($"{path}: no input lines.");
        return input;
    }

    /// <summary>The rows again, <paramref name="batchSize"/> at a time, right-padded to <see cref="Seq"/> ([n, Seq]), with their first
    /// line.</summary>
    public IEnumerable<(ModelInput Input, int FirstLine)> Batches(int batchSize)
    {
        var pending = new List<EncodedInput>(batchSize);
        int first = 0;
        foreach (var row in Rows(new TextSanitizer()))   // counted once, by Scan
        {
            if (pending.Count == 0) first = row.Line;
            pending.Add(new EncodedInput([], row.Ids, row.Types, row.Mask, []));
            if (pending.Count == batchSize) { yield return (Batching.Pad(pending, PadId, Seq), first); pending.Clear(); }
        }
        if (pending.Count > 0) yield return (Batching.Pad(pending, PadId, Seq), first);
    }

    sealed record Row(int Line, int[] Ids, int[] Mask, int[] Types);

    IEnumerable<Row> Rows(TextSanitizer sanitizer)
    {
        bool? idLines = null;
        int idLength = -1;
        foreach (var (lineNo, raw) in LineReader.ReadFile(_path, sanitizer))
        {
            string where = $"{_path}:{lineNo}";
            if (string.IsNullOrWhiteSpace(raw)) throw new InputException($"{where}: blank line (every line is one input; nothing is skipped).");
            JsonDocument doc;
            try { doc = sanitizer.ParseJson(raw); }
            catch (JsonException ex) { throw new InputException($"{where}: invalid JSON ({JsonKinds.Problem(ex)})."); }
            Row row;
            using (doc)
            {
                var e = doc.RootElement;
                if (e.ValueKind != JsonValueKind.Object) throw new InputException($"{where}: each line must be a JSON object.");
                bool isIds = e.TryGetProperty("input_ids", out var idsEl);
                if (!isIds && !e.TryGetProperty("text", out _)) throw new InputException($"{where}: a line needs either 'input_ids' or 'text'.");
                if (idLines is bool seen && seen != isIds)
                    throw new InputException(isIds ? $"{where}: mixes token-id lines and text lines."
                        : $"{where}: mixes text lines and token-id lines.");
                idLines = isIds;
                row = isIds ? IdRow(e, idsEl, where, lineNo, ref idLength) : TextRow(e, where, lineNo);
            }
            yield return row;
        }
    }

    Row IdRow(JsonElement e, JsonElement idsEl, string where, int lineNo, ref int idLength)
    {
        var c = _config;
        var ids = IntArray(idsEl, where, "input_ids");
        var mask = e.TryGetProperty("attention_mask", out var m) ? IntArray(m, where, "attention_mask") : Enumerable.Repeat(1, ids.Length).ToArray();
        var types = e.TryGetProperty("token_type_ids", out var t) ? IntArray(t, where, "token_type_ids") : new int[ids.Length];
        if (ids.Length == 0) throw new InputException($"{where}: 'input_ids' is empty.");
        if (mask.Length != ids.Length || types.Length != ids.Length)
            throw new InputException($"{where}: 'input_ids' ({ids.Length}), 'attention_mask' ({mask.Length}) and 'token_type_ids' ({types.Length}) " +
                $"must have the same length.");
        if (idLength >= 0 && ids.Length != idLength)
            throw new InputException($"{where}: has {ids.Length} tokens but earlier lines have {idLength}; token-id lines must all be the same " +
                $"length (pad them).");
        idLength = ids.Length;
        if (ids.Length > c.MaxPositionEmbeddings)
            throw new InputException($"{where}: {ids.Length} tokens exceed the model's max_position_embeddings = {c.MaxPositionEmbeddings}.");
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0 || ids[i] >= c.VocabSize) throw new InputException(
                $"{where}: input_ids[{i}] = {ids[i]} is outside the vocabulary [0, {c.VocabSize}).");
            if (types[i] < 0 || types[i] >= c.TypeVocabSize) throw new InputException(
                $"{where}: token_type_ids[{i}] = {types[i]} is outside [0, {c.TypeVocabSize}).");
            if (mask[i] is not (0 or 1)) throw new InputException($"{where}: attention_mask[{i}] = {mask[i]} must be 0 or 1.");
        }
        return new Row(lineNo, ids, mask, types);
    }

    Row TextRow(JsonElement e, string where, int lineNo)
    {
        var textEl = e.GetProperty("text");
        if (textEl.ValueKind != JsonValueKind.String) throw new InputException($"{where}: 'text' must be a string.");
        string? pair = null;
        if (e.TryGetProperty("text_pair", out var p) && p.ValueKind != JsonValueKind.Null)
            pair = p.ValueKind == JsonValueKind.String ? p.GetString() : throw new InputException($"{where}: 'text_pair' must be a string.");
        string text = textEl.GetString()!;
        if (string.IsNullOrWhiteSpace(text)) throw new InputException($"{where}: 'text' is empty.");
        var x = Tokenizer().Encode(text, pair, _maxLength);
        return new Row(lineNo, x.InputIds, x.AttentionMask, x.TokenTypeIds);
    }

    WordPieceTokenizer Tokenizer()
    {
        if (_tokenizer is not null) return _tokenizer;
        string vocab = Path.Combine(_modelDir, ModelFolder.VocabFile);
        if (!File.Exists(vocab)) throw new InputException($"{vocab}: missing; text input needs the model folder's vocab.txt.");
        var tok = WordPieceTokenizer.FromVocabFile(vocab);
        if (tok.VocabSize > _config.VocabSize) throw new InputException($"{vocab}: has {tok.VocabSize} tokens but the model's vocab_size " +
            $"is {_config.VocabSize}.");
        return _tokenizer = tok;
    }

    static int[] IntArray(JsonElement e, string where, string field)
    {
        if (e.ValueKind != JsonValueKind.Array) throw new InputException($"{where}: '{field}' must be an array of integers.");
        var a = new int[e.GetArrayLength()];
        int i = 0;
        foreach (var v in e.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out a[i])) throw new InputException(
                $"{where}: '{field}[{i}]' must be an integer, got {v.GetRawText()}.");
            i++;
        }
        return a;
    }
}
