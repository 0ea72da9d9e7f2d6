using MobileBert.Distillation;
using MobileBert.Inference;
using MobileBert.Model;

namespace MobileBert.FineTuning;

/// <summary>Layer-distillation terms of one batch (unweighted means over the mapped layers; <see cref="Total"/> is weighted).</summary>
public readonly record struct LayerDistillationLoss(double FeatureMap, double Attention, double Embedding, double Total);

/// <summary>
/// Task-specific intermediate-layer distillation (TinyBERT's task stage; <c>finetune --teacher DIR --kd-layers β</c>): on every
/// training batch the fine-tuned teacher's hidden states and attention maps, run on the fast engine, are targets for the
/// student's, through the default <see cref="LayerMap"/>, with the knowledge-transfer losses of <see cref="DistillationLosses"/>
/// (normalised feature maps + mean/variance matching, attention KL in head groups) at their default weights:
/// <code>
/// L_layers = β · ( FM(h_0) + Σ_l [FM(h_l+1) + AT(a_l)] ) / (L + 1)        h_0 = embedding output, l = student layer
/// </code>
/// added to the task loss. The student must share the teacher's hidden size (MobileBERT's inter-block width). What a student
/// learns here is the teacher's token-level reading of this task's inputs — what logits alone (one row per example or
/// per QA window side) do not carry.
/// </summary>
public sealed class LayerDistillation
{
    readonly FineTuneTeacher _teacher;
    readonly LayerMap _map;
    readonly double _weight;
    readonly LossWeights _terms = new();
    readonly LayerTransfer _transfer = new();

    LayerDistillation(FineTuneTeacher teacher, LayerMap map, double weight)
    {
        _teacher = teacher; _map = map; _weight = weight;
    }

    /// <summary>The layer map, for the run's log.</summary>
    public LayerMap Map => _map;

    /// <summary>Checks that the student can learn the teacher's layers (equal hidden size; the teacher is fp32).</summary>
    public static LayerDistillation Create(FineTuneTeacher teacher, MobileBertConfig student, double weight)
    {
        var t = teacher.Model.Config;
        if (t.HiddenSize != student.HiddenSize)
            throw new SettingException($"KdLayers: the student's hidden size {student.HiddenSize} differs from the teacher's ({teacher.Dir}) " +
                $"{t.HiddenSize}; layer distillation compares hidden states, so the student's (inter-block) width must equal the teacher's " +
                $"hidden size. Use --kd-layers 0 (logits only).", "KdLayers");
        if (teacher.Engine.IsQuantized)
            throw new SettingException($"KdLayers: the teacher ({teacher.Dir}) is int8; layer distillation needs its fp32 hidden states. " +
                $"Give the fp32 model folder, or --kd-layers 0.", "KdLayers");
        return new LayerDistillation(teacher, LayerMap.Default(student.NumHiddenLayers, t.NumHiddenLayers), weight);
    }

    /// <summary>Runs the teacher on <paramref name="input"/> and ADDS β·dL_layers into <paramref name="grads"/>' hidden-state and
    /// attention gradients. <paramref name="student"/>: the student's training forward of the same input (a model with
    /// <paramref name="studentConfig"/>), with <see cref="ForwardOptions.OutputHiddenStates"/> and
    /// <see cref="ForwardOptions.OutputAttentions"/>.</summary>
    public LayerDistillationLoss Add(ModelInput input, ModelOutput student, MobileBertConfig studentConfig, OutputGradients grads, int threads)
    {
        var r = _teacher.Engine.Run(input, InferenceOutputs.HiddenStates | InferenceOutputs.Attentions);
        int layers = _map.StudentLayers;
        var lt = _transfer.Apply(r.HiddenStates!, r.Attentions!, _teacher.Model.Config.NumAttentionHeads, student, studentConfig, input, _map,
            Enumerable.Range(0, layers), embedding: true, _terms, _weight / (layers + 1), grads, threads);
        return new LayerDistillationLoss(lt.Mse / layers, lt.Attention / layers, lt.Embedding, _weight * lt.Total / (layers + 1));
    }
}
