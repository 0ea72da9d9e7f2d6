using MobileBert.Training;

namespace MobileBert.FineTuning;

/// <summary>
/// The fine-tuning loss beyond plain cross-entropy / MSE: class weights (<c>--class-weight</c>) and task distillation
/// (<c>--teacher</c>, DistilBERT / TinyBERT style) with the teacher's logits as soft targets:
/// <code>
/// classification, each SQuAD side:  (1 − α)·CE_w(student, labels) + α·T²·KL(softmax(teacher/T) ‖ softmax(student/T))
/// regression:                       (1 − α)·MSE(student, labels)  + α·MSE(student, teacher)
/// </code>
/// Gradients are WRITTEN to the given buffer. Without a teacher α is ignored (plain CE_w / MSE).
/// </summary>
public sealed record TrainingObjective
{
    /// <summary>Per-label cross-entropy weights (null: all 1).</summary>
    public float[]? ClassWeights { get; init; }
    /// <summary>Teacher logits of every training feature (null: no distillation).</summary>
    public TeacherLogits? Teacher { get; init; }
    /// <summary>Weight α of the distillation term.</summary>
    public double KdAlpha { get; init; } = FineTuneOptions.DefaultKdAlpha;
    /// <summary>Distillation temperature T.</summary>
    public double KdTemperature { get; init; } = FineTuneOptions.DefaultKdTemperature;

    double Alpha => Teacher is null ? 0 : KdAlpha;

    /// <summary>Classification: logits [rows, k], labels [rows], features [rows] (rows of <see cref="Teacher"/>). QA: one side's
    /// logits [rows, S] over padded windows; <paramref name="end"/> picks the teacher's end logits.</summary>
    public double Classification(float[] logits, int[] labels, int[] features, int classes, float[] d, float scale = 1f, bool end = false)
    {
        double a = Alpha;
        double ce = Losses.CrossEntropy(logits, labels, labels.Length, classes, d, scale: (float)((1 - a) * scale), classWeights: ClassWeights);
        if (a == 0) return ce;
        var t = TeacherRows(features, classes, end);
        double kd = Losses.SoftTargetKl(logits, t, features.Length, classes, KdTemperature, d, (float)(a * scale));
        return (1 - a) * ce + a * kd;
    }

    /// <summary>Regression: predictions [rows], targets [rows].</summary>
    public double Regression(float[] predictions, float[] targets, int[] features, float[] d)
    {
        double a = Alpha;
        double mse = Losses.MeanSquaredError(predictions, targets, d, (float)(1 - a));
        if (a == 0) return mse;
        var t = TeacherRows(features, 1, end: false);
        var dk = new float[d.Length];
        double kd = Losses.MeanSquaredError(predictions, t, dk, (float)a);
        for (int i = 0; i < d.Length; i++) d[i] += dk[i];
        return (1 - a) * mse + a * kd;
    }

    /// <summary>The teacher's rows of these features, [rows, width]; a row shorter than width (a QA feature in a padded
    /// batch) is completed with −∞: the teacher gives padding no probability.</summary>
    float[] TeacherRows(int[] features, int width, bool end)
    {
        var t = new float[features.Length * width];
        for (int r = 0; r < features.Length; r++)
        {
            var row = end ? Teacher!.EndRow(features[r]) : Teacher!.Row(features[r]);
            if (row.Length > width)
                throw new InvalidOperationException($"Teacher row {features[r]} has {row.Length} logits; the batch has {width} columns.");
            row.CopyTo(t.AsSpan(r * width));
            t.AsSpan(r * width + row.Length, width - row.Length).Fill(float.NegativeInfinity);
        }
        return t;
    }
}
