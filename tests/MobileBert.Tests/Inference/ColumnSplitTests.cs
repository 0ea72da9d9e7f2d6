using MobileBert.Inference;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Inference;

/// <summary>
/// The column-split (N-split) kernels and executor mode: any split of N into panel-aligned column ranges gives exactly
/// the unsplit product, and the column-split engine equals the row-block engine bit for bit (and the reference).
/// </summary>
public unsafe class ColumnSplitTests
{
    public static IEnumerable<object[]> GemmPaths() =>
        new[] { GemmPath.Scalar, GemmPath.Vector128, GemmPath.Vector256, GemmPath.Vector512 }
            .Where(GemmKernels.IsSupported).Select(p => new object[] { p.ToString() });

    static float[] Rand(Random rng, int len) { var x = new float[len]; for (int i = 0; i < len;
        i++) x[i] = (float)(rng.NextDouble() * 2 - 1); return x; }

    [Theory, MemberData(nameof(GemmPaths))]
    public void Fp32ColumnRangesEqualFullProduct(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        var rng = new Random(11);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 5, 3), (13, 70, 9), (64, 128, 512), (37, 100, 130), (128, 384, 512), (9, 33, 1030) })
        {
            var a = Rand(rng, m * k); var w = Rand(rng, n * k); var bias = Rand(rng, n);
            var packed = Gemm.PackCore(w, k, n, Transpose.Yes, path);
            var full = new float[m * n];
            Gemm.Multiply(a, packed, full, m, Transpose.No, bias);
            int nr = packed.ColumnAlignment, panels = (n + nr - 1) / nr;
            foreach (int chunks in new[] { 1, 2, 3, panels })
            {
                var y = Enumerable.Repeat(float.NaN, m * n).ToArray();
                fixed (float* pa = a, py = y, pb = bias)
                    for (int c = chunks - 1; c >= 0; c--)      // any order
                    {
                        int j0 = c * panels / chunks * nr, j1 = Math.Min(n, (c + 1) * panels / chunks * nr);
                        Gemm.MultiplyColumns(pa, k, packed, m, j0, j1, py, n, pb);
                    }
                Assert.True(full.AsSpan().SequenceEqual(y), $"{path} m={m} n={n} k={k} chunks={chunks}: column split differs from the full product");
            }
        }
    }

    [Fact]
    public void Fp32ColumnRangeValidation()
    {
        var packed = Gemm.Pack(new float[8 * 40], 8, 40, Transpose.Yes);
        int nr = packed.ColumnAlignment;
        var y = new float[40];
        var a = new float[8];
        fixed (float* pa = a, py = y)
        {
            float* x = pa, yy = py;
            if (nr > 1) Assert.Throws<ArgumentException>(() => Gemm.MultiplyColumns(x, 8, packed, 1, 1, 40, yy, 40, null));
            Assert.Throws<ArgumentException>(() => Gemm.MultiplyColumns(x, 8, packed, 1, 0, 41, yy, 40, null));
        }
    }

    [Theory, MemberData(nameof(Int8KernelTests.Paths), MemberType = typeof(Int8KernelTests))]
    public void Int8ColumnRangesEqualFullProduct(Int8Path path)
    {
        var rng = new Random(12);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 5, 3), (13, 70, 9), (64, 128, 512), (37, 100, 130), (6, 384, 512) })
        {
            int kp = (k + 3) & ~3;
            var x = Rand(rng, m * k); var bias = Rand(rng, n);
            var ql = QuantizedLinear.From(Rand(rng, n * k), n, k);
            var packed = Int8Gemm.Pack(ql.Weights, ql.Scales, k, n);
            var q = new byte[m * kp]; var s = new float[m];
            var full = new float[m * n];
            const int nr = 16; int panels = (n + nr - 1) / nr;
            fixed (float* px = x, ps = s, pf = full, pb = bias) fixed (byte* pq = q)
            {
                Int8Quant.QuantizeRowsU8(px, m, k, pq, kp, ps, path);
                Int8Gemm.Multiply(pq, ps, m, packed, pf, n, pb, path);
                foreach (int chunks in new[] { 1, 2, 3, panels })
                {
                    var y = Enumerable.Repeat(float.NaN, m * n).ToArray();
                    fixed (float* py = y)
                        for (int c = chunks - 1; c >= 0; c--)
                        {
                            int j0 = c * panels / chunks * nr, j1 = Math.Min(n, (c + 1) * panels / chunks * nr);
                            Int8Gemm.MultiplyColumns(pq, ps, m, packed, j0, j1, py, n, pb, path);
                        }
                    Assert.True(full.AsSpan().SequenceEqual(y), $"{path} m={m} n={n} k={k} chunks={chunks}: column split differs from the full " +
                        $"product");
                }
            }
        }
    }

    public static TheoryData<string> Shapes => new() { "ib_bert_shaped", "mobilebert_shaped", "tiny_shaped", "tiny_shaped_with_kq_flag",
        "no_bottleneck", "ln_gelu_new" };

    static void AssertSame(InferenceResult expected, InferenceResult actual, string what)
    {
        Assert.True(expected.LastHiddenState.SequenceEqual(actual.LastHiddenState), $"{what}: last_hidden_state differs");
        Assert.True(expected.PooledOutput.SequenceEqual(actual.PooledOutput), $"{what}: pooler_output differs");
        Assert.True(expected.Logits.SequenceEqual(actual.Logits), $"{what}: logits differ");
    }

    [Theory, MemberData(nameof(Shapes))]
    public void ColumnSplitEqualsRowBlocksBitForBit(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = InferenceEngineTests.Build(c, 9);
        // mixed int8/fp32 layers
        var q = QuantizedWeights.Quantize(model, new QuantizationPolicy { KeepFp32 = ["ffn.0.output"], KeepLayersFp32 = [1] });
        foreach (var quant in new QuantizedWeights?[] { null, q })
        {
            using var rows = new InferenceEngine(model, new InferenceOptions { Threads = 1, Split = WorkSplit.Rows, Quantized = quant });
            using var cols = new InferenceEngine(model, new InferenceOptions { Threads = 2, Split = WorkSplit.Columns, Quantized = quant });
            foreach (var input in new[] { InferenceEngineTests.Padded(c, 3, 17, 2), InferenceEngineTests.Padded(c, 1, 40, 3),
                InferenceEngineTests.Padded(c, 2, 5, 4) })
            {
                var expected = Copy(rows.Run(input));
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    cols.Threads = threads;
                    AssertSame(expected, cols.Run(input), $"{name} {(quant is null ? "fp32" : "int8")} {input.Batch}×{input.Seq} threads={threads}");
                }
            }
        }
    }

    [Fact]
    public void ColumnSplitMatchesForwardOnGoldenAndAllocatesNothing()
    {
        var (model, input) = GoldenForwardTests.LoadGolden("tiny");
        var o = model.Forward(input, new ForwardOptions { Heads = ModelHeads.SequenceClassification });
        using var engine = new InferenceEngine(model, new InferenceOptions { Threads = 2, Split = WorkSplit.Columns });
        var r = engine.Run(input);
        Tolerance.AssertClose("last_hidden_state", o.LastHiddenState, r.LastHiddenState, 1e-5);
        engine.Threads = 1;
        engine.Run(input); engine.Run(input); engine.Run(input);
        // Steady state: some window of 3 runs allocates nothing (one window may catch a one-time runtime allocation,
        // e.g. around tiered re-JIT, when the whole suite runs in parallel).
        long best = long.MaxValue;
        for (int w = 0; w < 3 && best != 0; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 3; i++) engine.Run(input);
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, best);
    }

    [Fact]
    public void AutoSplitIsRowBlocks()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = InferenceEngineTests.Build(c, 9);
        using var engine = new InferenceEngine(model, new InferenceOptions { Threads = 2 });
        Assert.Equal(WorkSplit.Auto, engine.Split);
        Assert.False(engine.UsesColumnSplit(rows: 128, threads: 2));
        Assert.False(engine.UsesColumnSplit(rows: 4096, threads: 2));
        engine.Split = WorkSplit.Columns;
        Assert.True(engine.UsesColumnSplit(rows: 128, threads: 2));
    }

    static InferenceResult Copy(InferenceResult r) => new()
    {
        HiddenBuf = r.LastHiddenState.ToArray(), PooledBuf = r.PooledOutput.ToArray(), LogitsBuf = r.Logits.ToArray(),
        Rows = r.Rows, Sequences = r.Sequences, HiddenSize = r.HiddenSize, NumLabels = r.NumLabels, HasPooler = r.HasPooler,
    };
}

