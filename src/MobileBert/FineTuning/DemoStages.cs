using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MobileBert.FineTuning;

/// <summary>
/// The demo's resumable stages: each stage records its result and the settings it (and every stage before it) used in
/// OUT/stages/ID.json, written atomically; a rerun with the same settings skips it, a changed upstream setting redoes it.
/// </summary>
internal sealed class DemoStages(string outDir, int count, Action<string> log)
{
    readonly JsonObject _settings = new();
    int _number;

    public List<(string Stage, double Seconds, bool Skipped)> Done { get; } = [];
    public int Number => _number;

    /// <summary>Adds a setting the next stages depend on.</summary>
    public void Use(string key, JsonNode? value) => _settings[key] = value?.DeepClone();

    /// <summary>Announces the next stage number (for a stage that has no marker, e.g. the report).</summary>
    public void Announce(string title) => log($"\n== [{++_number}/{count}] {title} ==");

    public JsonObject Run(string id, string title, Func<JsonObject> body)
    {
        Announce(title);
        string marker = Path.Combine(outDir, "stages", id + ".json");
        if (File.Exists(marker))
        {
            var saved = JsonNode.Parse(File.ReadAllText(marker))!.AsObject();
            if (saved["settings"]!.ToJsonString() == _settings.ToJsonString())
            {
                log($"   done in an earlier run ({saved["seconds"]!.GetValue<double>():F0} s); skipped. Delete {marker} to redo it.");
                Done.Add((id, saved["seconds"]!.GetValue<double>(), true));
                return saved["result"]!.AsObject();
            }
            log($"   the settings changed since the earlier run ({marker}); redoing this stage.");
            File.Delete(marker);
        }
        var sw = Stopwatch.StartNew();
        var result = body();
        double secs = sw.Elapsed.TotalSeconds;
        var doc = new JsonObject { ["settings"] = _settings.DeepClone(), ["seconds"] = secs, ["result"] = result };
        string json = doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        Checkpoints.AtomicFile.WriteText(marker, w => { w.Write(json); return 0; });
        Done.Add((id, secs, false));
        log($"   stage time {secs:F1} s");
        return result;
    }
}
