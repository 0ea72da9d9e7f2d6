using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Model;
using MobileBert.Tests.FineTuning;
using Xunit;
using MobileBert.Tasks;

namespace MobileBert.Tests.Api;

public class PredictorTests
{
    /// <summary>A randomly initialised micro model folder with a task head, as `finetune` writes it.</summary>
    public static string RandomTaskFolder(TaskInfo info, int seed = 3)
    {
        var dir = TestPaths.NewTempDir();
        var model = TaskModels.ForFineTuning(null, FineTuneTestData.Micro(), info, seed);
        ModelFolder.Save(model, dir, TestPaths.Vocab);
        info.Save(dir);
        return dir;
    }

    static readonly TaskInfo ThreeLabels = new()
    {
        Task = "csv", Name = "moods", Kind = TaskInfoKind.Classification, Labels = ["calm", "happy", "sad"], Metrics = ["acc", "macro_f1"],
            MainMetric = "acc", MaxSeqLength = 32,
    };

    static readonly string[] Texts =
    [
        "The movie was wonderful.", "I hated every minute of it.", "Not bad at all, honestly.", "Battery died after two days!",
        "Service was slow but the food was great.", "Meh.", "An absolute masterpiece of modern cinema, with a score to remember.",
            "Would not buy again.",
    ];

    [Fact]
    public void TextClassifierRestoresTheLabelMapAndReturnsProbabilities()
    {
        var c = TextClassifier.Load(RandomTaskFolder(ThreeLabels));
        Assert.Equal(["calm", "happy", "sad"], c.Labels);
        Assert.Equal(32, c.MaxSeqLength);
        var r = c.Classify("What a lovely day.");
        Assert.Equal(3, r.Categories.Count);
        Assert.Equal(1.0, r.Categories.Sum(x => x.Probability), 5);
        Assert.True(r.Categories[0].Probability >= r.Categories[1].Probability && r.Categories[1].Probability >= r.Categories[2].Probability);
        Assert.Equal(r.Label, r.Categories[0].Label);
        // Batched = one by one (padding does not change a row's result beyond float noise).
        var batch = c.Classify(Texts);
        for (int i = 0; i < Texts.Length; i++)
        {
            var one = c.Classify(Texts[i]);
            Assert.Equal(one.Label, batch[i].Label);
            Assert.Equal(one.Probability, batch[i].Probability, 4);
        }
    }

    [Fact]
    public void TextClassifierIsSafeForConcurrentCallers()
    {
        var c = TextClassifier.Load(RandomTaskFolder(ThreeLabels), new PredictorOptions { Threads = 2, BatchSize = 3 });
        var serial = Texts.Select(t => c.Classify(t)).ToArray();
        var serialBatch = c.Classify(Texts);
        var parallel = new Classification[64];
        var parallelBatch = new IReadOnlyList<Classification>[16];
        Parallel.Invoke(
            () => Parallel.For(0, parallel.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => parallel[i] = c.Classify(Texts[i % Texts.Length])),
            () => Parallel.For(0, parallelBatch.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => parallelBatch[i] = c.Classify(Texts)));
        for (int i = 0; i < parallel.Length; i++) Assert.Equal(serial[i % Texts.Length].Categories, parallel[i].Categories);
        foreach (var b in parallelBatch) for (int i = 0; i < Texts.Length; i++) Assert.Equal(serialBatch[i].Categories, b[i].Categories);
    }

