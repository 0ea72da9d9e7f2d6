using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;

namespace MobileBert.FineTuning;

/// <summary>
/// What the knowledge-transfer experiments (<see cref="KtExperiment"/>, <see cref="BertKtExperiment"/>) share: one folder per
/// run named by <see cref="Slug"/>, a <c>result.json</c> written atomically when a run finishes (so a re-run skips it), table
/// cells as mean ± sample standard deviation over seeds, and a report whose hand-written analysis below
/// <see cref="AnalysisMarker"/> survives regeneration.
/// </summary>
public static class ExperimentResults
{
    public const string AnalysisMarker = "<!-- analysis -->";

    /// <summary>A folder name for a method: letters and digits kept, spaces become '-', everything else dropped.</summary>
    public static string Slug(string name) => new([.. name.Where(c => char.IsLetterOrDigit(c) || c == ' ').Select(c => c == ' ' ? '-' : c)]);

    /// <summary>The result at <paramref name="path"/>, or an empty object when the run has not finished.</summary>
    public static JsonObject Read(string path) => File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))!.AsObject() : [];

    public static void Write(string path, JsonObject result)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string json = result.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteText(path, w => { w.Write(json); return 0; });
    }

    /// <summary>"m ± sd (v1, v2)" over the runs that have <paramref name="key"/> ("m" for one run, "—" for none); percentages
    /// scaled by 100. <paramref name="requireAll"/>: "—" unless every run has the value.</summary>
    public static string MeanSd(IEnumerable<JsonObject> runs, string key, bool percent, int decimals = 1, bool requireAll = false)
    {
        var all = runs.ToList();
        if (requireAll && all.Any(r => r[key] is null)) return "—";
        var v = all.Where(r => r[key] is not null).Select(r => r[key]!.GetValue<double>()).ToList();
        if (v.Count == 0) return "—";
        double m = v.Average(), sd = v.Count > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1)) : 0;
        string format = percent ? "F" + decimals : "F3";
        string F(double x) => (percent ? 100 * x : x).ToString(format, CultureInfo.InvariantCulture);
        return v.Count > 1 ? $"{F(m)} ± {F(sd)} ({string.Join(", ", v.Select(F))})" : F(m);
    }

    /// <summary>Appends the marker and the analysis found below it in the existing report, then writes the report.</summary>
    public static void WriteReport(string reportPath, StringBuilder generated)
    {
        generated.AppendLine(AnalysisMarker);
        string old = File.Exists(reportPath) ? File.ReadAllText(reportPath) : "";
        int marker = old.IndexOf(AnalysisMarker, StringComparison.Ordinal);
        if (marker >= 0) generated.Append(old[(marker + AnalysisMarker.Length)..]);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(reportPath))!);
        File.WriteAllText(reportPath, generated.ToString(), new UTF8Encoding(false));
    }
}
