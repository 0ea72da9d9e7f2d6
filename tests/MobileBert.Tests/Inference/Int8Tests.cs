using MobileBert.Checkpoints;
using MobileBert.Inference;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Tests.Model;
using Xunit;

namespace MobileBert.Tests.Inference;

public unsafe class Int8KernelTests
{
    public static TheoryData<Int8Path> Paths()
    {
        var d = new TheoryData<Int8Path>();
        foreach (var p in new[] { Int8Path.Scalar, Int8Path.Avx2, Int8Path.AvxVnni, Int8Path.Avx512Bw }) if (Int8Gemm.IsSupported(p)) d.Add(p);
        return d;
    }

    [Theory, MemberData(nameof(Paths))]
    public void IntegerProductIsExact(Int8Path path)
    {
        var rng = new Random(3);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 5, 3), (13, 17, 9), (6, 16, 4), (12, 32, 128), (37, 45, 101), (64, 128, 512),
            (5, 33, 4099) })
        {
            int kp = (k + 3) & ~3, zero = Int8Gemm.ActivationZero(path), top = 2 * zero - 1;
            var a = new byte[m * kp]; var w = new sbyte[n * k];
            // every code the path takes (0 … 2·zero − 1), padding arbitrary within that range
            for (int i = 0; i < m; i++) for (int p = 0; p < kp; p++) a[i * kp + p] = (byte)rng.Next(0, top + 1);
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)rng.Next(-128, 128);
            // extremes: saturating-prone rows/cols (largest code × −128, and × 127 in the second column)
            for (int p = 0; p < k; p++) { a[p] = (byte)top; w[p] = -128; if (n > 1) w[k + p] = 127; }
            var packed = Int8Gemm.Pack(w, Enumerable.Repeat(1f, n).ToArray(), k, n);
            var c = new int[m * n];
            fixed (byte* pa = a) fixed (int* pc = c) Int8Gemm.MultiplyInt32(pa, m, packed, pc, path);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    long s = 0;
                    for (int p = 0; p < k; p++) s += (a[i * kp + p] - zero) * (long)w[j * k + p];
                    Assert.True(s == c[i * n + j], $"{path} m={m} n={n} k={k}: C[{i},{j}] = {c[i * n + j]}, expected {s}");
                }
        }
    }

    [Theory, MemberData(nameof(Paths))]
    public void DequantizedProductMatchesFormula(Int8Path path)
    {
        foreach (int k in new[] { 30, 77, 128 }) DequantizedProduct(path, k);
    }

    static void DequantizedProduct(Int8Path path, int k)
    {
        var rng = new Random(4);
        int m = 11, n = 21, kp = (k + 3) & ~3;
        var x = new float[m * k]; for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2) * (i % 7 == 0 ? 50 : 1);
        var wf = new float[n * k]; for (int i = 0; i < wf.Length; i++) wf[i] = (float)(rng.NextDouble() - 0.5);
        var ql = QuantizedLinear.From(wf, n, k);
        var bias = Enumerable.Range(0, n).Select(j => j * 0.1f).ToArray();
        var qa = new byte[m * kp]; var sa = new float[m]; var y = new float[m * n];
        var packed = Int8Gemm.Pack(ql.Weights, ql.Scales, k, n);
        fixed (float* px = x, psa = sa, py = y, pb = bias) fixed (byte* pq = qa)
        {
            Int8Quant.QuantizeRowsU8(px, m, k, pq, kp, psa, path);
            Int8Gemm.Multiply(pq, psa, m, packed, py, n, pb, path);
        }
        int levels = Int8Gemm.ActivationLevels(path), zero = levels + 1;
        for (int i = 0; i < m; i++)
        {
            float max = 0; for (int p = 0; p < k; p++) max = MathF.Max(max, MathF.Abs(x[i * k + p]));
            Assert.Equal(max / levels, sa[i]);
            for (int p = 0; p < k; p++)
                Assert.Equal(Math.Clamp((int)MathF.Round(x[i * k + p] * (1f / sa[i]), MidpointRounding.ToEven), -levels, levels) + zero,
                    qa[i * kp + p]);
            for (int p = k; p < kp; p++) Assert.Equal(zero, qa[i * kp + p]);
            for (int j = 0; j < n; j++)
            {
                int acc = 0; for (int p = 0; p < k; p++) acc += (qa[i * kp + p] - zero) * ql.Weights[j * k + p];
                float expected = acc * (ql.Scales[j] * sa[i]) + bias[j];
                Assert.Equal(expected, y[i * n + j], 5);
                // and close to the fp32 product
                double exact = bias[j]; for (int p = 0; p < k; p++) exact += (double)x[i * k + p] * wf[j * k + p];
                Assert.True(Math.Abs(exact - y[i * n + j]) <= 0.02 * max * k * 0.5 / 127 * 10 + 1e-3, $"fp32 {exact} vs int8 {y[i * n + j]}");
            }
        }
    }

    [Fact]
    public void ZeroRowsAndPackValidation()
    {
        var x = new float[8]; var q = new byte[8]; var s = new float[1];
        fixed (float* px = x, ps = s) fixed (byte* pq = q) Int8Quant.QuantizeRowsU8(px, 1, 8, pq, 8, ps);
        Assert.Equal(1f, s[0]); Assert.All(q, v => Assert.Equal(Int8Gemm.ActivationZero(Int8Path.Auto), v));
        Assert.Throws<ArgumentException>(() => Int8Gemm.Pack(new sbyte[5], new float[2], 3, 2));
        Assert.Throws<ArgumentException>(() => Int8Gemm.Pack(new sbyte[6], new float[1], 3, 2));
    }
}

