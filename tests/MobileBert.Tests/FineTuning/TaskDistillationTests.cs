using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Tests.Model;
using MobileBert.Text;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.FineTuning;

/// <summary>
/// <c>finetune --teacher</c>: the teacher's logits are computed once per training feature on the engine (and equal its
/// model's own forward pass), kept in the run directory so a resumed run reads them and ends bit-identical, keyed in the
/// resume fingerprint; a plain BERT teacher for a MobileBERT student, int8 teachers and SQuAD teachers work; a teacher with another
/// vocab or label set is refused with a clear message.
/// </summary>
public class TaskDistillationTests
{
    /// <summary>A plain BERT teacher (2 layers, hidden 64) fine-tuned for one epoch on 300 sentiment sentences, shared by the tests.</summary>
    internal static readonly Lazy<(string Dir, SequenceTaskData Data)> Teacher = new(() =>
    {
        var files = FineTuneTestData.SentimentFiles(maxTrain: 300);
        var data = TaskData.LoadSequenceTask("jsonl", files.Train, files.Dev);
        var config = MobileBertConfig.Bert(hidden: 64, layers: 2, heads: 2, intermediate: 128);
        config.MaxPositionEmbeddings = 128;
        var dir = Path.Combine(TestPaths.NewTempDir(), "teacher");
        FineTuningRun.Run(FineTuneTestData.MicroOptions(dir, epochs: 1) with { Config = config }, FineTuneTask.Sequence(data));
        return (dir, data);
    });

    /// <summary>A one-layer MobileBERT student.</summary>
    static FineTuneOptions StudentOptions(string outDir) => FineTuneTestData.MicroOptions(outDir, epochs: 2) with
    {
        Config = StudentConfig(), TeacherDir = Teacher.Value.Dir, KdAlpha = 0.7, KdTemperature = 2, CheckpointEvery = 4, LogEvery = 2,
    };

    static MobileBertConfig StudentConfig()
    {
        var c = FineTuneTestData.Micro();
        c.NumHiddenLayers = 1;
        return c;
    }

    [Fact]
    public void TeacherLogitsAreComputedOnceEqualTheTeachersForwardAndAResumedRunReadsThemAndEndsBitIdentical()
    {
        var (teacherDir, data) = Teacher.Value;
        var straight = Path.Combine(TestPaths.NewTempDir(), "straight");
        var messages = new List<string>();
        var a = FineTuningRun.Run(StudentOptions(straight), FineTuneTask.Sequence(data), p => { if (p.Message is { } m) messages.Add(m); });
        Assert.Contains(messages, m => m.Contains("computing its logits once"));

        // The cached logits are the teacher's own (float) forward pass over the training features, row by row.
        var task = FineTuneTask.Sequence(data);
        task.Prepare(Tokenizer(), StudentOptions(straight));
        var saved = TeacherLogits.TryLoad(straight, FineTuneTeacher.ComputeIdentity(teacherDir), task.DataHash());
        Assert.NotNull(saved);
        Assert.Equal(data.Train.Count, saved!.Rows);
        var feats = new Featurizer(Tokenizer(), 48).Featurize(data.Train);
        var reference = SequenceEvaluator.Logits(ModelFolder.Load(teacherDir), feats, 64);
        Tolerance.AssertClose("teacher logits", reference, saved.Values, 1e-4);

        // Killed at step 14, resumed from the step-12 checkpoint: the logits are read back, the result is bit-identical.
        var broken = Path.Combine(TestPaths.NewTempDir(), "broken");
        using (var cts = new CancellationTokenSource())
            Assert.Throws<OperationCanceledException>(() => FineTuningRun.Run(StudentOptions(broken), FineTuneTask.Sequence(data),
                p => { if (p.Step >= 14) cts.Cancel(); }, cts.Token));
        messages.Clear();
        var b = FineTuningRun.Run(StudentOptions(broken) with { Resume = true }, FineTuneTask.Sequence(data),
            p => { if (p.Message is { } m) messages.Add(m); });
        Assert.Equal(12, b.ResumedFromStep);
        Assert.Contains(messages, m => m.Contains($"read from {Path.Combine(broken, TeacherLogits.FileName)}"));
        Assert.DoesNotContain(messages, m => m.Contains("computing its logits"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(broken, "model.safetensors")));
        Assert.Equal(a.Best!.Values, b.Best!.Values);

        // α, T and the teacher are part of the resume fingerprint.
        var e = Assert.Throws<ArgumentException>(() => FineTuningRun.Run(StudentOptions(broken) with { Resume = true, KdAlpha = 0.5 },
            FineTuneTask.Sequence(data)));
        Assert.Contains("'kd_alpha'", e.Message);
        e = Assert.Throws<ArgumentException>(() => FineTuningRun.Run(StudentOptions(broken) with { Resume = true, TeacherDir = null },
            FineTuneTask.Sequence(data)));
        Assert.Contains("'kd_alpha'", e.Message);
    }

    static WordPieceTokenizer Tokenizer() => WordPieceTokenizer.FromVocabFile(TestPaths.Vocab);

