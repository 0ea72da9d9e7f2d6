using System.Numerics.Tensors;
using MobileBert.Model.Heads;

namespace MobileBert.Model;

// Training: the backward pass (llm.c style: the caching forward keeps what backward needs in a reusable ForwardCache;
// backward accumulates every parameter gradient into Store.Grad, one contiguous buffer).
public sealed partial class MobileBertModel
{
    ForwardCache? _ownCache;

    /// <summary>Allocates the gradient buffer if needed and sets every gradient to zero (gradients accumulate across backward calls).</summary>
    public void ZeroGrad()
    {
        Store.AllocateGrad();
        Array.Clear(Store.Grad!);
    }

    /// <summary>Backward of the forward pass recorded in <paramref name="output"/>.<see cref="ModelOutput.Cache"/>.</summary>
    public void Backward(ModelOutput output, OutputGradients gradients) =>
        Backward(output.Cache ?? throw new ArgumentException("This output has no ForwardCache: run Forward with KeepForBackward = true (or " +
        "Training = true)."), gradients);

    /// <summary>
    /// Backpropagates <paramref name="gradients"/> (dL/d outputs) through the forward pass kept in <paramref name="cache"/>,
    /// ACCUMULATING dL/dθ into <see cref="Tensors.ParameterStore.Grad"/> (allocated on first use; call <see cref="ZeroGrad"/>
    /// between steps). The tied word embeddings get the sum of the lookup and MLM-decoder gradients. Gradients of heads that
    /// did not run, or that get no output gradient, are untouched.
    /// </summary>
    public void Backward(ForwardCache cache, OutputGradients gradients)
    {
        ArgumentNullException.ThrowIfNull(cache); ArgumentNullException.ThrowIfNull(gradients);
        if (!ReferenceEquals(cache.Owner, this) || !cache.Valid) throw new InvalidOperationException(
            "The ForwardCache does not hold a forward pass of this model.");
        Store.AllocateGrad();
        var c = Config;
        var input = cache.Input;
        int b = input.Batch, s = input.Seq, rows = b * s, h = c.HiddenSize, n = rows * h, threads = Math.Max(1, Threads), L = Layers.Length;
        var dp = cache.Dropout;
        var g = cache.Grad;
        void Check(float[]? a, long len, string name) { if (a is not null && a.Length < len) throw new ArgumentException(
            $"Gradient '{name}' has {a.Length} values; expected {len}."); }
        Check(gradients.LastHiddenState, n, nameof(gradients.LastHiddenState));
        Check(gradients.PooledOutput, b * h, nameof(gradients.PooledOutput));
        if (gradients.HiddenStates is { } hs && hs.Length != L + 1) throw new ArgumentException(
            $"HiddenStates gradients: {hs.Length} entries, expected L+1 = {L + 1}.");
        if (gradients.Attentions is { } at && at.Length != L) throw new ArgumentException(
            $"Attentions gradients: {at.Length} entries, expected L = {L}.");

        // d(last hidden state) from the caller and every head.
        var dx = g.Zeroed("d.hidden.0", n);
        AddInto(dx, gradients.LastHiddenState, n);
        AddInto(dx, gradients.HiddenStates?[L], n);
        var x = cache.Hidden[L];
        if (gradients.MlmLogits is not null)
        {
            if (Mlm is null || !cache.RanHeads.HasFlag(ModelHeads.MaskedLm)) throw new InvalidOperationException(
                "MLM logits gradient given but the MLM head did not run.");
            Mlm.Backward(x, rows, cache.MlmRows, gradients.MlmLogits, dx, threads, cache.Model, g);
        }
        if (gradients.QaStartLogits is not null || gradients.QaEndLogits is not null)
        {
            if (Qa is null || !cache.RanHeads.HasFlag(ModelHeads.QuestionAnswering)) throw new InvalidOperationException(
                "QA logits gradient given but the QA head did not run.");
            Check(gradients.QaStartLogits, rows, "QaStartLogits"); Check(gradients.QaEndLogits, rows, "QaEndLogits");
            Qa.Backward(x, rows, gradients.QaStartLogits, gradients.QaEndLogits, dx, threads);
        }
        bool poolGrad = gradients.PooledOutput is not null || gradients.NspLogits is not null || gradients.SequenceClassificationLogits is not null;
        if (poolGrad)
        {
            if (Pooler is null) throw new InvalidOperationException("Pooled-output gradients given but the model has no pooler.");
            var dPooled = g.Zeroed("d.pooled", b * h);
            AddInto(dPooled, gradients.PooledOutput, b * h);
            if (gradients.NspLogits is not null)
            {
                if (Nsp is null || !cache.RanHeads.HasFlag(ModelHeads.NextSentence)) throw new InvalidOperationException(
                    "NSP logits gradient given but the NSP head did not run.");
                Check(gradients.NspLogits, b * 2, "NspLogits");
                Nsp.Backward(cache.Pooled!, gradients.NspLogits, b, dPooled, threads);
            }
            if (gradients.SequenceClassificationLogits is not null)
            {
                if (Classifier is null || !cache.RanHeads.HasFlag(ModelHeads.SequenceClassification)) throw new InvalidOperationException(
                    "Classifier logits gradient given but the head did not run.");
                Check(gradients.SequenceClassificationLogits, b * c.NumLabels, "SequenceClassificationLogits");
                var dIn = g.Get("d.cls.in", b * h);
                Classifier.Backward(cache.Model.Get("cls.in", b * h), gradients.SequenceClassificationLogits, b, dIn, threads);
                if (dp.Classifier > 0) Kernels.Dropout.Apply(dIn, dp.Classifier, dp.Seed, Kernels.Dropout.Stream(-1, DropoutPlan.SiteClassifier));
                TensorPrimitives.Add(dPooled, dIn, dPooled);
            }
            Pooler.Backward(cache.Model.Get("pooler.first", b * h), cache.Pooled!, dPooled, b, s, dx, threads, g);
        }

        // Encoder, last layer first; hidden-state gradients ping-pong between two buffers.
        var dNext = g.Get("d.hidden.1", n);
        for (int l = L - 1; l >= 0; l--)
        {
            var dProbs = gradients.Attentions?[l];
            if (dProbs is not null) Check(dProbs, (long)b * c.NumAttentionHeads * s * s, $"Attentions[{l}]");
            Layers[l].Backward(cache.Hidden[l], dx, dNext, dProbs, b, s, threads, cache.Layers[l], g, dp, l);
            AddInto(dNext, gradients.HiddenStates?[l], n);
            (dx, dNext) = (dNext, dx);
        }
        Embeddings.Backward(input.InputIds, input.TokenTypeIds, b, s, dx, threads, cache.Embeddings, g, dp);
    }

    static void AddInto(float[] dst, float[]? src, int n)
    {
        if (src is null) return;
        if (src.Length < n) throw new ArgumentException($"Gradient has {src.Length} values; expected {n}.");
        TensorPrimitives.Add(dst.AsSpan(0, n), src.AsSpan(0, n), dst.AsSpan(0, n));
    }
}