/// <summary>The hand-written row reductions of the inference hot path equal the TensorPrimitives ones they replace.</summary>
public unsafe class FastRowReductionTests
{
    [Fact]
    public void AbsMaxAndRowMaxEqualTensorPrimitives()
    {
        var rng = new Random(8);
        foreach (int n in new[] { 1, 5, 15, 16, 17, 31, 32, 33, 100, 128, 515 })
            foreach (int special in new[] { -1, 0, 1, 2 })
            {
                var x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 20 - 10);
                int at = rng.Next(n);
                if (special == 0) x[at] = float.NaN;
                if (special == 1) x[at] = -1e30f;
                if (special == 2) x.AsSpan().Fill(-0f);
                float absMax, rowMax;
                fixed (float* p = x) absMax = Int8Quant.AbsMax(p, n);
                rowMax = FusedSoftmax.RowMax(x);
                float eAbs = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(x)),
                    eMax = System.Numerics.Tensors.TensorPrimitives.Max(x);
                Assert.True(eAbs.Equals(absMax), $"n={n} special={special}: AbsMax {absMax:R}, expected {eAbs:R}");
                Assert.True(eMax.Equals(rowMax) || (eMax == 0 && rowMax == 0), $"n={n} special={special}: RowMax {rowMax:R}, expected {eMax:R}");
            }
    }
}

