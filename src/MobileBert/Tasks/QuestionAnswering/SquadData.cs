using System.Text;
using System.Text.Json;
using MobileBert.Text;

namespace MobileBert.Tasks.QuestionAnswering;

/// <summary>One gold answer: its text and the UTF-16 index of its first character in the context.</summary>
public sealed record SquadAnswer(string Text, int AnswerStart)
{
    /// <summary>Exclusive end index in the context (<c>AnswerStart + Text.Length</c>).</summary>
    public int AnswerEnd => AnswerStart + Text.Length;
}

/// <summary>One question of a SQuAD file together with its paragraph's context.</summary>
/// <param name="Id">The question id (<c>qas[].id</c>).</param>
/// <param name="Title">Title of the article the paragraph belongs to (may be empty).</param>
/// <param name="Context">The paragraph text.</param>
/// <param name="Question">The question text.</param>
/// <param name="Answers">Gold answers; empty for unanswerable (v2) questions.</param>
/// <param name="IsImpossible">v2 <c>is_impossible</c> (false when absent).</param>
public sealed record SquadExample(string Id, string Title, string Context, string Question, IReadOnlyList<SquadAnswer> Answers, bool IsImpossible)
{
    /// <summary>v2 <c>plausible_answers</c> of an unanswerable question (empty when absent).</summary>
    public IReadOnlyList<SquadAnswer> PlausibleAnswers { get; init; } = [];

    /// <summary>JSON path of the question in its file, e.g. <c>data[3].paragraphs[2].qas[0]</c>.</summary>
    public string JsonPath { get; init; } = "";

    /// <summary>Whether the question has at least one gold answer (official v2 <c>qid_to_has_ans</c>: <c>bool(qa['answers'])</c>).</summary>
    public bool HasAnswer => Answers.Count > 0;
}

/// <summary>An answer whose <c>answer_start</c>/<c>text</c> do not match the context, skipped with <see
/// cref="SquadReadOptions.SkipInconsistentAnswers"/>.</summary>
/// <param name="JsonPath">JSON path of the answer, e.g. <c>data[0].paragraphs[1].qas[2].answers[0]</c>.</param>
/// <param name="Message">What is wrong.</param>
public sealed record SquadIssue(string JsonPath, string Message);

/// <summary>Options of <see cref="SquadReader"/>.</summary>
public sealed record SquadReadOptions
{
    /// <summary>
    /// When false (default) an answer whose text is not <c>context.Substring(answer_start, text.Length)</c> is an error.
    /// When true such answers (and <c>plausible_answers</c>) are left out of the example and listed in
    /// <see cref="SquadDataset.SkippedAnswers"/>; a question left with no answers although it was answerable is skipped
    /// as a whole and listed in <see cref="SquadDataset.SkippedQuestions"/>. Nothing is dropped silently.
    /// </summary>
    public bool SkipInconsistentAnswers { get; init; }

    /// <summary>Reject duplicate question ids (default true: predictions are keyed by id).</summary>
    public bool RequireUniqueIds { get; init; } = true;
}

/// <summary>A parsed SQuAD file.</summary>
public sealed class SquadDataset
{
    internal SquadDataset(string source, string version, IReadOnlyList<SquadExample> examples, IReadOnlyList<SquadIssue> skippedAnswers,
        IReadOnlyList<SquadIssue> skippedQuestions)
    {
        Source = source; Version = version; Examples = examples; SkippedAnswers = skippedAnswers; SkippedQuestions = skippedQuestions;
    }

    /// <summary>File name (or the name given to <see cref="SquadReader.Parse"/>).</summary>
    public string Source { get; }

    /// <summary>The top-level <c>version</c> string ("1.1", "v2.0", …; empty when absent).</summary>
    public string Version { get; }

    /// <summary>Questions in file order.</summary>
    public IReadOnlyList<SquadExample> Examples { get; }

    /// <summary>Inconsistent answers left out (only with <see cref="SquadReadOptions.SkipInconsistentAnswers"/>).</summary>
    public IReadOnlyList<SquadIssue> SkippedAnswers { get; }

    /// <summary>Answerable questions left without any consistent answer and therefore skipped.</summary>
    public IReadOnlyList<SquadIssue> SkippedQuestions { get; }

    /// <summary>Invalid UTF-8 sequences and unpaired surrogates replaced with U+FFFD while reading (<see
    /// cref="MobileBert.Text.TextSanitizer"/>).</summary>
    public long Replaced { get; internal set; }

    /// <summary>Whether any question is unanswerable (then the v2 evaluation applies).</summary>
    public bool HasImpossible => Examples.Any(e => !e.HasAnswer);

