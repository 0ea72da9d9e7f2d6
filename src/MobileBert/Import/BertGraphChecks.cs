namespace MobileBert.Import;

/// <summary>The complete set of BertModel tensors an inferred <see cref="BertGraphShape"/> implies, each with its shape.</summary>
internal static class BertGraphChecks
{
    public static IEnumerable<(string Name, int[] Shape)> Expected(BertGraphShape s)
    {
        int h = s.HiddenSize, i = s.IntermediateSize;
        yield return (BertTensorNames.WordEmbeddings, [s.VocabSize, h]);
        yield return (BertTensorNames.PositionEmbeddings, [s.MaxPositionEmbeddings, h]);
        yield return (BertTensorNames.TokenTypeEmbeddings, [s.TypeVocabSize, h]);
        yield return (BertTensorNames.EmbeddingNorm + ".weight", [h]);
        yield return (BertTensorNames.EmbeddingNorm + ".bias", [h]);
        for (int l = 0; l < s.NumHiddenLayers; l++)
        {
            foreach (var m in BertTensorNames.LayerLinears)
            {
                int outF = m == "intermediate.dense" ? i : h, inF = m == "output.dense" ? i : h;
                yield return (BertTensorNames.Layer(l, m + ".weight"), [outF, inF]);
                yield return (BertTensorNames.Layer(l, m + ".bias"), [outF]);
            }
            foreach (var n in BertTensorNames.LayerNorms)
            {
                yield return (BertTensorNames.Layer(l, n + ".weight"), [h]);
                yield return (BertTensorNames.Layer(l, n + ".bias"), [h]);
            }
        }
        if (s.HasPooler)
        {
            yield return (BertTensorNames.Pooler + ".weight", [h, h]);
            yield return (BertTensorNames.Pooler + ".bias", [h]);
        }
    }

    /// <summary>Every expected tensor present with its shape and finite values, nothing else.</summary>
    public static void CheckTensors(string source, BertGraphShape shape, IReadOnlyDictionary<string, ImportedTensor> tensors)
    {
        var expected = Expected(shape).ToDictionary(e => e.Name, e => e.Shape, StringComparer.Ordinal);
        string dims = $"hidden {shape.HiddenSize}, intermediate {shape.IntermediateSize}, {shape.NumHiddenLayers} layers";
        foreach (var (name, want) in expected)
        {
            var t = tensors.GetValueOrDefault(name) ?? throw new OnnxImportException($"{source}: the graph has no '{name}' ({dims}).");
            if (!t.Shape.SequenceEqual(want))
                throw new OnnxImportException($"{source}: {t.Origin}: '{name}' has shape [{string.Join(", ", t.Shape)}], expected " +
                    $"[{string.Join(", ", want)}] ({dims}).");
            int bad = Array.FindIndex(t.Data, v => !float.IsFinite(v));
            if (bad >= 0) throw new OnnxImportException($"{source}: {t.Origin}: '{name}' holds a non-finite value ({t.Data[bad]}) at element {bad}.");
        }
        foreach (var t in tensors.Values)
            if (!expected.ContainsKey(t.Name))
                throw new OnnxImportException($"{source}: {t.Origin}: '{t.Name}' does not belong to a {shape.NumHiddenLayers}-layer " +
                    $"BertModel{(shape.HasPooler ? "" : " without pooler")}.");
    }
}
