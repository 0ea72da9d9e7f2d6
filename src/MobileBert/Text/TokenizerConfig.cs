using System.Text.Json;
using System.Text.Json.Nodes;

namespace MobileBert.Text;

/// <summary>
/// HF's <c>tokenizer_config.json</c>, kept beside a model's vocab.txt: whether its WordPiece tokenizer lowercases and strips
/// accents (<c>do_lower_case</c>; absent: true, BertTokenizer's default, as for bert-base-uncased). A cased model
/// (bert-base-cased, most NER models) says <c>"do_lower_case": false</c>; read with the uncased default, its capitalised
/// words would be cut into the wrong tokens without any error, so every model folder's tokenizer goes through here and the
/// file travels with the vocab into every folder written from it (<c>ModelFolder.CopyVocab</c>).
/// </summary>
public static class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";

    /// <summary>do_lower_case of the tokenizer_config.json beside <paramref name="vocabPath"/> (true when there is none).
    /// strip_accents may only repeat it (or be null): HF strips accents of cased text, or keeps those of lowercased text,
    /// only when asked, which this tokenizer does not do; such a file is refused, naming it.</summary>
    public static bool LowerCase(string vocabPath)
    {
        string path = PathBeside(vocabPath);
        if (!File.Exists(path)) return true;
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON ({e.Message.Split(" LineNumber:")[0]})."); }
        if (root is not JsonObject o) throw new InvalidDataException($"{path}: must be a JSON object.");
        bool? Flag(string name) => o[name] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            _ => throw new InvalidDataException($"{path}: '{name}' must be true, false or null."),
        };
        bool lower = Flag("do_lower_case") ?? true;
        if (Flag("strip_accents") is { } strip && strip != lower)
            throw new InvalidDataException($"{path}: strip_accents = {(strip ? "true" : "false")} with do_lower_case = {(lower ? "true" : "false")}" +
                " is not supported (accents are stripped exactly when text is lowercased).");
        return lower;
    }

    /// <summary>Where the tokenizer_config.json of <paramref name="vocabPath"/> is: beside it.</summary>
    public static string PathBeside(string vocabPath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(vocabPath)) ?? ".", FileName);
}
