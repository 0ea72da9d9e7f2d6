using System.Numerics.Tensors;

namespace MobileBert.Kernels;

/// <summary>
/// Backward passes of <see cref="Norms"/> over row-major [rows, dim] buffers. Parameter gradients (dγ, dβ) are
/// ACCUMULATED; the input gradient is written (or added, with <c>accumulate</c>). The forward input <c>x</c> is the
/// pre-norm tensor (for the fused residual variants: the float sum x + residual). dx may alias dy exactly.
/// </summary>
public static class NormsBackward
{
    /// <summary>
    /// LayerNorm backward with the forward's per-row statistics: x̂ = (x − mean)·rstd, g = dy∘γ,
    /// dx = rstd·(g − mean(g) − x̂·mean(g∘x̂)), dγ += Σ_rows dy∘x̂, dβ += Σ_rows dy. Row sums in double.
    /// </summary>
    public static void LayerNorm(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd,
        ReadOnlySpan<float> gamma, Span<float> dx, Span<float> dgamma, Span<float> dbeta, int rows, int dim, bool accumulate = false)
    {
        const string op = "NormsBackward.LayerNorm";
        KernelArgs.RowsDim(op, rows, dim);
        long n = (long)rows * dim;
        KernelArgs.Length(op, dy.Length, n, nameof(dy), "rows*dim");
        KernelArgs.Length(op, x.Length, n, nameof(x), "rows*dim");
        KernelArgs.Length(op, dx.Length, n, nameof(dx), "rows*dim");
        KernelArgs.Length(op, mean.Length, rows, nameof(mean), "rows");
        KernelArgs.Length(op, rstd.Length, rows, nameof(rstd), "rows");
        KernelArgs.Length(op, gamma.Length, dim, nameof(gamma), "dim");
        KernelArgs.Length(op, dgamma.Length, dim, nameof(dgamma), "dim");
        KernelArgs.Length(op, dbeta.Length, dim, nameof(dbeta), "dim");
        Span<float> xhat = dim <= 4096 ? stackalloc float[dim] : new float[dim];
        Span<float> g = dim <= 4096 ? stackalloc float[dim] : new float[dim];
        for (int r = 0; r < rows; r++)
        {
            int o = r * dim;
            var dyr = dy.Slice(o, dim); var xr = x.Slice(o, dim);
            float m = mean[r], s = rstd[r];
            double sg = 0, sgx = 0;
            for (int i = 0; i < dim; i++)
            {
                float xh = (xr[i] - m) * s;
                float gi = dyr[i] * gamma[i];
                xhat[i] = xh; g[i] = gi;
                sg += gi; sgx += (double)gi * xh;
                dgamma[i] += dyr[i] * xh;
                dbeta[i] += dyr[i];
            }
            float mg = (float)(sg / dim), mgx = (float)(sgx / dim);
            var dxr = dx.Slice(o, dim);
            if (accumulate) for (int i = 0; i < dim; i++) dxr[i] += s * (g[i] - mg - xhat[i] * mgx);
            else for (int i = 0; i < dim; i++) dxr[i] = s * (g[i] - mg - xhat[i] * mgx);
        }
    }

    /// <summary>NoNorm backward (y = x∘γ + β): dx = dy∘γ, dγ += Σ_rows dy∘x, dβ += Σ_rows dy.</summary>
    public static void NoNorm(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<float> dx,
        Span<float> dgamma, Span<float> dbeta, int rows, int dim, bool accumulate = false)
    {
        const string op = "NormsBackward.NoNorm";
        KernelArgs.RowsDim(op, rows, dim);
        long n = (long)rows * dim;
        KernelArgs.Length(op, dy.Length, n, nameof(dy), "rows*dim");
        KernelArgs.Length(op, x.Length, n, nameof(x), "rows*dim");
        KernelArgs.Length(op, dx.Length, n, nameof(dx), "rows*dim");
        KernelArgs.Length(op, gamma.Length, dim, nameof(gamma), "dim");
        KernelArgs.Length(op, dgamma.Length, dim, nameof(dgamma), "dim");
        KernelArgs.Length(op, dbeta.Length, dim, nameof(dbeta), "dim");
        Span<float> tmp = dim <= 4096 ? stackalloc float[dim] : new float[dim];
        var gm = gamma[..dim]; var dg = dgamma[..dim]; var db = dbeta[..dim];
        for (int r = 0; r < rows; r++)
        {
            int o = r * dim;
            var dyr = dy.Slice(o, dim);
            TensorPrimitives.Multiply(dyr, x.Slice(o, dim), tmp);
            TensorPrimitives.Add(dg, tmp, dg);
            TensorPrimitives.Add(db, dyr, db);
            var dxr = dx.Slice(o, dim);
            if (accumulate) TensorPrimitives.FusedMultiplyAdd(dyr, gm, dxr, dxr);
            else TensorPrimitives.Multiply(dyr, gm, dxr);
        }
    }
}

/// <summary>Column reductions used by backward passes.</summary>
public static class Reductions
{
    /// <summary>sums[j] += Σ_r x[r, j] for row-major x [rows, cols] (bias gradients).</summary>
    public static void AddColumnSums(ReadOnlySpan<float> x, int rows, int cols, Span<float> sums)
    {
        KernelArgs.Length("Reductions.AddColumnSums", x.Length, (long)rows * cols, nameof(x), "rows*cols");
        KernelArgs.Length("Reductions.AddColumnSums", sums.Length, cols, nameof(sums), "cols");
        var s = sums[..cols];
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(s, x.Slice(r * cols, cols), s);
    }
}