    [Fact]
    public void AnInt8TeacherFolderWorksAndDistillationChangesTheStudent()
    {
        var (teacherDir, data) = Teacher.Value;
        var q = Path.Combine(TestPaths.NewTempDir(), "teacher-int8");
        var model = ModelFolder.Load(teacherDir);
        QuantizedCheckpoint.Save(model, QuantizedWeights.Quantize(model), q, Path.Combine(teacherDir, ModelFolder.VocabFile));
        File.Copy(Path.Combine(teacherDir, TaskInfo.FileName), Path.Combine(q, TaskInfo.FileName));
        var opts = StudentOptions(Path.Combine(TestPaths.NewTempDir(), "s8")) with { TeacherDir = q, Epochs = 1 };
        var withTeacher = FineTuningRun.Run(opts, FineTuneTask.Sequence(data));
        var plain = FineTuningRun.Run(opts with { TeacherDir = null, OutputDir = Path.Combine(TestPaths.NewTempDir(), "s0") },
            FineTuneTask.Sequence(data));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(withTeacher.OutputDir, "model.safetensors")), File.ReadAllBytes(Path.Combine(plain.OutputDir,
            "model.safetensors")));
        // α = 0 is exactly the run without a teacher.
        var zero = FineTuningRun.Run(opts with { KdAlpha = 0, OutputDir = Path.Combine(TestPaths.NewTempDir(), "sz") }, FineTuneTask.Sequence(data));
        Assert.Equal(File.ReadAllBytes(Path.Combine(plain.OutputDir, "model.safetensors")), File.ReadAllBytes(Path.Combine(zero.OutputDir,
            "model.safetensors")));
    }

    [Fact]
    public void ATeacherWithAnotherVocabOrLabelSetIsRefusedNamingTheDifference()
    {
        var (teacherDir, data) = Teacher.Value;
        string Copy()
        {
            var d = Path.Combine(TestPaths.NewTempDir(), "t");
            Directory.CreateDirectory(d);
            foreach (var f in Directory.GetFiles(teacherDir)) File.Copy(f, Path.Combine(d, Path.GetFileName(f)));
            return d;
        }
        var vocab = Copy();
        var lines = File.ReadAllLines(Path.Combine(vocab, "vocab.txt"));
        lines[2000] = "zzzz";
        File.WriteAllLines(Path.Combine(vocab, "vocab.txt"), lines);
        var run = (string dir) => FineTuningRun.Run(StudentOptions(Path.Combine(TestPaths.NewTempDir(), "s")) with { TeacherDir = dir },
            FineTuneTask.Sequence(data));
        var e = Assert.Throws<SettingException>(() => run(vocab));
        Assert.Contains("vocab differs from the student's", e.Message);
        Assert.Contains($"token id 2000: 'zzzz' vs '{File.ReadAllLines(TestPaths.Vocab)[2000]}'", e.Message);

        var labels = Copy();
        var info = TaskInfo.Load(labels);
        (info with { Labels = ["positive", "negative"] }).Save(labels);
        e = Assert.Throws<SettingException>(() => run(labels));
        Assert.Contains("its labels (positive, negative) differ from the student's (negative, positive)", e.Message);

        var missing = Path.Combine(TestPaths.NewTempDir(), "nothing");
        Assert.Throws<SettingException>(() => run(missing));
    }

    [Fact]
    public void ASquadTeachersStartAndEndLogitsCoverEachFeaturesTokensAndTrainTheStudent()
    {
        var file = SquadFineTuneTests.Subset("train-v1-subset.json", 4);
        var train = TaskData.LoadSquad(file, v2: false);
        var teacherDir = Path.Combine(TestPaths.NewTempDir(), "qa-teacher");
        FineTuningRun.Run(SquadFineTuneTests.SquadOptions(teacherDir, 1), FineTuneTask.Squad(train, null, v2: false));
        var outDir = Path.Combine(TestPaths.NewTempDir(), "qa-student");
        var opts = SquadFineTuneTests.SquadOptions(outDir, 1) with { Config = StudentConfig(), TeacherDir = teacherDir };
        var task = FineTuneTask.Squad(train, null, v2: false);
        var result = FineTuningRun.Run(opts, task);
        Assert.True(result.Steps > 0);

        var saved = TeacherLogits.TryLoad(outDir, FineTuneTeacher.ComputeIdentity(teacherDir), task.DataHash())!;
        var features = new QaFeaturizer(Tokenizer(), new QaFeatureOptions { MaxSeqLength = 96, DocStride = 32,
            MaxQueryLength = 24 }).CreateFeatures(train.Examples);
        Assert.Equal(features.Features.Count, saved.Rows);
        var teacher = ModelFolder.Load(teacherDir);
        foreach (int i in new[] { 0, features.Features.Count - 1 })
        {
            var f = features.Features[i];
            Assert.Equal(f.Length, saved.Row(i).Length);
            var output = teacher.Forward(Batching.Pad([f.Input], 0), new ForwardOptions { Heads = ModelHeads.QuestionAnswering });
            Tolerance.AssertClose("teacher start logits", output.QaStartLogits!, saved.Row(i), 1e-4);
            Tolerance.AssertClose("teacher end logits", output.QaEndLogits!, saved.EndRow(i), 1e-4);
        }
        // A classifier cannot teach a SQuAD student.
        var e = Assert.Throws<SettingException>(() => FineTuningRun.Run(opts with { TeacherDir = Teacher.Value.Dir,
            OutputDir = Path.Combine(TestPaths.NewTempDir(), "x") }, FineTuneTask.Squad(train, null, v2: false)));
        Assert.Contains("no question-answering head", e.Message);
    }
}
