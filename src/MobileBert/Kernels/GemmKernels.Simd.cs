// Micro-kernels of the three SIMD paths. They share one shape, so they were written with a small generator
// script for regularity; this file is the source of truth (edit freely).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

internal static unsafe partial class GemmKernels
{
    /// <summary>Vector512 micro-kernel, MR×NR = 8×32: 16 zmm accumulators, 2 B loads + 8 broadcasts per 16 FMAs.</summary>
    internal readonly struct Avx512Kernel : IMicroKernel
    {
        public static int MR => 8;
        public static int NR => 32;
        public static int KC => 512;   // A strip 8×512 = 16 KB stays in L1; fewer C passes

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run(int mr, int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
        {
            switch (mr)
            {
                case 8: Tile<R8>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 7: Tile<R7>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 6: Tile<R6>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 5: Tile<R5>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 4: Tile<R4>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 3: Tile<R3>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 2: Tile<R2>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 1: Tile<R1>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                default: throw new ArgumentOutOfRangeException(nameof(mr));
            }
        }

        // C[rows,32] (+)= A[rows,kc] · Bpanel[kc,32] (+ bias[32]); rows = TR.Value ≤ 8, A element (r,p) at a[r*rs + p*ks].
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Tile<TR>(int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
            where TR : struct, IRows
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
            float* a0 = a;
            float* a1 = a + 1 * rs;
            float* a2 = a + 2 * rs;
            float* a3 = a + 3 * rs;
            float* a4 = a + 4 * rs;
            float* a5 = a + 5 * rs;
            float* a6 = a + 6 * rs;
            float* a7 = a + 7 * rs;
            for (int p = 0; p < kc;)
            {
                // One prefetched line per 4 k steps, two per group of 8: outside the k loop proper, which keeps its shape.
                if (Sse.IsSupported) { Sse.Prefetch1(pf + 4 * p); Sse.Prefetch1(pf + 4 * p + 16); }
                for (int end = Math.Min(kc, p + 8); p < end; p++)
                {
                    var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16);
                    { var x = Vector512.Create(*a0); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                        a0 += ks; }
                    if (TR.Value > 1) { var x = Vector512.Create(*a1); c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
                        c11 = Vector512.FusedMultiplyAdd(x, b1, c11); a1 += ks; }
                    if (TR.Value > 2) { var x = Vector512.Create(*a2); c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
                        c21 = Vector512.FusedMultiplyAdd(x, b1, c21); a2 += ks; }
                    if (TR.Value > 3) { var x = Vector512.Create(*a3); c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
                        c31 = Vector512.FusedMultiplyAdd(x, b1, c31); a3 += ks; }
                    if (TR.Value > 4) { var x = Vector512.Create(*a4); c40 = Vector512.FusedMultiplyAdd(x, b0, c40);
                        c41 = Vector512.FusedMultiplyAdd(x, b1, c41); a4 += ks; }
                    if (TR.Value > 5) { var x = Vector512.Create(*a5); c50 = Vector512.FusedMultiplyAdd(x, b0, c50);
                        c51 = Vector512.FusedMultiplyAdd(x, b1, c51); a5 += ks; }
                    if (TR.Value > 6) { var x = Vector512.Create(*a6); c60 = Vector512.FusedMultiplyAdd(x, b0, c60);
                        c61 = Vector512.FusedMultiplyAdd(x, b1, c61); a6 += ks; }
                    if (TR.Value > 7) { var x = Vector512.Create(*a7); c70 = Vector512.FusedMultiplyAdd(x, b0, c70);
                        c71 = Vector512.FusedMultiplyAdd(x, b1, c71); a7 += ks; }
                    b += 32;
                }
            }
            if (bias != null)
            {
                var z0 = Vector512.Load(bias + 0); var z1 = Vector512.Load(bias + 16);
                c00 += z0; c01 += z1;
                if (TR.Value > 1) { c10 += z0; c11 += z1; }
                if (TR.Value > 2) { c20 += z0; c21 += z1; }
                if (TR.Value > 3) { c30 += z0; c31 += z1; }
                if (TR.Value > 4) { c40 += z0; c41 += z1; }
                if (TR.Value > 5) { c50 += z0; c51 += z1; }
                if (TR.Value > 6) { c60 += z0; c61 += z1; }
                if (TR.Value > 7) { c70 += z0; c71 += z1; }
            }
            if (load) { c00 += Vector512.Load(c + 0); c01 += Vector512.Load(c + 16); } c00.Store(c + 0); c01.Store(c + 16);
            if (TR.Value > 1) { c += ldc; if (load) { c10 += Vector512.Load(c + 0); c11 += Vector512.Load(c + 16); } c10.Store(c + 0);
                c11.Store(c + 16); }
            if (TR.Value > 2) { c += ldc; if (load) { c20 += Vector512.Load(c + 0); c21 += Vector512.Load(c + 16); } c20.Store(c + 0);
                c21.Store(c + 16); }
            if (TR.Value > 3) { c += ldc; if (load) { c30 += Vector512.Load(c + 0); c31 += Vector512.Load(c + 16); } c30.Store(c + 0);
                c31.Store(c + 16); }
            if (TR.Value > 4) { c += ldc; if (load) { c40 += Vector512.Load(c + 0); c41 += Vector512.Load(c + 16); } c40.Store(c + 0);
                c41.Store(c + 16); }
            if (TR.Value > 5) { c += ldc; if (load) { c50 += Vector512.Load(c + 0); c51 += Vector512.Load(c + 16); } c50.Store(c + 0);
                c51.Store(c + 16); }
            if (TR.Value > 6) { c += ldc; if (load) { c60 += Vector512.Load(c + 0); c61 += Vector512.Load(c + 16); } c60.Store(c + 0);
                c61.Store(c + 16); }
            if (TR.Value > 7) { c += ldc; if (load) { c70 += Vector512.Load(c + 0); c71 += Vector512.Load(c + 16); } c70.Store(c + 0);
                c71.Store(c + 16); }
        }
    }

