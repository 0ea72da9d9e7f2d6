using System.Numerics.Tensors;
using MobileBert.Kernels;

namespace MobileBert.Distillation;

/// <summary>Weights of the knowledge-transfer objectives (defaults: the reference recipe, google-research mobilebert README:
/// hidden_distill_factor 100, beta (mean) 5000, gamma (variance) 5, attention 1, ground-truth ratio 0.5, temperature 1).</summary>
public sealed record LossWeights
{
    /// <summary>Feature-map transfer: MSE between the parameter-free-LayerNormed feature maps.</summary>
    public double FeatureMap { get; init; } = 100;
    /// <summary>Mean matching (μ_t − μ_s)² per token.</summary>
    public double Mean { get; init; } = 5000;
    /// <summary>Variance matching |σ²_t − σ²_s| per token.</summary>
    public double Variance { get; init; } = 5;
    /// <summary>Attention transfer: KL(teacher ‖ student) of the per-head attention distributions.</summary>
    public double Attention { get; init; } = 1;
    /// <summary>Pre-training distillation: α·MLM(hard labels) + (1−α)·KD + NSP.</summary>
    public double Alpha { get; init; } = 0.5;
    /// <summary>KD temperature T (the KD term is T²·KL(softmax(t/T) ‖ softmax(s/T)), Hinton et al.).</summary>
    public double Temperature { get; init; } = 1;

    public void Validate()
    {
        static void NonNeg(double v, string n)
        {
            if (!double.IsFinite(v) || v < 0) throw new SettingException($"Weights.{n} must be a finite number ≥ 0, got {v}.", "Weights." + n);
        }
        NonNeg(FeatureMap, nameof(FeatureMap)); NonNeg(Mean, nameof(Mean)); NonNeg(Variance, nameof(Variance)); NonNeg(Attention, nameof(Attention));
        if (!(Alpha >= 0 && Alpha <= 1)) throw new SettingException($"Weights.Alpha must be in [0, 1], got {Alpha}.", "Weights.Alpha");
        if (!(Temperature > 0) || !double.IsFinite(Temperature))
            throw new SettingException($"Weights.Temperature must be > 0, got {Temperature}.", "Weights.Temperature");
    }
}

/// <summary>Feature-map transfer terms of one layer (unweighted values; <see cref="Total"/> is weighted).</summary>
public readonly record struct FeatureMapLoss(double Mse, double Mean, double Variance, double Total);

/// <summary>Pre-training distillation terms (unweighted; <see cref="Total"/> = α·Mlm + (1−α)·Kd + Nsp).</summary>
public readonly record struct PredictionLoss(double Mlm, double Kd, double Nsp, double Total, int MlmCorrect, int MlmCount, int NspCorrect);

/// <summary>
/// The MobileBERT knowledge-transfer losses with their gradients w.r.t. the STUDENT's tensors (the teacher's are constants,
/// tf.stop_gradient in the reference). Values are accumulated in double; gradients are ADDED into the given buffers
/// (already scaled by the weights), so several layers and terms can share one buffer.
/// <para>Which tokens count: feature-map statistics are per token over the hidden dimension, averaged over the tokens
/// whose attention mask is 1 (padding excluded; the reference averages over every position, padding included).
/// Attention: for every head and every NON-padded query row, KL over the non-masked keys, averaged over heads and
/// counted query rows (the reference averages over padded query rows too, whose distribution is meaningless).</para>
/// </summary>
public static class DistillationLosses
{
    /// <summary>Epsilon of the parameter-free LayerNorm applied to both feature maps before the MSE (PyTorch's default; the
    /// reference's tf.contrib layer_norm uses 1e-12 — irrelevant unless a token's features are nearly constant).</summary>
    public const double FeatureNormEps = 1e-5;
    /// <summary>Student attention probabilities are clamped to at least this inside log and 1/p (a probability that
    /// underflowed to 0 at an unmasked key would otherwise give −∞ / NaN).</summary>
    public const float MinProbability = 1e-30f;