public class Int8ModelTests
{
    static double RelErr(ReadOnlySpan<float> reference, ReadOnlySpan<float> x)
    {
        double maxRef = Tolerance.MaxAbs(reference), maxDiff = 0;
        for (int i = 0; i < reference.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs((double)reference[i] - x[i]));
        return maxDiff / maxRef;
    }

    static double Rms(ReadOnlySpan<float> reference, ReadOnlySpan<float> x)
    {
        double s2 = 0, r2 = 0;
        for (int i = 0; i < reference.Length; i++) { double d = x[i] - (double)reference[i]; s2 += d * d; r2 += (double)reference[i] * reference[i]; }
        return Math.Sqrt(s2 / r2);
    }

    public static TheoryData<string> Shapes => new() { "ib_bert_shaped", "mobilebert_shaped", "tiny_shaped", "no_bottleneck", "ln_gelu_new" };

    [Theory, MemberData(nameof(Shapes))]
    public void Int8EngineHasBoundedErrorOnRandomInputs(string name)
    {
        var c = ReferenceForwardTests.Make(name);
        var model = InferenceEngineTests.Build(c, 5);
        var input = InferenceEngineTests.Padded(c, 4, 21, 2);
        var reference = model.Forward(input, new ForwardOptions { Heads = ModelHeads.SequenceClassification });
        var q = QuantizedWeights.Quantize(model);
        Assert.True(q.Count > 0);
        using var engine = new InferenceEngine(model, new InferenceOptions { Quantized = q, Threads = 2 });
        Assert.Contains(engine.Linears(), l => l.Int8);
        var r = engine.Run(input);
        // Bounds measured on these small random models (sharp attention amplifies weight rounding; weight-only int8
        // already gives ~0.16 max-relative error on mobilebert_shaped): rms ≤ 0.08, max ≤ 0.25 of max|ref| with 8-bit
        // activations; twice that where the int8 path quantizes activations to 7 bits (its step is twice as coarse;
        // measured on mobilebert_shaped: rms 0.14, max 0.24, logits 0.30).
        double grid = 127.0 / Int8Gemm.ActivationLevels(Int8Path.Auto);
        double e = RelErr(reference.LastHiddenState, r.LastHiddenState), el = RelErr(reference.SequenceClassificationLogits, r.Logits);
        double rms = Rms(reference.LastHiddenState, r.LastHiddenState);
        Assert.True(e < 0.25 * grid && rms < 0.08 * grid, $"last_hidden_state relative error max {e:g3}, rms {rms:g3}");
        Assert.True(el < 0.25 * grid, $"logits relative error {el:g3}");
        // Everything kept fp32 → the fp32 path exactly.
        using var none = new InferenceEngine(model, new InferenceOptions { Quantized =
            QuantizedWeights.Quantize(model, new QuantizationPolicy { KeepLayersFp32 = [.. Enumerable.Range(0, c.NumHiddenLayers)] }) });
        Tolerance.AssertClose("all-fp32 policy", reference.LastHiddenState, none.Run(input).LastHiddenState, 1e-5);
    }

    [Fact]
    public void Int8EngineHasBoundedErrorOnGolden()
    {
        foreach (var name in new[] { "tiny", "tiny_ln_gelu", "tiny_bottleneck_attn", "tiny_no_bottleneck", "bert_tiny" })
        {
            var (model, input) = GoldenForwardTests.LoadGolden(name);
            var reference = model.Forward(input, new ForwardOptions { Heads = ModelHeads.SequenceClassification });
            using var engine = new InferenceEngine(model, new InferenceOptions { Quantized = QuantizedWeights.Quantize(model) });
            var r = engine.Run(input);
            double e = RelErr(reference.LastHiddenState, r.LastHiddenState), rms = Rms(reference.LastHiddenState, r.LastHiddenState);
            Assert.True(e < 0.1 && rms < 0.05, $"{name}: last_hidden_state relative error max {e:g3}, rms {rms:g3}");
        }
    }

