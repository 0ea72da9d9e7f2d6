using System.Numerics.Tensors;
using MobileBert.Kernels;
using MobileBert.Model;

namespace MobileBert.Training;

/// <summary>The result of <see cref="Losses.Pretraining"/>: HF MobileBertForPreTraining's loss and the gradients to feed
/// <see cref="MobileBertModel.Backward(ModelOutput, OutputGradients)"/>.</summary>
public sealed record PretrainingLoss(double Total, double Mlm, double Nsp, OutputGradients Gradients);

/// <summary>
/// Losses with their gradients w.r.t. the logits (PyTorch semantics). Every loss returns its value (accumulated in double)
/// and, when a gradient span is given, writes dL/d(input)·<c>scale</c> there (the span may be the input itself: the
/// gradient then overwrites the logits, saving a [rows, V] buffer for the MLM head).
/// </summary>
public static class Losses
{
    /// <summary>PyTorch's CrossEntropyLoss ignore_index.</summary>
    public const int IgnoreIndex = -100;

    /// <summary>
    /// Mean cross-entropy over the rows whose label is not <paramref name="ignoreIndex"/> (PyTorch CrossEntropyLoss,
    /// reduction 'mean'): loss = (1/N)·Σ (logsumexp(x_r) − x_r[label_r]). Log-sum-exp is max-shifted with the sum in double.
    /// dLogits = scale·(softmax(x_r) − onehot(label_r))/N for counted rows, 0 for ignored rows. If every row is ignored
    /// the loss is 0 and the gradient 0 (PyTorch returns NaN). Labels outside [0, classes) other than the ignore index throw.
    /// With <paramref name="classWeights"/> [classes] (PyTorch's <c>weight</c>): loss = Σ w[y_r]·ℓ_r / Σ w[y_r] and
    /// dLogits = scale·w[y_r]·(softmax(x_r) − onehot(y_r)) / Σ w[y_r].
    /// Rows are processed in parallel on <paramref name="threads"/> threads; the result does not depend on the thread count.
    /// </summary>
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, Span<float> dLogits = default,
        float scale = 1f, int ignoreIndex = IgnoreIndex, int threads = 1, ReadOnlySpan<float> classWeights = default)
    {
        if (rows < 0 || classes <= 0) throw new ArgumentException($"CrossEntropy: rows ({rows}) must be ≥ 0 and classes ({classes}) > 0.");
        long n = (long)rows * classes;
        if (logits.Length < n) throw new ArgumentException($"CrossEntropy: logits has {logits.Length} values; expected rows×classes " +
            $"= {rows}×{classes}.");
        if (labels.Length < rows) throw new ArgumentException($"CrossEntropy: {labels.Length} labels for {rows} rows.");
        bool grad = !dLogits.IsEmpty;
        if (grad && dLogits.Length < n) throw new ArgumentException($"CrossEntropy: dLogits has {dLogits.Length} values; expected {n}.");
        bool weighted = !classWeights.IsEmpty;
        if (weighted && classWeights.Length != classes)
            throw new ArgumentException($"CrossEntropy: {classWeights.Length} class weights for {classes} classes.");
        double weightSum = 0;
        for (int r = 0; r < rows; r++)
        {
            int y = labels[r];
            if (y == ignoreIndex) continue;
            if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(
                nameof(labels), y, $"CrossEntropy: label {y} at row {r} is outside [0, {classes}) and is not the ignore index {ignoreIndex}.");
            weightSum += weighted ? classWeights[y] : 1;
        }
        if (weightSum == 0) { if (grad) dLogits[..(int)n].Clear(); return 0.0; }
        var rowLoss = new double[rows];
        float g = (float)(scale / weightSum);
        unsafe
        {
            fixed (float* px = logits, pd = dLogits, pw = classWeights)
            fixed (int* py = labels)
            fixed (double* pl = rowLoss)
            {
                nint ax = (nint)px, ad = (nint)pd, ay = (nint)py, al = (nint)pl, aw = weighted ? (nint)pw : 0;
                int chunk = Math.Max(1, Math.Min(64, (rows + 4 * Math.Max(1, threads) - 1) / (4 * Math.Max(1, threads))));
                int chunks = (rows + chunk - 1) / chunk;
                ParallelFor.Run(chunks, threads, ci =>
                {
                    Span<float> tmp = grad ? default : new float[classes];
                    for (int r = ci * chunk, end = Math.Min(rows, r + chunk); r < end; r++)
                    {
                        var x = new ReadOnlySpan<float>((float*)ax + (long)r * classes, classes);
                        int y = ((int*)ay)[r];
                        var d = grad ? new Span<float>((float*)ad + (long)r * classes, classes) : tmp;
                        if (y == ignoreIndex) { if (grad) d.Clear(); ((double*)al)[r] = 0; continue; }
                        float max = TensorPrimitives.Max(x), xy = x[y];
                        TensorPrimitives.Subtract(x, max, d);              // d may alias x: x[y] and max were read first
                        TensorPrimitives.Exp(d, d);
                        double sum = 0;
                        for (int j = 0; j < classes; j++) sum += d[j];
                        float w = aw == 0 ? 1f : ((float*)aw)[y];
                        ((double*)al)[r] = w * (max + Math.Log(sum) - xy);
                        if (grad)
                        {
                            TensorPrimitives.Multiply(d, (float)(g * w / sum), d);
                            d[y] -= g * w;
                        }
                    }
                });
            }
        }
        double total = 0;
        for (int r = 0; r < rows; r++) total += rowLoss[r];
        return total / weightSum;
    }

    /// <summary>
    /// The knowledge-distillation term of Hinton et al.: (T²/rows)·Σ_r KL(softmax(t_r/T) ‖ softmax(s_r/T)) for student
    /// logits s and teacher logits t, both [rows, classes]. T² keeps the gradient's scale independent of T. A teacher logit
    /// of −∞ is a class the teacher rules out (e.g. a padded position of a QA window): its probability is 0 and it adds
    /// nothing. ADDS scale·T·(softmax(s_r/T) − softmax(t_r/T))/rows to <paramref name="dStudent"/> (when given).
    /// </summary>
    public static double SoftTargetKl(ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, int rows, int classes, double temperature,
        Span<float> dStudent = default, float scale = 1f)
    {
        long n = (long)rows * classes;
        if (student.Length < n || teacher.Length < n)
            throw new ArgumentException($"SoftTargetKl: logits need rows×classes = {rows}×{classes} values (student {student.Length}, teacher " +
                $"{teacher.Length}).");
        if (!dStudent.IsEmpty && dStudent.Length < n)
            throw new ArgumentException($"SoftTargetKl: dStudent has {dStudent.Length} values; expected {n}.");
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw new ArgumentException($"SoftTargetKl: the temperature must be > 0, got {temperature}.");
        if (rows == 0) return 0;
        double total = 0, T = temperature;
        var p = new float[classes]; var q = new float[classes];
        float c = (float)(scale * T / rows);
        for (int r = 0; r < rows; r++)
        {
            var s = student.Slice(r * classes, classes);
            total += T * T * KlDivergenceRow(s, teacher.Slice(r * classes, classes), T, p, q);
            if (dStudent.IsEmpty) continue;
            var d = dStudent.Slice(r * classes, classes);
            for (int k = 0; k < classes; k++) d[k] += c * (p[k] - q[k]);
        }
        return total / rows;
    }

    /// <summary>
    /// KL(q ‖ p) of one row with q = softmax(t/T), p = softmax(s/T), which are left in <paramref name="q"/> and
    /// <paramref name="p"/>: (1/T)·Σ_{q_k &gt; 0} q_k·(t_k − s_k) + lse(s/T) − lse(t/T) (Σ q = 1; sums in double; ≥ 0).
    /// Teacher logits of −∞ have q = 0 and are skipped; at least one must be finite.
    /// </summary>
    public static double KlDivergenceRow(ReadOnlySpan<float> s, ReadOnlySpan<float> t, double T, Span<float> p, Span<float> q)
    {
        double lseS = TemperedSoftmax(s, T, p), lseT = TemperedSoftmax(t, T, q);
        if (!double.IsFinite(lseT)) throw new ArgumentException("KlDivergenceRow: every teacher logit of a row is −∞ (or one is +∞/NaN).");
        double dot = 0;
        for (int k = 0; k < s.Length; k++) if (q[k] > 0) dot += (double)q[k] * ((double)t[k] - s[k]);
        return Math.Max(0, dot / T + lseS - lseT);
    }

    /// <summary>output = softmax(x/T) (float, the sum in double); returns log Σ exp(x/T).</summary>
    public static double TemperedSoftmax(ReadOnlySpan<float> x, double T, Span<float> output)
    {
        float max = TensorPrimitives.Max(x);
        var o = output[..x.Length];
        TensorPrimitives.Subtract(x, max, o);
        if (T != 1) TensorPrimitives.Multiply(o, (float)(1 / T), o);
        TensorPrimitives.Exp(o, o);
        double sum = 0;
        foreach (float v in o) sum += v;
        TensorPrimitives.Multiply(o, (float)(1 / sum), o);
        return max / T + Math.Log(sum);
    }

    /// <summary>
    /// Mean squared error over all elements (PyTorch MSELoss 'mean'; HF regression heads): (1/n)·Σ (p − t)².
    /// dPredictions = scale·2(p − t)/n.
    /// </summary>
    public static double MeanSquaredError(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dPredictions = default,
        float scale = 1f)
    {
        int n = predictions.Length;
        if (targets.Length != n) throw new ArgumentException($"MeanSquaredError: {n} predictions but {targets.Length} targets.");
        if (!dPredictions.IsEmpty && dPredictions.Length < n) throw new ArgumentException("MeanSquaredError: dPredictions is too short.");
        if (n == 0) return 0;
        double s = 0;
        for (int i = 0; i < n; i++)
        {
            double d = (double)predictions[i] - targets[i];
            s += d * d;
            if (!dPredictions.IsEmpty) dPredictions[i] = (float)(scale * 2.0 * d / n);
        }
        return s / n;
    }

    /// <summary>
    /// HF MobileBertForPreTraining's loss: total = mean CE(MLM logits, mlm labels; −100 ignored) + mean CE(NSP logits, next-sentence labels).
    /// <paramref name="mlmLabels"/> is [B·S] (one label per token, −100 for unmasked); when the forward decoded only
    /// <see cref="ModelOutput.MlmPositions"/>, the labels at those positions are used (the others must be −100 for the
    /// loss to equal HF's). With <paramref name="overwriteLogits"/> the MLM gradient is written over the MLM logits
    /// (no extra [rows, V] buffer).
    /// </summary>
    public static PretrainingLoss Pretraining(ModelOutput output, ReadOnlySpan<int> mlmLabels, ReadOnlySpan<int> nextSentenceLabels,
        bool overwriteLogits = false, float scale = 1f, int threads = 1)
    {
        var mlm = output.MlmLogits ?? throw new ArgumentException("The forward pass produced no MLM logits.");
        var nsp = output.NspLogits ?? throw new ArgumentException("The forward pass produced no NSP logits.");
        int batch = nsp.Length / 2;
        if (nextSentenceLabels.Length != batch) throw new ArgumentException(
            $"{nextSentenceLabels.Length} next-sentence labels for a batch of {batch}.");
        int[] labels;
        if (output.MlmPositions is { } pos)
        {
            labels = new int[pos.Length];
            for (int i = 0; i < pos.Length; i++) labels[i] = mlmLabels[pos[i]];
            int counted = 0; foreach (int y in mlmLabels) if (y != IgnoreIndex) counted++;
            int kept = 0; foreach (int y in labels) if (y != IgnoreIndex) kept++;
            if (counted != kept) throw new ArgumentException($"{counted - kept} labelled tokens are outside the decoded MLM positions.");
        }
        else labels = mlmLabels.ToArray();
        int rows = labels.Length, v = mlm.Length / Math.Max(1, rows);
        var dMlm = overwriteLogits ? mlm : new float[mlm.Length];
        double lm = CrossEntropy(mlm, labels, rows, v, dMlm, scale, IgnoreIndex, threads);
        var dNsp = new float[nsp.Length];
        double ln = CrossEntropy(nsp, nextSentenceLabels, batch, 2, dNsp, scale);
        return new PretrainingLoss(lm + ln, lm, ln, new OutputGradients { MlmLogits = dMlm, NspLogits = dNsp });
    }
}
