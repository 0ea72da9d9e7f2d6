using MobileBert.Serving.Batching;
using Prometheus;

namespace MobileBert.Serving;

/// <summary>Prometheus metrics of the served models (exported at /metrics with the HTTP metrics).</summary>
public static class ServingMetrics
{
    static readonly double[] SizeBuckets = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256];

    public static readonly Counter Requests = Metrics.CreateCounter("mobilebert_requests_total",
        "Model requests by model, endpoint and HTTP status (499: the client went away).", "model", "endpoint", "code");
    public static readonly Counter Errors = Metrics.CreateCounter("mobilebert_request_errors_total",
        "Model requests answered with an error status (4xx, 5xx, 499).", "model", "endpoint", "code");
    public static readonly Histogram Latency = Metrics.CreateHistogram("mobilebert_request_duration_seconds",
        "Time from the request's start to its answer.", new HistogramConfiguration
        {
            LabelNames = ["model", "endpoint"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16),
        });
    public static readonly Histogram BatchSize = Metrics.CreateHistogram("mobilebert_batch_size",
        "Inputs per engine batch.", new HistogramConfiguration { LabelNames = ["model"], Buckets = SizeBuckets });
    public static readonly Gauge QueueDepth = Metrics.CreateGauge("mobilebert_queue_depth", "Inputs waiting for a batch.", "model");
    public static readonly Counter Dropped = Metrics.CreateCounter("mobilebert_dropped_inputs_total",
        "Inputs not computed because their client went away.", "model");

    /// <summary>A batcher for the model <paramref name="name"/> that reports its queue depth, batch sizes and dropped inputs here.</summary>
    internal static DynamicBatcher<T> NewBatcher<T>(string name, BatchingSettings settings,
        Action<IReadOnlyList<T>> run) where T : class, IBatchItem =>
        new(name, settings, run,
            depth => QueueDepth.WithLabels(name).Set(depth),
            size => BatchSize.WithLabels(name).Observe(size),
            dropped => Dropped.WithLabels(name).Inc(dropped));
}
