using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MobileBert.PretrainingData;

/// <summary>How raw files become documents.</summary>
public sealed record CorpusReadOptions
{
    /// <summary>Skip (and report) unreadable or malformed files instead of throwing.</summary>
    public bool SkipBadFiles { get; init; }

    /// <summary>
    /// In .txt files, how many consecutive blank lines end a document. 1 (default, BERT's convention): every blank line
    /// ends a document. 2 or more: a single blank line only ends a paragraph (and a sentence), e.g. to make chapters
    /// rather than paragraphs the documents of a novel.
    /// </summary>
    public int BlankLinesBetweenDocuments { get; init; } = 1;

    /// <summary>
    /// In .txt files, remove a verse number that starts an indented line (KJV style <c>"  1 In the beginning"</c>) and
    /// start a new sentence there (a verse is at least one sentence). Only lines that start with whitespace, then
    /// digits, then whitespace are affected. Default true.
    /// </summary>
    public bool StripVerseNumbers { get; init; } = true;

    /// <summary>Documents with fewer sentences are dropped (default 1: keep every non-empty document, as BERT).</summary>
    public int MinSentencesPerDocument { get; init; } = 1;
}

/// <summary>One document: a source file, its position in that file, and its sentences.</summary>
public sealed record CorpusDocument(string SourcePath, int IndexInSource, IReadOnlyList<string> Sentences);

/// <summary>A file left out because it could not be read or parsed (<see cref="CorpusReadOptions.SkipBadFiles"/>).</summary>
public sealed record SkippedFile(string Path, string Reason);

/// <summary>An input file and the SHA-256 of its bytes.</summary>
public sealed record CorpusFile(string Path, long Bytes, string Sha256);

/// <summary>Documents read from a corpus.</summary>
public sealed class CorpusReadResult
{
    public required IReadOnlyList<CorpusDocument> Documents { get; init; }
    public required IReadOnlyList<CorpusFile> Files { get; init; }
    public required IReadOnlyList<SkippedFile> SkippedFiles { get; init; }
    /// <summary>Invalid UTF-8 sequences and unpaired surrogates replaced with U+FFFD (<see cref="MobileBert.Text.TextSanitizer"/>).</summary>
    public long Replaced { get; init; }
}

