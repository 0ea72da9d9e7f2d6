using MobileBert.Text;

namespace MobileBert.Model;

/// <summary>Pads encoded inputs into one [B, S] model batch.</summary>
public static class Batching
{
    /// <summary>Right-pads every input to the longest (or to <paramref name="length"/>) with <paramref name="padId"/>, mask 0, token type
    /// 0.</summary>
    public static ModelInput Pad(IReadOnlyList<EncodedInput> inputs, int padId, int? length = null)
    {
        if (inputs.Count == 0) throw new ArgumentException("Cannot build a batch from zero inputs.");
        int s = length ?? inputs.Max(x => x.InputIds.Length);
        int b = inputs.Count;
        var ids = new int[b * s]; var mask = new int[b * s]; var types = new int[b * s];
        if (padId != 0) Array.Fill(ids, padId);
        for (int i = 0; i < b; i++)
        {
            var x = inputs[i];
            if (x.InputIds.Length > s) throw new ArgumentException($"Input {i} has {x.InputIds.Length} tokens, more than the batch length {s}.");
            x.InputIds.CopyTo(ids, i * s);
            x.AttentionMask.CopyTo(mask, i * s);
            x.TokenTypeIds.CopyTo(types, i * s);
        }
        return new ModelInput(b, s, ids, mask, types);
    }
}