    /// <summary>The first <paramref name="count"/> questions in file order (all when null or larger), for quick runs.</summary>
    public SquadDataset Take(int? count) => count is not { } n || n >= Examples.Count ? this
        : new SquadDataset(Source, Version, [.. Examples.Take(n)], SkippedAnswers, SkippedQuestions) { Replaced = Replaced };
}

/// <summary>A SQuAD file is malformed; <see cref="JsonPath"/> says where.</summary>
public sealed class SquadFormatException : MobileBertException
{
    public SquadFormatException(string source, string jsonPath, string message, Exception? inner = null)
        : base($"{source}: {jsonPath}: {message}", inner)
    {
        FileName = source; JsonPath = jsonPath;
    }

    /// <summary>File (or source name) being read.</summary>
    public string FileName { get; }

    /// <summary>JSON path of the offending element, e.g. <c>data[3].paragraphs[2].qas[0].answers[0].answer_start</c> (<c>$</c> for the
    /// root).</summary>
    public string JsonPath { get; }
}

/// <summary>Reads SQuAD v1.1 / v2.0 JSON (<c>data → paragraphs → context, qas → id, question, answers, is_impossible,
/// plausible_answers</c>).</summary>
public static class SquadReader
{
    /// <summary>Reads and validates a SQuAD file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SquadFormatException">The file is not valid JSON or not a valid SQuAD file (message names file and JSON path).</exception>
    public static SquadDataset Read(string path, SquadReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"SQuAD file not found: '{path}'.", path);
        var sanitizer = new MobileBert.Text.TextSanitizer();
        var data = ParseClean(sanitizer.ReadAllText(path), path, options, sanitizer);
        data.Replaced = sanitizer.Replaced;
        return data;
    }

    /// <summary>Parses SQuAD JSON text; <paramref name="source"/> names it in error messages.</summary>
    public static SquadDataset Parse(string json, string source = "<json>", SquadReadOptions? options = null) =>
        ParseClean(json, source, options, new MobileBert.Text.TextSanitizer());

    static SquadDataset ParseClean(string json, string source, SquadReadOptions? options, MobileBert.Text.TextSanitizer sanitizer)
    {
        ArgumentNullException.ThrowIfNull(json);
        json = sanitizer.CleanJson(json);
        options ??= new SquadReadOptions();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            string where = ex.LineNumber is long l ? $"line {l + 1}, byte {ex.BytePositionInLine + 1}" : "unknown position";
            throw new SquadFormatException(source, ex.Path is { Length: > 0 } p ? p : "$", $"invalid JSON at {where}: {ex.Message}", ex);
        }

        using (doc)
        {
            var examples = new List<SquadExample>();
            var skippedAnswers = new List<SquadIssue>();
            var skippedQuestions = new List<SquadIssue>();
            var ids = new Dictionary<string, string>(StringComparer.Ordinal);
            JsonElement root = doc.RootElement;
            Expect(root, JsonValueKind.Object, source, "$");
            string version = root.TryGetProperty("version", out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            JsonElement data = Required(root, "data", JsonValueKind.Array, source, "$", "data");
            int ai = 0;
            foreach (JsonElement article in data.EnumerateArray())
            {
                string ap = $"data[{ai++}]";
                Expect(article, JsonValueKind.Object, source, ap);
                string title = article.TryGetProperty("title", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                JsonElement paragraphs = Required(article, "paragraphs", JsonValueKind.Array, source, ap, $"{ap}.paragraphs");
                int pi = 0;
                foreach (JsonElement paragraph in paragraphs.EnumerateArray())
                {
                    string pp = $"{ap}.paragraphs[{pi++}]";
                    Expect(paragraph, JsonValueKind.Object, source, pp);
                    string context = Required(paragraph, "context", JsonValueKind.String, source, pp, $"{pp}.context").GetString()!;
                    JsonElement qas = Required(paragraph, "qas", JsonValueKind.Array, source, pp, $"{pp}.qas");
                    int qi = 0;
                    foreach (JsonElement qa in qas.EnumerateArray())
                    {
                        string qp = $"{pp}.qas[{qi++}]";
                        Expect(qa, JsonValueKind.Object, source, qp);
                        JsonElement idElement = Required(qa, "id", null, source, qp, $"{qp}.id");
                        string id = idElement.ValueKind switch
                        {
                            JsonValueKind.String => idElement.GetString()!,
                            JsonValueKind.Number => idElement.GetRawText(),
                            _ => throw new SquadFormatException(source, $"{qp}.id",
                                $"expected a string, found {JsonKinds.Describe(idElement.ValueKind)}."),
                        };
                        if (options.RequireUniqueIds && !ids.TryAdd(id, qp))
                            throw new SquadFormatException(source, $"{qp}.id", $"duplicate question id '{id}' (first used at {ids[id]}).");
                        string question = Required(qa, "question", JsonValueKind.String, source, qp, $"{qp}.question").GetString()!;
                        bool impossible = false;
                        if (qa.TryGetProperty("is_impossible", out JsonElement imp))
                        {
                            impossible = imp.ValueKind switch
                            {
                                JsonValueKind.True => true,
                                JsonValueKind.False => false,
                                _ => throw new SquadFormatException(source, $"{qp}.is_impossible",
                                    $"expected true or false, found {JsonKinds.Describe(imp.ValueKind)}."),
                            };
                        }

                        JsonElement answersElement = Required(qa, "answers", JsonValueKind.Array, source, qp, $"{qp}.answers");
                        int declared = answersElement.GetArrayLength();
                        List<SquadAnswer> answers = ReadAnswers(answersElement, context, source, $"{qp}.answers", options, skippedAnswers);
                        List<SquadAnswer> plausible = qa.TryGetProperty("plausible_answers", out JsonElement pa)
                            ? ReadAnswers(ExpectArray(pa, source, $"{qp}.plausible_answers"), context, source, $"{qp}.plausible_answers", options,
                            skippedAnswers)
                            : [];
                        if (impossible && declared > 0)
                            throw new SquadFormatException(source, $"{qp}.answers",
                                "an unanswerable question (is_impossible: true) must have an empty 'answers' list.");
                        if (!impossible && declared > 0 && answers.Count == 0)
                        {
                            skippedQuestions.Add(new SquadIssue(qp, $"question '{id}': none of its {declared} answers matches the context; " +
                                $"question skipped."));
                            continue;
                        }

                        examples.Add(new SquadExample(id, title, context, question, answers, impossible) {
                            PlausibleAnswers = plausible, JsonPath = qp });
                    }
                }
            }

            return new SquadDataset(source, version, examples, skippedAnswers, skippedQuestions);
        }
    }

    private static List<SquadAnswer> ReadAnswers(JsonElement array, string context, string source, string path, SquadReadOptions options,
        List<SquadIssue> skipped)
    {
        var list = new List<SquadAnswer>();
        int i = 0;
        foreach (JsonElement a in array.EnumerateArray())
        {
            string ap = $"{path}[{i++}]";
            Expect(a, JsonValueKind.Object, source, ap);
            string text = Required(a, "text", JsonValueKind.String, source, ap, $"{ap}.text").GetString()!;
            JsonElement s = Required(a, "answer_start", JsonValueKind.Number, source, ap, $"{ap}.answer_start");
            if (!s.TryGetInt32(out int start))
                throw new SquadFormatException(source, $"{ap}.answer_start", $"expected an integer, found {s.GetRawText()}.");
            string? problem = null;
            if (start < 0 || start > context.Length)
                problem = $"answer_start {start} is outside the context (length {context.Length}).";
            else if (start + (long)text.Length > context.Length)
                problem = $"answer text '{Clip(text)}' (length {text.Length}) starting at {start} runs past the end of the context " +
                    $"(length {context.Length}).";
            else if (string.CompareOrdinal(context, start, text, 0, text.Length) != 0)
                problem = $"answer text '{Clip(text)}' does not match the context at answer_start {start}, which has " +
                    $"'{Clip(context.Substring(start, text.Length))}'.";
            if (problem is not null)
            {
                if (!options.SkipInconsistentAnswers) throw new SquadFormatException(source, $"{ap}.answer_start", problem);
                skipped.Add(new SquadIssue(ap, problem));
                continue;
            }

            list.Add(new SquadAnswer(text, start));
        }

        return list;
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";

    private static JsonElement Required(JsonElement obj, string name, JsonValueKind? kind, string source, string objPath, string path)
    {
        if (!obj.TryGetProperty(name, out JsonElement e))
            throw new SquadFormatException(source, objPath, $"missing required property '{name}'.");
        if (kind is { } k) Expect(e, k, source, path);
        return e;
    }

    private static JsonElement ExpectArray(JsonElement e, string source, string path)
    {
        Expect(e, JsonValueKind.Array, source, path);
        return e;
    }

    private static void Expect(JsonElement e, JsonValueKind kind, string source, string path)
    {
        if (e.ValueKind != kind)
            throw new SquadFormatException(source, path, $"expected {JsonKinds.Describe(kind)}, found {JsonKinds.Describe(e.ValueKind)}.");
    }
}
