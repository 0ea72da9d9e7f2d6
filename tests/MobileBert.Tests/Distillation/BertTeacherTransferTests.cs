using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.Kernels;
using MobileBert.Model;
using MobileBert.Training;
using Xunit;

namespace MobileBert.Tests.Distillation;

/// <summary>Knowledge transfer from a plain BERT teacher without MLM head (sentence-transformers style) into a MobileBERT
/// student of another embedding width and head count: the student shape rule, the embedding projection, the embedding
/// stage, the plan without pre-training distillation, and exact resume across the new stages.</summary>
[Collection(DistillationRunTests.Collection)]
public class BertTeacherTransferTests
{
    [Fact]
    public void TheMiniLmStudentFollowsMobileBertsRulesAndIsUnderAThirdOfTheTeacher()
    {
        var teacher = Presets.MiniLmL6();
        var student = Presets.MobileBertMiniLm();
        Assert.Equal(ConfigJson.ToJson(Presets.StudentOf(teacher)), ConfigJson.ToJson(student));
        Assert.Equal((6, 384, 96, 128, 4, 4, 384), (student.NumHiddenLayers, student.HiddenSize, student.IntraBottleneckSize, student.EmbeddingSize,
            student.NumAttentionHeads, student.NumFeedforwardNetworks, student.IntermediateSize));
        Assert.True(student.TrigramInput && student.NormalizationType == NormalizationType.NoNorm && student.HiddenAct == Activation.Relu);
        long NonEmbedding(MobileBertConfig c) => MobileBertModel.CountParameters(c) - (long)c.VocabSize * c.EmbeddingSize;
        Assert.True(NonEmbedding(student) * 3 <= NonEmbedding(teacher), $"{NonEmbedding(student)} vs {NonEmbedding(teacher)}");
        student.Validate();
    }

    static MobileBertModel BertTeacher(int seed, int hidden = 24, int heads = 6)
    {
        var c = MobileBertConfig.Bert(hidden: hidden, layers: 2, heads: heads, intermediate: 2 * hidden);
        c.MaxPositionEmbeddings = 128;
        var m = new MobileBertModel(c, ModelHeads.None);
        m.InitializeWeights(seed);
        return m;
    }

    [Fact]
    public void EmbeddingProjectionReproducesARankETableExactly()
    {
        var teacher = BertTeacher(3);
        var student = new MobileBertModel(Presets.StudentOf(teacher.Config), ModelHeads.None);
        int v = teacher.Config.VocabSize, h = 24, e = student.Config.EmbeddingSize;
        Assert.Equal(8, e);
        // A teacher table of rank e around a mean: the projection must keep all of it.
        var rng = new Random(1);
        var basis = Enumerable.Range(0, e * h).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var mean = Enumerable.Range(0, h).Select(_ => rng.NextDouble()).ToArray();
        var table = teacher.Store.Span(teacher.Embeddings.WordEmbeddings);
        for (int r = 0; r < v; r++)
        {
            var coef = Enumerable.Range(0, e).Select(_ => rng.NextDouble() - 0.5).ToArray();
            for (int k = 0; k < h; k++) table[r * h + k] = (float)(mean[k] + Enumerable.Range(0, e).Sum(j => coef[j] * basis[j * h + k]));
        }
        var result = EmbeddingProjection.Apply(teacher, student);
        Assert.Equal(1.0, result.ExplainedVariance, 1e-6);
        // Student path before the norm, centre slot only: W·[0 ‖ x(t) ‖ 0] + b must equal the teacher's row.
        var w = student.Store.Span(student.Embeddings.Transformation!.Weight);
        var b = student.Store.Span(student.Embeddings.Transformation.Bias!);
        var words = student.Store.Span(student.Embeddings.WordEmbeddings);
        double err = 0, norm = 0;
        foreach (int r in new[] { 0, 101, 2000, v - 1 })
            for (int k = 0; k < h; k++)
            {
                double y = b[k];
                for (int j = 0; j < e; j++) y += w[k * 3 * e + e + j] * words[r * e + j];
                err += (y - table[r * h + k]) * (y - table[r * h + k]); norm += table[r * h + k] * (double)table[r * h + k];
            }
        Assert.True(err / norm < 1e-10, $"relative squared error {err / norm}");
        // Neighbour slots start at zero.
        for (int k = 0; k < h; k++) for (int j = 0; j < e; j++) { Assert.Equal(0f, w[k * 3 * e + j]); Assert.Equal(0f, w[k * 3 * e + 2 * e + j]); }
    }

