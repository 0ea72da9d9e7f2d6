using System.CommandLine;
using System.Text.Json.Nodes;

namespace MobileBert.Cli;

/// <summary>`mobilebert fill-mask --model DIR --text "…[MASK]…" [--top-k 5]`: the most probable tokens for each [MASK] (JSON on stdout).</summary>
public static class FillMaskCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder with an MLM head (pre-training or MaskedLM checkpoint).",
            Required = true };
        var text = new Option<string>("--text") { Description = "Text with one or more [MASK] tokens.", Required = true };
        var topK = new Option<int>("--top-k") { Description = "Candidates per mask.", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("fill-mask", "Predict the tokens behind [MASK] with a model's MLM head.") { model, text, topK, threads };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            if (r.GetValue(topK) <= 0) throw new InputException($"--top-k must be positive, got {r.GetValue(topK)}.");
            using var filler = MaskFiller.Load(r.GetValue(model)!, new PredictorOptions { Threads = Math.Max(1, r.GetValue(threads)) });
            Console.Out.WriteLine(ToJson(filler.Fill(r.GetValue(text)!, r.GetValue(topK))).ToJsonString());
            return 0;
        }));
        return cmd;
    }

    /// <summary>One array per mask of {token, token_id, score, sequence} (HF fill-mask pipeline's fields).</summary>
    public static JsonArray ToJson(IReadOnlyList<IReadOnlyList<MaskPrediction>> masks) => new(masks.Select(m => (JsonNode)new JsonArray(m.Select(p =>
        (JsonNode)new JsonObject { ["token"] = p.Token, ["token_id"] = p.TokenId, ["score"] = p.Probability, ["sequence"] = p.Sequence }).ToArray()))
        .ToArray());
}
