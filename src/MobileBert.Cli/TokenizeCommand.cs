using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MobileBert.Text;

namespace MobileBert.Cli;

/// <summary>
/// <c>mobilebert tokenize</c>: reads JSONL <c>{"text": ..., "text_pair": ...}</c> (text_pair optional) and writes one
/// compact JSON line per input line: <c>{"tokens":[...],"input_ids":[...],"token_type_ids":[...],"offsets":[[start,end],...]}</c>.
/// </summary>
/// <remarks>
/// Every input line gives exactly one output line, or stops the run: a blank or whitespace-only line is an error like
/// any other bad line. The first bad line (blank, invalid JSON, not an object, missing or non-string <c>text</c>,
/// non-string <c>text_pair</c>, or an input that cannot be encoded) stops processing: what was written so far is
/// flushed, an <c>error:</c> line naming the 1-based line number goes to the error writer, and the exit code is 1.
/// Input is UTF-8 (BOM allowed); only <c>\n</c> and <c>\r\n</c> end a line; invalid UTF-8 and unpaired surrogates
/// (also as JSON <c>\uD800</c> escapes) become U+FFFD, counted in one <c>warning:</c> line.
/// Offsets are UTF-16 indices into the segment (text or text_pair) each token came from; special tokens get [0,0].
/// </remarks>
public static class TokenizeCommand
{
    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        Indented = false,
        // Output is JSONL for machines and people, not HTML: keep non-ASCII tokens readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Runs the command on decoded text (tests, callers with strings); returns 0 on success and 1 on any error.</summary>
    public static int Run(TextReader input, TextWriter output, TextWriter error, string vocabPath, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var lines = new LineReader(input);
        return Run(lines, new TextSanitizer(), output, error, vocabPath, maxLength);
    }

    /// <summary>Runs the command on UTF-8 bytes (stdin): invalid bytes are replaced and counted.</summary>
    public static int Run(Stream input, TextWriter output, TextWriter error, string vocabPath, int maxLength)
    {
        var sanitizer = new TextSanitizer();
        using var lines = new LineReader(input, sanitizer);
        return Run(lines, sanitizer, output, error, vocabPath, maxLength);
    }

    static int Run(LineReader input, TextSanitizer sanitizer, TextWriter output, TextWriter error, string vocabPath, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);

        if (maxLength < 2)
        {
            error.WriteLine($"error: tokenize: --max-length must be at least 2 ([CLS] and [SEP]), got {maxLength}.");
            return 1;
        }

        WordPieceTokenizer tokenizer;
        try
        {
            tokenizer = WordPieceTokenizer.FromVocabFile(vocabPath);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: tokenize: cannot load vocabulary: {ex.Message}");
            return 1;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer, s_writerOptions);
        try
        {
            while (input.ReadLine() is { } line)
            {
                int lineNumber = input.LineNumber;
                if (string.IsNullOrWhiteSpace(line))
                {
                    return Fail(output, error, lineNumber, "blank line (every input line gives one output line; remove it or give {\"text\":\"\"}).");
                }

                if (!TryParse(sanitizer.CleanJson(line), out string? text, out string? textPair, out string? problem))
                {
                    return Fail(output, error, lineNumber, problem!);
                }

                EncodedInput encoded;
                try
                {
                    encoded = tokenizer.Encode(text!, textPair, maxLength);
                }
                catch (ArgumentException ex)
                {
                    return Fail(output, error, lineNumber, ex.Message);
                }

                buffer.ResetWrittenCount();
                writer.Reset(buffer);
                Write(writer, encoded);
                writer.Flush();
                output.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
                output.Write('\n');
            }
        }
        finally
        {
            sanitizer.Report(error, "tokenize: stdin");
        }

        output.Flush();
        return 0;
    }

    private static int Fail(TextWriter output, TextWriter error, int lineNumber, string problem)
    {
        output.Flush();
        error.WriteLine($"error: tokenize: stdin line {lineNumber}: {problem}");
        error.Flush();
        return 1;
    }

    private static bool TryParse(string line, out string? text, out string? textPair, out string? problem)
    {
        text = null;
        textPair = null;
        problem = null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            problem = $"invalid JSON: {JsonKinds.Problem(ex)}";
            return false;
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = $"expected a JSON object, got {JsonKinds.Describe(root.ValueKind)}.";
                return false;
            }

            if (!root.TryGetProperty("text", out JsonElement t))
            {
                problem = "missing \"text\" field.";
                return false;
            }

            if (t.ValueKind != JsonValueKind.String)
            {
                problem = $"\"text\" must be a string, got {JsonKinds.Describe(t.ValueKind)}.";
                return false;
            }

            text = t.GetString();
            if (root.TryGetProperty("text_pair", out JsonElement p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.String)
                {
                    problem = $"\"text_pair\" must be a string or null, got {JsonKinds.Describe(p.ValueKind)}.";
                    return false;
                }

                textPair = p.GetString();
            }
        }

        return true;
    }

    private static void Write(Utf8JsonWriter writer, EncodedInput encoded)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("tokens");
        foreach (string token in encoded.Tokens)
        {
            writer.WriteStringValue(token);
        }

        writer.WriteEndArray();
        WriteInts(writer, "input_ids", encoded.InputIds);
        WriteInts(writer, "token_type_ids", encoded.TokenTypeIds);
        writer.WriteStartArray("offsets");
        foreach ((int start, int end) in encoded.Offsets)
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(start);
            writer.WriteNumberValue(end);
            writer.WriteEndArray();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteInts(Utf8JsonWriter writer, string name, int[] values)
    {
        writer.WriteStartArray(name);
        foreach (int v in values)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
    }
}
