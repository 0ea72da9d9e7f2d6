using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Training.Optimizers;

public class OptimizerFactoryTests
{
    [Fact]
    public void EachKindFollowsTheBertConventionOnBiasesAndNorms()
    {
        var lamb = (Lamb)OptimizerFactory.Create("lamb", OptimTestUtil.SmallStore(), weightDecay: 0.02, threads: 3);
        Assert.Equal(("lamb", 0.02, 3), (lamb.Kind, lamb.Options.WeightDecay, lamb.Threads));
        Assert.Equal(new ParameterSettings(1, false, WeightDecay: false, TrustRatio: false), lamb.Groups["mobilebert.embeddings.LayerNorm.bias"]);
        Assert.Equal(ParameterSettings.Default, lamb.Groups["classifier.weight"]);

        var adamw = (AdamW)OptimizerFactory.Create("adamw", OptimTestUtil.SmallStore(), weightDecay: 0.02);
        Assert.Equal(("adamw", 0.02, false), (adamw.Kind, adamw.Options.WeightDecay, adamw.Options.DecayBiasesAndNorms));
        Assert.False(adamw.Groups["mobilebert.encoder.layer.0.attention.self.query.bias"].WeightDecay);
        Assert.True(adamw.Groups["classifier.weight"].WeightDecay);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("LAMB")]
    [InlineData("")]
    public void AnUnknownKindIsOneErrorNamingTheParameter(string kind)
    {
        var e = Assert.Throws<SettingException>(() => OptimizerFactory.Create(kind, OptimTestUtil.SmallStore(), setting: "TeacherOptimizer"));
        Assert.Equal($"TeacherOptimizer must be lamb or adamw, got '{kind}'.", e.Message);
        Assert.Equal(["TeacherOptimizer"], e.Settings);
        var check = Assert.Throws<SettingException>(() => OptimizerFactory.Check(kind));
        Assert.Equal($"--optimizer must be lamb or adamw, got '{kind}'.", MobileBert.Cli.CliFlags.Message(check));   // as the CLI prints it
    }

    [Fact]
    public void AStateFileRestoresTheKindItWasSavedFrom()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "optimizer.safetensors");
        foreach (var kind in OptimizerFactory.Kinds)
        {
            var store = OptimTestUtil.SmallStore();
            var saved = OptimizerFactory.Create(kind, store);
            saved.Step(1e-3);
            saved.Save(path);
            var loaded = OptimizerState.LoadOptimizer(store, path);
            Assert.Equal((kind, 1L), (loaded.Kind, loaded.StepCount));
            Assert.Equal(saved.SecondMoment, loaded.SecondMoment);
        }
    }
}