    /// <summary>The classifier runs the fast engine; its probabilities equal the reference path (model.Forward on the
    /// unpadded input) — and a folder written by `quantize` runs int8 with the same labels, task.json and close probabilities.</summary>
    [Fact]
    public void TextClassifierMatchesTheReferenceForwardAndLoadsQuantizedFolders()
    {
        string dir = RandomTaskFolder(ThreeLabels, seed: 5);
        using var c = TextClassifier.Load(dir, new PredictorOptions { Threads = 2, BatchSize = 3 });
        Assert.False(c.IsQuantized);
        var tok = MobileBert.Text.WordPieceTokenizer.FromVocabFile(TestPaths.Vocab);
        var got = c.Classify(Texts);
        for (int i = 0; i < Texts.Length; i++)
        {
            var enc = tok.Encode(Texts[i], null, 32);
            var logits = c.Model.Forward(new ModelInput(1, enc.Length, enc.InputIds, tokenTypeIds: enc.TokenTypeIds),
                new ForwardOptions { Heads = ModelHeads.SequenceClassification }).SequenceClassificationLogits!;
            var p = SequenceEvaluator.Softmax(logits, 3);
            foreach (var cat in got[i].Categories) Assert.Equal(p[Array.IndexOf(["calm", "happy", "sad"], cat.Label)], cat.Probability, 5);
        }

        string qdir = TestPaths.NewTempDir();
        var q = MobileBert.Inference.QuantizedWeights.Quantize(c.Model);
        MobileBert.Inference.QuantizedCheckpoint.Save(c.Model, q, qdir, Path.Combine(dir, "vocab.txt"));
        File.Copy(Path.Combine(dir, TaskInfo.FileName), Path.Combine(qdir, TaskInfo.FileName));
        using var c8 = TextClassifier.Load(qdir);
        Assert.True(c8.IsQuantized);
        Assert.Equal(c.Labels, c8.Labels);
        Assert.Equal(32, c8.MaxSeqLength);
        var got8 = c8.Classify(Texts);
        for (int i = 0; i < Texts.Length; i++)
            foreach (var cat in got8[i].Categories)
                Assert.Equal(got[i].Categories.Single(x => x.Label == cat.Label).Probability, cat.Probability, 1);   // int8: close, not equal
        Assert.Contains(got8.Zip(got), x => x.First.Probability != x.Second.Probability);                       // it really ran int8
        // By default the int8 classifier's model holds no float copies of the int8 weights (same predictions, less
        // memory); KeepFloatWeights keeps them, and then Model.Forward runs.
        using var c8f = TextClassifier.Load(qdir, new PredictorOptions { KeepFloatWeights = true });
        Assert.True(c8.Model.Store.Data.Length < c8f.Model.Store.Data.Length);
        var gotF = c8f.Classify(Texts);
        for (int i = 0; i < Texts.Length; i++) Assert.Equal(gotF[i].Categories, got8[i].Categories);
        var e0 = tok.Encode(Texts[0], null, 32);
        var in0 = new ModelInput(1, e0.Length, e0.InputIds, tokenTypeIds: e0.TokenTypeIds);
        Assert.Throws<InvalidOperationException>(() => c8.Model.Forward(in0));
        Assert.NotNull(c8f.Model.Forward(in0, new ForwardOptions { Heads = ModelHeads.SequenceClassification }).SequenceClassificationLogits);
    }

    [Fact]
    public void RegressionModelsReturnAScore()
    {
        var info = new TaskInfo { Task = "csv", Name = "scores", Kind = TaskInfoKind.Regression, Metrics = ["pearson", "spearmanr", "corr", "mse"],
            MainMetric = "corr", MaxSeqLength = 32 };
        var dir = RandomTaskFolder(info);
        Assert.Equal("regression", ConfigJson.Load(Path.Combine(dir, "config.json")).ProblemType);
        var c = TextClassifier.Load(dir);
        Assert.True(c.IsRegression);
        var r = c.Classify("a b c", "d e");
        Assert.NotNull(r.Score);
        Assert.Empty(r.Categories);
    }

    [Fact]
    public void AHuggingFaceFolderIsReadAsItsConfigSays()
    {
        // problem_type multi_label_classification: each label its own sigmoid (HF's pipeline), not a softmax over them.
        string dir = RandomTaskFolder(ThreeLabels, seed: 5);
        File.Delete(Path.Combine(dir, TaskInfo.FileName));   // a plain HF folder: config.json alone says what the head is
        var config = ConfigJson.Load(Path.Combine(dir, "config.json"));
        config.ProblemType = "multi_label_classification";
        ConfigJson.Save(config, Path.Combine(dir, "config.json"));
        using var c = TextClassifier.Load(dir, new PredictorOptions { Threads = 1 });
        Assert.True(c.IsMultiLabel);
        var tok = MobileBert.Text.WordPieceTokenizer.FromVocabFile(TestPaths.Vocab);
        var enc = tok.Encode(Texts[0], null, 128);
        var logits = c.Model.Forward(new ModelInput(1, enc.Length, enc.InputIds, tokenTypeIds: enc.TokenTypeIds),
            new ForwardOptions { Heads = ModelHeads.SequenceClassification }).SequenceClassificationLogits!;
        var got = c.Classify(Texts[0]);
        for (int j = 0; j < 3; j++)
            Assert.Equal(1 / (1 + Math.Exp(-logits[j])), got.Categories.Single(x => x.Label == c.Labels[j]).Probability, 5);
        Assert.Equal(got.Categories.Max(x => x.Probability), got.Probability);

        // One output and no problem_type: a regression score (HF's models train num_labels = 1 with MSE).
        var one = new TaskInfo { Task = "csv", Name = "one", Kind = TaskInfoKind.Classification, Labels = ["only"], Metrics = ["acc"],
            MainMetric = "acc", MaxSeqLength = 32 };
        string oneDir = RandomTaskFolder(one);
        File.Delete(Path.Combine(oneDir, TaskInfo.FileName));
        var oneConfig = ConfigJson.Load(Path.Combine(oneDir, "config.json"));
        oneConfig.ProblemType = null;
        ConfigJson.Save(oneConfig, Path.Combine(oneDir, "config.json"));
        using var score = TextClassifier.Load(oneDir, new PredictorOptions { Threads = 1 });
        Assert.True(score.IsRegression);
        Assert.NotNull(score.Classify("a b c").Score);
    }

