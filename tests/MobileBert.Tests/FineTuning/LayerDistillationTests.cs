using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Distillation;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tasks;
using MobileBert.Tests.Model;
using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.FineTuning;

/// <summary>
/// <c>finetune --teacher DIR --kd-layers β</c>: the layer term is β times the mean of the knowledge-transfer losses over the
/// embedding output and the mapped layers, computed from the teacher's reference forward (the run uses its engine), with
/// the matching gradients; a run with it trains the student towards the teacher's hidden states, and a student narrower
/// than the teacher is refused naming the setting.
/// </summary>
public class LayerDistillationTests
{
    [Fact]
    public void TheLayerTermIsBetaTimesTheMeanTransferLossOverTheTeachersReferenceForwardWithItsGradients()
    {
        var (teacherDir, _) = TaskDistillationTests.Teacher.Value;   // plain BERT: 2 layers, hidden 64, 2 heads
        var student = new MobileBertModel(FineTuneTestData.Micro());   // MobileBERT: 2 layers, inter-block 64, 2 heads
        student.InitializeWeights(3);
        var tok = WordPieceTokenizer.FromVocabFile(TestPaths.Vocab);
        var input = Batching.Pad([tok.Encode("a wonderful little film"), tok.Encode("the plot makes no sense at all and the acting is worse")], 0);
        const double beta = 2.5;
        using var teacher = FineTuneTeacher.Load(teacherDir, TaskInfo.Load(teacherDir), TestPaths.Vocab, 48, 1);
        var kd = LayerDistillation.Create(teacher, student.Config, beta);
        var output = student.Forward(input, new ForwardOptions { KeepForBackward = true, OutputHiddenStates = true, OutputAttentions = true });
        var grads = new OutputGradients();
        var loss = kd.Add(input, output, student.Config, grads, 1);

        // Reference: the teacher model's own forward and the transfer losses, layer by layer.
        var t = ModelFolder.Load(teacherDir).Forward(input, new ForwardOptions { OutputHiddenStates = true, OutputAttentions = true });
        int rows = input.Batch * input.Seq, h = 64, layers = 2;
        double scale = beta / (layers + 1), total = 0, fm = 0, at = 0;
        var w = new LossWeights();
        var dh = new float[layers + 1][]; var da = new float[layers][];
        dh[0] = new float[rows * h];
        total += DistillationLosses.FeatureMap(t.HiddenStates![0], output.HiddenStates![0], rows, h, input.AttentionMask, w, dh[0], scale).Total;
        for (int l = 0; l < layers; l++)
        {
            dh[l + 1] = new float[rows * h]; da[l] = new float[output.Attentions![l].Length];
            var f = DistillationLosses.FeatureMap(t.HiddenStates[l + 1], output.HiddenStates[l + 1], rows, h, input.AttentionMask, w, dh[l + 1],
                scale);
            double a = DistillationLosses.Attention(t.Attentions![l], output.Attentions[l], input.Batch, input.Seq, 2, 2, input.AttentionMask, da[l],
                scale * w.Attention);
            total += f.Total + w.Attention * a; fm += f.Mse; at += a;
        }
        Assert.Equal(beta * total / (layers + 1), loss.Total, 1e-4 * Math.Abs(loss.Total));
        Assert.Equal(fm / layers, loss.FeatureMap, 1e-4 * fm);
        Assert.Equal(at / layers, loss.Attention, 1e-4 * at);
        Assert.True(loss.Total > 0);
        for (int l = 0; l <= layers; l++) Tolerance.AssertClose($"dHidden[{l}]", dh[l], grads.HiddenStates![l]!, 1e-3);
        for (int l = 0; l < layers; l++) Tolerance.AssertClose($"dAttention[{l}]", da[l], grads.Attentions![l]!, 1e-3);
    }

    [Fact]
    public void ARunWithLayerDistillationBringsTheStudentsHiddenStatesTowardsTheTeachersAndIsPartOfTheFingerprint()
    {
        var (teacherDir, data) = TaskDistillationTests.Teacher.Value;
        var dir = Path.Combine(TestPaths.NewTempDir(), "kd-layers");
        var o = FineTuneTestData.MicroOptions(dir, epochs: 2) with { TeacherDir = teacherDir, KdLayers = 1, LogEvery = 2 };
        var messages = new List<string>();
        FineTuningRun.Run(o, FineTuneTask.Sequence(data), p => { if (p.Message is { } m) messages.Add(m); });
        Assert.Contains(messages, m => m.Contains("layer distillation β 1") && m.Contains("student 1 ← teacher 1"));
        var rows = File.ReadAllLines(Path.Combine(dir, FineTuningRun.MetricsFile));
        int col = Array.IndexOf(rows[0].Split(','), "fmt_mse");
        var fmt = rows.Skip(1).Select(r => r.Split(',')[col]).Where(v => v.Length > 0).Select(double.Parse).ToArray();
        Assert.True(fmt.Length >= 4, $"{fmt.Length} fmt_mse rows");
        Assert.True(fmt[^1] < 0.8 * fmt[0], $"feature-map MSE {fmt[0]:G3} → {fmt[^1]:G3}");

        var e = Assert.Throws<ArgumentException>(() => FineTuningRun.Run(o with { Resume = true, KdLayers = 2 }, FineTuneTask.Sequence(data)));
        Assert.Contains("'kd_layers'", e.Message);
    }

    [Fact]
    public void AStudentNarrowerThanTheTeacherIsRefusedNamingKdLayers()
    {
        var (teacherDir, data) = TaskDistillationTests.Teacher.Value;
        var narrow = FineTuneTestData.Micro();
        narrow.HiddenSize = 32; narrow.IntraBottleneckSize = 16;
        var o = FineTuneTestData.MicroOptions(Path.Combine(TestPaths.NewTempDir(), "narrow"), epochs: 1) with
        {
            Config = narrow, TeacherDir = teacherDir, KdLayers = 1,
        };
        var e = Assert.Throws<SettingException>(() => FineTuningRun.Run(o, FineTuneTask.Sequence(data)));
        Assert.Contains("KdLayers", e.Settings);
        Assert.Contains("hidden size 32 differs from the teacher's", e.Message);
        var neg = Assert.Throws<SettingException>(() => (o with { KdLayers = -1 }).Validate());
        Assert.Contains("KdLayers must be", neg.Message);
    }
}