    /// <summary>
    /// Feature-map transfer of one layer. teacher, student: [rows, H] (rows = B·S); mask: [rows] attention mask (null = all
    /// tokens count). With N counted tokens and ŷ = (y − μ_y)/√(σ²_y + ε) per token:
    /// <code>
    /// Mse      = (1/(N·H)) Σ_tokens Σ_k (ŝ_k − t̂_k)²
    /// Mean     = (1/N) Σ_tokens (μ_t − μ_s)²
    /// Variance = (1/N) Σ_tokens |σ²_t − σ²_s|        (σ² = population variance over the hidden dimension)
    /// Total    = w.FeatureMap·Mse + w.Mean·Mean + w.Variance·Variance
    /// </code>
    /// dStudent (optional, [rows, H]) receives += scale·dTotal/dStudent (0 on padded tokens; sign(0) = 0 for the |·|).
    /// </summary>
    public static FeatureMapLoss FeatureMap(float[] teacher, float[] student, int rows, int hidden, int[]? mask, LossWeights w,
        float[]? dStudent = null, double scale = 1.0, int threads = 1)
    {
        long n = (long)rows * hidden;
        if (teacher.Length < n || student.Length < n)
            throw new ArgumentException($"FeatureMap: teacher ({teacher.Length}) and student ({student.Length}) need rows×hidden = {rows}×{hidden} " +
                $"values.");
        if (mask is not null && mask.Length < rows) throw new ArgumentException($"FeatureMap: mask has {mask.Length} values for {rows} rows.");
        if (dStudent is not null && dStudent.Length < n)
            throw new ArgumentException($"FeatureMap: dStudent has {dStudent.Length} values; expected {n}.");
        int count = 0;
        for (int r = 0; r < rows; r++) if (mask is null || mask[r] != 0) count++;
        if (count == 0) return default;
        var mse = new double[rows]; var mean = new double[rows]; var vr = new double[rows];
        double N = count, H = hidden;
        ParallelFor.Run(rows, threads, r =>
        {
            if (mask is not null && mask[r] == 0) return;
            var t = teacher.AsSpan(r * hidden, hidden); var s = student.AsSpan(r * hidden, hidden);
            var (mt, vt) = Stats(t); var (ms, vs) = Stats(s);
            double rt = 1.0 / Math.Sqrt(vt + FeatureNormEps), rs = 1.0 / Math.Sqrt(vs + FeatureNormEps);
            double sq = 0;
            for (int k = 0; k < hidden; k++) { double diff = (s[k] - ms) * rs - (t[k] - mt) * rt; sq += diff * diff; }
            mse[r] = sq; mean[r] = (mt - ms) * (mt - ms); vr[r] = Math.Abs(vt - vs);
            if (dStudent is null) return;
            // g_k = dTotal/dŝ_k; LayerNorm backward: dx = rs·(g − mean(g) − ŝ·mean(g·ŝ)).
            double gScale = scale * w.FeatureMap * 2.0 / (N * H);
            double gMean = 0, gDot = 0;
            for (int k = 0; k < hidden; k++)
            {
                double sh = (s[k] - ms) * rs, g = gScale * (sh - (t[k] - mt) * rt);
                gMean += g; gDot += g * sh;
            }
            gMean /= H; gDot /= H;
            double dMean = scale * w.Mean * 2.0 * (ms - mt) / (N * H);                 // d/dx_k of (μ_t − μ_s)²/N
            double dVar = scale * w.Variance * Math.Sign(vs - vt) * 2.0 / (N * H);       // × (x_k − μ_s)
            var d = dStudent.AsSpan(r * hidden, hidden);
            for (int k = 0; k < hidden; k++)
            {
                double sh = (s[k] - ms) * rs, g = gScale * (sh - (t[k] - mt) * rt);
                d[k] += (float)(rs * (g - gMean - sh * gDot) + dMean + dVar * (s[k] - ms));
            }
        });
        double a = 0, b = 0, c = 0;
        for (int r = 0; r < rows; r++) { a += mse[r]; b += mean[r]; c += vr[r]; }
        a /= N * H; b /= N; c /= N;
        return new FeatureMapLoss(a, b, c, w.FeatureMap * a + w.Mean * b + w.Variance * c);
    }

    static (double Mean, double Var) Stats(ReadOnlySpan<float> x)
    {
        double m = 0;
        foreach (float v in x) m += v;
        m /= x.Length;
        double s = 0;
        foreach (float v in x) { double d = v - m; s += d * d; }
        return (m, s / x.Length);
    }

