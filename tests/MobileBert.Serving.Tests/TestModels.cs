using MobileBert.FineTuning;
using MobileBert.Tests;
using MobileBert.Tests.Api;
using MobileBert.Tasks;

namespace MobileBert.Serving.Tests;

/// <summary>Tiny model folders written once per test process (random micro models with task heads, as `finetune` writes them).</summary>
public static class TestModels
{
    public static readonly TaskInfo MoodsTask = new()
    {
        Task = "csv", Name = "moods", Kind = TaskInfoKind.Classification, Labels = ["calm", "happy",
            "sad"], Metrics = ["acc"], MainMetric = "acc", MaxSeqLength = 32,
    };

    /// <summary>Three-label classifier, at most 32 tokens per input.</summary>
    public static string Classifier => ClassifierDir.Value;
    /// <summary>SQuAD v2 question answerer (48-token windows, 16-token questions).</summary>
    public static string QuestionAnswerer => QaDir.Value;

    /// <summary>SQuAD v1.1 question answerer (always a span).</summary>
    public static string QuestionAnswererV1 => QaV1Dir.Value;

    /// <summary>The classifier's folder as an embedder with a sentence-transformers "query" prompt (<see cref="QueryPrompt"/>).</summary>
    public static string Embedder => EmbedderDir.Value;
    public const string QueryPrompt = "find: ";

    static readonly Lazy<string> EmbedderDir = new(() =>
    {
        var dir = TestPaths.NewTempDir();
        foreach (var f in Directory.EnumerateFiles(Classifier)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(dir, "config_sentence_transformers.json"), "{\"prompts\": {\"query\": \"" + QueryPrompt + "\"}}");
        return dir;
    });

    /// <summary>A micro model with a masked-LM head (config.json says MobileBertForMaskedLM: served as fill-mask).</summary>
    public static string MaskedLm => MlmDir.Value;

    static readonly Lazy<string> MlmDir = new(() =>
    {
        var dir = TestPaths.NewTempDir();
        var model = new MobileBert.Model.MobileBertModel(MobileBert.Model.Presets.MobileBertMicro(), MobileBert.Model.ModelHeads.MaskedLm);
        model.InitializeWeights(14);
        MobileBert.Checkpoints.ModelFolder.Save(model, dir, TestPaths.Vocab);
        return dir;
    });

    static readonly Lazy<string> QaV1Dir = new(() =>
        PredictorTests.RandomTaskFolder(TaskInfo.ForSquad(false, 64, new SquadSettings { DocStride = 32, MaxQueryLength = 16 }), seed: 13));
    static readonly Lazy<string> ClassifierDir = new(() => PredictorTests.RandomTaskFolder(MoodsTask, seed: 11));
    static readonly Lazy<string> QaDir = new(() =>
        PredictorTests.RandomTaskFolder(TaskInfo.ForSquad(true, 48, new SquadSettings { DocStride = 16, MaxQueryLength = 16 }), seed: 12));

    public static string Vocab => TestPaths.Vocab;

    public static readonly string[] Texts =
    [
        "The movie was wonderful.", "I hated every minute of it.", "Not bad at all, honestly.", "Battery died after two days!",
        "Service was slow but the food was great.", "Meh.", "An absolute masterpiece of modern cinema, with a score to remember.",
        "Would not buy again.",
    ];

    public const string Context = "Paris is the capital of France. Berlin is the capital of Germany. The Rhine flows through both countries.";
}
