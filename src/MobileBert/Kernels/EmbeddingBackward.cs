using System.Numerics.Tensors;

namespace MobileBert.Kernels;

/// <summary>Backward passes of <see cref="Embedding"/> and <see cref="Trigram"/>.</summary>
public static class EmbeddingBackward
{
    /// <summary>
    /// dtable[ids[i], :] += dout[i, :] (the gather's gradient, a scatter-add). Rows whose id equals
    /// <paramref name="paddingId"/> are skipped (PyTorch nn.Embedding padding_idx: the padding row gets no gradient from
    /// the lookup); pass −1 for none. Ids must be valid (the forward validated them).
    /// </summary>
    public static void ScatterAdd(ReadOnlySpan<int> ids, ReadOnlySpan<float> dout, int dim, Span<float> dtable, int paddingId = -1)
    {
        KernelArgs.Length("EmbeddingBackward.ScatterAdd", dout.Length, (long)ids.Length * dim, nameof(dout), "ids.Length*dim");
        int vocab = dtable.Length / dim;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if (id == paddingId) continue;
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} at {i} out of range (vocab {vocab}).");
            var row = dtable.Slice(id * dim, dim);
            TensorPrimitives.Add(row, dout.Slice(i * dim, dim), row);
        }
    }

    /// <summary>
    /// Backward of <see cref="Trigram.Concat"/>: dy [batch, seq, 3·dim] → dx [batch, seq, dim] (written):
    /// dx[t] = dy[t−1][0:dim] + dy[t][dim:2dim] + dy[t+1][2dim:3dim] within each sequence.
    /// </summary>
    public static void Trigram(ReadOnlySpan<float> dy, Span<float> dx, int batch, int seq, int dim)
    {
        KernelArgs.Length("EmbeddingBackward.Trigram", dy.Length, 3L * batch * seq * dim, nameof(dy), "batch*seq*3*dim");
        KernelArgs.Length("EmbeddingBackward.Trigram", dx.Length, (long)batch * seq * dim, nameof(dx), "batch*seq*dim");
        int d3 = 3 * dim;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
            {
                int row = b * seq + t;
                var o = dx.Slice(row * dim, dim);
                dy.Slice(row * d3 + dim, dim).CopyTo(o);
                if (t > 0) TensorPrimitives.Add(o, dy.Slice((row - 1) * d3, dim), o);            // x[t] was "next" of t−1
                if (t + 1 < seq) TensorPrimitives.Add(o, dy.Slice((row + 1) * d3 + 2 * dim, dim), o); // x[t] was "previous" of t+1
            }
    }
}