    [Theory, MemberData(nameof(Int8KernelTests.Paths), MemberType = typeof(Int8KernelTests))]
    public void EveryInt8KernelRunsTheEngineWithItsActivationGrid(Int8Path kernel)
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = InferenceEngineTests.Build(c, 5);
        var input = InferenceEngineTests.Padded(c, 4, 21, 2);
        var reference = model.Forward(input, new ForwardOptions { Heads = ModelHeads.SequenceClassification });
        var q = QuantizedWeights.Quantize(model);
        double grid = 127.0 / Int8Gemm.ActivationLevels(kernel);
        float[]? first = null;
        foreach (var split in new[] { WorkSplit.Rows, WorkSplit.Columns })
        {
            using var engine = new InferenceEngine(model, new InferenceOptions { Quantized = q, Threads = 2, Split = split, Int8Kernel = kernel });
            var r = engine.Run(input);
            double e = RelErr(reference.LastHiddenState, r.LastHiddenState), rms = Rms(reference.LastHiddenState, r.LastHiddenState);
            Assert.True(e < 0.25 * grid && rms < 0.08 * grid, $"{kernel} {split}: relative error max {e:g3}, rms {rms:g3}");
            // Both splits quantize the same rows for the same kernel: the same values up to fp32 summation order.
            if (first is null) first = r.LastHiddenState.ToArray();
            else Tolerance.AssertClose($"{kernel}: rows vs columns split", first, r.LastHiddenState, 1e-4);
        }
    }

    [Fact]
    public void AnInt8KernelTheCpuLacksIsASettingError()
    {
        var model = InferenceEngineTests.Build(ReferenceForwardTests.Make("tiny_shaped"), 5);
        var q = QuantizedWeights.Quantize(model);
        var lacking = Enum.GetValues<Int8Path>().Where(p => !Int8Gemm.IsSupported(p)).ToArray();
        foreach (var p in lacking)
        {
            var e = Assert.Throws<SettingException>(() => new InferenceEngine(model, new InferenceOptions { Quantized = q, Int8Kernel = p }));
            Assert.Equal(["Int8Kernel"], e.Settings);
            Assert.Contains($"Int8Kernel {p} is not supported", e.Message);
        }
        // Scalar runs everywhere, so an explicit choice always works.
        using var scalar = new InferenceEngine(model, new InferenceOptions { Quantized = q, Int8Kernel = Int8Path.Scalar });
        Assert.Contains(scalar.Linears(), l => l.Int8);
    }

    [Fact]
    public void CheckpointRoundTrips()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = InferenceEngineTests.Build(c, 9);
        var q = QuantizedWeights.Quantize(model, new QuantizationPolicy { KeepLayersFp32 = [1] });
        string dir = Path.Combine(Path.GetTempPath(), "mb-int8-" + Guid.NewGuid().ToString("N"));
        try
        {
            QuantizedCheckpoint.Save(model, q, dir);
            Assert.True(QuantizedCheckpoint.IsQuantizedFolder(dir));
            var (loaded, lq, meta) = QuantizedCheckpoint.Load(dir);
            Assert.Equal(QuantizedCheckpoint.Format, meta["format"]);
            Assert.Equal(q.Names.Order(), lq.Names.Order());
            foreach (var n in q.Names) { Assert.Equal(q[n].Weights, lq[n].Weights); Assert.Equal(q[n].Scales, lq[n].Scales); }
            Assert.DoesNotContain(lq.Names, n => n.Contains("layer.1.", StringComparison.Ordinal));
            var input = InferenceEngineTests.Padded(c, 3, 12, 1);
            using var e1 = new InferenceEngine(model, new InferenceOptions { Quantized = q });
            using var e2 = new InferenceEngine(loaded, new InferenceOptions { Quantized = lq });
            Assert.Equal(e1.Run(input).LastHiddenState.ToArray(), e2.Run(input).LastHiddenState.ToArray());
            // The loaded model's store holds the dequantized weights: Forward = weight-only-quantized reference.
            var w = loaded.Store.Span(loaded.Store[q.Names.First()]).ToArray();
            var expected = new float[w.Length]; q[q.Names.First()].Dequantize(expected);
            Assert.Equal(expected, w);

            // The file's I8 tensors read raw (no float conversion); other dtypes refuse.
            using (var f = MobileBert.Checkpoints.SafeTensorsFile.Open(Path.Combine(dir, QuantizedCheckpoint.WeightsFile)))
            {
                string wn = q.Names.First();
                Assert.True(f.TryGet(wn, out var ie)); Assert.Equal(q[wn].Weights, ie.ToInt8());
                Assert.True(f.TryGet(wn + QuantizedCheckpoint.ScaleSuffix, out var fe));
                Assert.Contains("int8", Assert.ThrowsAny<Exception>(() => fe.ToInt8()).Message);
            }
            // Without float weights: the store leaves the int8 Linears' weights out; the engine's outputs are the same
            // bits (1 and 2 threads, heads too); everything that needs the float weights says which one is missing.
            var (slim, sq, _) = QuantizedCheckpoint.Load(dir, floatWeights: false);
            Assert.True(slim.Store.HasExcluded);
            long excluded = slim.Store.Parameters.Where(p => !slim.Store.IsResident(p)).Sum(p => (long)p.Length);
            Assert.Equal(q.Names.Sum(n => (long)loaded.Store[n].Length), excluded);
            Assert.True(slim.Store.Data.Length <= loaded.Store.Data.Length - excluded);
            foreach (int threads in new[] { 1, 2 })
            {
                using var full = new InferenceEngine(loaded, new InferenceOptions { Quantized = lq, Threads = threads });
                using var lean = new InferenceEngine(slim, new InferenceOptions { Quantized = sq, Threads = threads });
                var a = full.Run(input); var fa = a.LastHiddenState.ToArray(); var pa = a.PooledOutput.ToArray();
                var b = lean.Run(input);
                Assert.Equal(fa, b.LastHiddenState.ToArray());
                Assert.Equal(pa, b.PooledOutput.ToArray());
            }
            string first = q.Names.First();
            Assert.Contains(first, Assert.Throws<InvalidOperationException>(() => slim.Store.Span(slim.Store[first])).Message);
            Assert.Contains("float", Assert.Throws<InvalidOperationException>(() => slim.Forward(input)).Message);
            Assert.Contains("cannot be trained", Assert.Throws<InvalidOperationException>(() => slim.Store.AllocateGrad()).Message);
            string saveDir = dir + "-save";
            Assert.Contains("has no float values", Assert.Throws<InvalidOperationException>(
                () => MobileBert.Checkpoints.ModelFolder.Save(slim, saveDir)).Message);
            Assert.False(Directory.Exists(saveDir));   // nothing written
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadQuantizedFilesGiveClearErrors()
    {
        var c = ReferenceForwardTests.Make("mobilebert_shaped");
        var model = InferenceEngineTests.Build(c, 9);
        var q = QuantizedWeights.Quantize(model);
        string dir = Path.Combine(Path.GetTempPath(), "mb-int8-bad-" + Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => QuantizedCheckpoint.Load(dir)).Message);
            QuantizedCheckpoint.Save(model, q, dir);
            string file = Path.Combine(dir, QuantizedCheckpoint.WeightsFile);
            string first = q.Names.First();
            // A weight's scales missing.
            using (var f = SafeTensorsFile.Open(file))
            {
                var tensors = f.Entries.Where(e => e.Name != first + QuantizedCheckpoint.ScaleSuffix).Select(
                    e => (e.Name, e.DType, e.Shape, (ReadOnlyMemory<byte>)Raw(e))).ToList();
                f.Dispose();
                SafeTensorsWriter.WriteRaw(file, tensors, new Dictionary<string, string> {
                    ["format"] = QuantizedCheckpoint.Format, ["version"] = "1", ["heads"] = model.Heads.ToString(), ["pooler"] = "true" });
            }
            var ex = Assert.Throws<CheckpointException>(() => QuantizedCheckpoint.Load(dir));
            Assert.Contains(first + "_scale", ex.Message);
            // Wrong format tag.
            SafeTensorsWriter.WriteRaw(file, [("x", TensorDType.F32, [1], new byte[4])], new Dictionary<string, string> { ["format"] = "pt" });
            Assert.Contains("not a quantized MobileBERT checkpoint", Assert.Throws<CheckpointException>(() => QuantizedCheckpoint.Load(dir)).Message);
            // Truncated file.
            File.WriteAllBytes(file, [1, 2, 3]);
            Assert.ThrowsAny<Exception>(() => QuantizedCheckpoint.Load(dir));
            File.Delete(file);
            Assert.Contains("mobilebert quantize", Assert.Throws<CheckpointException>(() => QuantizedCheckpoint.Load(dir)).Message);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    static byte[] Raw(TensorEntry e)
    {
        var f = e.ToFloat32();
        return e.DType switch
        {
            TensorDType.I8 => f.Select(v => (byte)(sbyte)v).ToArray(),
            _ => System.Runtime.InteropServices.MemoryMarshal.AsBytes(f.AsSpan()).ToArray(),
        };
    }
}
