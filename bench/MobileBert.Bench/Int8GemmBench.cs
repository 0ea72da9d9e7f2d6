using System.Diagnostics;
using System.Globalization;
using MobileBert.Inference;
using MobileBert.Kernels;

namespace MobileBert.Bench;

/// <summary>int8 GEMM (u8×s8→i32, dequantizing epilogue) and activation quantization on MobileBERT shapes, 1 thread,
/// against the fp32 packed GEMM of the same shape: best-of and median per call, GOP/s = 2·m·n·k / time.</summary>
internal static unsafe class Int8GemmBench
{
    public static int Run(string[] args)
    {
        int m = 128, rounds = 15;
        for (int i = 0; i < args.Length; i++)
            switch (args[i])
            {
                case "--m": m = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"int8-gemm: unknown option {args[i]}"); return 2;
            }
        var paths = new[] { Int8Path.Avx2, Int8Path.Avx512Bw, Int8Path.AvxVnni }.Where(Int8Gemm.IsSupported).ToArray();
        Console.WriteLine($"int8 path {Int8Gemm.Resolve(Int8Path.Auto)}, m = {m}, 1 thread; µs per call: median (best) over {rounds} rounds of " +
            "≥ 2 ms; GOP/s = 2·m·n·k / best");
        Console.WriteLine("   n     k | quantize µs  ns/value | " + string.Join(" | ", paths.Select(p => $"{p,-8} µs   GOP/s")) +
            " | fp32 GEMM µs  GFLOP/s");
        var rng = new Random(1);
        // MobileBERT (128/512-wide) and plain BERT / MiniLM (384-wide, FFN 1536) shapes
        foreach (var (n, k) in new[] { (128, 512), (512, 128), (384, 512), (256, 128), (128, 128), (1152, 384), (1536, 384), (384, 1536) })
        {
            var x = new float[m * k]; for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var w = new float[n * k]; for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5);
            var bias = new float[n];
            var ql = QuantizedLinear.From(w, n, k);
            var p8 = Int8Gemm.Pack(ql.Weights, ql.Scales, k, n);
            var p32 = Gemm.Pack(w, k, n, Transpose.Yes);
            int kp = p8.KPadded;
            var q = GC.AllocateArray<byte>(m * kp, pinned: true); var s = GC.AllocateArray<float>(m, pinned: true);
            var y = GC.AllocateArray<float>(m * n, pinned: true);
            double ops = 2.0 * m * n * k;
            fixed (float* px = x, ps = s, py = y, pb = bias) fixed (byte* pq = q)
            {
                float* xx = px, ss = ps, yy = py, bb = pb; byte* qq = pq;
                var tq = Time(() => Int8Quant.QuantizeRowsU8(xx, m, k, qq, kp, ss), rounds);
                var cells = paths.Select(path =>
                {
                    Int8Quant.QuantizeRowsU8(xx, m, k, qq, kp, ss, path);
                    var t = Time(() => Int8Gemm.Multiply(qq, ss, m, p8, yy, n, bb, path), rounds);
                    return string.Create(CultureInfo.InvariantCulture, $"{t.Med,6:F1} ({t.Best,5:F1}) {ops / t.Best / 1e3,5:F0}");
                }).ToArray();
                var t32 = Time(() => Gemm.Multiply(x, p32, y, m, Transpose.No, bias), rounds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{n,4} {k,5} | {tq.Med,6:F1} ({tq.Best,5:F1}) {tq.Best * 1000 / (m * k),5:F2} | {string.Join(" | ", cells)} " +
                    $"| {t32.Med,6:F1} ({t32.Best,5:F1}) {ops / t32.Best / 1e3,6:F0}"));
            }
        }
        // Element-wise helpers of the same forward (TensorPrimitives vs hand-written), per 128×512 floats.
        var buf = GC.AllocateArray<float>(128 * 512, pinned: true);
        for (int i = 0; i < buf.Length; i++) buf[i] = (float)(rng.NextDouble() * 2 - 1);
        var tMax = Time(() => { for (int r = 0; r < 512; r++) System.Numerics.Tensors.TensorPrimitives.Max(buf.AsSpan(r * 128, 128)); }, rounds);
        var tAbsMax = Time(() => { fixed (float* pb = buf) for (int r = 0; r < 512; r++) Int8Quant.AbsMax(pb + r * 128, 128); }, rounds);
        var tRelu = Time(() => System.Numerics.Tensors.TensorPrimitives.Max(buf, 0f, buf), rounds);
        var scores = new float[64 * 128]; var src = new float[64 * 128];
        for (int i = 0; i < src.Length; i++) src[i] = (float)(rng.NextDouble() * -8);
        var tExp = Time(() => { src.CopyTo(scores, 0); FusedSoftmax.ScaleMaskRows(scores, 64, 128, 0.17f, default); }, rounds);
        var tCopy = Time(() => src.CopyTo(scores, 0), rounds);
        var tExpOnly = Time(() => { src.CopyTo(scores, 0); System.Numerics.Tensors.TensorPrimitives.Exp(scores, scores); }, rounds);
        var tScalarExp = Time(() => { for (int i = 0; i < src.Length; i++) scores[i] = MathF.Exp(src[i]); }, rounds);
        var zeros = new float[8192]; var outz = new float[8192];
        var tExpZero = Time(() => System.Numerics.Tensors.TensorPrimitives.Exp(zeros, outz), rounds);
        Console.WriteLine($"Avx512F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported} BW {System.Runtime.Intrinsics.X86.Avx512BW.IsSupported} " +
            $"CD {System.Runtime.Intrinsics.X86.Avx512CD.IsSupported} DQ {System.Runtime.Intrinsics.X86.Avx512DQ.IsSupported} " +
            $"V512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}; exp(0) ×8192 {tExpZero.Best:F2} µs");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"8192 floats: copy {tCopy.Best:F2} µs, copy + " +
            $"TensorPrimitives.Exp {tExpOnly.Best:F2} µs, scalar MathF.Exp {tScalarExp.Best:F2} µs"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"64K floats as 512 rows of 128: TensorPrimitives.Max per row {tMax.Best:F1} µs, AbsMax per row {tAbsMax.Best:F1} µs; Relu " +
            $"(TensorPrimitives.Max(x, 0)) {tRelu.Best:F1} µs; softmax 64×128 (one attention item) {tExp.Best - tCopy.Best:F1} µs"));
        return 0;
    }

    static (double Med, double Best) Time(Action f, int rounds)
    {
        for (int i = 0; i < 20; i++) f();
        var per = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            int calls = 0; long t0 = Stopwatch.GetTimestamp(); double el;
            do { f(); calls++; el = Stopwatch.GetElapsedTime(t0).TotalMicroseconds; } while (el < 2000);
            per.Add(el / calls);
        }
        per.Sort();
        return (per[per.Count / 2], per[0]);
    }
}
