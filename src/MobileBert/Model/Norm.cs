using MobileBert.Kernels;
using MobileBert.Tensors;

namespace MobileBert.Model;

/// <summary>NoNorm (h∘γ+β, MobileBERT's operational optimisation) or LayerNorm, with HF's parameter names (.weight = γ, .bias = β).</summary>
public sealed class Norm
{
    public Norm(ParameterStore store, string name, int dim, NormalizationType kind, float eps)
    {
        Store = store; Dim = dim; Kind = kind; Eps = eps;
        Gamma = store.Add(name + ".weight", dim);
        Beta = store.Add(name + ".bias", dim);
    }

    public ParameterStore Store { get; }
    public Parameter Gamma { get; }
    public Parameter Beta { get; }
    public int Dim { get; }
    public NormalizationType Kind { get; }
    public float Eps { get; }

    /// <summary>y = norm(x) for x, y: [rows, Dim] (may alias).</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        if (Kind == NormalizationType.NoNorm) Norms.NoNorm(x, y, Store.Span(Gamma), Store.Span(Beta), rows, Dim);
        else Norms.LayerNorm(x, y, Store.Span(Gamma), Store.Span(Beta), rows, Dim, Eps);
    }

    /// <summary>y = norm(x + residual) (y may alias either).</summary>
    public void AddForward(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, Span<float> y, int rows)
    {
        if (Kind == NormalizationType.NoNorm) Norms.AddNoNorm(x, residual, y, Store.Span(Gamma), Store.Span(Beta), rows, Dim);
        else Norms.AddLayerNorm(x, residual, y, Store.Span(Gamma), Store.Span(Beta), rows, Dim, Eps);
    }

    /// <summary>
    /// Training forward: pre = x (+ residual) (float add, kept for the backward pass; x may be pre itself), y = norm(pre).
    /// mean/rstd ([rows], LayerNorm only; may be empty for NoNorm) receive the row statistics. Same numerics as
    /// <see cref="Forward(ReadOnlySpan{float}, Span{float}, int)"/> / <see cref="AddForward"/>.
    /// </summary>
    public void ForwardCached(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, Span<float> pre, Span<float> y, int rows, Span<float> mean,
        Span<float> rstd)
    {
        int n = rows * Dim;
        if (!residual.IsEmpty) System.Numerics.Tensors.TensorPrimitives.Add(x[..n], residual[..n], pre[..n]);
        else if (!x.Overlaps(pre)) x[..n].CopyTo(pre);
        if (Kind == NormalizationType.NoNorm) Norms.NoNorm(pre, y, Store.Span(Gamma), Store.Span(Beta), rows, Dim);
        else Norms.LayerNorm(pre, y, Store.Span(Gamma), Store.Span(Beta), rows, Dim, Eps, mean[..rows], rstd[..rows]);
    }

    /// <summary>
    /// A module's norm step: y = norm(x + residual) (no residual: norm(x)). Eval (<paramref name="kept"/> null): the fused
    /// kernel, x may alias y. Keeping for the backward pass: x is the kept pre-norm buffer and receives the sum; the row
    /// statistics go to <paramref name="kept"/> under <paramref name="meanKey"/> / <paramref name="rstdKey"/> (LayerNorm only).
    /// </summary>
    internal void Forward(Span<float> x, ReadOnlySpan<float> residual, Span<float> y, int rows, Workspace? kept, string meanKey, string rstdKey)
    {
        if (kept is null)
        {
            if (residual.IsEmpty) Forward(x, y, rows);
            else AddForward(x, residual, y, rows);
        }
        else ForwardCached(x, residual, x, y, rows, Stats(kept, meanKey, rows), Stats(kept, rstdKey, rows));
    }

    /// <summary>Row statistics [rows] kept under <paramref name="key"/> for the backward pass (empty for NoNorm, which has none).</summary>
    internal Span<float> Stats(Workspace kept, string key, int rows) => HasStats ? kept.Get(key, rows) : default;

    /// <summary>Backward of <see cref="ForwardCached"/>: dγ, dβ accumulate into the gradient buffer; dx (= d pre) is written
    /// or added (<paramref name="accumulate"/>). dx may alias dy.</summary>
    public void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> pre, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx,
        int rows, bool accumulate = false)
    {
        if (Kind == NormalizationType.NoNorm)
            NormsBackward.NoNorm(dy, pre, Store.Span(Gamma), dx, Store.GradSpan(Gamma), Store.GradSpan(Beta), rows, Dim, accumulate);
        else
            NormsBackward.LayerNorm(dy, pre, mean, rstd, Store.Span(Gamma), dx, Store.GradSpan(Gamma), Store.GradSpan(Beta), rows, Dim, accumulate);
    }

    /// <summary>Whether the backward pass needs per-row statistics.</summary>
    public bool HasStats => Kind == NormalizationType.LayerNorm;

    /// <summary>Initialise as HF does: γ = 1, β = 0.</summary>
    public void Reset() { Store.Span(Gamma).Fill(1f); Store.Span(Beta).Clear(); }
}