/// <summary>
/// Reads a corpus: files and folders (recursive; <c>.txt</c>, <c>.json</c>, <c>.jsonl</c>) into documents of sentences.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>.txt</c> (UTF-8): blank lines (see <see cref="CorpusReadOptions.BlankLinesBetweenDocuments"/>) and file ends
/// end documents; the lines of a paragraph are joined and split with <see cref="SentenceSplitter"/>.</item>
/// <item><c>.json</c>: an object with a string <c>"text"</c>, or an array of such objects; each object is a document
/// (blank lines inside the text separate paragraphs).</item>
/// <item><c>.jsonl</c>: one such object per non-blank line.</item>
/// </list>
/// <para>A file named explicitly is read whatever its extension (non-JSON extensions as text); folders contribute only
/// the three extensions, in ordinal order of their relative paths. Text is UTF-8 (a BOM is allowed); invalid bytes and
/// unpaired surrogates (also as JSON escapes) become U+FFFD, counted in <see cref="CorpusReadResult.Replaced"/>.</para>
/// </remarks>
public static class CorpusReader
{
    private static readonly Regex VerseNumber = new(@"^\s+\d+\s+", RegexOptions.Compiled | RegexOptions.CultureInvariant);
    private static readonly Regex BlankLines = new(@"\n[ \t\r\f\v]*\n", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>Input files in reading order.</summary>
    /// <exception cref="PretrainingDataException">A path does not exist, or a folder holds no corpus file.</exception>
    public static IReadOnlyList<string> EnumerateFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int count = 0;
        foreach (string p in paths)
        {
            count++;
            if (string.IsNullOrWhiteSpace(p)) throw new PretrainingDataException("An input path is empty.");
            string full = Path.GetFullPath(p);
            if (File.Exists(full))
            {
                if (seen.Add(full)) files.Add(full);
            }
            else if (Directory.Exists(full))
            {
                string[] found;
                try
                {
                    found = Directory.EnumerateFiles(full, "*", new EnumerationOptions {
                        RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
                        .Where(f => Extension(f) is ".txt" or ".json" or ".jsonl")
                        .OrderBy(f => Path.GetRelativePath(full, f).Replace('\\', '/'), StringComparer.Ordinal)
                        .ToArray();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new PretrainingDataException($"Cannot list the corpus folder '{full}': {ex.Message}", full, inner: ex);
                }

                if (found.Length == 0)
                    throw new PretrainingDataException($"The corpus folder '{full}' contains no .txt, .json or .jsonl files.", full);
                foreach (string f in found)
                    if (seen.Add(f)) files.Add(f);
            }
            else
            {
                throw new PretrainingDataException($"Corpus path not found: '{full}'.", full);
            }
        }

        if (count == 0) throw new PretrainingDataException("No corpus paths were given.");
        return files;
    }

    /// <summary>Reads every document of the corpus.</summary>
    /// <exception cref="PretrainingDataException">Bad input (unless skipped) or no document at all.</exception>
    public static CorpusReadResult Read(IEnumerable<string> paths, CorpusReadOptions? options = null)
    {
        options ??= new CorpusReadOptions();
        if (options.BlankLinesBetweenDocuments < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "BlankLinesBetweenDocuments must be at least 1.");
        IReadOnlyList<string> files = EnumerateFiles(paths);
        var docs = new List<CorpusDocument>();
        var skipped = new List<SkippedFile>();
        var hashes = new List<CorpusFile>();
        var sanitizer = new MobileBert.Text.TextSanitizer();
        foreach (string file in files)
        {
            try
            {
                byte[] bytes = ReadBytes(file);
                hashes.Add(new CorpusFile(file, bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes))));
                string text = sanitizer.Decode(bytes);
                if (Extension(file) is ".json" or ".jsonl") text = sanitizer.CleanJson(text);
                List<CorpusDocument> fileDocs = Extension(file) switch
                {
                    ".json" => ParseJson(file, text),
                    ".jsonl" => ParseJsonLines(file, text),
                    _ => ParseText(file, text, options),
                };
                docs.AddRange(fileDocs.Where(d => d.Sentences.Count >= Math.Max(1, options.MinSentencesPerDocument)));
            }
            catch (PretrainingDataException ex) when (options.SkipBadFiles)
            {
                skipped.Add(new SkippedFile(file, ex.Message));
            }
        }

        if (docs.Count == 0)
        {
            string what =
                files.Count == 1 ? $"'{files[0]}'"
                : $"{files.Count} files ({string.Join(", ", files.Take(3).Select(f => $"'{f}'"))}{(files.Count > 3 ? ", …" : "")})";
            string skip = skipped.Count > 0 ? $" ({skipped.Count} bad file(s) skipped: {skipped[0].Reason})" : "";
            throw new PretrainingDataException($"The corpus is empty: no document with text in {what}{skip}.", files.Count == 1 ? files[0] : null);
        }

        return new CorpusReadResult { Documents = docs, Files = hashes, SkippedFiles = skipped, Replaced = sanitizer.Replaced };
    }

    private static string Extension(string path) => Path.GetExtension(path).ToLowerInvariant();

