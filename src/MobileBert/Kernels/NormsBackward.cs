using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
        ref float gm = ref MemoryMarshal.GetReference(gamma);
        ref float dg = ref MemoryMarshal.GetReference(dgamma);
        ref float db = ref MemoryMarshal.GetReference(dbeta);
        int vec = Vector256.IsHardwareAccelerated ? dim & ~7 : 0;
        for (int r = 0; r < rows; r++)
        {
            int o = r * dim;
            ref float dyr = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), o);
            ref float xr = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), o);
            ref float dxr = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), o);
            int i = 0;
            for (; i < vec; i += 8)
            {
                var d = Vector256.LoadUnsafe(ref dyr, (nuint)i);
                (Vector256.LoadUnsafe(ref dg, (nuint)i) + d * Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dg, (nuint)i);
                (Vector256.LoadUnsafe(ref db, (nuint)i) + d).StoreUnsafe(ref db, (nuint)i);
                var v = d * Vector256.LoadUnsafe(ref gm, (nuint)i);
                if (accumulate) v += Vector256.LoadUnsafe(ref dxr, (nuint)i);
                v.StoreUnsafe(ref dxr, (nuint)i);
            }
            for (; i < dim; i++)
            {
                float d = Unsafe.Add(ref dyr, i);
                Unsafe.Add(ref dg, i) += d * Unsafe.Add(ref xr, i);
                Unsafe.Add(ref db, i) += d;
                float v = d * Unsafe.Add(ref gm, i);
                Unsafe.Add(ref dxr, i) = accumulate ? Unsafe.Add(ref dxr, i) + v : v;
            }
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
        ref float sr = ref MemoryMarshal.GetReference(sums);
        int vec = Vector256.IsHardwareAccelerated ? cols & ~7 : 0;
        // Blocks of 64 columns stay in registers while the rows stream past.
        int j = 0;
        for (; j + 64 <= vec; j += 64)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int r = 0; r < rows; r++)
            {
                ref float xr = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), (nint)r * cols + j);
                a0 += Vector256.LoadUnsafe(ref xr, 0); a1 += Vector256.LoadUnsafe(ref xr, 8); a2 += Vector256.LoadUnsafe(ref xr, 16);
                a3 += Vector256.LoadUnsafe(ref xr, 24);
                a4 += Vector256.LoadUnsafe(ref xr, 32); a5 += Vector256.LoadUnsafe(ref xr, 40); a6 += Vector256.LoadUnsafe(ref xr, 48);
                a7 += Vector256.LoadUnsafe(ref xr, 56);
            }
            ref float s0 = ref Unsafe.Add(ref sr, j);
            (Vector256.LoadUnsafe(ref s0, 0) + a0).StoreUnsafe(ref s0, 0); (Vector256.LoadUnsafe(ref s0, 8) + a1).StoreUnsafe(ref s0, 8);
            (Vector256.LoadUnsafe(ref s0, 16) + a2).StoreUnsafe(ref s0, 16); (Vector256.LoadUnsafe(ref s0, 24) + a3).StoreUnsafe(ref s0, 24);
            (Vector256.LoadUnsafe(ref s0, 32) + a4).StoreUnsafe(ref s0, 32); (Vector256.LoadUnsafe(ref s0, 40) + a5).StoreUnsafe(ref s0, 40);
            (Vector256.LoadUnsafe(ref s0, 48) + a6).StoreUnsafe(ref s0, 48); (Vector256.LoadUnsafe(ref s0, 56) + a7).StoreUnsafe(ref s0, 56);
        }
        for (; j < vec; j += 8)
        {
            Vector256<float> a = default;
            for (int r = 0; r < rows; r++) a += Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(x), (nuint)((nint)r * cols + j));
            ref float s0 = ref Unsafe.Add(ref sr, j);
            (Vector256.LoadUnsafe(ref s0) + a).StoreUnsafe(ref s0);
        }
        for (; j < cols; j++)
        {
            float a = 0;
            for (int r = 0; r < rows; r++) a += x[r * cols + j];
            sums[j] += a;
        }
    }
}
