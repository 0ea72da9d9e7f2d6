using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;

namespace MobileBert.Cli;

/// <summary>
/// The command-line flag of each library setting. Library errors name settings by their options property
/// (<see cref="MobileBertException.Settings"/>: <c>Lr</c>, <c>TeacherDir</c>); the CLI prints them as the flags users type
/// (<c>--lr</c>, <c>--teacher</c>). A property's flag is its kebab-case name unless listed here.
/// </summary>
public static class CliFlags
{
    static readonly Dictionary<string, string> Renamed = new(StringComparer.Ordinal)
    {
        ["OutputDir"] = "--out", ["TeacherDir"] = "--teacher", ["VocabPath"] = "--vocab", ["ModelDir"] = "--model", ["Config"] = "--init-config",
        ["WarmupProportion"] = "--warmup", ["NBestSize"] = "--n-best", ["LayerMapSpec"] = "--layer-map", ["PredictionsPath"] = "--output",
        ["RepoRoot"] = "--data-root", ["Weights.FeatureMap"] = "--fmt-weight", ["Weights.Mean"] = "--mean-weight",
        ["Weights.Variance"] = "--var-weight", ["Weights.Attention"] = "--at-weight", ["Weights.Alpha"] = "--alpha",
        ["Weights.Temperature"] = "--temperature",
    };

    /// <summary>"Lr" → "--lr", "StepsPerLayer" → "--steps-per-layer", "TeacherDir" → "--teacher".</summary>
    public static string Of(string setting)
    {
        if (Renamed.TryGetValue(setting, out var flag)) return flag;
        var sb = new StringBuilder("--");
        for (int i = 0; i < setting.Length; i++)
        {
            char c = setting[i];
            if (char.IsUpper(c) && i > 0 && !char.IsUpper(setting[i - 1])) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>The exception's message with each setting it names written as its flag.</summary>
    public static string Message(Exception e)
    {
        if (e is not MobileBertException { Settings.Count: > 0 } m) return e.Message;
        string text = m.Message;
        foreach (var s in m.Settings.OrderByDescending(s => s.Length))
            text = Regex.Replace(text, $@"(?<![\w.-]){Regex.Escape(s)}(?![\w-])", Of(s));
        return text;
    }

    /// <summary><c>--int8-kernel</c> (predict, quantize, serve): <see cref="MobileBert.Inference.InferenceOptions.Int8Kernel"/>.</summary>
    public static Option<MobileBert.Kernels.Int8Path> Int8KernelOption() => new("--int8-kernel")
    {
        Description = "int8 GEMM kernel for quantized weights: Auto (the fastest this CPU has), AvxVnni, Avx512Bw (7-bit activations), Avx2 " +
            "(8-bit on AVX-512 CPUs without AVX-VNNI, slower) or Scalar.",
        DefaultValueFactory = _ => MobileBert.Kernels.Int8Path.Auto,
    };
}
