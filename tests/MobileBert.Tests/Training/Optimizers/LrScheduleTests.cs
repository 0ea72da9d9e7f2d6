using MobileBert.Training.Optimizers;
using Xunit;

namespace MobileBert.Tests.Training.Optimizers;

public class LrScheduleTests
{
    [Fact]
    public void LinearWarmupThenLinearDecayToZero()
    {
        var s = LrSchedule.Linear(1e-3, warmupSteps: 100, totalSteps: 1100);
        Assert.Equal(0, s.At(0));
        Assert.Equal(1e-3 * 50 / 100, s.At(50), 1e-18);
        Assert.Equal(1e-3 * 99 / 100, s.At(99), 1e-18);
        Assert.Equal(1e-3, s.At(100));                       // warm-up end = peak
        Assert.Equal(0.5e-3, s.At(600), 1e-18);              // middle of the decay
        Assert.Equal(1e-3 * 1 / 1000, s.At(1099), 1e-18);
        Assert.Equal(0, s.At(1100));                         // end
        Assert.Equal(0, s.At(5000));                         // past end
        Assert.Throws<ArgumentOutOfRangeException>(() => s.At(-1));
    }

    [Fact]
    public void PolynomialDecayWithPowerAndEndLr()
    {
        var s = new WarmupPolynomialDecay(1.0, warmupSteps: 10, totalSteps: 110, power: 2.0, endLr: 0.1);
        Assert.Equal(0.5, s.At(5), 1e-15);
        Assert.Equal(1.0, s.At(10), 1e-15);
        Assert.Equal(0.9 * 0.25 + 0.1, s.At(60), 1e-15);     // half-way: (1−0.5)² of the range
        Assert.Equal(0.1, s.At(110));
        Assert.Equal(0.1, s.At(1000));
        // TF polynomial_decay (the MobileBERT reference): decay measured from step 0, warm-up overrides the start.
        var tf = new WarmupPolynomialDecay(1.0, warmupSteps: 10, totalSteps: 100, power: 1.0, endLr: 1e-4, decayFromWarmupEnd: false);
        Assert.Equal(0.3, tf.At(3), 1e-15);
        Assert.Equal((1 - 1e-4) * 0.9 + 1e-4, tf.At(10), 1e-15);
        Assert.Equal((1 - 1e-4) * 0.5 + 1e-4, tf.At(50), 1e-15);
        Assert.Equal(1e-4, tf.At(100));
    }

    [Fact]
    public void ConstantWithOptionalWarmup()
    {
        Assert.Equal(2e-4, LrSchedule.Constant(2e-4).At(0));
        Assert.Equal(2e-4, LrSchedule.Constant(2e-4).At(1_000_000));
        var w = LrSchedule.Constant(2e-4, warmupSteps: 4);
        Assert.Equal(new[] { 0, 0.5e-4, 1e-4, 1.5e-4, 2e-4, 2e-4 }, Enumerable.Range(0, 6).Select(i => w.At(i)).ToArray(), new DoubleTol(1e-18));
    }

    [Fact]
    public void StagesRestartTheWarmup()
    {
        var stage = LrSchedule.Linear(1.0, warmupSteps: 10, totalSteps: 100);
        var staged = StagedSchedule.Repeat(stage, stepsPerStage: 100, stages: 3);
        Assert.Equal(0, staged.At(0));
        Assert.Equal(1.0, staged.At(10));
        Assert.Equal(stage.At(99), staged.At(99));
        Assert.Equal(0, staged.At(100));                      // stage 2 starts warming up again
        Assert.Equal(0.5, staged.At(105), 1e-15);
        Assert.Equal(1.0, staged.At(210));
        Assert.Equal((2, 50L), staged.Locate(250));
        Assert.Equal(200, staged.StageStart(2));
        Assert.Equal(0, staged.At(300));                      // past the last stage: its schedule continues (ended → 0)
        Assert.Equal((2, 150L), staged.Locate(350));

        var mixed = new StagedSchedule((5, LrSchedule.Constant(0.1)), (20, LrSchedule.Linear(1.0, 10, 20)));
        Assert.Equal(0.1, mixed.At(4));
        Assert.Equal(0.0, mixed.At(5));
        Assert.Equal(0.5, mixed.At(10), 1e-15);

        var restarting = new RestartingSchedule(stage, 100);
        for (long k = 0; k < 400; k += 7) Assert.Equal(staged.At(k % 100), restarting.At(k));
    }

    [Fact]
    public void InvalidArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Linear(1, 10, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupPolynomialDecay(1, 0, 10, power: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Constant(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StagedSchedule((0L, (LrSchedule)LrSchedule.Constant(1))));
    }

    sealed class DoubleTol(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(double x) => 0;
    }
}
