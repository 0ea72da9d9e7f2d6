using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.PretrainingData;

namespace MobileBert.Distillation;

/// <summary>Held-out transfer losses (unweighted, as <see cref="DistillationLosses"/> defines them): the feature-map MSE of
/// the normalised maps and the attention KL, each averaged over the student's layers (through the layer map), and the
/// feature-map MSE of hidden state 0 (the embedding output).</summary>
public sealed record TransferEval(double FeatureMapMse, double Attention, double EmbeddingMse, int Sequences);

/// <summary>Scores how closely a student reproduces its teacher's hidden states and attention maps on held-out data.</summary>
public static class TransferEvaluation
{
    /// <param name="unmask">Restore the MLM-masked tokens first (as the layer-wise stages do for a teacher without MLM head).</param>
    public static TransferEval Run(MobileBertModel teacher, MobileBertModel student, LayerMap map, PretrainingDataset heldOut, int batchSize,
        int maxBatches, int threads, bool unmask = false)
    {
        int L = student.Config.NumHiddenLayers, h = student.Config.HiddenSize;
        int th = teacher.Config.NumAttentionHeads, sh = student.Config.NumAttentionHeads;
        using var engine = new InferenceEngine(teacher, new InferenceOptions { Threads = threads });
        double fmt = 0, at = 0, emb = 0; int batches = 0, sequences = 0;
        var none = new LossWeights();
        for (int i = 0; i < maxBatches && i * batchSize < heldOut.Count; i++)
        {
            int n = Math.Min(batchSize, heldOut.Count - i * batchSize);
            var batch = heldOut.GetBatch([.. Enumerable.Range(i * batchSize, n)]);
            if (unmask) batch = DistillationRun.Unmasked(batch);
            var t = engine.Run(batch.Input, InferenceOutputs.HiddenStates | InferenceOutputs.Attentions);
            var s = student.Forward(batch.Input, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true, Heads = ModelHeads.None });
            int rows = batch.Batch * batch.Seq;
            for (int l = 0; l < L; l++)
            {
                fmt += DistillationLosses.FeatureMap(t.HiddenStates![map[l] + 1], s.HiddenStates![l + 1], rows, h, batch.AttentionMask, none,
                    threads: threads).Mse / L;
                at += DistillationLosses.Attention(t.Attentions![map[l]], s.Attentions![l], batch.Batch, batch.Seq, th, sh, batch.AttentionMask,
                    threads: threads) / L;
            }
            emb += DistillationLosses.FeatureMap(t.HiddenStates![0], s.HiddenStates![0], rows, h, batch.AttentionMask, none, threads: threads).Mse;
            batches++; sequences += n;
        }
        int d = Math.Max(1, batches);
        return new TransferEval(fmt / d, at / d, emb / d, sequences);
    }
}
