using System.Numerics.Tensors;

namespace MobileBert.Kernels;

/// <summary>Embedding-table lookups. The table is row-major [vocab, dim]. Stateless and thread-safe.</summary>
public static class Embedding
{
    /// <summary>output[i, :] = table[ids[i], :]. Ids are validated before anything is written.</summary>
    public static void Gather(ReadOnlySpan<float> table, int dim, ReadOnlySpan<int> ids, Span<float> output, string tableName = "embedding")
    {
        Validate(nameof(Gather), table, dim, ids, output, tableName);
        for (int i = 0; i < ids.Length; i++)
            table.Slice(ids[i] * dim, dim).CopyTo(output.Slice(i * dim, dim));
    }

    /// <summary>output[i, :] += table[ids[i], :] (float add). Ids are validated before anything is written.</summary>
    public static void GatherAdd(ReadOnlySpan<float> table, int dim, ReadOnlySpan<int> ids, Span<float> output, string tableName = "embedding")
    {
        Validate(nameof(GatherAdd), table, dim, ids, output, tableName);
        for (int i = 0; i < ids.Length; i++)
        {
            Span<float> o = output.Slice(i * dim, dim);
            TensorPrimitives.Add(o, table.Slice(ids[i] * dim, dim), o);
        }
    }

    private static int Validate(string op, ReadOnlySpan<float> table, int dim, ReadOnlySpan<int> ids, Span<float> output, string tableName)
    {
        tableName ??= "embedding";
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"Embedding.{op} ({tableName}): dim must be positive, got {dim}.");
        if (table.Length % dim != 0)
            throw new ArgumentException(
                $"Embedding.{op} ({tableName}): table has {table.Length} elements, which is not a multiple of dim = {dim} (expected vocab*dim).",
                nameof(table));
        KernelArgs.Length($"Embedding.{op} ({tableName})", output.Length, (long)ids.Length * dim, nameof(output), "ids.Length*dim");
        int vocab = table.Length / dim;
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), id,
                    $"Embedding '{tableName}': id {id} at position {i} is out of range; valid ids are 0..{vocab - 1} (vocab size {vocab}).");
        }
        return vocab;
    }
}
