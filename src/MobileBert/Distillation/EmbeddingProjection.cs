using System.Numerics.Tensors;
using MobileBert.Model;

namespace MobileBert.Distillation;

/// <summary>What <see cref="EmbeddingProjection.Apply"/> did: the width kept and the share of the teacher's word-embedding
/// variance the projection keeps (Σ of the kept eigenvalues / Σ of all).</summary>
public readonly record struct EmbeddingProjectionResult(int TeacherWidth, int StudentWidth, double ExplainedVariance);

/// <summary>
/// Initialises a narrow trigram word embedding from a wide teacher's word embedding (a BERT teacher: embedding width =
/// hidden size, no transformation) so that the student's embedding output starts as close to the teacher's as a rank-E
/// map allows, for every token of the vocabulary — including the many the transfer text never shows.
/// <para>With the teacher's table T [V, H], its row mean μ [H] and Q [H, E] an orthonormal basis of the top-E principal
/// subspace of T − μ: the student's table is (T − μ)·Q [V, E]; its trigram transformation W [H, 3E] (input
/// [x(t+1) ‖ x(t) ‖ x(t−1)]) gets Q on the centre slot and 0 on the neighbours, bias μ, so W·x + b = μ + Q·Qᵀ(t − μ), the
/// best rank-E approximation of each teacher row. Position and token-type embeddings (H wide in both) are copied by
/// <see cref="StudentInit.CopySharedFromTeacher"/>; the embedding stage of the transfer then trains all of it.</para>
/// </summary>
public static class EmbeddingProjection
{
    const int Iterations = 60;

    /// <summary>Whether the projection applies: a teacher without embedding transformation whose word width is the student's
    /// hidden size, and a student with a trigram transformation narrower than that.</summary>
    public static bool Applies(MobileBertModel teacher, MobileBertModel student) =>
        teacher.Embeddings.Transformation is null && student.Embeddings.Transformation is not null && student.Config.TrigramInput
        && teacher.Config.EmbeddingSize == student.Config.HiddenSize && student.Config.EmbeddingSize <= student.Config.HiddenSize
        && teacher.Config.VocabSize == student.Config.VocabSize;

    public static EmbeddingProjectionResult Apply(MobileBertModel teacher, MobileBertModel student, int seed = 1)
    {
        if (!Applies(teacher, student))
            throw new DistillationException("the embedding projection needs a teacher without embedding transformation (word width = the student's " +
                "hidden_size) and a trigram student with a narrower embedding_size and the same vocab_size.");
        int v = student.Config.VocabSize, h = student.Config.HiddenSize, e = student.Config.EmbeddingSize;
        var table = teacher.Store.Span(teacher.Embeddings.WordEmbeddings);                       // [V, H]
        var mean = RowMean(table, v, h);                                                         // [H]
        var cov = Covariance(table, mean, v, h);                                                 // [H, H]
        var basis = TopSubspace(cov, h, e, seed, out double kept);                               // [H, E], columns orthonormal
        double trace = 0;
        for (int i = 0; i < h; i++) trace += cov[i * h + i];

        var words = student.Store.Span(student.Embeddings.WordEmbeddings);                       // [V, E]
        var centred = new double[h];
        for (int r = 0; r < v; r++)
        {
            for (int k = 0; k < h; k++) centred[k] = table[r * h + k] - mean[k];
            for (int j = 0; j < e; j++)
            {
                double s = 0;
                for (int k = 0; k < h; k++) s += centred[k] * basis[k * e + j];
                words[r * e + j] = (float)s;
            }
        }
        var t = student.Embeddings.Transformation!;
        var w = student.Store.Span(t.Weight);                                                    // [H, 3E]
        w.Clear();
        for (int k = 0; k < h; k++)
            for (int j = 0; j < e; j++) w[k * 3 * e + e + j] = (float)basis[k * e + j];           // centre slot x(t)
        var b = student.Store.Span(t.Bias!);
        for (int k = 0; k < h; k++) b[k] = (float)mean[k];
        return new EmbeddingProjectionResult(h, e, trace > 0 ? kept / trace : 1);
    }

    static double[] RowMean(ReadOnlySpan<float> table, int rows, int cols)
    {
        var mean = new double[cols];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) mean[k] += table[r * cols + k];
        for (int k = 0; k < cols; k++) mean[k] /= rows;
        return mean;
    }

    /// <summary>(1/rows)·(T − μ)ᵀ(T − μ), accumulated in double.</summary>
    static double[] Covariance(ReadOnlySpan<float> table, double[] mean, int rows, int cols)
    {
        var cov = new double[cols * cols];
        var x = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int k = 0; k < cols; k++) x[k] = table[r * cols + k] - mean[k];
            for (int i = 0; i < cols; i++)
                if (x[i] != 0) TensorPrimitives.MultiplyAdd(x, x[i], cov.AsSpan(i * cols, cols), cov.AsSpan(i * cols, cols));
        }
        TensorPrimitives.Divide(cov, rows, cov);
        return cov;
    }

    /// <summary>An orthonormal basis [n, k] of the top-k eigen-subspace of the symmetric PSD matrix a [n, n] (subspace
    /// iteration with modified Gram–Schmidt); <paramref name="kept"/> = trace(Qᵀ·A·Q), the variance it keeps.</summary>
    internal static double[] TopSubspace(double[] a, int n, int k, int seed, out double kept)
    {
        var rng = new Random(seed);
        var q = new double[n * k];
        for (int i = 0; i < q.Length; i++) q[i] = rng.NextDouble() - 0.5;
        Orthonormalize(q, n, k);
        var z = new double[n * k];
        for (int it = 0; it < Iterations; it++)
        {
            Multiply(a, q, z, n, k);
            Orthonormalize(z, n, k);
            (q, z) = (z, q);
        }
        Multiply(a, q, z, n, k);
        kept = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) kept += q[i * k + j] * z[i * k + j];
        return q;
    }

    /// <summary>z [n, k] = a [n, n] · q [n, k].</summary>
    static void Multiply(double[] a, double[] q, double[] z, int n, int k)
    {
        Array.Clear(z);
        Parallel.For(0, n, i =>
        {
            var zi = z.AsSpan(i * k, k);
            for (int m = 0; m < n; m++)
                if (a[i * n + m] != 0) TensorPrimitives.MultiplyAdd(q.AsSpan(m * k, k), a[i * n + m], zi, zi);
        });
    }

    /// <summary>Modified Gram–Schmidt on the k columns of q [n, k]; a column that vanishes becomes a unit vector.</summary>
    static void Orthonormalize(double[] q, int n, int k)
    {
        for (int j = 0; j < k; j++)
        {
            for (int p = 0; p < j; p++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += q[i * k + j] * q[i * k + p];
                for (int i = 0; i < n; i++) q[i * k + j] -= dot * q[i * k + p];
            }
            double norm = 0;
            for (int i = 0; i < n; i++) norm += q[i * k + j] * q[i * k + j];
            norm = Math.Sqrt(norm);
            if (norm < 1e-300) { for (int i = 0; i < n; i++) q[i * k + j] = i == j % n ? 1 : 0; continue; }
            for (int i = 0; i < n; i++) q[i * k + j] /= norm;
        }
    }
}
