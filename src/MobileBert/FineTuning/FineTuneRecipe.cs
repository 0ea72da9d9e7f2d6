using System.Globalization;
using MobileBert.Model;

namespace MobileBert.FineTuning;

/// <summary>
/// <c>--recipe pretrained</c>: starting settings for fine-tuning a PRE-TRAINED model — AdamW with weight decay 0.01,
/// linear warm-up over 10 % of the steps then decay to 0, batch 32, 3 epochs, and a peak learning rate by model size
/// (BERT's 5e-5 for BERT-base-size models; smaller models tolerate and need larger steps):
/// <code>
/// parameters      lr      e.g.
/// ≥ 60 M          5e-5    BERT-base (110 M), IB-BERT teachers
/// 15 M – 60 M     1e-4    MobileBERT (25 M), BERT-small/medium
/// 2 M – 15 M      3e-4    TinyBERT-4 (14.5 M), BERT-mini/tiny
/// &lt; 2 M       1e-3    the bundled micro presets
/// </code>
/// Explicit options (--lr, --epochs, …) override the recipe.
/// </summary>
public sealed record FineTuneRecipe(string Name, double Lr, int Epochs, int Batch, double WarmupProportion, double WeightDecay, string Why)
{
    public static IReadOnlyList<string> Names { get; } = ["default", "pretrained"];

    /// <summary>HF run_glue's defaults (what `finetune` uses without --recipe): lr 5e-5, 3 epochs, batch 32, warm-up 10 %, weight decay
    /// 0.01.</summary>
    public static FineTuneRecipe Default { get; } = new("default", 5e-5, 3, 32, 0.1, 0.01, "HF run_glue defaults");

    /// <summary>The pre-trained recipe for a model of <paramref name="parameters"/> parameters.</summary>
    public static FineTuneRecipe Pretrained(long parameters)
    {
        double lr = parameters >= 60_000_000 ? 5e-5 : parameters >= 15_000_000 ? 1e-4 : parameters >= 2_000_000 ? 3e-4 : 1e-3;
        return new("pretrained", lr, 3, 32, 0.1, 0.01, string.Create(CultureInfo.InvariantCulture,
            $"{parameters / 1e6:0.#} M parameters → lr {lr:0e0}"));
    }

    /// <summary>The options with this recipe's epochs (or <paramref name="epochs"/>), batch, learning rate, warm-up and weight decay.</summary>
    public FineTuneOptions ApplyTo(FineTuneOptions o, int? epochs = null) => o with
    {
        Epochs = epochs ?? Epochs, Batch = Batch, Lr = Lr, WarmupProportion = WarmupProportion, WeightDecay = WeightDecay,
    };

    /// <summary>Resolves a recipe name for a model config (null: <see cref="Default"/>).</summary>
    public static FineTuneRecipe Resolve(string? name, MobileBertConfig? config)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case null or "default": return Default;
            case "pretrained":
                if (config is null) throw new SettingException("Recipe pretrained needs the model's config (give ModelDir or Config).", "Recipe",
                    "ModelDir", "Config");
                return Pretrained(MobileBertModel.CountParameters(config));
            default: throw new SettingException($"Recipe '{name}' is not one of {string.Join(", ", Names)}.", "Recipe");
        }
    }
}
