namespace MobileBert.Training.Pretraining;

/// <summary>What a pre-training run reports as it goes (for progress displays).</summary>
public sealed record PretrainProgress
{
    public required string Phase { get; init; }          // "data", "train", "eval", "checkpoint", "done"
    public string? Message { get; init; }
    public long Step { get; init; }
    public long Steps { get; init; }
    public double Loss { get; init; }
    public double MlmAccuracy { get; init; }
    public double NspAccuracy { get; init; }
    public double LearningRate { get; init; }
    public double TokensPerSecond { get; init; }
    public TimeSpan Eta { get; init; }
    public EvalResult? Eval { get; init; }
}

/// <summary>Held-out metrics. The unigram baseline predicts the most frequent masked token of the training data everywhere.</summary>
public sealed record EvalResult(double Loss, double MlmLoss, double NspLoss, double MlmAccuracy, double NspAccuracy, double UnigramBaselineAccuracy,
    int MaskedTokens, int Sequences);
