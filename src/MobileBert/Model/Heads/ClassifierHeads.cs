using MobileBert.Tensors;

namespace MobileBert.Model.Heads;

/// <summary>Next-sentence prediction (HF cls.seq_relationship): pooled [B, H] → logits [B, 2].</summary>
public sealed class NspHead(ParameterStore store, string name, MobileBertConfig c)
{
    public Linear Dense { get; } = new(store, name, c.HiddenSize, 2);
    public void Forward(ReadOnlySpan<float> pooled, int batch, Span<float> logits, int threads) => Dense.Forward(pooled, logits, batch, threads);

    /// <summary>Backward: dLogits [B, 2] → dPooled [B, H] (added).</summary>
    public void Backward(ReadOnlySpan<float> pooled, ReadOnlySpan<float> dLogits, int batch, Span<float> dPooled, int threads)
        => Dense.Backward(pooled, dLogits, dPooled, batch, threads, accumulateDx: true);
}

/// <summary>Sequence classification / regression (HF classifier): pooled [B, H] → logits [B, num_labels].</summary>
public sealed class SequenceClassifierHead(ParameterStore store, string name, MobileBertConfig c)
{
    public Linear Dense { get; } = new(store, name, c.HiddenSize, c.NumLabels);
    public void Forward(ReadOnlySpan<float> pooled, int batch, Span<float> logits, int threads) => Dense.Forward(pooled, logits, batch, threads);

    /// <summary>Backward: input = the (dropped-out in training) pooled output the forward read; dLogits [B, labels] → dInput [B, H]
    /// (written).</summary>
    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> dLogits, int batch, Span<float> dInput, int threads)
        => Dense.Backward(input, dLogits, dInput, batch, threads);
}

/// <summary>Extractive QA (HF qa_outputs): sequence [B·S, H] → start/end logits [B, S] each.</summary>
public sealed class QuestionAnsweringHead(ParameterStore store, string name, MobileBertConfig c)
{
    public Linear Dense { get; } = new(store, name, c.HiddenSize, 2);

    public void Forward(ReadOnlySpan<float> sequence, int rows, Span<float> start, Span<float> end, int threads)
    {
        var both = new float[rows * 2];                                    // [rows, 2]
        Dense.Forward(sequence, both, rows, threads);
        for (int r = 0; r < rows; r++) { start[r] = both[2 * r]; end[r] = both[2 * r + 1]; }
    }

    /// <summary>Backward: dStart, dEnd [B·S] → dSequence [B·S, H] (added).</summary>
    public void Backward(ReadOnlySpan<float> sequence, int rows, ReadOnlySpan<float> dStart, ReadOnlySpan<float> dEnd, Span<float> dSequence,
        int threads)
    {
        var both = new float[rows * 2];                                    // [rows, 2]
        for (int r = 0; r < rows; r++) { both[2 * r] = dStart.IsEmpty ? 0f : dStart[r]; both[2 * r + 1] = dEnd.IsEmpty ? 0f : dEnd[r]; }
        Dense.Backward(sequence, both, dSequence, rows, threads, accumulateDx: true);
    }
}