    [Fact]
    public void EmbeddingProjectionKeepsTheTopEigenvaluesOfAFloat64Reference()
    {
        var rng = new Random(4);
        int n = 12, k = 4;
        var x = Enumerable.Range(0, 50 * n).Select(i => (rng.NextDouble() - 0.5) * (1 + i % n)).ToArray();   // columns of unequal spread
        var a = new double[n * n];
        for (int r = 0; r < 50; r++) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i * n + j] += x[r * n + i] * x[r * n + j] / 50;
        var q = EmbeddingProjection.TopSubspace(a, n, k, seed: 1, out double kept);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                Assert.Equal(i == j ? 1.0 : 0.0, Enumerable.Range(0, n).Sum(m => q[m * k + i] * q[m * k + j]), 1e-9);
        var eig = JacobiEigenvalues((double[])a.Clone(), n).OrderDescending().ToArray();
        Assert.Equal(eig.Take(k).Sum(), kept, 1e-8 * eig.Sum());
    }

    /// <summary>Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (the float64 reference).</summary>
    static double[] JacobiEigenvalues(double[] a, int n)
    {
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++) for (int q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
            if (off < 1e-30) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                {
                    if (Math.Abs(a[p * n + q]) < 1e-300) continue;
                    double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int m = 0; m < n; m++)
                    {
                        double amp = a[m * n + p], amq = a[m * n + q];
                        a[m * n + p] = c * amp - s * amq; a[m * n + q] = s * amp + c * amq;
                    }
                    for (int m = 0; m < n; m++)
                    {
                        double apm = a[p * n + m], aqm = a[q * n + m];
                        a[p * n + m] = c * apm - s * aqm; a[q * n + m] = s * apm + c * aqm;
                    }
                }
        }
        return [.. Enumerable.Range(0, n).Select(i => a[i * n + i])];
    }

    [Fact]
    public void APlanWithAnEmbeddingStageAndNoTeacherMlmHead()
    {
        const string Word = "mobilebert.embeddings.word_embeddings.weight", Pos = "mobilebert.embeddings.position_embeddings.weight";
        const string L0 = "mobilebert.encoder.layer.0.attention.self.query.weight", L1 = "mobilebert.encoder.layer.1.output.dense.weight";
        var plan = DistillPlan.Create(DistillStrategy.Progressive, 2, 10, 6, 1e-3, embeddingSteps: 4, teacherPredicts: false);
        Assert.Equal(["embedding", "layer 0", "layer 1", "all layers"], plan.Stages.Select(s => s.Name));
        Assert.Equal(30, plan.TotalSteps);
        Assert.All(plan.Stages, s => Assert.Equal(StageKind.LayerWise, s.Kind));
        var (emb, layer0, final) = (plan.Stages[0], plan.Stages[1], plan.Stages[3]);
        Assert.True(emb.EmbeddingLoss && emb.TrainsEmbeddings && emb.Layers.Length == 0);
        Assert.Equal((1.0, 1.0, 0.0), (plan.Multiplier(emb, Word), plan.Multiplier(emb, Pos), plan.Multiplier(emb, L0)));
        Assert.Equal((0.0, 3.0, 0.0), (plan.Multiplier(layer0, Word), plan.Multiplier(layer0, L0), plan.Multiplier(layer0, L1)));
        Assert.True(final.EmbeddingLoss && final.TrainsEmbeddings);
        Assert.Equal((1.0, 1.0, 1.0), (plan.Multiplier(final, Word), plan.Multiplier(final, L0), plan.Multiplier(final, L1)));
        // Equal steps across strategies; auxiliary without PD is one all-layer stage after the embedding stage.
        foreach (var st in new[] { DistillStrategy.Joint, DistillStrategy.Auxiliary })
        {
            var p = DistillPlan.Create(st, 2, 10, 6, 1e-3, embeddingSteps: 4, teacherPredicts: false);
            Assert.Equal(30, p.TotalSteps);
            Assert.Equal("embedding", p.Stages[0].Name);
            Assert.DoesNotContain(p.Stages, s => s.HasPrediction);
        }
        // With an MLM teacher and copyable embeddings nothing changes.
        Assert.Equal(["layer 0", "layer 1", "pd"], DistillPlan.Create(DistillStrategy.Progressive, 2, 10, 6, 1e-3).Stages.Select(s => s.Name));
    }

    static string SaveTeacher()
    {
        var dir = TestPaths.NewTempDir();
        ModelFolder.Save(BertTeacher(5), dir, TestPaths.Vocab);
        return dir;
    }

    static DistillOptions Options(string teacherDir, string outDir, bool resume = false) => DistillationRunTests.Options(outDir, resume: resume) with
    {
        TeacherDir = teacherDir, StudentConfig = Presets.StudentOf(ModelFolder.Load(teacherDir).Config),
        StepsPerLayer = 2, EmbeddingSteps = 3, PdSteps = 2,
        CheckpointEvery = 2, EvalEvery = 4,
    };

    [Fact]
    public void ABertTeacherWithoutMlmHeadTransfersIntoATrigramStudentAndResumesExactly()
    {
        string teacherDir = SaveTeacher();
        var teacher = ModelFolder.Load(teacherDir);
        Assert.Null(teacher.Mlm);
        var straight = TestPaths.NewTempDir();
        var messages = new List<string>();
        var a = DistillationRun.Run(Options(teacherDir, straight), p => { if (p.Message is { } m) messages.Add(m); });
        Assert.Equal(3 + 2 * 2 + 2, a.Steps);
        Assert.False(a.PredictionDistillation);
        Assert.True(a.EmbeddingStage);
        Assert.Null(a.FinalEval);                                               // no MLM head on the student either
        Assert.NotNull(a.FinalTransfer);
        Assert.Contains(messages, m => m.Contains("no MLM head") && m.Contains("replaced"));
        Assert.Contains(messages, m => m.Contains("2 groups, each the mean of 3 teacher heads"));
        Assert.Contains(messages, m => m.Contains("principal directions"));
        var student = ModelFolder.Load(straight);
        Assert.Null(student.Mlm);
        Assert.Equal(teacher.Store.Span(teacher.Store["bert.embeddings.position_embeddings.weight"]).Length,
            student.Store.Span(student.Store["mobilebert.embeddings.position_embeddings.weight"]).Length);
        var log = MetricsLog.Load(Path.Combine(straight, DistillationRun.MetricsFile));
        var emb = log.Series("fmt_emb", out var embSteps);
        Assert.Equal([1, 2, 3, 8, 9], embSteps);                                // embedding stage (3 steps) and final stage (2)
        Assert.All(emb, v => Assert.True(double.IsFinite(v) && v > 0));
        Assert.NotEmpty(log.Series("eval_fmt_mse", out _));

        // Killed inside the embedding stage (checkpoint 2) and inside layer 0 (checkpoint 4): resume is bit-identical.
        var wa = student.Store.Data;
        foreach (int killAt in new[] { 3, 5 })
        {
            var broken = TestPaths.NewTempDir();
            using (var cts = new CancellationTokenSource())
                Assert.Throws<OperationCanceledException>(() => DistillationRun.Run(Options(teacherDir, broken),
                    p => { if (p.Phase == "train" && p.Step >= killAt) cts.Cancel(); }, cts.Token));
            var b = DistillationRun.Run(Options(teacherDir, broken, resume: true));
            Assert.True(b.Resumed);
            Assert.Equal(wa, ModelFolder.Load(broken).Store.Data);
        }
    }

    [Fact]
    public void TheEmbeddingStageTrainsOnlyTheEmbeddingAndLowersItsLoss()
    {
        string teacherDir = SaveTeacher();
        var dir = TestPaths.NewTempDir();
        var o = Options(teacherDir, dir) with { StepsPerLayer = 0, PdSteps = 0, EmbeddingSteps = 30, Lr = 3e-3, CheckpointEvery = 100, EvalEvery = 1,
            ProjectEmbeddings = false };   // a random start: the stage alone must bring the embedding output towards the teacher's
        var initial = new MobileBertModel(o.StudentConfig, ModelHeads.None);
        initial.InitializeWeights((int)o.Seed);
        DistillationRun.Run(o);
        var student = ModelFolder.Load(dir);
        foreach (var p in student.Store.Parameters.Where(p => p.Name.Contains("encoder.layer.")))
            Assert.True(student.Store.Span(p).SequenceEqual(initial.Store.Span(initial.Store[p.Name])), p.Name);   // layers untouched
        var log = MetricsLog.Load(Path.Combine(dir, DistillationRun.MetricsFile));
        // The stage's objective is the weighted feature-map loss of hidden state 0 (MSE + mean + variance terms) alone.
        var loss = log.Series("loss", out _);
        Assert.Equal(30, loss.Count);
        Assert.Equal(30, log.Series("fmt_emb", out _).Count);
        Assert.Empty(log.Series("fmt_mse", out _));                          // no layer losses in this stage
        double first = loss.Take(5).Average(), last = loss.TakeLast(5).Average();
        Assert.True(last < 0.8 * first, $"embedding-stage loss {first} → {last} (means of the first and last 5 steps)");
    }
}
