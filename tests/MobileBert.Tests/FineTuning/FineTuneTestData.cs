using MobileBert.FineTuning;
using MobileBert.Model;

namespace MobileBert.Tests.FineTuning;

/// <summary>Shared settings of the fine-tuning tests: a micro model (2 layers, hidden 64) on the fixed sentiment split.</summary>
public static class FineTuneTestData
{
    public static string SentimentDir => Path.Combine(TestPaths.RepoRoot, "data", "sentiment");
    public static string WordnetQa(string file) => Path.Combine(TestPaths.RepoRoot, "data", "wordnet-qa", file);

    public static MobileBertConfig Micro() => Presets.MobileBertMicro();

    /// <summary>The sentiment split as JSONL in a new folder (optionally a smaller balanced train set).</summary>
    public static (string Train, string Dev, string Test) SentimentFiles(int? maxTrain = null) =>
        SentimentSplit.Write(SentimentDir, Path.Combine(TestPaths.NewTempDir(), "sentiment"), maxTrain);

    public static FineTuneOptions MicroOptions(string outDir, int epochs = 3) => new()
    {
        Config = Micro(), VocabPath = TestPaths.Vocab, OutputDir = outDir, Epochs = epochs, Batch = 32, Lr = 2e-3, Seq = 48, Seed = 7,
        Threads = 2, WarmupProportion = 0.1, LogEvery = 20,
    };
}
