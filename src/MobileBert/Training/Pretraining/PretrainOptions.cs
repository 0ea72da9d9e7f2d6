using System.Text.Json.Nodes;
using MobileBert.Model;

namespace MobileBert.Training.Pretraining;

/// <summary>Settings of a masked-LM + next-sentence pre-training run (teacher or student from scratch); the shared ones are
/// in <see cref="CorpusRunOptions"/> and <see cref="TrainingRunOptions"/>.</summary>
public sealed record PretrainOptions : CorpusRunOptions
{
    public required MobileBertConfig Config { get; init; }
    public int Steps { get; init; } = 1000;
    /// <summary>Linear warm-up steps (then linear decay to 0).</summary>
    public int Warmup { get; init; } = 100;

    public void Validate()
    {
        Positive(Steps, nameof(Steps));
        ValidateCorpusRun();
        if (Warmup < 0) throw new SettingException($"Warmup must be ≥ 0, got {Warmup}.", nameof(Warmup));
        if (Seq > Config.MaxPositionEmbeddings) throw new SettingException(
            $"Seq {Seq} exceeds the config's max_position_embeddings = {Config.MaxPositionEmbeddings}.", nameof(Seq));
        Config.Validate();
    }

    /// <summary>The settings a resumed run must share with the checkpoint (anything else would change the curve).</summary>
    public JsonObject Fingerprint()
    {
        var f = new JsonObject { ["config"] = JsonNode.Parse(ConfigJson.ToJson(Config)), ["steps"] = Steps, ["warmup"] = Warmup };
        AddCorpusFingerprint(f);
        return f;
    }
}
