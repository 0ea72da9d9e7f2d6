using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MobileBert.Kernels;

/// <summary>Backward passes of <see cref="Activations"/> (derivatives evaluated in double, one rounding).</summary>
public static class ActivationsBackward
{
    /// <summary>Whether <see cref="Backward"/> needs the pre-activation input (else the output suffices).</summary>
    public static bool NeedsInput(Activation kind) => kind is Activation.Gelu or Activation.GeluNew;

    /// <summary>
    /// In place: grad = dL/dy → dL/dx for y = act(x). <paramref name="x"/> is the pre-activation input (needed for GELU
    /// and gelu_new), <paramref name="y"/> the output (used for ReLU: y &gt; 0 ⇔ x &gt; 0, and tanh: 1 − y²).
    /// </summary>
    public static void Backward(Activation kind, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> grad)
    {
        int n = grad.Length;
        switch (kind)
        {
            case Activation.Relu:
                KernelArgs.Length("ActivationsBackward", y.Length, n, nameof(y), "grad.Length");
                ReluBackward(y[..n], grad);
                break;
            case Activation.Tanh:
                KernelArgs.Length("ActivationsBackward", y.Length, n, nameof(y), "grad.Length");
                for (int i = 0; i < n; i++) { double t = y[i]; grad[i] = (float)(grad[i] * (1.0 - t * t)); }
                break;
            case Activation.Gelu:
                KernelArgs.Length("ActivationsBackward", x.Length, n, nameof(x), "grad.Length");
                for (int i = 0; i < n; i++) grad[i] = (float)(grad[i] * GeluDerivative(x[i]));
                break;
            case Activation.GeluNew:
                KernelArgs.Length("ActivationsBackward", x.Length, n, nameof(x), "grad.Length");
                for (int i = 0; i < n; i++) grad[i] = (float)(grad[i] * GeluNewDerivative(x[i]));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    static void ReluBackward(ReadOnlySpan<float> y, Span<float> grad)
    {
        int n = grad.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float yr = ref MemoryMarshal.GetReference(y);
            ref float gr = ref MemoryMarshal.GetReference(grad);
            for (; i <= n - 8; i += 8)
            {
                var keep = Vector256.GreaterThan(Vector256.LoadUnsafe(ref yr, (nuint)i), Vector256<float>.Zero);
                (Vector256.LoadUnsafe(ref gr, (nuint)i) & keep).StoreUnsafe(ref gr, (nuint)i);
            }
        }
        for (; i < n; i++) if (!(y[i] > 0f)) grad[i] = 0f;
    }

    const double InvSqrt2 = 0.70710678118654752440, InvSqrt2Pi = 0.39894228040143267794;

    /// <summary>d/dx [x·Φ(x)] = Φ(x) + x·φ(x).</summary>
    public static double GeluDerivative(double x)
    {
        double h = 0.5 * Erfc(Math.Abs(x) * InvSqrt2);       // Φ(−|x|)
        double cdf = x < 0 ? h : 1.0 - h;
        return cdf + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);
    }

    /// <summary>d/dx of 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).</summary>
    public static double GeluNewDerivative(double x)
    {
        const double c = 0.79788456080286535588, k = 0.044715;
        double t = Math.Tanh(c * (x + k * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * k * x * x);
    }

    /// <summary>erfc(z) for z ≥ 0 (Chebyshev fit, relative error &lt; 1.2e-7, ample for gradients).</summary>
    static double Erfc(double z)
    {
        double t = 1.0 / (1.0 + 0.5 * z);
        return t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    }
}
