using Xunit;

namespace MobileBert.Tests.Model;

/// <summary>Per-tensor relative comparison: max|ours − ref| ≤ rel · max|ref| (NoNorm activations are large; absolute tolerances mislead).</summary>
public static class Tolerance
{
    public static double MaxAbs(ReadOnlySpan<float> x) { double m = 0; foreach (var v in x) m = Math.Max(m, Math.Abs((double)v)); return m; }

    public static void AssertClose(string name, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rel, double absFloor = 0)
    {
        Assert.True(expected.Length == actual.Length, $"{name}: length {actual.Length}, expected {expected.Length}");
        double maxRef = MaxAbs(expected), maxDiff = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"{name}: NaN at {i}");
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (d > maxDiff) { maxDiff = d; at = i; }
        }
        double bound = Math.Max(rel * maxRef, absFloor);
        Assert.True(maxDiff <= bound, $"{name}: max|diff| = {maxDiff:g4} at {at} (ours {(at >= 0 ? actual[at] : 0)}, " +
            $"ref {(at >= 0 ? expected[at] : 0)}) > {bound:g4} (= {rel:g2}·max|ref| {maxRef:g4})");
    }
}
