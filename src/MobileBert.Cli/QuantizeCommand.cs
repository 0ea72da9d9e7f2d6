using System.CommandLine;
using System.Globalization;
using MobileBert.Checkpoints;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert.Cli;

/// <summary>
/// `mobilebert quantize --model DIR --out DIR [...]`: int8 post-training quantization (per-output-channel symmetric
/// int8 weights, dynamic per-token activations) with a per-layer / per-role error report, optional automatic choice of
/// layers kept fp32, and (with --eval FILE) fp32 vs int8 accuracy on labelled examples.
/// </summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "fp32 model folder (config.json + model.safetensors or pytorch_model.bin [+ vocab.txt]).", Required = true,
        };
        var output = new Option<string?>("--out") { Description = "Output folder (config.json + model.int8.safetensors [+ vocab.txt]). Omit with " +
            "--eval to only measure." };
        var keep = new Option<string?>("--keep-fp32") { Description = "Comma-separated substrings of weight names to keep fp32 (e.g. " +
            "attention.self,output.bottleneck)." };
        var keepLayers = new Option<string?>("--keep-layers") { Description = "Comma-separated layer indices kept fp32." };
        var maxError = new Option<double?>("--max-error") { Description = "Keep the most sensitive layers fp32 until the calibration error (logits " +
            "if a classifier exists, else last hidden state; relative to max|fp32|) is ≤ this." };
        var maxKept = new Option<int>("--max-kept-layers") { Description = "Upper bound of layers --max-error may keep fp32.",
            DefaultValueFactory = _ => 4 };
        var embT = new Option<bool>("--quantize-embedding-transformation") {
            Description = "Also quantize the embedding transformation (default: fp32)." };
        var calib = new Option<int>("--calibration") { Description = "Random calibration sequences for the error report.",
            DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "Length of the calibration sequences.", DefaultValueFactory = _ => 128 };
        var perLayer = new Option<bool>("--per-layer") { Description = "Print every layer's error (quantizing that layer alone) and every role's." };
        var eval = new Option<string?>("--eval") { Description = "Labelled JSON ([{\"text\":…,\"class\":0|1}] or JSON lines with \"label\") to " +
            "report fp32 vs int8 accuracy (needs vocab.txt)." };
        var threads = new Option<int>("--threads") { Description = "Threads (0: all cores).", DefaultValueFactory = _ => 0 };
        var kernel = CliFlags.Int8KernelOption();
        var cmd = new Command("quantize", "Int8 post-training quantization of a model folder, with an error report.") {
            model, output, keep, keepLayers, maxError, maxKept, embT, calib, seq, perLayer, eval, threads, kernel };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            string dir = r.GetValue(model)!; string? outDir = r.GetValue(output); string? evalPath = r.GetValue(eval);
            if (outDir is null && evalPath is null) throw new InputException("--out is required (or --eval to only measure).");
            ModelFolder.RequireFolder(dir);
            if (outDir is not null && !File.Exists(Path.Combine(dir, ModelFolder.VocabFile)))
                throw new InputException($"{Path.Combine(dir, ModelFolder.VocabFile)}: missing; the quantized folder needs the model's vocab.txt " +
                    $"so predict and TextClassifier can use it (copy it into {dir}).");
            var m = ModelFolder.Load(dir);
            int t = r.GetValue(threads);
            var policy = new QuantizationPolicy { QuantizeEmbeddingTransformation = r.GetValue(embT) };
            if (r.GetValue(keep) is { } k) policy.KeepFp32 = [.. k.Split(',',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            if (r.GetValue(keepLayers) is { } kl)
                foreach (var part in kl.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    policy.KeepLayersFp32.Add(int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int v)
                        && v < m.Config.NumHiddenLayers ? v
                        : throw new InputException($"--keep-layers: '{part}' is not a layer index (0…{m.Config.NumHiddenLayers - 1})."));
            int n = r.GetValue(calib), s = Math.Min(r.GetValue(seq), m.Config.MaxPositionEmbeddings);
            if (n < 1 || s < 2) throw new InputException("--calibration and --seq must be positive (seq ≥ 2).");
            var rng = new Random(1234);
            var inputs = Enumerable.Range(0, n).Select(_ =>
            {
                var ids = new int[s];
                for (int i = 0; i < s; i++) ids[i] = rng.Next(Math.Min(1000, m.Config.VocabSize - 1), m.Config.VocabSize);
                ids[0] = Math.Min(101, m.Config.VocabSize - 1); ids[^1] = Math.Min(102, m.Config.VocabSize - 1);
                return new ModelInput(1, s, ids);
            }).ToList();
            var analysis = new QuantizationAnalysis(m, inputs, t, r.GetValue(kernel));
            if (r.GetValue(perLayer))
            {
                foreach (var (role, e) in analysis.PerRole(policy)) Console.WriteLine($"role {role,-15} alone int8: {e}");
            }
            IReadOnlyList<(int Layer, QuantError Error)>? layers = null;
            if (r.GetValue(perLayer) || r.GetValue(maxError) is not null)
            {
                layers = analysis.PerLayer(policy);
                if (r.GetValue(perLayer)) foreach (var (l, e) in layers) Console.WriteLine($"layer {l,3} alone int8: {e}");
            }
            QuantError err;
            if (r.GetValue(maxError) is { } me) (policy, err) = analysis.KeepSensitiveLayers(policy, layers!, me, r.GetValue(maxKept));
            else err = analysis.Measure(QuantizedWeights.Quantize(m, policy));
            var q = QuantizedWeights.Quantize(m, policy);
            int total = QuantizedWeights.AllLinears(m).Count();
            Console.WriteLine($"int8: {q.Count} of {total} Linears; fp32 " +
                $"layers: {(policy.KeepLayersFp32.Count == 0 ? "none" : string.Join(",", policy.KeepLayersFp32.Order()))}; calibration error " +
                $"({n}×{s} random tokens): {err}");
            if (evalPath is not null)
            {
                string vocab = Path.Combine(dir, ModelFolder.VocabFile);
                if (!File.Exists(vocab)) throw new InputException($"{vocab}: --eval needs the model folder's vocab.txt.");
                var tok = WordPieceTokenizer.FromVocabFile(vocab);
                var examples = AccuracyEvaluation.Read(evalPath, m.Config.Labels);
                using var e32 = new InferenceEngine(m, new InferenceOptions { Threads = t });
                using var e8 = new InferenceEngine(m, new InferenceOptions { Threads = t, Quantized = q, Int8Kernel = r.GetValue(kernel) });
                Console.WriteLine($"accuracy on {evalPath}: {AccuracyEvaluation.Compare(e32, e8, tok, examples)}");
            }
            if (outDir is not null)
            {
                string? vocab = Path.Combine(dir, ModelFolder.VocabFile);
                var meta = new Dictionary<string, string>
                {
                    ["fp32_layers"] = string.Join(",", policy.KeepLayersFp32.Order()),
                    ["keep_fp32_patterns"] = string.Join(",", policy.KeepFp32),
                    ["calibration_error"] = err.ToString(),
                };
                QuantizedCheckpoint.Save(m, q, outDir, File.Exists(vocab) ? vocab : null, meta);
                // The task description (labels, max length) travels with the model, so TextClassifier/`predict` load the int8 folder like the fp32
                // one.
                string taskJson = Path.Combine(dir, MobileBert.Tasks.TaskInfo.FileName);
                if (File.Exists(taskJson) && Path.GetFullPath(dir) != Path.GetFullPath(outDir)) File.Copy(
                    taskJson, Path.Combine(outDir, MobileBert.Tasks.TaskInfo.FileName), overwrite: true);
                Console.Error.WriteLine($"wrote {outDir}");
            }
            return 0;
        }));
        return cmd;
    }
}
