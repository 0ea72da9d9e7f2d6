using MobileBert.Checkpoints;
using MobileBert.Inference;

namespace MobileBert.FineTuning;

/// <summary>
/// The teacher's logits for every training feature, computed once (the teacher is frozen and the inputs fixed):
/// sequence tasks one row of k logits per example; SQuAD the start (<see cref="Values"/>) and end
/// (<see cref="EndValues"/>) logits of each feature's real tokens. Row i is [Offsets[i], Offsets[i+1]).
/// Saved in the run directory (<see cref="FileName"/>), keyed by the teacher's identity and the training data's hash,
/// so a resumed run (or a rerun with the same teacher and data) reads them instead of running the teacher again.
/// </summary>
public sealed record TeacherLogits(float[] Values, float[]? EndValues, int[] Offsets)
{
    public const string FileName = "teacher_logits.safetensors";

    public int Rows => Offsets.Length - 1;
    public ReadOnlySpan<float> Row(int i) => Values.AsSpan(Offsets[i], Offsets[i + 1] - Offsets[i]);
    public ReadOnlySpan<float> EndRow(int i) => EndValues!.AsSpan(Offsets[i], Offsets[i + 1] - Offsets[i]);

    /// <summary>Runs the teacher over <paramref name="inputs"/> (no padding: the engine's grouped path, ≤ 8192 tokens
    /// per run). QA: the teacher's start/end logits of every token; otherwise its classifier logits.</summary>
    public static TeacherLogits Compute(FineTuneTeacher teacher, IReadOnlyList<TokenSequence> inputs, bool questionAnswering,
        Action<int, int>? progress = null)
    {
        var engine = teacher.Engine;
        int k = teacher.Model.Config.NumLabels;
        var offsets = new int[inputs.Count + 1];
        for (int i = 0; i < inputs.Count; i++) offsets[i + 1] = checked(offsets[i] + (questionAnswering ? inputs[i].InputIds.Length : k));
        var values = new float[offsets[^1]];
        var end = questionAnswering ? new float[offsets[^1]] : null;
        int done = 0;
        engine.RunGrouped(inputs, 8192, (group, r) =>
        {
            if (questionAnswering)
            {
                int rows = r.Rows, at = 0;
                var start = new float[rows]; var stop = new float[rows];
                teacher.Model.Qa!.Forward(r.LastHiddenState, rows, start, stop, engine.Threads);   // [rows] each, sequences back to back
                foreach (int i in group)
                {
                    int len = offsets[i + 1] - offsets[i];
                    start.AsSpan(at, len).CopyTo(values.AsSpan(offsets[i])); stop.AsSpan(at, len).CopyTo(end.AsSpan(offsets[i]));
                    at += len;
                }
            }
            else
                for (int g = 0; g < group.Length; g++) r.Logits.Slice(g * k, k).CopyTo(values.AsSpan(offsets[group[g]], k));
            done += group.Length;
            progress?.Invoke(done, inputs.Count);
        });
        foreach (float v in values)
            if (!float.IsFinite(v))
                throw new SettingException($"TeacherDir {teacher.Dir}: the teacher produced a non-finite logit ({v}).", "TeacherDir");
        return new TeacherLogits(values, end, offsets);
    }

    /// <summary>Writes DIR/<see cref="FileName"/> with the key in its metadata.</summary>
    public void Save(string dir, string teacherIdentity, string dataHash)
    {
        string path = Path.Combine(dir, FileName), tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        var tensors = new List<(string, int[], ReadOnlyMemory<float>)> { ("logits", [Values.Length], Values) };
        if (EndValues is not null) tensors.Add(("end_logits", [EndValues.Length], EndValues));
        SafeTensorsWriter.Write(tmp, tensors, new Dictionary<string, string>
        {
            ["teacher_sha256"] = teacherIdentity, ["data_sha256"] = dataHash, ["offsets"] = string.Join(",", Offsets),
        });
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The saved logits when DIR/<see cref="FileName"/> exists and has this key; null otherwise (computed afresh).</summary>
    public static TeacherLogits? TryLoad(string dir, string teacherIdentity, string dataHash)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        using var f = SafeTensorsFile.Open(path);
        if (f.Metadata.GetValueOrDefault("teacher_sha256") != teacherIdentity || f.Metadata.GetValueOrDefault("data_sha256") != dataHash) return null;
        var offsets = f.Metadata["offsets"].Split(',').Select(int.Parse).ToArray();
        var values = f["logits"].ToFloat32();
        var end = f.Contains("end_logits") ? f["end_logits"].ToFloat32() : null;
        if (values.Length != offsets[^1] || (end is not null && end.Length != values.Length))
            throw new InvalidDataException($"{path}: {values.Length} logits for offsets ending at {offsets[^1]}; delete the file to recompute it.");
        return new TeacherLogits(values, end, offsets);
    }
}
