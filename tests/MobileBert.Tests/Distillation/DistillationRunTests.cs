using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.PretrainingData;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.Distillation;

/// <summary>End-to-end runs on a micro teacher/student pair and a 60 KB corpus slice (shards built once, shared).</summary>
[Collection(DistillationRunTests.Collection)]
public class DistillationRunTests
{
    /// <summary>Test classes sharing the micro teacher and its shards run one at a time (the shards are built on first use).</summary>
    public const string Collection = "distillation micro pair";

    /// <summary>An IB-BERT-style micro teacher: the student's hidden/embedding/vocab, wider intra-block, one FFN, LayerNorm + GELU.</summary>
    public static MobileBertConfig MicroTeacher() => new()
    {
        NumHiddenLayers = 2, HiddenSize = 64, EmbeddingSize = 32, IntraBottleneckSize = 64, NumAttentionHeads = 2,
        IntermediateSize = 128, NumFeedforwardNetworks = 1, KeyQuerySharedBottleneck = false,
        NormalizationType = NormalizationType.LayerNorm, HiddenAct = Activation.Gelu, MaxPositionEmbeddings = 128,
    };

    sealed record Fixture(string Corpus, string Teacher, string DataDir);

    static readonly Lazy<Fixture> Shared = new(() =>
    {
        var corpus = TestPaths.NewTempDir();
        var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "data", "corpus", "austen", "persuasion.txt"));
        File.WriteAllText(Path.Combine(corpus, "slice.txt"), text[..60_000]);
        var teacherDir = TestPaths.NewTempDir();
        var teacher = new MobileBertModel(MicroTeacher(), ModelHeads.Pretraining);
        teacher.InitializeWeights(5);
        ModelFolder.Save(teacher, teacherDir, TestPaths.Vocab);
        return new Fixture(corpus, teacherDir, Path.Combine(TestPaths.NewTempDir(), "data"));
    });

    /// <summary>The shared micro teacher's folder and the shards built from the corpus slice.</summary>
    internal static string SharedTeacher => Shared.Value.Teacher;
    internal static string SharedDataDir
    {
        get
        {
            var d = Shared.Value.DataDir;
            if (!File.Exists(Path.Combine(d, PretrainingManifest.FileName))) DistillationRun.Run(
                Options(TestPaths.NewTempDir()) with { StepsPerLayer = 0, PdSteps = 1, CheckpointEvery = 100 });
            return d;
        }
    }

    internal static DistillOptions Options(string outDir, DistillStrategy strategy = DistillStrategy.Progressive, bool resume = false) => new()
    {
        TeacherDir = Shared.Value.Teacher, StudentConfig = Presets.MobileBertMicro(), Data = [Shared.Value.Corpus], OutputDir = outDir,
        VocabPath = TestPaths.Vocab, DataDir = Shared.Value.DataDir, Strategy = strategy,
        StepsPerLayer = 4, PdSteps = 4, Batch = 4, Seq = 32, Lr = 2e-3, Seed = 7, DataSeed = 7, Threads = 2,
        LogEvery = 1, EvalEvery = 6, EvalBatches = 1, CheckpointEvery = 3, KeepCheckpoints = 10, DupeFactor = 2, HeldOutFraction = 0.1,
            Resume = resume,
    };

    [Fact]
    public void ResumeAcrossStageBoundariesReproducesTheUninterruptedRun()
    {
        var straight = TestPaths.NewTempDir();
        var a = DistillationRun.Run(Options(straight));
        Assert.Equal(12, a.Steps);
        var wa = ModelFolder.Load(straight).Store.Data;
        var ma = MetricsLog.Load(Path.Combine(straight, DistillationRun.MetricsFile));

        // Killed after step 5 (last checkpoint: step 4, the layer-0/layer-1 boundary) and after step 7 (checkpoint 6,
        // mid layer 1: the stage optimizer is restored, then the run crosses into PD).
        foreach (int killAt in new[] { 5, 7 })
        {
            var broken = TestPaths.NewTempDir();
            using (var cts = new CancellationTokenSource())
                Assert.Throws<OperationCanceledException>(() => DistillationRun.Run(Options(broken), p => { if (p.Phase == "train"
                    && p.Step >= killAt) cts.Cancel(); }, cts.Token));
            Assert.Equal(killAt == 5 ? 4 : 6, new RunDirectory(broken, 10).Latest()!.Value.Step);
            Assert.Throws<SettingException>(() => DistillationRun.Run(Options(broken)));          // refuses without Resume
            var b = DistillationRun.Run(Options(broken, resume: true));
            Assert.True(b.Resumed);
            Assert.Equal(wa, ModelFolder.Load(broken).Store.Data);                                 // bit-identical weights
            var mb = MetricsLog.Load(Path.Combine(broken, DistillationRun.MetricsFile));
            foreach (var col in new[] { "loss", "fmt_mse", "at", "mlm", "kd", "eval_mlm_acc" })
            {
                Assert.Equal(ma.Series(col, out var sa), mb.Series(col, out var sb));
                Assert.Equal(sa, sb);
            }
        }
        // Every stage boundary is a checkpoint.
        var steps = new RunDirectory(straight, 10).List().Select(c => c.Step).ToList();
        Assert.Contains(4, steps); Assert.Contains(8, steps); Assert.Contains(12, steps);
        var e = Assert.Throws<ArgumentException>(() => DistillationRun.Run(Options(straight, resume: true) with { Lr = 1e-3 }));
        Assert.Contains("'lr'", e.Message);
    }

    [Fact]
    public void EmbeddingsAndHeadsAreCopiedAndFrozenLaterLayersUntouchedLowerLayersFrozenOnRequest()
    {
        var teacher = ModelFolder.Load(Shared.Value.Teacher);
        var fresh = new MobileBertModel(Presets.MobileBertMicro(), ModelHeads.Pretraining);
        fresh.InitializeWeights(7);
        StudentInit.CopySharedFromTeacher(teacher, fresh);

        var dir = TestPaths.NewTempDir();
        DistillationRun.Run(Options(dir) with { PdSteps = 0, FreezeLower = true, CheckpointEvery = 100 });
        var afterL0 = ModelFolder.Load(Path.Combine(dir, "checkpoints", RunDirectory.Name(4)));
        // The run re-fits the embedding NoNorm to the teacher's LayerNorm (DistilledStudentScaleTests); then it is frozen too.
        using (var train = MobileBert.PretrainingData.PretrainingDataset.Open(Shared.Value.DataDir, PretrainingManifest.TrainSplit))
        {
            int n = Math.Min(train.Count, DistillationRun.EmbeddingNormFitSequences);
            StudentInit.FitEmbeddingNorm(teacher, fresh, Enumerable.Range(0, (n + 3) / 4).Select(
                i => train.GetBatch([.. Enumerable.Range(i * 4, Math.Min(4, n - i * 4))]).Input));
        }
        var afterL1 = ModelFolder.Load(Path.Combine(dir, "checkpoints", RunDirectory.Name(8)));
        int shared = 0;
        var unchanged = new List<string>();
        foreach (var p in fresh.Store.Parameters)
        {
            var init = fresh.Store.Span(p).ToArray();
            var s0 = afterL0.Store.Span(afterL0.Store[p.Name]).ToArray();
            var s1 = afterL1.Store.Span(afterL1.Store[p.Name]).ToArray();
            int layer = DistillPlan.EncoderLayerOf(p.Name);
            if (layer < 0)
            {
                if (!p.Name.StartsWith("mobilebert.embeddings.LayerNorm.", StringComparison.Ordinal))
                    Assert.Equal(teacher.Store.Span(teacher.Store[p.Name]).ToArray(), init);       // copied from the teacher
                Assert.Equal(init, s1);                                                             // frozen through layer-wise transfer
                shared++;
            }
            // not updated before its stage
            else if (layer == 1) { Assert.Equal(init, s0); if (s0.SequenceEqual(s1)) unchanged.Add(p.Name); }
            else { if (init.SequenceEqual(s0)) unchanged.Add(p.Name); Assert.Equal(s0, s1); }     // --freeze-lower
        }
        Assert.True(shared >= 10, $"{shared} shared tensors");
        // A tensor can legitimately stay bit-equal after 3 tiny updates (e.g. the query/key bottleneck NoNorm scale of this random
        // pair, whose gradient is ~1e-12): require that almost every layer tensor moved in its own stage.
        int layerTensors = fresh.Store.Parameters.Count(p => DistillPlan.EncoderLayerOf(p.Name) >= 0);
        Assert.True(unchanged.Count <= layerTensors / 10, "tensors not trained in their stage: " + string.Join(", ", unchanged));
    }

    [Fact]
    public void EveryStrategyTrainsAndWritesALoadableStudentFolder()
    {
        foreach (var strategy in new[] { DistillStrategy.Joint, DistillStrategy.Auxiliary, DistillStrategy.Scratch })
        {
            var dir = TestPaths.NewTempDir();
            var messages = new List<string>();
            var r = DistillationRun.Run(Options(dir, strategy) with { CheckpointEvery = 100, Lr = 2e-3 },
                p => { if (p.Message is not null) messages.Add(p.Message); });
            Assert.Equal(12, r.Steps);
            var model = ModelFolder.Load(dir);
            Assert.Equal(ModelHeads.Pretraining, model.Heads);
            Assert.Equal(Presets.MobileBertMicro().NumHiddenLayers, model.Config.NumHiddenLayers);
            Assert.True(File.Exists(Path.Combine(dir, "vocab.txt")) && File.Exists(Path.Combine(dir, DistillationRun.CurvesFile)));
            var log = MetricsLog.Load(Path.Combine(dir, DistillationRun.MetricsFile));
            Assert.All(log.Series("loss", out _), v => Assert.True(double.IsFinite(v)));
            if (strategy != DistillStrategy.Scratch)
            {
                Assert.Contains(messages, m => m.StartsWith("layer map: student 0 ← teacher 0, student 1 ← teacher 1", StringComparison.Ordinal));
                // The layer-wise loss must fall from its peak (per-step values of different batches; at lr 5e-3 LAMB
                // overshoots on this random micro pair within 8 steps, once the student starts at the teacher's scale).
                var lw = log.Series("fmt_mse", out _).Zip(log.Series("fmt_var", out _), (a, b) => 100 * a + 5 * b).ToList();
                Assert.True(lw[^1] < lw.Max() * 0.9, $"{strategy}: layer-wise loss {string.Join(" ", lw.Select(v => v.ToString("F2")))} should " +
                    $"fall from its peak; mse {string.Join(" ", log.Series("fmt_mse", out _).Select(v => v.ToString("F3")))} " +
                    $"var {string.Join(" ", log.Series("fmt_var", out _).Select(v => v.ToString("F3")))} " +
                    $"at {string.Join(" ", log.Series("at", out _).Select(v => v.ToString("F3")))}");
            }
            else Assert.Empty(log.Series("fmt_mse", out _));
        }
    }

    [Fact]
    public void APlainBertTeacherDistilsIntoAThinnerBertStudent()
    {
        var tc = MobileBertConfig.Bert(hidden: 64, layers: 2, heads: 2, intermediate: 128);
        tc.MaxPositionEmbeddings = 128;
        var teacher = new MobileBertModel(tc, ModelHeads.Pretraining);
        teacher.InitializeWeights(5);
        var teacherDir = TestPaths.NewTempDir();
        ModelFolder.Save(teacher, teacherDir, TestPaths.Vocab);
        var sc = tc.Clone(); sc.IntermediateSize = 32;
        var dir = TestPaths.NewTempDir();
        var r = DistillationRun.Run(Options(dir) with { TeacherDir = teacherDir, StudentConfig = sc, PdSteps = 0, CheckpointEvery = 100 });
        Assert.Equal(8, r.Steps);
        var student = ModelFolder.Load(dir);
        Assert.True(student.Config.IsBert);
        Assert.Equal(32, student.Config.IntermediateSize);
        Assert.Equal(ModelHeads.Pretraining, student.Heads);
        // The embeddings were copied from the teacher and frozen through layer-wise transfer.
        var name = "bert.embeddings.word_embeddings.weight";
        Assert.True(student.Store.Span(student.Store[name]).SequenceEqual(teacher.Store.Span(teacher.Store[name])));
    }

    [Fact]
    public void MismatchedTeacherAndStudentGiveClearErrors()
    {
        var teacher = ModelFolder.Load(Shared.Value.Teacher);
        var c = Presets.MobileBertMicro(); c.TypeVocabSize = 3;
        var student = new MobileBertModel(c, ModelHeads.Pretraining);
        var before = student.Store.Data.ToArray();
        var e = Assert.Throws<DistillationException>(() => StudentInit.CopySharedFromTeacher(teacher, student));
        Assert.Contains("'mobilebert.embeddings.token_type_embeddings.weight': teacher [2,64] vs student [3,64]", e.Message);
        Assert.Equal(before, student.Store.Data);                                                  // nothing copied

        var wide = Presets.MobileBertMicro(); wide.HiddenSize = 128; wide.IntraBottleneckSize = 32;
        var e2 = Assert.Throws<DistillationException>(() => DistillationRun.Run(Options(TestPaths.NewTempDir()) with { StudentConfig = wide }));
        Assert.Contains("hidden_size: teacher 64 vs student 128", e2.Message);
    }
}
