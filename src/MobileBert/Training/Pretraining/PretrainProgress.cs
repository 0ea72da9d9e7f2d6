namespace MobileBert.Training.Pretraining;

/// <summary>What a pre-training run reports as it goes: phases "data", "train", "eval", "checkpoint", "done".</summary>
public sealed record PretrainProgress : TrainingProgress
{
    public double Loss { get; init; }
    public double MlmAccuracy { get; init; }
    public double NspAccuracy { get; init; }
    public double TokensPerSecond { get; init; }
    public EvalResult? Eval { get; init; }
}

/// <summary>Held-out metrics. The unigram baseline predicts the most frequent masked token of the training data everywhere.</summary>
public sealed record EvalResult(double Loss, double MlmLoss, double NspLoss, double MlmAccuracy, double NspAccuracy, double UnigramBaselineAccuracy,
    int MaskedTokens, int Sequences);
