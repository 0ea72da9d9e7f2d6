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

    /// <summary>Initialise as HF does: γ = 1, β = 0.</summary>
    public void Reset() { Store.Span(Gamma).Fill(1f); Store.Span(Beta).Clear(); }
}
