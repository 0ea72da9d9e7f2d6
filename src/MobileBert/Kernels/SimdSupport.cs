using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>
/// Which SIMD paths the kernels take in this process: the choice is made at run time from what the runtime reports
/// (so <c>DOTNET_EnableAVX512F=0</c>, <c>DOTNET_EnableAVX2=0</c>, <c>DOTNET_EnableAVX=0</c> or
/// <c>DOTNET_EnableHWIntrinsic=0</c> select a lower level, and a NativeAOT binary reports the instruction set it was
/// compiled for).
/// </summary>
public static class SimdSupport
{
    /// <summary>The fp32 GEMM micro-kernel family: Vector512, Vector256 (AVX2+FMA), Vector128 (SSE / AdvSimd) or Scalar.</summary>
    public static string GemmPath => GemmKernels.Best.ToString();

    /// <summary>The int8 GEMM kernel (AvxVnni, Avx512Bw, Avx2 or Scalar) and its activation precision, e.g. "Avx512Bw (7-bit
    /// activations)".</summary>
    public static string Int8GemmPath =>
        $"{Int8Gemm.Resolve(Int8Path.Auto)} ({(Int8Gemm.ActivationLevels(Int8Path.Auto) == 127 ? 8 : 7)}-bit activations)";

    /// <summary>One line, e.g. <c>X64 JIT: fp32 GEMM Vector512, int8 GEMM AvxVnni; Vector128/256/512 accelerated yes/yes/yes, FMA yes, AdvSimd
    /// no</c>.</summary>
    public static string Describe()
    {
        static string YesNo(bool b) => b ? "yes" : "no";
        string mode = RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT";
        return $"{RuntimeInformation.ProcessArchitecture} {mode}: fp32 GEMM {GemmPath}, int8 GEMM {Int8GemmPath}; "
            + $"Vector128/256/512 accelerated {YesNo(Vector128.IsHardwareAccelerated)}/{YesNo(Vector256.IsHardwareAccelerated)}/"
            + $"{YesNo(Vector512.IsHardwareAccelerated)}, FMA {YesNo(Fma.IsSupported || AdvSimd.IsSupported)}, AdvSimd {YesNo(AdvSimd.IsSupported)}";
    }
}
