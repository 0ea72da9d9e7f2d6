using System.Text.Json;
using System.Text.Json.Nodes;

namespace MobileBert.PretrainingData;

/// <summary>One shard file listed in a manifest (path relative to the manifest's folder).</summary>
public sealed record ShardInfo(string File, int Examples, long Bytes, string Sha256);

/// <summary>Counts of one split, for reports.</summary>
public sealed record SplitStats(int Documents, int Examples, int RandomNext, long Tokens, long MaskedTokens, int ShortTargets)
{
    public double RandomNextFraction => Examples == 0 ? 0 : (double)RandomNext / Examples;
    public double MeanLength => Examples == 0 ? 0 : (double)Tokens / Examples;
}

/// <summary>One split (train or held-out) of a manifest.</summary>
public sealed record SplitInfo(IReadOnlyList<ShardInfo> Shards, SplitStats Stats)
{
    public int Examples => Stats.Examples;
}

/// <summary>
/// <c>manifest.json</c> of a shard folder: the settings, seed and input hashes that produced the shards, and the shard
/// list per split. A build with the same <see cref="ReuseKey"/> reuses the shards.
/// </summary>
public sealed class PretrainingManifest
{
    public const string FileName = "manifest.json";
    public const string Format = "mobilebert-pretraining-shards";
    public const int FormatVersion = 1;
    public const string TrainSplit = "train";
    public const string HeldOutSplit = "heldout";

    public required string ReuseKey { get; init; }
    public required long Seed { get; init; }
    public required JsonObject Settings { get; init; }
    public required string InputsHash { get; init; }
    public required string VocabHash { get; init; }
    public required int VocabSize { get; init; }
    public required int PadId { get; init; }
    public required int MaxSeqLength { get; init; }
    public required int MaxPredictionsPerSeq { get; init; }
    public required IReadOnlyList<CorpusFile> Inputs { get; init; }
    public required IReadOnlyList<SkippedFile> SkippedFiles { get; init; }
    public required IReadOnlyDictionary<string, SplitInfo> Splits { get; init; }
    public double BuildSeconds { get; init; }
    /// <summary>Invalid UTF-8 sequences and unpaired surrogates of the inputs replaced with U+FFFD.</summary>
    public long ReplacedCharacters { get; init; }

    public JsonObject ToJson()
    {
        var splits = new JsonObject();
        foreach ((string name, SplitInfo s) in Splits)
        {
            splits[name] = new JsonObject
            {
                ["documents"] = s.Stats.Documents,
                ["examples"] = s.Stats.Examples,
                ["randomNext"] = s.Stats.RandomNext,
                ["tokens"] = s.Stats.Tokens,
                ["maskedTokens"] = s.Stats.MaskedTokens,
                ["shortTargets"] = s.Stats.ShortTargets,
                ["shards"] = new JsonArray(s.Shards.Select(h => (JsonNode)new JsonObject
                {
                    ["file"] = h.File, ["examples"] = h.Examples, ["bytes"] = h.Bytes, ["sha256"] = h.Sha256,
                }).ToArray()),
            };
        }

        return new JsonObject
        {
            ["format"] = Format,
            ["formatVersion"] = FormatVersion,
            ["reuseKey"] = ReuseKey,
            ["seed"] = Seed,
            ["settings"] = Settings.DeepClone(),
            ["inputsHash"] = InputsHash,
            ["vocabHash"] = VocabHash,
            ["vocabSize"] = VocabSize,
            ["padId"] = PadId,
            ["maxSeqLength"] = MaxSeqLength,
            ["maxPredictionsPerSeq"] = MaxPredictionsPerSeq,
            ["buildSeconds"] = Math.Round(BuildSeconds, 3),
            ["replacedCharacters"] = ReplacedCharacters,
            ["inputs"] = new JsonArray(Inputs.Select(f => (JsonNode)new JsonObject { ["path"] = f.Path, ["bytes"] = f.Bytes, ["sha256"] = f.Sha256 })
                .ToArray()),
            ["skippedFiles"] = new JsonArray(SkippedFiles.Select(f => (JsonNode)new JsonObject { ["path"] = f.Path, ["reason"] = f.Reason })
                .ToArray()),
            ["splits"] = splits,
        };
    }

    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Reads a manifest file.</summary>
    /// <exception cref="InvalidDataException">Not a valid manifest.</exception>
    public static PretrainingManifest Load(string path)
    {
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            if ((string?)o["format"] != Format) throw new InvalidDataException($"'{path}' is not a {Format} manifest.");
            if ((int?)o["formatVersion"] != FormatVersion) throw new InvalidDataException(
                $"Manifest '{path}' has format version {o["formatVersion"]}; expected {FormatVersion}.");
            var splits = new Dictionary<string, SplitInfo>();
            foreach ((string name, JsonNode? node) in o["splits"]!.AsObject())
            {
                var s = node!.AsObject();
                var shards = s["shards"]!.AsArray().Select(x => new ShardInfo(
                    (string)x!["file"]!, (int)x["examples"]!, (long)x["bytes"]!, (string)x["sha256"]!)).ToArray();
                var stats = new SplitStats((int)s["documents"]!, (int)s["examples"]!, (int)s["randomNext"]!, (long)s["tokens"]!,
                    (long)s["maskedTokens"]!, (int)s["shortTargets"]!);
                splits[name] = new SplitInfo(shards, stats);
            }

            return new PretrainingManifest
            {
                ReuseKey = (string)o["reuseKey"]!,
                Seed = (long)o["seed"]!,
                Settings = o["settings"]!.DeepClone().AsObject(),
                InputsHash = (string)o["inputsHash"]!,
                VocabHash = (string)o["vocabHash"]!,
                VocabSize = (int)o["vocabSize"]!,
                PadId = (int)o["padId"]!,
                MaxSeqLength = (int)o["maxSeqLength"]!,
                MaxPredictionsPerSeq = (int)o["maxPredictionsPerSeq"]!,
                BuildSeconds = (double?)o["buildSeconds"] ?? 0,
                ReplacedCharacters = (long?)o["replacedCharacters"] ?? 0,
                Inputs = o["inputs"]!.AsArray().Select(x => new CorpusFile((string)x!["path"]!, (long)x["bytes"]!, (string)x["sha256"]!)).ToArray(),
                SkippedFiles = o["skippedFiles"]!.AsArray().Select(x => new SkippedFile((string)x!["path"]!, (string)x["reason"]!)).ToArray(),
                Splits = splits,
            };
        }
        catch (Exception ex) when (ex is JsonException or NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"Manifest '{path}' is malformed: {ex.Message}", ex);
        }
    }
}