/// <summary>The AVX-512 attention softmax row kernel: equal to the TensorPrimitives sequence, close to double precision.</summary>
public class FusedSoftmaxKernelTests
{
    [Fact]
    public void Avx512RowsMatchDoublePrecisionAndTensorPrimitivesPath()
    {
        var rng = new Random(6);
        foreach (int cols in new[] { 1, 15, 16, 17, 40, 128, 131 })
            foreach (bool masked in new[] { false, true })
            {
                int rows = 5;
                var x = new float[rows * cols];
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 60 - 30);
                x[cols - 1] = float.NaN;                                   // row 0 holds a NaN: TensorPrimitives path
                var mask = new float[cols];
                for (int j = 0; j < cols; j++) mask[j] = masked && j % 3 == 1 ? float.MinValue : 0f;
                var fast = (float[])x.Clone(); var slow = (float[])x.Clone();
                FusedSoftmax.ScaleMaskRows(fast, rows, cols, 0.37f, masked ? mask : default);
                FusedSoftmax.ScaleMaskRows(slow, rows, cols, 0.37f, masked ? mask : default, avx512: false);
                for (int r = 0; r < rows; r++)
                {
                    double max = double.NegativeInfinity;
                    var v = new double[cols];
                    for (int j = 0; j < cols; j++) { v[j] = (double)(x[r * cols + j] * 0.37f) + (masked ? mask[j] : 0); max = Math.Max(max, v[j]); }
                    double sum = 0; for (int j = 0; j < cols; j++) sum += Math.Exp(v[j] - max);
                    for (int j = 0; j < cols; j++)
                    {
                        float f = fast[r * cols + j], s = slow[r * cols + j];
                        if (r == 0) { Assert.True(float.IsNaN(f) && float.IsNaN(s), "a NaN row stays NaN"); continue; }
                        double e = Math.Exp(v[j] - max) / sum;
                        Assert.True(Math.Abs(f - e) <= 4e-6 * e + 1e-30, $"cols={cols} masked={masked} [{r},{j}]: {f:R} vs exact {e:R}");
                        Assert.True(BitConverter.SingleToInt32Bits(f) == BitConverter.SingleToInt32Bits(s),
                            $"cols={cols} masked={masked} [{r},{j}]: {f:R} vs TensorPrimitives {s:R}");
                    }
                }
            }
    }
}
