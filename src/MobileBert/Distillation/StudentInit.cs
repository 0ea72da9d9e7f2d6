using MobileBert.Model;
using MobileBert.Tensors;
using MobileBert.Training.Optimizers;

namespace MobileBert.Distillation;

/// <summary>Teacher and student cannot be paired (shapes, heads, depths). The message names the tensors or fields.</summary>
public sealed class DistillationException(string message) : Exception(message);

/// <summary>Which teacher layer each student layer learns from.</summary>
public sealed class LayerMap
{
    readonly int[] _teacherLayer;

    public LayerMap(int[] teacherLayerOfStudentLayer, int teacherLayers)
    {
        _teacherLayer = [.. teacherLayerOfStudentLayer];
        TeacherLayers = teacherLayers;
        for (int l = 0; l < _teacherLayer.Length; l++)
            if ((uint)_teacherLayer[l] >= (uint)teacherLayers)
                throw new DistillationException($"layer map: student layer {l} ← teacher layer {_teacherLayer[l]}, but the teacher has layers 0…{teacherLayers - 1}.");
    }

    /// <summary>Default: student layer l ← teacher layer round((l+1)·Lt/Ls) − 1 (the identity when depths are equal; the
    /// last student layer always learns from the last teacher layer).</summary>
    public static LayerMap Default(int studentLayers, int teacherLayers)
    {
        if (studentLayers <= 0 || teacherLayers <= 0) throw new DistillationException($"layer map: student ({studentLayers}) and teacher ({teacherLayers}) need at least one layer.");
        var map = new int[studentLayers];
        for (int l = 0; l < studentLayers; l++) map[l] = Math.Max(0, (int)Math.Round((l + 1) * (double)teacherLayers / studentLayers, MidpointRounding.AwayFromZero) - 1);
        return new LayerMap(map, teacherLayers);
    }

    /// <summary>Parses "0:1,1:3,…" (student:teacher pairs, every student layer once) or a plain list "1,3,5".</summary>
    public static LayerMap Parse(string text, int studentLayers, int teacherLayers)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var map = Enumerable.Repeat(-1, studentLayers).ToArray();
        for (int i = 0; i < parts.Length; i++)
        {
            var kv = parts[i].Split(':');
            int s = kv.Length == 2 ? int.Parse(kv[0]) : i, t = int.Parse(kv[^1]);
            if ((uint)s >= (uint)studentLayers) throw new DistillationException($"--layer-map: student layer {s} does not exist (0…{studentLayers - 1}).");
            map[s] = t;
        }
        int missing = Array.IndexOf(map, -1);
        if (missing >= 0) throw new DistillationException($"--layer-map: student layer {missing} has no teacher layer.");
        return new LayerMap(map, teacherLayers);
    }

    public int StudentLayers => _teacherLayer.Length;
    public int TeacherLayers { get; }
    public int this[int studentLayer] => _teacherLayer[studentLayer];
    public IReadOnlyList<int> Pairs => _teacherLayer;
    public override string ToString() => string.Join(", ", _teacherLayer.Select((t, s) => $"student {s} ← teacher {t}"));
}

/// <summary>
/// Student initialisation from the teacher (MobileBERT §3.3: teacher and student share the inter-block hidden size,
/// embedding size and vocabulary): every tensor outside the encoder layers — embeddings (word, position, token type,
/// trigram transformation, embedding norm), pooler, MLM transform/decoder, NSP — is copied.
/// </summary>
public static class StudentInit
{
    /// <summary>Parameters outside the encoder layers (copied from the teacher; frozen during layer-wise transfer).</summary>
    public static ParameterSelector Shared => ParameterSelector.OutsideEncoderLayers;

