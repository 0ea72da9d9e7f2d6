using System.Security.Cryptography;
using MobileBert.Checkpoints;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>
/// The frozen teacher of task distillation (<c>finetune --teacher DIR</c>): any model folder the predictors load
/// (<see cref="InferenceFolder"/>: fp32 or int8, MobileBERT or plain BERT) —
/// with the head of the student's task, run on the fast <see cref="InferenceEngine"/>. <see cref="Load"/> checks that it
/// shares the student's vocab and label set (a clear error otherwise).
/// </summary>
public sealed class FineTuneTeacher : IDisposable
{
    FineTuneTeacher(string dir, MobileBertModel model, InferenceEngine engine, string identity)
    {
        Dir = dir; Model = model; Engine = engine; Identity = identity;
    }

    public string Dir { get; }
    public MobileBertModel Model { get; }
    public InferenceEngine Engine { get; }
    /// <summary>SHA-256 of the teacher's config.json and weights file (the resume fingerprint and the logit cache key).</summary>
    public string Identity { get; }

    public void Dispose() => Engine.Dispose();

    /// <summary>SHA-256 over DIR/config.json and the weights file, without loading the model.</summary>
    public static string ComputeIdentity(string dir)
    {
        if (!Directory.Exists(dir)) throw new SettingException($"TeacherDir {dir}: folder does not exist.", "TeacherDir");
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var path in new[] { Path.Combine(dir, ModelFolder.ConfigFile), QuantizedCheckpoint.WeightsPath(dir) })
        {
            if (!File.Exists(path))
                throw new SettingException($"TeacherDir {dir}: {path} is missing (the teacher must be a model folder).", "TeacherDir");
            using var s = File.OpenRead(path);
            h.AppendData(SHA256.HashData(s));
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>Loads the teacher and checks it against the student's task and vocab (<paramref name="seq"/>: the student's sequence
    /// length).</summary>
    public static FineTuneTeacher Load(string dir, TaskInfo task, string studentVocabPath, int seq, int threads, string? identity = null)
    {
        if (!Directory.Exists(dir)) throw new SettingException($"TeacherDir {dir}: folder does not exist.", "TeacherDir");
        CheckVocab(dir, studentVocabPath);
        identity ??= ComputeIdentity(dir);
        var options = new PredictorOptions { Threads = threads };
        var folder = InferenceFolder.Load(dir, options);
        CheckTask(dir, folder.Model, task, seq);
        return new FineTuneTeacher(dir, folder.Model, folder.NewEngine(options), identity);
    }

    static void CheckVocab(string dir, string studentVocabPath)
    {
        string path = Path.Combine(dir, ModelFolder.VocabFile);
        if (!File.Exists(path))
            throw new SettingException($"TeacherDir {dir}: {path} is missing; teacher and student must share one tokenizer vocab.", "TeacherDir");
        var t = VocabTokens(path); var s = VocabTokens(studentVocabPath);
        int n = Math.Min(t.Count, s.Count), i = 0;
        while (i < n && t[i] == s[i]) i++;
        if (i < n || t.Count != s.Count)
            throw new SettingException(i < n
                ? $"TeacherDir {dir}: its vocab differs from the student's ({studentVocabPath}) at token id {i}: '{t[i]}' vs '{s[i]}'; teacher and " +
                    $"student must share one tokenizer vocab."
                : $"TeacherDir {dir}: its vocab has {t.Count} tokens, the student's ({studentVocabPath}) {s.Count}; teacher and student must share " +
                    $"one tokenizer vocab.", "TeacherDir");
    }

    /// <summary>The tokens of a vocab.txt by id (line), trailing empty lines dropped.</summary>
    static List<string> VocabTokens(string path)
    {
        var lines = File.ReadAllLines(path).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    static void CheckTask(string dir, MobileBertModel model, TaskInfo task, int seq)
    {
        var c = model.Config;
        if (c.MaxPositionEmbeddings < seq)
            throw new SettingException($"TeacherDir {dir}: max_position_embeddings {c.MaxPositionEmbeddings} is shorter than Seq {seq}.",
                "TeacherDir", "Seq");
        if (task.IsPair && c.TypeVocabSize < 2)
            throw new SettingException($"TeacherDir {dir}: type_vocab_size {c.TypeVocabSize} cannot encode text pairs.", "TeacherDir");
        var saved = File.Exists(Path.Combine(dir, TaskInfo.FileName)) ? TaskInfo.Load(dir) : null;
        if (task.Kind == TaskInfoKind.QuestionAnswering)
        {
            if (model.Qa is null)
                throw new SettingException($"TeacherDir {dir}: the teacher has no question-answering head (qa_outputs.*); a SQuAD student needs a " +
                    $"SQuAD teacher.", "TeacherDir");
            return;
        }
        if (model.Classifier is null)
            throw new SettingException($"TeacherDir {dir}: the teacher has no sequence-classification head (classifier.*); fine-tune it on the " +
                $"task first.", "TeacherDir");
        bool teacherRegression = saved?.Kind == TaskInfoKind.Regression || c.ProblemType == "regression";
        if (task.Kind == TaskInfoKind.Regression)
        {
            if (!teacherRegression || c.NumLabels != 1)
                throw new SettingException($"TeacherDir {dir}: the student's task is regression; the teacher is a {c.NumLabels}-label classifier.",
                    "TeacherDir");
            return;
        }
        var labels = saved?.Labels is { Count: > 0 } l ? l : c.Labels;
        if (teacherRegression || !labels.SequenceEqual(task.Labels))
            throw new SettingException($"TeacherDir {dir}: its labels ({(teacherRegression ? "regression" : string.Join(", ", labels))}) differ " +
                $"from the student's " +
                $"({string.Join(", ", task.Labels)}); teacher and student must share the label set, in the same order.", "TeacherDir");
    }
}
