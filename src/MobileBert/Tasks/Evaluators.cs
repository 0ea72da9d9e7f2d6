using MobileBert.Model;
using MobileBert.Tasks.Classification;
using MobileBert.Tasks.Metrics;
using MobileBert.Tasks.QuestionAnswering;

namespace MobileBert.Tasks;

/// <summary>Metrics of one evaluation: values by name and the main (model-selection) metric.</summary>
public sealed record EvalMetrics(IReadOnlyDictionary<string, double> Values, string MainMetric)
{
    public double Main => Values.TryGetValue(MainMetric, out double v) ? v : double.NaN;

    public override string ToString() =>
        string.Join("  ", Values.Select(kv => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:0.####}")));
}

/// <summary>Runs a sequence classification/regression model over featurized data (eval mode) and scores it.</summary>
public static class SequenceEvaluator
{
    /// <summary>Logits <c>[n, numLabels]</c> in example order. Batches are length-bucketed (less padding); the result does not depend on the
    /// order.</summary>
    public static float[] Logits(MobileBertModel model, FeaturizedDataset data, int batchSize = 64, Action<int, int>? progress = null)
    {
        if (model.Classifier is null) throw new ArgumentException("The model has no sequence-classification head (classifier.*).");
        int k = model.Config.NumLabels, done = 0;
        var logits = new float[data.Count * k];
        foreach (var batch in TaskBatcher.Batches(data, batchSize, new BatchingOptions { BucketByLength = true }))
        {
            var output = model.Forward(batch.Input, new ForwardOptions { Heads = ModelHeads.SequenceClassification });
            var l = output.SequenceClassificationLogits!;
            for (int r = 0; r < batch.Size; r++) l.AsSpan(r * k, k).CopyTo(logits.AsSpan(batch.ExampleIndices[r] * k, k));
            done += batch.Size;
            progress?.Invoke(done, data.Count);
        }
        return logits;
    }

    /// <summary>The task's official metrics on labelled data (plus "loss").</summary>
    public static (EvalMetrics Metrics, float[] Logits) Evaluate(MobileBertModel model, FeaturizedDataset data, int batchSize = 64,
        Action<int, int>? progress = null)
    {
        var task = data.Task;
        if (!data.Data.IsLabelled) throw new ArgumentException($"{data.Data.Source}: evaluation needs labelled data.");
        var logits = Logits(model, data, batchSize, progress);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        MetricResult m;
        if (task.Kind == TaskKind.Regression)
        {
            var t = data.Data.Targets();
            m = TaskMetrics.FromLogits(task, logits, targets: t);
            values["loss"] = Training.Losses.MeanSquaredError(logits, t);
        }
        else
        {
            var y = data.Data.LabelIds();
            m = TaskMetrics.FromLogits(task, logits, labelIds: y);
            values["loss"] = Training.Losses.CrossEntropy(logits, y, y.Length, task.NumLabels);
        }
        foreach (var (key, v) in m.Values) values[key] = v;
        return (new EvalMetrics(values, m.MainMetric), logits);
    }

    /// <summary>Softmax of each row (in place copy).</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits, int classes)
    {
        var p = new float[logits.Length];
        for (int r = 0; r < logits.Length / classes; r++)
        {
            var row = logits.Slice(r * classes, classes);
            float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.Exp(row[j] - max);
            for (int j = 0; j < classes; j++) p[r * classes + j] = (float)(Math.Exp(row[j] - max) / sum);
        }
        return p;
    }
}

/// <summary>Runs an extractive QA model over SQuAD features and scores it with the official evaluation.</summary>
public static class QaEvaluator
{
    public static QaPostProcessOptions PostOptions(SquadSettings s) => new()
    {
        NBestSize = s.NBestSize, MaxAnswerLength = s.MaxAnswerLength, VersionTwoWithNegative = s.VersionTwoWithNegative,
        NullScoreDiffThreshold = s.NullScoreDiffThreshold,
    };

    /// <summary>Start/end logits of every feature (eval mode, <see cref="MobileBertModel.Forward"/>), post-processed into answers.</summary>
    public static QaPredictions Predict(MobileBertModel model, QaFeatureSet features, int padId, SquadSettings settings, int batchSize = 32,
        Action<int, int>? progress = null)
    {
        if (model.Qa is null) throw new ArgumentException("The model has no question-answering head (qa_outputs.*).");
        return Predict(features, padId, settings, batchSize, progress, input =>
        {
            var output = model.Forward(input, new ForwardOptions { Heads = ModelHeads.QuestionAnswering });
            return (output.QaStartLogits!, output.QaEndLogits!);
        });
    }

    /// <summary>The same through the fast executor: the engine computes the padded batch's last hidden state exactly as
    /// <see cref="MobileBertModel.Forward"/> does, and the QA head (one 2-wide Linear per token) runs on it.</summary>
    public static QaPredictions Predict(Inference.InferenceEngine engine, QaFeatureSet features, int padId, SquadSettings settings,
        int batchSize = 32, Action<int, int>? progress = null)
    {
        var qa = engine.Model.Qa ?? throw new ArgumentException("The model has no question-answering head (qa_outputs.*).");
        return Predict(features, padId, settings, batchSize, progress, input =>
        {
            var r = engine.Run(input);
            int rows = input.Batch * input.Seq;
            var start = new float[rows]; var end = new float[rows];
            qa.Forward(r.LastHiddenState, rows, start, end, engine.Threads);
            return (start, end);
        });
    }

    static QaPredictions Predict(QaFeatureSet features, int padId, SquadSettings settings, int batchSize, Action<int, int>? progress,
        Func<ModelInput, (float[] Start, float[] End)> logits)
    {
        var collector = new QaLogitCollector(features);
        var batcher = new QaBatcher(features, padId, new QaBatcherOptions { BatchSize = batchSize });
        // Length-sorted batches: far less padding for short contexts; logits go back to their feature by index.
        var order = Enumerable.Range(0, features.Features.Count).OrderBy(i => features.Features[i].Length).ToArray();
        int done = 0;
        for (int s = 0; s < order.Length; s += batchSize)
        {
            var batch = batcher.MakeBatch(order[s..Math.Min(order.Length, s + batchSize)]);
            var (start, end) = logits(batch.Input);
            collector.Add(batch, start, end);
            done += batch.FeatureIndices.Length;
            progress?.Invoke(done, order.Length);
        }
        return collector.Finish(PostOptions(settings));
    }

    /// <summary>Official SQuAD v1.1 (exact_match, f1) or v2.0 (exact, f1, HasAns/NoAns, best thresholds) metrics, in percent; main metric
    /// f1.</summary>
    public static EvalMetrics Score(SquadDataset data, QaPredictions predictions, bool v2)
    {
        var values = v2
            ? SquadEvaluation.EvaluateV2(data.Examples, predictions.Predictions, predictions.NullOdds)
            : SquadEvaluation.EvaluateV1(data.Examples, predictions.Predictions);
        return new EvalMetrics(new Dictionary<string, double>(values, StringComparer.Ordinal), "f1");
    }
}