    /// <summary>Number of head groups attention transfer compares: gcd(Ht, Hs) (equal counts: one head per group).</summary>
    public static int HeadGroups(int teacherHeads, int studentHeads) =>
        (int)System.Numerics.BigInteger.GreatestCommonDivisor(teacherHeads, studentHeads);

    /// <summary>
    /// Attention transfer of one layer: teacher [B, Ht, S, S], student [B, Hs, S, S] attention probabilities (softmax output,
    /// before dropout); mask [B, S] (null = no padding). For every head h and query row i with mask[b,i] = 1:
    /// KL_bhi = Σ_{j: mask[b,j]=1, p_t > 0} p_t,j·(log p_t,j − log p_s,j); the loss is the mean over heads and counted query
    /// rows (value unweighted). When Ht ≠ Hs the heads are compared in G = gcd(Ht, Hs) groups: group g averages teacher heads
    /// g·Ht/G … (g+1)·Ht/G − 1 and student heads g·Hs/G … (g+1)·Hs/G − 1 (an average of distributions is a distribution), and
    /// the loss is the mean KL over groups and counted query rows (12 teacher heads, 4 student heads: student head g learns
    /// the mean of teacher heads 3g … 3g + 2; coprime counts compare the all-head averages).
    /// dStudent (optional) receives += scale·weight·dLoss/dp_s = −scale·weight·p_t/(p_s·count) (÷ Hs/G inside a group).
    /// </summary>
    public static double Attention(float[] teacher, float[] student, int batch, int seq, int teacherHeads, int studentHeads, int[]? mask,
        float[]? dStudent = null, double scale = 1.0, int threads = 1)
    {
        long ss = (long)seq * seq;
        if (teacher.Length < batch * teacherHeads * ss || student.Length < batch * studentHeads * ss)
            throw new ArgumentException($"Attention: teacher ({teacher.Length}) / student ({student.Length}) probabilities do not match B={batch}, " +
                $"S={seq}, heads {teacherHeads}/{studentHeads}.");
        if (mask is not null && mask.Length < batch * seq)
            throw new ArgumentException($"Attention: mask has {mask.Length} values for B·S = {batch * seq}.");
        if (dStudent is not null && dStudent.Length < batch * studentHeads * ss) throw new ArgumentException("Attention: dStudent is too short.");
        bool Valid(int b, int i) => mask is null || mask[b * seq + i] != 0;
        int queries = 0;
        for (int b = 0; b < batch; b++) for (int i = 0; i < seq; i++) if (Valid(b, i)) queries++;
        if (queries == 0) return 0;
        bool perHead = teacherHeads == studentHeads;
        int groups = HeadGroups(teacherHeads, studentHeads);
        int tg = teacherHeads / groups, sg = studentHeads / groups;   // heads per group
        double count = (double)queries * groups;
        var rowLoss = new double[batch * seq * groups];
        ParallelFor.Run(batch * groups, threads, bg =>
        {
            int b = bg / groups, g = bg % groups;
            double[] tAvg = perHead ? [] : new double[seq], sAvg = perHead ? [] : new double[seq];
            // Rows whose keys are all valid (no padding in sequence b): the KL row in vectorised double math.
            bool allKeys = true;
            for (int j = 0; j < seq && allKeys; j++) allKeys = Valid(b, j);
            double[] td = perHead && allKeys ? new double[seq] : [], ratio = perHead && allKeys ? new double[seq] : [];
            for (int i = 0; i < seq; i++)
            {
                if (!Valid(b, i)) continue;
                double kl = 0;
                if (perHead && allKeys)
                {
                    long o = ((long)(b * groups + g) * seq + i) * seq;
                    kl = KlRow(teacher.AsSpan((int)o, seq), student.AsSpan((int)o, seq), td, ratio);
                    if (dStudent is not null)
                    {
                        // d/ds of t·log(t/s) = −t/s = −ratio (ratio holds t / max(s, MinProbability) before the log).
                        var d = dStudent.AsSpan((int)o, seq);
                        double f = -scale / count;
                        for (int j = 0; j < seq; j++) d[j] += (float)(f * ratio[j]);
                    }
                }
                else if (perHead)
                {
                    long o = ((long)(b * groups + g) * seq + i) * seq;
                    for (int j = 0; j < seq; j++)
                    {
                        float t = teacher[o + j];
                        if (!Valid(b, j) || t <= 0) continue;
                        float s = Math.Max(student[o + j], MinProbability);
                        kl += t * Math.Log((double)t / s);
                        if (dStudent is not null) dStudent[o + j] += (float)(-scale * t / (s * count));
                    }
                }
                else
                {
                    Array.Clear(tAvg); Array.Clear(sAvg);
                    for (int h = g * tg; h < (g + 1) * tg; h++)
                    {
                        long o = ((long)(b * teacherHeads + h) * seq + i) * seq;
                        for (int j = 0; j < seq; j++) tAvg[j] += teacher[o + j];
                    }
                    for (int h = g * sg; h < (g + 1) * sg; h++)
                    {
                        long o = ((long)(b * studentHeads + h) * seq + i) * seq;
                        for (int j = 0; j < seq; j++) sAvg[j] += student[o + j];
                    }
                    for (int j = 0; j < seq; j++)
                    {
                        double t = tAvg[j] / tg;
                        if (!Valid(b, j) || t <= 0) continue;
                        double s = Math.Max(sAvg[j] / sg, MinProbability);
                        kl += t * Math.Log(t / s);
                        if (dStudent is null) continue;
                        float gr = (float)(-scale * t / (s * count) / sg);
                        for (int h = g * sg; h < (g + 1) * sg; h++) dStudent[((long)(b * studentHeads + h) * seq + i) * seq + j] += gr;
                    }
                }
                rowLoss[(b * groups + g) * seq + i] = kl;
            }
        });
        double total = 0;
        foreach (double v in rowLoss) total += v;
        return total / count;
    }