    /// <summary>
    /// Copies the shared tensors from <paramref name="teacher"/> into <paramref name="student"/>. Every student tensor outside
    /// the encoder layers must exist in the teacher with the same shape, except the NSP head and pooler when the teacher has
    /// none (they keep their random initialisation and a warning is returned). Any mismatch throws BEFORE anything is
    /// copied, listing every offending tensor. Returns the warnings (e.g. different embedding normalisation types).
    /// </summary>
    public static IReadOnlyList<string> CopySharedFromTeacher(MobileBertModel teacher, MobileBertModel student)
    {
        var warnings = new List<string>();
        var problems = new List<string>();
        var copies = new List<(Parameter From, Parameter To)>();
        foreach (var p in student.Store.Parameters)
        {
            if (ParameterSelector.EncoderLayerOf(p) >= 0) continue;
            if (!teacher.Store.TryGet(p.Name, out var t))
            {
                bool optional = p.Name.StartsWith("mobilebert.pooler.", StringComparison.Ordinal) || p.Name.StartsWith("cls.seq_relationship", StringComparison.Ordinal);
                if (optional) warnings.Add($"the teacher has no '{p.Name}': the student keeps its random initialisation");
                else problems.Add($"'{p.Name}' {Shape(p)} is missing in the teacher");
                continue;
            }
            if (!t.Shape.SequenceEqual(p.Shape)) { problems.Add($"'{p.Name}': teacher {Shape(t)} vs student {Shape(p)}"); continue; }
            copies.Add((t, p));
        }
        if (problems.Count > 0)
            throw new DistillationException($"cannot initialise the student from the teacher (teacher and student must share hidden_size, embedding_size, vocab_size, type_vocab_size, max_position_embeddings and trigram_input): {string.Join("; ", problems)}.");
        foreach (var (from, to) in copies) teacher.Store.Span(from).CopyTo(student.Store.Span(to));
        if (teacher.Config.NormalizationType != student.Config.NormalizationType)
            warnings.Add($"embedding norm: the teacher uses {teacher.Config.NormalizationType}, the student {student.Config.NormalizationType}; its γ/β are copied but compute a different function");
        return warnings;
    }

    static string Shape(Parameter p) => "[" + string.Join(",", p.Shape) + "]";

    /// <summary>Checks that teacher and student can be paired for layer-wise transfer (hidden sizes of the feature maps).</summary>
    public static void CheckPair(MobileBertConfig teacher, MobileBertConfig student)
    {
        var problems = new List<string>();
        if (teacher.HiddenSize != student.HiddenSize) problems.Add($"hidden_size: teacher {teacher.HiddenSize} vs student {student.HiddenSize}");
        if (teacher.EmbeddingSize != student.EmbeddingSize) problems.Add($"embedding_size: teacher {teacher.EmbeddingSize} vs student {student.EmbeddingSize}");
        if (teacher.VocabSize != student.VocabSize) problems.Add($"vocab_size: teacher {teacher.VocabSize} vs student {student.VocabSize}");
        if (problems.Count > 0) throw new DistillationException($"teacher and student do not match: {string.Join("; ", problems)} (layer-wise transfer compares hidden_size-wide feature maps and copies the embeddings and heads).");
    }

    /// <summary>Copies every parameter of <paramref name="to"/> from the parameter of the same name in <paramref name="from"/>
    /// (a truncated copy of a model, or its way back). Names and shapes must match.</summary>
    public static void CopyByName(ParameterStore from, ParameterStore to)
    {
        foreach (var p in to.Parameters)
        {
            if (!from.TryGet(p.Name, out var q) || q.Length != p.Length) throw new DistillationException($"'{p.Name}' is missing or has another shape in the source model.");
            from.Span(q).CopyTo(to.Span(p));
        }
    }

    /// <summary>Copies every parameter of the (smaller) <paramref name="from"/> into the parameter of the same name in
    /// <paramref name="to"/> (a truncated stage model back into the full student).</summary>
    public static void CopyInto(ParameterStore from, ParameterStore to)
    {
        foreach (var p in from.Parameters)
        {
            if (!to.TryGet(p.Name, out var q) || q.Length != p.Length) throw new DistillationException($"'{p.Name}' is missing or has another shape in the target model.");
            from.Span(p).CopyTo(to.Span(q));
        }
    }

    /// <summary>A model of the first <paramref name="layers"/> encoder layers of <paramref name="model"/> (weights copied),
    /// with the given heads (pooler only if a head needs it).</summary>
    public static MobileBertModel Truncated(MobileBertModel model, int layers, ModelHeads heads)
    {
        var c = model.Config.Clone();
        c.NumHiddenLayers = layers;
        bool pooler = (heads & (ModelHeads.NextSentence | ModelHeads.SequenceClassification)) != 0;
        var m = new MobileBertModel(c, heads, pooler: pooler) { Threads = model.Threads };
        CopyByName(model.Store, m.Store);
        return m;
    }
}
