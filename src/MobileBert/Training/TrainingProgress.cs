namespace MobileBert.Training;

/// <summary>What every training run reports as it goes (for progress displays); each run's record adds its own numbers.</summary>
public abstract record TrainingProgress
{
    /// <summary>"data", "setup", "stage", "train", "eval", "checkpoint" or "done" (the runs use the ones that apply).</summary>
    public required string Phase { get; init; }
    public string? Message { get; init; }
    /// <summary>Steps done.</summary>
    public long Step { get; init; }
    public long Steps { get; init; }
    /// <summary>The learning rate of the last step (train and eval reports).</summary>
    public double LearningRate { get; init; }
    /// <summary>Time left at the logging window's rate (train and eval reports).</summary>
    public TimeSpan Eta { get; init; }

    /// <summary><see cref="Eta"/> for a progress line: "1h05m" from an hour on, else "4m07s".</summary>
    public string EtaText => Eta.TotalHours >= 1 ? $"{(int)Eta.TotalHours}h{Eta.Minutes:D2}m" : $"{Eta.Minutes}m{Eta.Seconds:D2}s";
}