    private static byte[] ReadBytes(string file)
    {
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new PretrainingDataException($"Cannot read corpus file '{file}': {ex.Message}", file, inner: ex);
        }
    }

    internal static List<CorpusDocument> ParseText(string file, string text, CorpusReadOptions options)
    {
        var docs = new List<CorpusDocument>();
        var sentences = new List<string>();
        var paragraph = new StringBuilder();
        int blankRun = 0;

        void EndParagraph()
        {
            if (paragraph.Length == 0) return;
            sentences.AddRange(SentenceSplitter.Split(paragraph.ToString()));
            paragraph.Clear();
        }

        void EndDocument()
        {
            EndParagraph();
            if (sentences.Count == 0) return;
            docs.Add(new CorpusDocument(file, docs.Count, sentences.ToArray()));
            sentences.Clear();
        }

        foreach (ReadOnlySpan<char> rawLine in text.AsSpan().EnumerateLines())
        {
            if (rawLine.IsWhiteSpace())
            {
                blankRun++;
                EndParagraph();
                if (blankRun == options.BlankLinesBetweenDocuments) EndDocument();
                continue;
            }

            blankRun = 0;
            string line = rawLine.ToString();
            if (options.StripVerseNumbers && VerseNumber.Match(line) is { Success: true } verse)
            {
                EndParagraph(); // a verse starts a new sentence
                line = line[verse.Length..];
            }

            if (paragraph.Length > 0) paragraph.Append(' ');
            paragraph.Append(line.Trim());
        }

        EndDocument();
        return docs;
    }

    private static List<string> SplitDocumentText(string text)
    {
        var sentences = new List<string>();
        foreach (string para in BlankLines.Split(text.Replace("\r\n", "\n")))
            sentences.AddRange(SentenceSplitter.Split(para));
        return sentences;
    }

    private static CorpusDocument? DocumentFromObject(string file, JsonElement element, int index, string where)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new PretrainingDataException($"Corpus file '{file}': {where} is a JSON {element.ValueKind}, expected an object with a \"text\" " +
                $"field.", file);
        if (!element.TryGetProperty("text", out JsonElement text))
            throw new PretrainingDataException($"Corpus file '{file}': {where} has no \"text\" field.", file);
        if (text.ValueKind == JsonValueKind.Null) return null;
        if (text.ValueKind != JsonValueKind.String)
            throw new PretrainingDataException($"Corpus file '{file}': the \"text\" field of {where} is a JSON {text.ValueKind}, expected a string.",
                file);
        List<string> sentences = SplitDocumentText(text.GetString()!);
        return sentences.Count == 0 ? null : new CorpusDocument(file, index, sentences);
    }

    private static List<CorpusDocument> ParseJson(string file, string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            long line = (ex.LineNumber ?? 0) + 1;
            throw new PretrainingDataException($"Malformed JSON in corpus file '{file}' at line {line}, " +
                $"byte {(ex.BytePositionInLine ?? 0) + 1}: {ex.Message}", file, line, ex);
        }

        using (doc)
        {
            var docs = new List<CorpusDocument>();
            JsonElement root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (JsonElement e in root.EnumerateArray())
                {
                    CorpusDocument? d = DocumentFromObject(file, e, docs.Count, $"array element {i}");
                    if (d is not null) docs.Add(d);
                    i++;
                }
            }
            else
            {
                CorpusDocument? d = DocumentFromObject(file, root, 0, "the root value");
                if (d is not null) docs.Add(d);
            }

            return docs;
        }
    }

    private static List<CorpusDocument> ParseJsonLines(string file, string text)
    {
        var docs = new List<CorpusDocument>();
        long lineNo = 0;
        foreach (ReadOnlySpan<char> line in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            if (line.IsWhiteSpace()) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line.ToString());
            }
            catch (JsonException ex)
            {
                throw new PretrainingDataException($"Malformed JSON in corpus file '{file}' at line {lineNo}: {ex.Message}", file, lineNo, ex);
            }

            using (doc)
            {
                CorpusDocument? d;
                try
                {
                    d = DocumentFromObject(file, doc.RootElement, docs.Count, $"line {lineNo}");
                }
                catch (PretrainingDataException ex)
                {
                    throw new PretrainingDataException(ex.Message, file, lineNo);
                }

                if (d is not null) docs.Add(d);
            }
        }

        return docs;
    }
}
