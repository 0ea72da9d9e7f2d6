using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MobileBert.Kernels;

/// <summary>The int8 GEMM micro-kernels: raw Σ a·w of a row tile × one 16-column panel, one per <see cref="Int8Path"/>.</summary>
public static unsafe partial class Int8Gemm
{
    /// <summary>Rows of the Avx512Bw micro-tile: 12 accumulators of 16 columns (one zmm each).</summary>
    const int Avx512BwRows = 12;

    /// <summary>
    /// Raw Σ a·w (a as unsigned) of mr ≤ 12 rows × 16 columns into tile [12][16], for CPUs with AVX-512BW but no VNNI
    /// instruction .NET exposes. One group of 4 k is one zmm of the packed panel ([16 columns × 4 k] bytes); per row,
    /// vpmaddubsw multiplies the broadcast 4 activation bytes with it and adds pairs into i16 (exact: a ≤ 127 on this
    /// path, <see cref="ActivationLevels"/>), and vpmaddwd by ones adds the two pairs of each column into i32.
    /// Rows past mr repeat the last valid row (results discarded).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Avx512BwTile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        byte* a0 = a, a1 = a + Math.Min(1, mr - 1) * (long)lda, a2 = a + Math.Min(2, mr - 1) * (long)lda,
            a3 = a + Math.Min(3, mr - 1) * (long)lda, a4 = a + Math.Min(4, mr - 1) * (long)lda, a5 = a + Math.Min(5, mr - 1) * (long)lda,
            a6 = a + Math.Min(6, mr - 1) * (long)lda, a7 = a + Math.Min(7, mr - 1) * (long)lda, a8 = a + Math.Min(8, mr - 1) * (long)lda,
            a9 = a + Math.Min(9, mr - 1) * (long)lda, a10 = a + Math.Min(10, mr - 1) * (long)lda, a11 = a + Math.Min(11, mr - 1) * (long)lda;
        var ones = Vector512.Create((short)1);
        var c0 = Vector512<int>.Zero; var c1 = c0; var c2 = c0; var c3 = c0; var c4 = c0; var c5 = c0;
        var c6 = c0; var c7 = c0; var c8 = c0; var c9 = c0; var c10 = c0; var c11 = c0;
        for (int g = 0; g < groups; g++)
        {
            var w = Vector512.Load(b + g * 64);   // [16 columns × 4 k] s8
            int o = g * 4;
            c0 += Dot(a0 + o, w, ones); c1 += Dot(a1 + o, w, ones); c2 += Dot(a2 + o, w, ones);
            c3 += Dot(a3 + o, w, ones); c4 += Dot(a4 + o, w, ones); c5 += Dot(a5 + o, w, ones);
            c6 += Dot(a6 + o, w, ones); c7 += Dot(a7 + o, w, ones); c8 += Dot(a8 + o, w, ones);
            c9 += Dot(a9 + o, w, ones); c10 += Dot(a10 + o, w, ones); c11 += Dot(a11 + o, w, ones);
        }
        c0.Store(tile); c1.Store(tile + 16); c2.Store(tile + 32); c3.Store(tile + 48); c4.Store(tile + 64); c5.Store(tile + 80);
        c6.Store(tile + 96); c7.Store(tile + 112); c8.Store(tile + 128); c9.Store(tile + 144); c10.Store(tile + 160); c11.Store(tile + 176);
    }

    /// <summary>Σ over each column's 4 k of a[k]·w[column, k]: 4 activation bytes broadcast, 16 columns → 16 i32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Dot(byte* a, Vector512<sbyte> w, Vector512<short> ones) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)a).AsByte(), w), ones);

    /// <summary>Raw Σ a·w (a as unsigned) of mr ≤ 6 rows × 16 columns into tile [6][16].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void VnniTile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        // Rows past mr repeat the last valid row (results discarded).
        byte* a0 = a, a1 = a + (mr > 1 ? 1 : 0) * (long)lda, a2 = a + (mr > 2 ? 2 : mr - 1) * (long)lda, a3 = a + (mr > 3 ? 3 : mr - 1) * (long)lda,
            a4 = a + (mr > 4 ? 4 : mr - 1) * (long)lda, a5 = a + (mr > 5 ? 5 : mr - 1) * (long)lda;
        var c00 = Vector256<int>.Zero; var c01 = c00; var c10 = c00; var c11 = c00; var c20 = c00; var c21 = c00;
        var c30 = c00; var c31 = c00; var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00;
        for (int g = 0; g < groups; g++)
        {
            var b0 = Vector256.Load(b + g * 64); var b1 = Vector256.Load(b + g * 64 + 32);
            int o = g * 4;
            var x = Vector256.Create(*(int*)(a0 + o)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + o)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + o)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + o)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
            x = Vector256.Create(*(int*)(a4 + o)).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, b0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, b1);
            x = Vector256.Create(*(int*)(a5 + o)).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, b0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, b1);
        }
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24); c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56); c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
    }

    /// <summary>
    /// <see cref="VnniTile"/> with the dequantizing epilogue applied in registers: C[r, 0..16) =
    /// (float)(acc − 128·colSum)·(ws·sa[r]) (+ bias), the same operations as the generic epilogue (bit-identical).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void VnniTileDequant(byte* a, int lda, int mr, int groups, sbyte* b, float* c, int ldc, float* sa, int* colSum, float* ws, float* bias)
    {
        byte* a0 = a, a1 = a + (mr > 1 ? 1 : 0) * (long)lda, a2 = a + (mr > 2 ? 2 : mr - 1) * (long)lda, a3 = a + (mr > 3 ? 3 : mr - 1) * (long)lda,
            a4 = a + (mr > 4 ? 4 : mr - 1) * (long)lda, a5 = a + (mr > 5 ? 5 : mr - 1) * (long)lda;
        var c00 = Vector256<int>.Zero; var c01 = c00; var c10 = c00; var c11 = c00; var c20 = c00; var c21 = c00;
        var c30 = c00; var c31 = c00; var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00;
        for (int g = 0; g < groups; g++)
        {
            var b0 = Vector256.Load(b + g * 64); var b1 = Vector256.Load(b + g * 64 + 32);
            int o = g * 4;
            var x = Vector256.Create(*(int*)(a0 + o)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + o)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + o)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + o)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
            x = Vector256.Create(*(int*)(a4 + o)).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, b0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, b1);
            x = Vector256.Create(*(int*)(a5 + o)).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, b0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, b1);
        }
        var k0 = Vector256.Load(colSum) * 128; var k1 = Vector256.Load(colSum + 8) * 128;
        var w0 = Vector256.Load(ws); var w1 = Vector256.Load(ws + 8);
        var z0 = bias != null ? Vector256.Load(bias) : Vector256<float>.Zero;
        var z1 = bias != null ? Vector256.Load(bias + 8) : Vector256<float>.Zero;
        bool hasBias = bias != null;
        DequantRow(c00, c01, k0, k1, w0, w1, z0, z1, hasBias, sa[0], c);
        if (mr > 1) DequantRow(c10, c11, k0, k1, w0, w1, z0, z1, hasBias, sa[1], c + ldc);
        if (mr > 2) DequantRow(c20, c21, k0, k1, w0, w1, z0, z1, hasBias, sa[2], c + 2L * ldc);
        if (mr > 3) DequantRow(c30, c31, k0, k1, w0, w1, z0, z1, hasBias, sa[3], c + 3L * ldc);
        if (mr > 4) DequantRow(c40, c41, k0, k1, w0, w1, z0, z1, hasBias, sa[4], c + 4L * ldc);
        if (mr > 5) DequantRow(c50, c51, k0, k1, w0, w1, z0, z1, hasBias, sa[5], c + 5L * ldc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void DequantRow(Vector256<int> lo, Vector256<int> hi, Vector256<int> k0, Vector256<int> k1, Vector256<float> w0, Vector256<float> w1,
        Vector256<float> z0, Vector256<float> z1, bool hasBias, float s, float* cr)
    {
        var vs = Vector256.Create(s);
        var v0 = Vector256.ConvertToSingle(lo - k0) * (w0 * vs);
        var v1 = Vector256.ConvertToSingle(hi - k1) * (w1 * vs);
        if (hasBias) { v0 += z0; v1 += z1; }
        v0.Store(cr); v1.Store(cr + 8);
    }

    /// <summary>AVX2 without VNNI: weights sign-extended to 16 bit, activations zero-extended, vpmaddwd (exact pair sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Avx2Tile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        byte* a0 = a, a1 = a + (mr > 1 ? lda : 0);
        // acc{row}{q}: columns 4q..4q+3, each as [c k01, c k23] pairs.
        var r00 = Vector256<int>.Zero; var r01 = r00; var r02 = r00; var r03 = r00; var r10 = r00; var r11 = r00; var r12 = r00; var r13 = r00;
        for (int g = 0; g < groups; g++)
        {
            sbyte* bg = b + g * 64;
            var w0 = Avx2.ConvertToVector256Int16(Vector128.Load(bg)); var w1 = Avx2.ConvertToVector256Int16(Vector128.Load(bg + 16));
            var w2 = Avx2.ConvertToVector256Int16(Vector128.Load(bg + 32)); var w3 = Avx2.ConvertToVector256Int16(Vector128.Load(bg + 48));
            int o = g * 4;
            var x = Widen4(a0 + o);
            r00 = Avx2.Add(r00, Avx2.MultiplyAddAdjacent(x, w0)); r01 = Avx2.Add(r01, Avx2.MultiplyAddAdjacent(x, w1));
            r02 = Avx2.Add(r02, Avx2.MultiplyAddAdjacent(x, w2)); r03 = Avx2.Add(r03, Avx2.MultiplyAddAdjacent(x, w3));
            x = Widen4(a1 + o);
            r10 = Avx2.Add(r10, Avx2.MultiplyAddAdjacent(x, w0)); r11 = Avx2.Add(r11, Avx2.MultiplyAddAdjacent(x, w1));
            r12 = Avx2.Add(r12, Avx2.MultiplyAddAdjacent(x, w2)); r13 = Avx2.Add(r13, Avx2.MultiplyAddAdjacent(x, w3));
        }
        Reduce(r00, r01).Store(tile); Reduce(r02, r03).Store(tile + 8);
        Reduce(r10, r11).Store(tile + 16); Reduce(r12, r13).Store(tile + 24);

        static Vector256<short> Widen4(byte* p)
        {
            ulong v = p[0] | ((ulong)p[1] << 16) | ((ulong)p[2] << 32) | ((ulong)p[3] << 48);
            return Vector256.Create(v).AsInt16();
        }
        // [c0a c0b c1a c1b | c2a c2b c3a c3b], [c4a … | …] → [c0 … c7]
        static Vector256<int> Reduce(Vector256<int> lo, Vector256<int> hi) =>
            Avx2.Permute4x64(Avx2.HorizontalAdd(lo, hi).AsInt64(), 0b11_01_10_00).AsInt32();
    }

    static void ScalarTile(byte* a, int lda, int mr, int groups, sbyte* b, int* tile)
    {
        for (int r = 0; r < mr; r++)
            for (int q = 0; q < 16; q++)
            {
                int s = 0;
                for (int g = 0; g < groups; g++)
                {
                    byte* ar = a + (long)r * lda + g * 4; sbyte* bq = b + g * 64 + q * 4;
                    s += ar[0] * bq[0] + ar[1] * bq[1] + ar[2] * bq[2] + ar[3] * bq[3];
                }
                tile[r * 16 + q] = s;
            }
    }
}
