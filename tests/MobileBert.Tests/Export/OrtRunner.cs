using MobileBert.Model;
using Microsoft.ML.OnnxRuntime;

namespace MobileBert.Tests.Export;

/// <summary>Runs an exported model in ONNX Runtime (the export check's peer, never a library dependency).</summary>
internal static class OrtRunner
{
    public static Dictionary<string, float[]> Run(byte[] onnx, ModelInput input, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var so = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1, InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        using var session = new InferenceSession(onnx, so);
        long[] shape = [input.Batch, input.Seq];
        static long[] L(int[] a) => Array.ConvertAll(a, v => (long)v);
        using var ids = OrtValue.CreateTensorValueFromMemory(L(input.InputIds), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(L(input.AttentionMask), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(L(input.TokenTypeIds), shape);
        using var ro = new RunOptions();
        var names = session.OutputNames;
        using var results = session.Run(ro, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], names);
        var dict = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) dict[names[i]] = results[i].GetTensorDataAsSpan<float>().ToArray();
        return dict;
    }

    /// <summary>Our engine's outputs under the ONNX output names.</summary>
    public static Dictionary<string, float[]> Ours(ModelOutput o)
    {
        var d = new Dictionary<string, float[]>(StringComparer.Ordinal) { ["last_hidden_state"] = o.LastHiddenState };
        if (o.PooledOutput is not null) d["pooler_output"] = o.PooledOutput;
        if (o.MlmLogits is not null) d["mlm_logits"] = o.MlmLogits;
        if (o.NspLogits is not null) d["nsp_logits"] = o.NspLogits;
        if (o.SequenceClassificationLogits is not null) d["seqcls_logits"] = o.SequenceClassificationLogits;
        if (o.QaStartLogits is not null) d["qa_start_logits"] = o.QaStartLogits;
        if (o.QaEndLogits is not null) d["qa_end_logits"] = o.QaEndLogits;
        return d;
    }

    /// <summary>max|a − b| / max|a| (a = reference).</summary>
    public static double RelativeError(float[] reference, float[] actual)
    {
        if (reference.Length != actual.Length) throw new ArgumentException($"length {actual.Length} ≠ {reference.Length}");
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
            double d = Math.Abs((double)actual[i] - reference[i]);
            if (double.IsNaN(d)) return double.NaN;
            maxDiff = Math.Max(maxDiff, d);
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}
