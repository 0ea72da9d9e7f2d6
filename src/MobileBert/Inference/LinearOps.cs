using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Inference;

/// <summary>
/// One planned dense layer of the inference path: y[rows, Out] = x[rows, In]·Wᵀ + b, where W may be several HF Linear
/// weights that read the same input concatenated along the output dimension (e.g. bottleneck.input ‖
/// bottleneck.attention ‖ value, all reading the 512-wide block input). Runs single-threaded: the executor gives each
/// thread its own block of rows.
/// </summary>
internal abstract unsafe class LinearOp
{
    protected LinearOp(string name, int inFeatures, int outFeatures) { Name = name; In = inFeatures; Out = outFeatures; }
    /// <summary>The HF names of the fused parts, joined by " ‖ ".</summary>
    public string Name { get; }
    public int In { get; }
    public int Out { get; }
    public abstract bool IsInt8 { get; }
    /// <summary>y[rows, Out] = x[rows, In]·Wᵀ + b (x, y row-major, not overlapping).</summary>
    public abstract void Run(float* x, int rows, float* y);

    /// <summary>The dense layer that runs after this one in a forward (its weights are prefetched at the end of this one's GEMM;
    /// fp32 only). Set by the engine's plan.</summary>
    public LinearOp? Then { get; set; }

    /// <summary>Columns are split across threads in multiples of this (the kernel's panel width).</summary>
    public abstract int ColumnAlign { get; }

    /// <summary>Row stride of the quantized input an int8 op reads (<see cref="In"/> padded; fp32: 0).</summary>
    public virtual int QuantizedStride => 0;

    /// <summary>
    /// Columns [j0, j1) of y[rows, Out] (row stride Out) on the calling thread; bit-identical to those columns of
    /// <see cref="Run"/>. fp32 reads x; int8 reads the already quantized rows q (stride <see cref="QuantizedStride"/>)
    /// and their scales qs (<see cref="Int8Quant.QuantizeRowsU8"/> of x).
    /// </summary>
    public abstract void RunColumns(float* x, byte* q, float* qs, int rows, float* y, int j0, int j1);

    /// <summary>The fused biases, input width, output width and name of <paramref name="parts"/>, without reading their
    /// weights (an int8 op has its own; the model may not even hold float copies).</summary>
    public static (float[] B, int In, int Out, string Name) ConcatBias(IReadOnlyList<Linear> parts)
    {
        int k = parts[0].In, n = parts.Sum(p => p.Out);
        if (parts.Any(p => p.In != k)) throw new ArgumentException("Fused linears must read the same input width.");
        var b = new float[n];
        int o = 0;
        foreach (var p in parts)
        {
            if (p.Bias is not null) p.Store.Span(p.Bias).CopyTo(b.AsSpan(o, p.Out));
            o += p.Out;
        }
        return (b, k, n, FusedName(parts));
    }

    static string FusedName(IReadOnlyList<Linear> parts) => string.Join(" ‖ ", parts.Select(p => p.Weight.Name[..^".weight".Length]));

    /// <summary>[ΣOut, In] weight and [ΣOut] bias of the concatenated parts (fp32, from the model's store).</summary>
    public static (float[] W, float[] B, int In, int Out, string Name) Concat(IReadOnlyList<Linear> parts)
    {
        int k = parts[0].In, n = parts.Sum(p => p.Out);
        if (parts.Any(p => p.In != k)) throw new ArgumentException("Fused linears must read the same input width.");
        var w = new float[(long)n * k]; var b = new float[n];
        int o = 0;
        foreach (var p in parts)
        {
            p.Store.Span(p.Weight).CopyTo(w.AsSpan(o * k, p.Out * k));
            if (p.Bias is not null) p.Store.Span(p.Bias).CopyTo(b.AsSpan(o, p.Out));
            o += p.Out;
        }
        return (w, b, k, n, FusedName(parts));
    }
}

/// <summary>fp32 dense layer on pre-packed weights (<see cref="Gemm.Pack"/>), bias fused into the GEMM.</summary>
internal sealed unsafe class Fp32LinearOp : LinearOp
{
    readonly PackedMatrix _w;
    readonly float[] _bias;

    public Fp32LinearOp(IReadOnlyList<Linear> parts) : this(LinearOp.Concat(parts)) { }

    Fp32LinearOp((float[] W, float[] B, int In, int Out, string Name) c) : base(c.Name, c.In, c.Out)
    {
        _w = Gemm.Pack(c.W, c.In, c.Out, Transpose.Yes);
        _bias = c.B;
    }

    public override bool IsInt8 => false;

    public override int ColumnAlign => _w.ColumnAlignment;

    public override void RunColumns(float* x, byte* q, float* qs, int rows, float* y, int j0, int j1)
    {
        fixed (float* pb = _bias) Gemm.MultiplyColumns(x, In, _w, rows, j0, j1, y, Out, pb);
    }

    public override void Run(float* x, int rows, float* y) =>
        Gemm.Multiply(new ReadOnlySpan<float>(x, rows * In), _w, new Span<float>(y, rows * Out), rows, Transpose.No, _bias, accumulate: false,
        threads: 1, then: (Then as Fp32LinearOp)?._w);
}

/// <summary>
/// int8 dense layer: per-output-channel symmetric int8 weights, activations quantized per row (token) on the fly
/// (symmetric, scale = max|x_row|/127), int32 accumulation (<see cref="Int8Gemm"/>), fp32 rescale + bias fused into
/// the GEMM epilogue.
/// </summary>
internal sealed unsafe class Int8LinearOp : LinearOp
{
    readonly Int8PackedMatrix _w;
    readonly float[] _bias;

    public Int8LinearOp(string name, QuantizedLinear q, float[] bias, Int8Path kernel) : base(name, q.In, q.Out)
    {
        _w = Int8Gemm.Pack(q.Weights, q.Scales, q.In, q.Out);
        _bias = bias;
        Kernel = kernel;
    }

    /// <summary>The int8 GEMM kernel; its input must be quantized for it (<see cref="Int8Quant.QuantizeRowsU8"/>).</summary>
    public Int8Path Kernel { get; }

    public override bool IsInt8 => true;

    public override int ColumnAlign => Int8PackedMatrix.NR;

    public override int QuantizedStride => _w.KPadded;

    public override void RunColumns(float* x, byte* q, float* qs, int rows, float* y, int j0, int j1)
    {
        fixed (float* pb = _bias) Int8Gemm.MultiplyColumns(q, qs, rows, _w, j0, j1, y, Out, pb, Kernel);
    }

    public override void Run(float* x, int rows, float* y)
    {
        int kp = _w.KPadded;
        var (qa, scales) = Scratch(rows * kp, rows);
        fixed (byte* pq = qa) fixed (float* ps = scales) fixed (float* pb = _bias)
        {
            Int8Quant.QuantizeRowsU8(x, rows, In, pq, kp, ps, Kernel);
            Int8Gemm.Multiply(pq, ps, rows, _w, y, Out, pb, Kernel);
        }
    }

    [ThreadStatic] static byte[]? t_q;
    [ThreadStatic] static float[]? t_s;
    static (byte[], float[]) Scratch(int n, int rows)
    {
        if (t_q is null || t_q.Length < n) t_q = GC.AllocateUninitializedArray<byte>(Math.Max(n, (t_q?.Length ?? 0) * 3 / 2), pinned: true);
        if (t_s is null || t_s.Length < rows) t_s = GC.AllocateUninitializedArray<float>(Math.Max(rows, 256), pinned: true);
        return (t_q, t_s);
    }
}
