using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using static MobileBert.Kernels.GemmKernels;

namespace MobileBert.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// Fast GEMM, same contract as <see cref="Reference"/>: C[m,n] = (accumulate ? C : 0) + op(A)·op(B) + bias.
    /// Packed, cache-blocked, SIMD (Vector512 / Vector256+FMA / Vector128 / scalar, chosen at run time),
    /// multi-threaded on <paramref name="threads"/> threads (≤ 0 means <see cref="Environment.ProcessorCount"/>).
    /// For constant weights prefer <see cref="Pack"/> once + <see cref="Multiply(ReadOnlySpan{float}, PackedMatrix, Span{float}, int, Transpose,
    /// ReadOnlySpan{float}, bool, int)"/>.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        Transpose ta = Transpose.No, Transpose tb = Transpose.No, ReadOnlySpan<float> bias = default, bool accumulate = false, int threads = 1)
        => MultiplyCore(a, b, c, m, n, k, ta, tb, bias, accumulate, threads, GemmPath.Auto);

    /// <summary>Multiply on a chosen micro-kernel path (tests run every path the CPU supports).</summary>
    internal static void MultiplyCore(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        Transpose ta, Transpose tb, ReadOnlySpan<float> bias, bool accumulate, int threads, GemmPath path)
    {
        CheckShapes(a, b, c, m, n, k, bias);
        path = Resolve(path);
        if (m == 0 || n == 0) return;
        int t = PlanThreads(m, n, k, threads);
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            if (k == 0) { BiasOnly(pc, m, n, pbias, accumulate); return; }
            if (m <= GemvMaxRows)
            {
                // A row or two: packing B would cost as much as the product; stream B once instead.
                var gemv = new GemvJob { A = pa, B = pb, C = pc, Bias = pbias, M = m, N = n, K = k, Ta = ta, Tb = tb, Accumulate = accumulate };
                int chunks = Math.Max((n + 1023) / 1024, t == 1 ? 1 : Math.Min(4 * t, (n + 15) / 16));
                gemv.Chunk = (n + chunks - 1) / chunks;
                ParallelFor.Run((n + gemv.Chunk - 1) / gemv.Chunk, t, ref gemv);
                return;
            }
            // Each thread packs the op(B) panels its tiles need into its own thread-local buffer (reused across calls):
            // duplicated packing (≈ n·k copies per thread) is cheaper than moving freshly packed lines between cores —
            // unless M is small next to K (weight gradients dW = dYᵀ·X, k = rows): then K is split across threads
            // (each packs only its K slice of B) and the partial products are summed.
            int slices = SplitKChunks(m, n, k, t, path);
            if (slices > 1) { ComputeSplitK(pa, ta, pb, tb, pc, pbias, m, n, k, accumulate, slices, path); return; }
            var src = new UnpackedB { B = pb, Tb = tb, Ldb = tb == Transpose.No ? n : k, CallId = Interlocked.Increment(ref s_callId) };
            Compute(pa, ta, null, pc, pbias, m, n, k, accumulate, t, path, src);
        }
    }

    static long s_callId;

    /// <summary>Whether the micro-kernels prefetch the next B block (see ComputeJob.Tile; false: for A/B benches).</summary>
    internal static bool PrefetchNextBlock = true;

    /// <summary>An op(B) not packed yet; tiles pack the panels they need with <see cref="PrivatePanels"/>.</summary>
    internal struct UnpackedB
    {
        public float* B; public Transpose Tb; public int Ldb; public long CallId;

        [ThreadStatic] static long t_call;
        [ThreadStatic] static int t_jp0, t_jp1;

        internal static void Invalidate() => t_call = 0;

        /// <summary>
        /// This thread's panels [jp0, jp1) of op(B) packed for this call (layout of <see cref="GemmKernels.PackB(float*, int, int, Transpose, int,
        /// float*, int, int)"/>: the returned
        /// pointer is the virtual start of panel 0, panel jp at jp·K·NR; only the requested panels are backed by the
        /// thread-local buffer); packs them unless this thread already did for an earlier tile of the same call.
        /// </summary>
        public readonly float* PrivatePanels(int jp0, int jp1, int k, int n, int nr)
        {
            if (t_call == CallId && jp0 >= t_jp0 && jp1 <= t_jp1) return t_base;
            float[] buf = PackBuffer((jp1 - jp0) * nr * k + 16);
            float* bp;
            fixed (float* p = buf) bp = Align64(p) - (nint)jp0 * k * nr;     // pinned array: the pointer stays valid
            PackB(B, k, n, Ldb, Tb, nr, bp, jp0, jp1);
            t_call = CallId; t_jp0 = jp0; t_jp1 = jp1; t_base = bp;
            return bp;
        }

        [ThreadStatic] static float* t_base;
    }

    /// <summary>C = (accumulate ? C : 0) + bias for k = 0.</summary>
    static void BiasOnly(float* c, int m, int n, float* bias, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (nint)i * n, n);
            if (!accumulate) row.Clear();
            if (bias != null) System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(bias, n), row);
        }
    }

    /// <summary>Threads actually used: the caller's count, but 1 for calls too small to amortise a hand-off (~8 µs).</summary>
    static int PlanThreads(int m, int n, int k, int threads)
    {
        int t = ParallelFor.ResolveThreads(threads);
        if ((long)m * n * k < 256 * 1024) t = 1;
        return t;
    }

    /// <summary>Rows up to which an unpacked-B product is done as GEMV (no packing).</summary>
    internal const int GemvMaxRows = 2;

    /// <summary>
    /// C[m≤2, n] for unpacked B: each item handles columns [j0, j0+Chunk) of every row.
    /// tb = Yes (B [n,k]): C[i,j] = A_i · B_j (contiguous dot products); tb = No (B [k,n]): C_i = Σ_p A[i,p]·B_p (axpy over rows).
    /// </summary>
    struct GemvJob : IParallelBody
    {
        public float* A, B, C, Bias;
        public int M, N, K, Chunk;
        public Transpose Ta, Tb;
        public bool Accumulate;

        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int index)
        {
            int j0 = index * Chunk, w = Math.Min(Chunk, N - j0);
            float* acc = stackalloc float[w];   // Chunk ≤ 1024
            for (int i = 0; i < M; i++)
            {
                // Row i of op(A), contiguous (gathered into a pinned thread-local row when A is stored transposed).
                float* ar = A + (nint)i * K;
                if (Ta == Transpose.Yes)
                {
                    var row = t_gemvRow is { } r && r.Length >= K ? r : (t_gemvRow = GC.AllocateUninitializedArray<float>(K, pinned: true));
                    fixed (float* pr = row) ar = pr;   // pinned array: the pointer stays valid
                    for (int p = 0; p < K; p++) ar[p] = A[(nint)p * M + i];
                }
                if (Tb == Transpose.Yes)
                    for (int j = 0; j < w; j++) acc[j] = Dot(ar, B + (nint)(j0 + j) * K, K);
                else
                {
                    new Span<float>(acc, w).Clear();
                    for (int p = 0; p < K; p++) Axpy(ar[p], B + (nint)p * N + j0, acc, w);
                }
                float* crow = C + (nint)i * N + j0;
                for (int j = 0; j < w; j++)
                {
                    float v = acc[j];
                    if (Bias != null) v += Bias[j0 + j];
                    crow[j] = Accumulate ? crow[j] + v : v;
                }
            }
        }
    }

    [ThreadStatic] static float[]? t_gemvRow;

    /// <summary>Σ x[p]·y[p] (Vector256 FMA, two accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Dot(float* x, float* y, int k)
    {
        int p = 0; float s = 0;
        if (Vector256.IsHardwareAccelerated && k >= 16)
        {
            var a0 = Vector256<float>.Zero; var a1 = a0;
            for (; p + 16 <= k; p += 16)
            {
                a0 = Vector256.MultiplyAddEstimate(Vector256.Load(x + p), Vector256.Load(y + p), a0);
                a1 = Vector256.MultiplyAddEstimate(Vector256.Load(x + p + 8), Vector256.Load(y + p + 8), a1);
            }
            s = Vector256.Sum(a0 + a1);
        }
        for (; p < k; p++) s += x[p] * y[p];
        return s;
    }

    /// <summary>y[0..w) += alpha · x[0..w).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Axpy(float alpha, float* x, float* y, int w)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; j + 8 <= w; j += 8)
                Vector256.MultiplyAddEstimate(va, Vector256.Load(x + j), Vector256.Load(y + j)).Store(y + j);
        }
        for (; j < w; j++) y[j] += alpha * x[j];
    }

    [ThreadStatic] static float[]? t_packBuffer;
    static float[] PackBuffer(int size)
    {
        var buf = t_packBuffer;
        if (buf == null || buf.Length < size)
            // (A new buffer invalidates anything packed in the old one for the current call.)
        {
            t_packBuffer = buf = GC.AllocateUninitializedArray<float>(Math.Max(size, (buf?.Length ?? 0) * 3 / 2), pinned: true);
            UnpackedB.Invalidate();
        }
        return buf;
    }

    internal static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>C[m,n] (+)= op(A)·op(B) + bias, op(B) either pre-packed in NR panels at <paramref name="bp"/> (layout of
    /// <see cref="GemmKernels.PackB(float*, int, int, Transpose, int, float*, int, int)"/>) or packed by the tiles from <paramref name="src"/> (when
    /// src.B != null).</summary>
    internal static void Compute(float* a, Transpose ta, float* bp, float* c, float* bias, int m, int n, int k, bool accumulate, int threads,
        GemmPath path, UnpackedB src = default, PackedMatrix? then = null)
    {
        var job = new ComputeJob { A = a, Lda = ta == Transpose.No ? k : m, Ta = ta, Bp = bp, C = c, Bias = bias, M = m, N = n, K = k,
            Accumulate = accumulate, Path = path, Src = src };
        if (then is not null && then.Path == path && then.K > 0) { job.ThenBp = then.Panels; job.ThenK = then.K; job.ThenN = then.N; }
        int jobs = path switch
        {
            GemmPath.Vector512 => job.Plan<Avx512Kernel>(threads),
            GemmPath.Vector256 => job.Plan<Avx2Kernel>(threads),
            GemmPath.Vector128 => job.Plan<Vec128Kernel>(threads),
            _ => job.Plan<ScalarKernel>(threads),
        };
        ParallelFor.Run(jobs, threads, ref job);
    }

    /// <summary>
    /// Number of K slices for an unpacked-B product on <paramref name="threads"/> threads: 1 (split M or N) unless M
    /// is small next to K and N too narrow to split well — the shape of weight gradients dW[out, in] += dYᵀ·X with
    /// k = rows — where splitting M would make every thread pack (nearly) all of B: n·k copies for 2·(m/T)·n·k flops.
    /// </summary>
    static int SplitKChunks(int m, int n, int k, int threads, GemmPath path)
    {
        if (threads <= 1) return 1;
        int nr = PanelWidth(path);
        int jobsN = ((n + nr - 1) / nr * nr + 255) / 256;
        if (jobsN >= 2 * threads) return 1;                 // N split (see ComputeJob.Plan)
        // Splitting M duplicates ≈ n·k·(T−1)/T packed floats per thread; splitting K costs a serial reduction of
        // (T−1)·m·n partial sums read across cores (measured ≈ 4× a packed float each): split K only when k ≫ m
        // (the MLM decoder's input gradient, k = vocabulary). The encoder's dW (k = rows ≤ 8·m) measured no better.
        if (k <= 4 * threads * m || k < 256 * threads) return 1;
        return threads;
    }

    [ThreadStatic] static float[]? t_partials;

    /// <summary>
    /// C (+)= op(A)·op(B) + bias as <paramref name="chunks"/> K slices run in parallel (one per thread, each packing
    /// its own slice of B): slice 0 accumulates into C (with the bias), slice j &gt; 0 into a partial buffer of the
    /// calling thread; the partials are then added to C in slice order (deterministic for a given thread count).
    /// </summary>
    static void ComputeSplitK(float* a, Transpose ta, float* b, Transpose tb, float* c, float* bias, int m, int n, int k, bool accumulate, int chunks,
        GemmPath path)
    {
        long part = (long)m * n;
        var buf = t_partials;
        if (buf == null || buf.Length < (chunks - 1) * part)
            t_partials = buf = GC.AllocateUninitializedArray<float>((int)Math.Max((chunks - 1) * part, (buf?.Length ?? 0) * 3L / 2), pinned: true);
        int per = ((k + chunks - 1) / chunks + 7) & ~7;
        chunks = (k + per - 1) / per;
        fixed (float* pp = buf)
        {
            var job = new SplitKJob
            {
                A = a, B = b, C = c, Bias = bias, Partials = pp, M = m, N = n, K = k, PerChunk = per, Ta = ta, Tb = tb,
                Accumulate = accumulate, Path = path, CallId = Interlocked.Add(ref s_callId, chunks) - chunks + 1,
            };
            ParallelFor.Run(chunks, chunks, ref job);
            for (int j = 1; j < chunks; j++)
            {
                var cs = new Span<float>(c, (int)part);
                System.Numerics.Tensors.TensorPrimitives.Add(cs, new ReadOnlySpan<float>(pp + (j - 1) * part, (int)part), cs);
            }
        }
    }

    struct SplitKJob : IParallelBody
    {
        public float* A, B, C, Bias, Partials;
        public int M, N, K, PerChunk;
        public Transpose Ta, Tb;
        public bool Accumulate;
        public GemmPath Path;
        public long CallId;

        public readonly void Invoke(int j)
        {
            int k0 = j * PerChunk, kj = Math.Min(PerChunk, K - k0);
            var src = new UnpackedB
            {
                B = Tb == Transpose.No ? B + (nint)k0 * N : B + k0, Tb = Tb, Ldb = Tb == Transpose.No ? N : K, CallId = CallId + j,
            };
            var job = new ComputeJob
            {
                A = Ta == Transpose.No ? A + k0 : A + (nint)k0 * M, Lda = Ta == Transpose.No ? K : M, Ta = Ta,
                C = j == 0 ? C : Partials + (j - 1) * (long)M * N, Bias = j == 0 ? Bias : null,
                M = M, N = N, K = kj, Accumulate = j == 0 && Accumulate, Path = Path, Src = src,
            };
            int tiles = Path switch
            {
                GemmPath.Vector512 => job.Plan<Avx512Kernel>(1),
                GemmPath.Vector256 => job.Plan<Avx2Kernel>(1),
                GemmPath.Vector128 => job.Plan<Vec128Kernel>(1),
                _ => job.Plan<ScalarKernel>(1),
            };
            for (int i = 0; i < tiles; i++) job.Invoke(i);
        }
    }

    /// <summary>
    /// The macro-kernel over a grid of C tiles (RowsPerJob × PanelsPerJob·NR); one tile per work item.
    /// Inside a tile (BLIS loop order): for each K block (KC) → for each MR-row strip of A (kept in L1; packed only for
    /// ta = Yes, rows read in place otherwise) → for each NR panel of B (KC×NR, from L2) → micro-kernel.
    /// </summary>
    struct ComputeJob : IParallelBody
    {
        public float* A, Bp, C, Bias;
        public int M, N, K, Lda, RowsPerJob, PanelsPerJob, JobsM;
        /// <summary>Row stride of C (0: N).</summary>
        public int Ldc;
        public Transpose Ta;
        public bool Accumulate;
        public GemmPath Path;
        public UnpackedB Src;
        /// <summary>Optional: the packed B [ThenK, ThenN] of the product that runs next (the next layer's weights): the last
        /// column tile prefetches its first block.</summary>
        public float* ThenBp;
        public int ThenK, ThenN;

        /// <summary>
        /// Choose the tile grid; returns the number of tiles. N is blocked by NC so a tile's B block stays in L2.
        /// Threads split M first: tiles are numbered M-fastest, so concurrent tiles share one (read-only) B block and
        /// write disjoint C rows (no false sharing on C lines whatever C's alignment); N is split only when there are
        /// fewer MR-row strips than threads. Large M gets 4 row blocks per thread so the dynamic hand-out can even out
        /// a noisy machine.
        /// </summary>
        public int Plan<TK>(int threads) where TK : struct, IMicroKernel
        {
            int strips = (M + TK.MR - 1) / TK.MR, panels = (N + TK.NR - 1) / TK.NR;
            const int NC = 256;                         // a tile's B block (KC×NC floats ≤ 512 KB) stays in L2
            int jobsN = (panels * TK.NR + NC - 1) / NC, jobsM = 1;
            if (threads > 1 && Src.B != null && jobsN >= 2 * threads)
            {
                // Many column blocks and B packed per call: split N only, so no two threads pack the same B panels
                // (the MLM decoder, n = vocabulary); the dynamic hand-out of ≥ 2 blocks per thread balances the load.
            }
            else if (threads > 1 && Src.B != null && Ta == Transpose.Yes && panels >= threads
                     && (long)N * K / threads + (long)M * K * Math.Max(jobsN, threads) / threads < (long)N * K + (long)M * K * jobsN / threads)
            {
                // A packed per tile too (weight gradients): split N when that packs fewer floats per thread than splitting
                // M (where every thread packs all of B): dW [128, 512] += dYᵀ·X.
                jobsN = Math.Max(jobsN, threads);
            }
            else if (threads > 1)
            {
                jobsM = Math.Min(strips, strips >= 64 * threads ? 4 * threads : threads);
                if (jobsM * jobsN < threads) jobsN = Math.Min(panels, (threads + jobsM - 1) / jobsM);
            }
            int stripsPer = (strips + jobsM - 1) / jobsM, panelsPer = (panels + jobsN - 1) / jobsN;
            RowsPerJob = stripsPer * TK.MR; PanelsPerJob = panelsPer;
            JobsM = (strips + stripsPer - 1) / stripsPer;
            return JobsM * ((panels + panelsPer - 1) / panelsPer);
        }

        public readonly void Invoke(int index)
        {
            switch (Path)
            {
                case GemmPath.Vector512: Tile<Avx512Kernel>(index); break;
                case GemmPath.Vector256: Tile<Avx2Kernel>(index); break;
                case GemmPath.Vector128: Tile<Vec128Kernel>(index); break;
                default: Tile<ScalarKernel>(index); break;
            }
        }

        /// <summary>
        /// One tile (BLIS loop order): for each K block (KC) → for each MR-row strip of A (kept in L1; packed only for
        /// ta = Yes, rows read in place otherwise) → for each NR panel of B (KC×NR, from L2) → micro-kernel.
        /// The first strip of a K block would pull the whole B block (KC × the tile's panels) from L3 or memory in one
        /// burst — every layer's weights differ, so a forward streams them all — so each micro-kernel call also prefetches
        /// a share of the next B block (this tile's next K block, the next column tile's first, or after the last one the
        /// first block of the product that runs next, <see cref="ThenBp"/>) into L2, spreading the
        /// weight traffic over the work (<see cref="IMicroKernel.Run"/>'s pf). Prefetching changes no result.
        /// </summary>
        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void Tile<TK>(int index) where TK : struct, IMicroKernel
        {
            int MR = TK.MR, NR = TK.NR, KC = TK.KC;
            int jm = index % JobsM, jn = index / JobsM;
            int i0 = jm * RowsPerJob, i1 = Math.Min(M, i0 + RowsPerJob);
            int panels = (N + NR - 1) / NR;
            int jp0 = jn * PanelsPerJob, jp1 = Math.Min(panels, jp0 + PanelsPerJob);
            float* apack = stackalloc float[MaxMR * MaxKC + 16];
            apack = Align64(apack);
            float* tmp = stackalloc float[MaxMR * MaxNR];
            float* Bp = Src.B != null ? Src.PrivatePanels(jp0, jp1, K, N, NR) : this.Bp;
            int ldc = Ldc > 0 ? Ldc : N;
            for (int p0 = 0; p0 < K; p0 += KC)
            {
                int kc = Math.Min(KC, K - p0);
                bool load = Accumulate || p0 > 0;
                // The next B block: panels [np0, np1) of K block q0 (kq rows); none past the last (or for B packed per call,
                // whose other panels are not this thread's).
                int q0 = p0 + KC, np0 = jp0, np1 = jp1, kn = K;
                float* nb = Bp;
                if (q0 >= K) { q0 = 0; np0 = jp1; np1 = Src.B == null ? Math.Min(panels, jp1 + PanelsPerJob) : jp1; }
                if (np0 >= np1 && ThenBp != null && jn == (panels + PanelsPerJob - 1) / PanelsPerJob - 1)
                {
                    // The last column tile's last K block: the next product's first block (its first NC columns).
                    nb = ThenBp; kn = ThenK; np0 = 0; np1 = Math.Min((ThenN + NR - 1) / NR, PanelsPerJob);
                }
                int kq = Math.Min(KC, kn - q0), sliceFloats = kq * NR;
                // Prefetch cursor: slice ps of the next block, offset po in it (no division in the loop). It starts late
                // enough that the block is still in L2 when its turn comes (a tall tile streams megabytes of A and C
                // through L2 meanwhile): in the last 2× the calls the block needs.
                int ps = PrefetchNextBlock ? np0 : np1, po = 0, perCall = (kc + 7) / 8 * 32;   // the kernel prefetches 2 lines per 8 k steps
                long calls = (long)((i1 - i0 + MR - 1) / MR) * (jp1 - jp0), call = 0;
                long start = calls - 2L * ((long)Math.Max(0, np1 - np0) * sliceFloats / perCall + 1);
                for (int i = i0; i < i1; i += MR)
                {
                    int mr = Math.Min(MR, i1 - i);
                    float* ap; nint rs, ks;
                    if (Ta == Transpose.No) { ap = A + (nint)i * Lda + p0; rs = Lda; ks = 1; }
                    else { PackATransposed(A, Lda, i, mr, p0, kc, MR, apack); ap = apack; rs = 1; ks = MR; }
                    for (int jp = jp0; jp < jp1; jp++)
                    {
                        float* pf = Bp + (nint)jp * K * NR + (nint)p0 * NR;   // (this panel, in cache) once the next block is fetched
                        if (ps < np1 && call++ >= start)
                        {
                            pf = nb + (nint)ps * kn * NR + (nint)q0 * NR + po;
                            for (po += perCall; po >= sliceFloats && ps < np1; ps++) po -= sliceFloats;
                        }
                        Panel<TK>(jp, p0, kc, i, mr, ap, rs, ks, Bp, ldc, load, tmp, pf);
                    }
                }
            }
        }

        /// <summary>C[i..i+mr, panel jp] (+)= A strip (element (r, p) at ap[r·rs + p·ks]) · B slice (K block p0), with the bias
        /// on the first K block; a right-edge panel narrower than NR goes through a scratch tile.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly void Panel<TK>(int jp, int p0, int kc, int i, int mr, float* ap, nint rs, nint ks, float* Bp, int ldc, bool load, float* tmp,
            float* pf) where TK : struct, IMicroKernel
        {
            int NR = TK.NR;
            int j = jp * NR, nr = Math.Min(NR, N - j);
            float* bpanel = Bp + (nint)jp * K * NR + (nint)p0 * NR;
            float* bias = p0 == 0 && Bias != null ? Bias + j : null;
            float* crow = C + (nint)i * ldc;
            if (nr == NR)
            {
                TK.Run(mr, kc, ap, rs, ks, bpanel, crow + j, ldc, bias, load, pf);
                return;
            }
            // Right edge: compute the full NR-wide tile into scratch, merge the nr valid columns.
            TK.Run(mr, kc, ap, rs, ks, bpanel, tmp, NR, null, false, pf);
            for (int r = 0; r < mr; r++)
            {
                float* cr = crow + (nint)r * ldc + j; float* tr = tmp + r * NR;
                for (int q = 0; q < nr; q++)
                {
                    float v = tr[q];
                    if (bias != null) v += bias[q];
                    if (load) v += cr[q];
                    cr[q] = v;
                }
            }
        }
    }
}