    static readonly (string Context, string Question)[] Questions =
    [
        ("A secularist is an advocate of secularism. A lexicographer is a person who writes dictionaries.", "How is a lexicographer defined?"),
        ("The heart pumps blood through the body. The lungs exchange oxygen and carbon dioxide.", "What do the lungs exchange?"),
        ("Paris is the capital of France. Berlin is the capital of Germany. "
            + string.Concat(Enumerable.Repeat("Filler words make this context long. ", 12)), "What is the capital of Germany?"),
    ];

    [Fact]
    public void QuestionAnswererReturnsRankedSpansOfTheContextAndIsSafeForConcurrentCallers()
    {
        var info = TaskInfo.ForSquad(false, 48, new SquadSettings { DocStride = 16, MaxQueryLength = 16 });
        var qa = QuestionAnswerer.Load(RandomTaskFolder(info), new PredictorOptions { Threads = 2, BatchSize = 4 });
        var serial = Questions.Select(q => qa.Answer(q.Context, q.Question, topK: 4)).ToArray();
        foreach (var (answers, q) in serial.Zip(Questions))
        {
            Assert.InRange(answers.Count, 1, 4);
            for (int i = 0; i < answers.Count; i++)
            {
                Assert.Equal(q.Context[answers[i].Start..answers[i].End], answers[i].Text);   // the character span is the answer text
                if (i > 0) Assert.True(answers[i - 1].Score >= answers[i].Score);
            }
        }
        var parallel = new IReadOnlyList<Answer>[48];
        Parallel.For(0, parallel.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => parallel[i] = qa.Answer(Questions[i % 3].Context, Questions[i % 3].Question, topK: 4));
        for (int i = 0; i < parallel.Length; i++) Assert.Equal(serial[i % 3], parallel[i]);
        var batched = qa.Answer(Questions, topK: 4);
        for (int i = 0; i < 3; i++) Assert.Equal(serial[i].Select(a => (a.Text, a.Start)), batched[i].Select(a => (a.Text, a.Start)));
    }

    /// <summary>QuestionAnswerer runs the engine; its n-best (spans and scores) equal the reference path's
    /// (QaEvaluator.Predict over model.Forward) on the same features, windows of several lengths, padded batches.</summary>
    [Fact]
    public void QuestionAnswererMatchesTheReferenceForward()
    {
        var info = TaskInfo.ForSquad(false, 48, new SquadSettings { DocStride = 16, MaxQueryLength = 16 });
        string dir = RandomTaskFolder(info, seed: 7);
        using var qa = QuestionAnswerer.Load(dir, new PredictorOptions { Threads = 2, BatchSize = 3 });
        var tok = MobileBert.Text.WordPieceTokenizer.FromVocabFile(TestPaths.Vocab);
        var examples = Questions.Select((q, i) => new MobileBert.Tasks.QuestionAnswering.SquadExample($"q{i}", "", q.Context, q.Question, [], false))
            .ToArray();
        var features = new MobileBert.Tasks.QuestionAnswering.QaFeaturizer(
            tok, new MobileBert.Tasks.QuestionAnswering.QaFeatureOptions { MaxSeqLength = 48, DocStride = 16, MaxQueryLength = 16 }).CreateFeatures(
            examples);
        Assert.True(features.Features.Count > Questions.Length);                                   // the long context has several windows
        // what QuestionAnswerer uses (n-best also bounds the start/end candidates)
        var settings = new SquadSettings { DocStride = 16, MaxQueryLength = 16, NBestSize = 20 };
        var reference = QaEvaluator.Predict(qa.Model, features, tok.PadId, settings, batchSize: 3);
        using var engine = new MobileBert.Inference.InferenceEngine(qa.Model, new MobileBert.Inference.InferenceOptions { Threads = 2 });
        var fast = QaEvaluator.Predict(engine, features, tok.PadId, settings, batchSize: 3);
        foreach (var e in examples)
        {
            var a = reference.NBest[e.Id]; var b = fast.NBest[e.Id];
            Assert.Equal(a.Select(n => n.Text), b.Select(n => n.Text));
            for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Score, b[i].Score, 4);
        }
        var viaApi = qa.Answer(Questions[0].Context, Questions[0].Question, topK: 3);
        Assert.Equal(reference.NBest["q0"].Where(n => n.Text.Length > 0).Take(3).Select(n => n.Text), viaApi.Select(a => a.Text));
    }
}