    /// <summary>Σ_j t_j·log(t_j / max(s_j, MinProbability)) over one row, in double (TensorPrimitives, vectorised);
    /// leaves t/max(s, MinProbability) in <paramref name="ratio"/> (the gradient's −∂/∂s). t_j = 0 contributes 0.</summary>
    static double KlRow(ReadOnlySpan<float> t, ReadOnlySpan<float> s, double[] td, double[] ratio)
    {
        int n = t.Length;
        var tds = td.AsSpan(0, n); var r = ratio.AsSpan(0, n);
        TensorPrimitives.ConvertChecked<float, double>(s, r);
        TensorPrimitives.Max(r, (double)MinProbability, r);
        TensorPrimitives.ConvertChecked<float, double>(t, tds);
        TensorPrimitives.Divide(tds, r, r);                     // ratio = t / s
        double kl = 0;
        // log(max(ratio, tiny)): ratio = 0 exactly where t = 0, whose term t·log(…) must be 0, not 0·(−∞).
        const int Chunk = 256;
        Span<double> buf = stackalloc double[Chunk];
        for (int j0 = 0; j0 < n; j0 += Chunk)
        {
            int m = Math.Min(Chunk, n - j0);
            var bj = buf[..m];
            TensorPrimitives.Max(r.Slice(j0, m), 1e-300, bj);
            TensorPrimitives.Log(bj, bj);
            kl += TensorPrimitives.Dot(tds.Slice(j0, m), bj);
        }
        return kl;
    }

