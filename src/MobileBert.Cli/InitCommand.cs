using System.CommandLine;
using MobileBert.Checkpoints;
using MobileBert.Model;

namespace MobileBert.Cli;

/// <summary>`mobilebert init --preset NAME|config.json --out DIR [--heads …] [--seed N] [--vocab FILE]`: a new model folder with HF's random
/// initialisation.</summary>
public static class InitCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "--preset") { Description =
            $"Preset ({string.Join(", ", Presets.All.Keys)}) or a config.json path.", Required = true };
        var output = new Option<string>("--out") { Description = "Output model folder.", Required = true };
        var heads = new Option<string>("--heads") { Description = "none | pretraining | mlm | classification | qa (comma-separated to combine).",
            DefaultValueFactory = _ => "pretraining" };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 42 };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt to copy into the folder." };
        var cmd = new Command("init", "Create a randomly initialised model folder (config.json + model.safetensors [+ vocab.txt]).") {
            config, output, heads, seed, vocab };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var c = Presets.Resolve(r.GetValue(config)!);
            var h = ParseHeads(r.GetValue(heads)!);
            var model = new MobileBertModel(c, h);
            model.InitializeWeights(r.GetValue(seed));
            string? v = r.GetValue(vocab);
            if (v is not null && !File.Exists(v)) throw new InputException($"{v}: vocab file not found.");
            ModelFolder.Save(model, r.GetValue(output)!, v);
            Console.Error.WriteLine($"wrote {r.GetValue(output)} ({model.Store.Count / 1e6:F2}M parameters, heads: {h})");
            return 0;
        }));
        return cmd;
    }

    public static ModelHeads ParseHeads(string s)
    {
        var h = ModelHeads.None;
        foreach (var part in s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            h |= part.ToLowerInvariant() switch
            {
                "none" => ModelHeads.None,
                "pretraining" => ModelHeads.Pretraining,
                "mlm" => ModelHeads.MaskedLm,
                "nsp" => ModelHeads.NextSentence,
                "classification" or "seqcls" => ModelHeads.SequenceClassification,
                "qa" => ModelHeads.QuestionAnswering,
                _ => throw new InputException($"--heads: unknown head '{part}' (none, pretraining, mlm, nsp, classification, qa)."),
            };
        return h;
    }
}
