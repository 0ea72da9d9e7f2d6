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
    /// Rows are processed in parallel on <paramref name="threads"/> threads; the result does not depend on the thread count.
    /// </summary>
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, Span<float> dLogits = default,
        float scale = 1f, int ignoreIndex = IgnoreIndex, int threads = 1)
    {
        if (rows < 0 || classes <= 0) throw new ArgumentException($"CrossEntropy: rows ({rows}) must be ≥ 0 and classes ({classes}) > 0.");
        long n = (long)rows * classes;
        if (logits.Length < n) throw new ArgumentException($"CrossEntropy: logits has {logits.Length} values; expected rows×classes = {rows}×{classes}.");
        if (labels.Length < rows) throw new ArgumentException($"CrossEntropy: {labels.Length} labels for {rows} rows.");
        bool grad = !dLogits.IsEmpty;
        if (grad && dLogits.Length < n) throw new ArgumentException($"CrossEntropy: dLogits has {dLogits.Length} values; expected {n}.");
        int count = 0;
        for (int r = 0; r < rows; r++)
        {
            int y = labels[r];
            if (y == ignoreIndex) continue;
            if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), y, $"CrossEntropy: label {y} at row {r} is outside [0, {classes}) and is not the ignore index {ignoreIndex}.");
            count++;
        }
        if (count == 0) { if (grad) dLogits[..(int)n].Clear(); return 0.0; }
        var rowLoss = new double[rows];
        float g = scale / count;
        unsafe
        {
            fixed (float* px = logits, pd = dLogits)
            fixed (int* py = labels)
            fixed (double* pl = rowLoss)
            {
                nint ax = (nint)px, ad = (nint)pd, ay = (nint)py, al = (nint)pl;
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
                        ((double*)al)[r] = max + Math.Log(sum) - xy;
                        if (grad)
                        {
                            TensorPrimitives.Multiply(d, (float)(g / sum), d);
                            d[y] -= g;
                        }
                    }
                });
            }
        }
        double total = 0;
        for (int r = 0; r < rows; r++) total += rowLoss[r];
        return total / count;
    }

    /// <summary>
    /// Mean squared error over all elements (PyTorch MSELoss 'mean'; HF regression heads): (1/n)·Σ (p − t)².
    /// dPredictions = scale·2(p − t)/n.
    /// </summary>
    public static double MeanSquaredError(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dPredictions = default, float scale = 1f)
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
        if (nextSentenceLabels.Length != batch) throw new ArgumentException($"{nextSentenceLabels.Length} next-sentence labels for a batch of {batch}.");
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