    /// <summary>
    /// Pre-training distillation on the decoded masked positions. studentLogits, teacherLogits: [P, V] (the same P rows,
    /// e.g. the masked positions); labels [P] (the hard MLM labels, <see cref="Training.Losses.IgnoreIndex"/> rows skipped);
    /// NSP: studentNsp [B, 2] with labels [B]. With N counted rows, q = softmax(t/T), p = softmax(s/T):
    /// <code>
    /// Mlm   = (1/N) Σ −log softmax(s)[y]
    /// Kd    = (T²/N) Σ KL(q ‖ p)              (T² keeps the gradient scale independent of T)
    /// Nsp   = (1/B) Σ −log softmax(nsp)[y]
    /// Total = α·Mlm + (1−α)·Kd + Nsp
    /// </code>
    /// The gradients are WRITTEN (not added) to dStudentLogits (may be studentLogits itself: each row is read before it is
    /// overwritten) and dStudentNsp.
    /// </summary>
    public static PredictionLoss Prediction(float[] studentLogits, float[] teacherLogits, int[] labels, int rows, int vocab,
        float[] studentNsp, int[] nspLabels, LossWeights w, float[]? dStudentLogits = null, float[]? dStudentNsp = null, int threads = 1)
    {
        long n = (long)rows * vocab;
        if (studentLogits.Length < n || teacherLogits.Length < n)
            throw new ArgumentException($"Prediction: logits need rows×V = {rows}×{vocab} values (student {studentLogits.Length}, teacher " +
                $"{teacherLogits.Length}).");
        if (labels.Length < rows) throw new ArgumentException($"Prediction: {labels.Length} labels for {rows} rows.");
        int b = nspLabels.Length;
        if (studentNsp.Length < 2 * b) throw new ArgumentException($"Prediction: NSP logits have {studentNsp.Length} values for {b} labels.");
        int count = 0;
        for (int r = 0; r < rows; r++)
        {
            int y = labels[r];
            if (y == Training.Losses.IgnoreIndex) continue;
            if ((uint)y >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(labels), y, $"Prediction: label {y} at row {r} is outside [0, {vocab}).");
            count++;
        }
        double T = w.Temperature, alpha = w.Alpha;
        var mlm = new double[rows]; var kd = new double[rows]; var correct = new int[rows];
        double N = Math.Max(1, count);
        int chunk = Math.Max(1, Math.Min(16, (rows + 4 * Math.Max(1, threads) - 1) / (4 * Math.Max(1, threads))));
        ParallelFor.Run((rows + chunk - 1) / chunk, threads, ci =>
        {
            var p1 = new float[vocab]; var pT = T == 1 ? p1 : new float[vocab]; var q = new float[vocab];
            for (int r = ci * chunk, end = Math.Min(rows, r + chunk); r < end; r++)
            {
                int y = labels[r];
                var s = studentLogits.AsSpan((int)((long)r * vocab), vocab); var t = teacherLogits.AsSpan((int)((long)r * vocab), vocab);
                var d = dStudentLogits is null ? default : dStudentLogits.AsSpan((int)((long)r * vocab), vocab);
                if (y == Training.Losses.IgnoreIndex) { if (!d.IsEmpty) d.Clear(); continue; }
                correct[r] = TensorPrimitives.IndexOfMax(s) == y ? 1 : 0;
                mlm[r] = Training.Losses.TemperedSoftmax(s, 1.0, p1) - s[y];
                kd[r] = T * T * Training.Losses.KlDivergenceRow(s, t, T, pT, q);   // at T = 1 pT is p1, recomputed identically
                if (d.IsEmpty) continue;
                float a = (float)(alpha / N), c = (float)((1 - alpha) * T / N);
                for (int k = 0; k < vocab; k++) d[k] = a * p1[k] + c * (pT[k] - q[k]);   // s was fully read above
                d[y] -= a;
            }
        });
        double lm = 0, lk = 0; int mc = 0;
        for (int r = 0; r < rows; r++) { lm += mlm[r]; lk += kd[r]; mc += correct[r]; }
        lm /= N; lk /= N;
        // NSP: plain cross-entropy over the batch.
        double ln = 0; int nc = 0;
        for (int i = 0; i < b; i++)
        {
            double a0 = studentNsp[2 * i], a1 = studentNsp[2 * i + 1], m = Math.Max(a0, a1);
            double lse = m + Math.Log(Math.Exp(a0 - m) + Math.Exp(a1 - m));
            int y = nspLabels[i];
            if ((uint)y > 1)
                throw new ArgumentOutOfRangeException(nameof(nspLabels), y, $"Prediction: next-sentence label {y} at row {i} is not 0 or 1.");
            ln += lse - (y == 0 ? a0 : a1);
            if ((a1 > a0 ? 1 : 0) == y) nc++;
            if (dStudentNsp is not null)
            {
                dStudentNsp[2 * i] = (float)((Math.Exp(a0 - lse) - (y == 0 ? 1 : 0)) / b);
                dStudentNsp[2 * i + 1] = (float)((Math.Exp(a1 - lse) - (y == 1 ? 1 : 0)) / b);
            }
        }
        ln /= Math.Max(1, b);
        if (count == 0) { lm = 0; lk = 0; }
        return new PredictionLoss(lm, lk, ln, alpha * lm + (1 - alpha) * lk + ln, mc, count, nc);
    }
}