    /// <summary>Vector256 + FMA micro-kernel, MR×NR = 6×16: 12 ymm accumulators (fits the 16 AVX2 registers).</summary>
    internal readonly struct Avx2Kernel : IMicroKernel
    {
        public static int MR => 6;
        public static int NR => 16;
        public static int KC => 256;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run(int mr, int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
        {
            switch (mr)
            {
                case 6: Tile<R6>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 5: Tile<R5>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 4: Tile<R4>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 3: Tile<R3>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 2: Tile<R2>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 1: Tile<R1>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                default: throw new ArgumentOutOfRangeException(nameof(mr));
            }
        }

        // C[rows,16] (+)= A[rows,kc] · Bpanel[kc,16] (+ bias[16]); rows = TR.Value ≤ 6, A element (r,p) at a[r*rs + p*ks].
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Tile<TR>(int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
            where TR : struct, IRows
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                c40 = default, c41 = default, c50 = default, c51 = default;
            float* a0 = a;
            float* a1 = a + 1 * rs;
            float* a2 = a + 2 * rs;
            float* a3 = a + 3 * rs;
            float* a4 = a + 4 * rs;
            float* a5 = a + 5 * rs;
            for (int p = 0; p < kc;)
            {
                // One prefetched line per 4 k steps, two per group of 8: outside the k loop proper, which keeps its shape.
                if (Sse.IsSupported) { Sse.Prefetch1(pf + 4 * p); Sse.Prefetch1(pf + 4 * p + 16); }
                for (int end = Math.Min(kc, p + 8); p < end; p++)
                {
                    var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
                    { var x = Vector256.Create(*a0); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
                        a0 += ks; }
                    if (TR.Value > 1) { var x = Vector256.Create(*a1); c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
                        c11 = Vector256.FusedMultiplyAdd(x, b1, c11); a1 += ks; }
                    if (TR.Value > 2) { var x = Vector256.Create(*a2); c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
                        c21 = Vector256.FusedMultiplyAdd(x, b1, c21); a2 += ks; }
                    if (TR.Value > 3) { var x = Vector256.Create(*a3); c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
                        c31 = Vector256.FusedMultiplyAdd(x, b1, c31); a3 += ks; }
                    if (TR.Value > 4) { var x = Vector256.Create(*a4); c40 = Vector256.FusedMultiplyAdd(x, b0, c40);
                        c41 = Vector256.FusedMultiplyAdd(x, b1, c41); a4 += ks; }
                    if (TR.Value > 5) { var x = Vector256.Create(*a5); c50 = Vector256.FusedMultiplyAdd(x, b0, c50);
                        c51 = Vector256.FusedMultiplyAdd(x, b1, c51); a5 += ks; }
                    b += 16;
                }
            }
            if (bias != null)
            {
                var z0 = Vector256.Load(bias + 0); var z1 = Vector256.Load(bias + 8);
                c00 += z0; c01 += z1;
                if (TR.Value > 1) { c10 += z0; c11 += z1; }
                if (TR.Value > 2) { c20 += z0; c21 += z1; }
                if (TR.Value > 3) { c30 += z0; c31 += z1; }
                if (TR.Value > 4) { c40 += z0; c41 += z1; }
                if (TR.Value > 5) { c50 += z0; c51 += z1; }
            }
            if (load) { c00 += Vector256.Load(c + 0); c01 += Vector256.Load(c + 8); } c00.Store(c + 0); c01.Store(c + 8);
            if (TR.Value > 1) { c += ldc; if (load) { c10 += Vector256.Load(c + 0); c11 += Vector256.Load(c + 8); } c10.Store(c + 0);
                c11.Store(c + 8); }
            if (TR.Value > 2) { c += ldc; if (load) { c20 += Vector256.Load(c + 0); c21 += Vector256.Load(c + 8); } c20.Store(c + 0);
                c21.Store(c + 8); }
            if (TR.Value > 3) { c += ldc; if (load) { c30 += Vector256.Load(c + 0); c31 += Vector256.Load(c + 8); } c30.Store(c + 0);
                c31.Store(c + 8); }
            if (TR.Value > 4) { c += ldc; if (load) { c40 += Vector256.Load(c + 0); c41 += Vector256.Load(c + 8); } c40.Store(c + 0);
                c41.Store(c + 8); }
            if (TR.Value > 5) { c += ldc; if (load) { c50 += Vector256.Load(c + 0); c51 += Vector256.Load(c + 8); } c50.Store(c + 0);
                c51.Store(c + 8); }
        }
    }

    /// <summary>Vector128 micro-kernel, MR×NR = 6×8 (SSE / NEON): fused multiply-add where the hardware has it.</summary>
    internal readonly struct Vec128Kernel : IMicroKernel
    {
        public static int MR => 6;
        public static int NR => 8;
        public static int KC => 256;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run(int mr, int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
        {
            switch (mr)
            {
                case 6: Tile<R6>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 5: Tile<R5>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 4: Tile<R4>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 3: Tile<R3>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 2: Tile<R2>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                case 1: Tile<R1>(kc, a, rs, ks, b, c, ldc, bias, load, pf); break;
                default: throw new ArgumentOutOfRangeException(nameof(mr));
            }
        }

        // C[rows,8] (+)= A[rows,kc] · Bpanel[kc,8] (+ bias[8]); rows = TR.Value ≤ 6, A element (r,p) at a[r*rs + p*ks].
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        static void Tile<TR>(int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, float* bias, bool load, float* pf)
            where TR : struct, IRows
        {
            Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                c40 = default, c41 = default, c50 = default, c51 = default;
            float* a0 = a;
            float* a1 = a + 1 * rs;
            float* a2 = a + 2 * rs;
            float* a3 = a + 3 * rs;
            float* a4 = a + 4 * rs;
            float* a5 = a + 5 * rs;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector128.Load(b + 0); var b1 = Vector128.Load(b + 4);
                { var x = Vector128.Create(*a0); c00 = Vector128.MultiplyAddEstimate(x, b0, c00); c01 = Vector128.MultiplyAddEstimate(x, b1, c01);
                    a0 += ks; }
                if (TR.Value > 1) { var x = Vector128.Create(*a1); c10 = Vector128.MultiplyAddEstimate(x, b0, c10);
                    c11 = Vector128.MultiplyAddEstimate(x, b1, c11); a1 += ks; }
                if (TR.Value > 2) { var x = Vector128.Create(*a2); c20 = Vector128.MultiplyAddEstimate(x, b0, c20);
                    c21 = Vector128.MultiplyAddEstimate(x, b1, c21); a2 += ks; }
                if (TR.Value > 3) { var x = Vector128.Create(*a3); c30 = Vector128.MultiplyAddEstimate(x, b0, c30);
                    c31 = Vector128.MultiplyAddEstimate(x, b1, c31); a3 += ks; }
                if (TR.Value > 4) { var x = Vector128.Create(*a4); c40 = Vector128.MultiplyAddEstimate(x, b0, c40);
                    c41 = Vector128.MultiplyAddEstimate(x, b1, c41); a4 += ks; }
                if (TR.Value > 5) { var x = Vector128.Create(*a5); c50 = Vector128.MultiplyAddEstimate(x, b0, c50);
                    c51 = Vector128.MultiplyAddEstimate(x, b1, c51); a5 += ks; }
                b += 8;
            }
            if (bias != null)
            {
                var z0 = Vector128.Load(bias + 0); var z1 = Vector128.Load(bias + 4);
                c00 += z0; c01 += z1;
                if (TR.Value > 1) { c10 += z0; c11 += z1; }
                if (TR.Value > 2) { c20 += z0; c21 += z1; }
                if (TR.Value > 3) { c30 += z0; c31 += z1; }
                if (TR.Value > 4) { c40 += z0; c41 += z1; }
                if (TR.Value > 5) { c50 += z0; c51 += z1; }
            }
            if (load) { c00 += Vector128.Load(c + 0); c01 += Vector128.Load(c + 4); } c00.Store(c + 0); c01.Store(c + 4);
            if (TR.Value > 1) { c += ldc; if (load) { c10 += Vector128.Load(c + 0); c11 += Vector128.Load(c + 4); } c10.Store(c + 0);
                c11.Store(c + 4); }
            if (TR.Value > 2) { c += ldc; if (load) { c20 += Vector128.Load(c + 0); c21 += Vector128.Load(c + 4); } c20.Store(c + 0);
                c21.Store(c + 4); }
            if (TR.Value > 3) { c += ldc; if (load) { c30 += Vector128.Load(c + 0); c31 += Vector128.Load(c + 4); } c30.Store(c + 0);
                c31.Store(c + 4); }
            if (TR.Value > 4) { c += ldc; if (load) { c40 += Vector128.Load(c + 0); c41 += Vector128.Load(c + 4); } c40.Store(c + 0);
                c41.Store(c + 4); }
            if (TR.Value > 5) { c += ldc; if (load) { c50 += Vector128.Load(c + 0); c51 += Vector128.Load(c + 4); } c50.Store(c + 0);
                c51.Store(c + 4); }
        }
    }
}
