using System.CommandLine;
using MobileBert.Import;

namespace MobileBert.Cli;

/// <summary>`mobilebert import --onnx FILE.onnx | --pytorch DIR|FILE [--vocab FILE] [--config FILE] --out DIR`: a BERT-architecture ONNX
/// export, or a HuggingFace PyTorch checkpoint (pytorch_model.bin), as a model folder.</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var onnx = new Option<string?>("--onnx") { Description = "BERT-architecture ONNX model (e.g. a PyTorch / HF export of BertModel)." };
        var pytorch = new Option<string?>("--pytorch")
            { Description = "HuggingFace PyTorch checkpoint: a folder with pytorch_model.bin + config.json (+ vocab.txt), or the .bin file." };
        var vocab = new Option<string?>("--vocab") { Description = "WordPiece vocab.txt to copy into the folder (LF or CRLF lines)." };
        var config = new Option<string?>("--config") { Description = "HF config.json. ONNX: for fields the graph cannot show (pad_token_id, " +
            "dropout); must agree with the graph. PyTorch: the checkpoint's config (default: config.json beside it)." };
        var output = new Option<string>("--out") { Description = "Output model folder.", Required = true };
        var cmd = new Command("import", "Convert a BERT-architecture ONNX model or a HuggingFace PyTorch checkpoint (pytorch_model.bin) into a " +
            "model folder (config.json + model.safetensors + vocab.txt).") { onnx, pytorch, vocab, config, output };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            string dir = r.GetValue(output)!;
            if ((r.GetValue(onnx) is null) == (r.GetValue(pytorch) is null))
                throw new InputException("import: give exactly one of --onnx FILE and --pytorch DIR|FILE.");
            if (r.GetValue(pytorch) is { } source)
            {
                var result = PyTorchImporter.Import(source, dir, r.GetValue(config), r.GetValue(vocab));
                Report(dir, result);
                return 0;
            }
            var shape = OnnxImporter.Import(r.GetValue(onnx)!, dir, r.GetValue(vocab), r.GetValue(config));
            Report(dir, shape, r.GetValue(vocab) is not null);
            return 0;
        }));
        return cmd;
    }

    static void Report(string dir, PyTorchImportResult r)
    {
        var c = r.Config;
        Console.Error.WriteLine($"imported PyTorch checkpoint: {c.ModelType.ToString().ToLowerInvariant()}, {c.NumHiddenLayers} layers, hidden " +
            $"{c.HiddenSize}, {r.Tensors} tensors ({r.Elements:N0} values, {string.Join("/", r.DTypes)})" +
            (r.DroppedTiedDecoder ? ", tied MLM decoder stored once" : "") + $" → {dir}");
        if (!r.CopiedVocab)
            Console.Error.WriteLine($"note: no vocab.txt beside the checkpoint and no --vocab; copy the model's vocab.txt into {dir} " +
                "before tokenizing text with it.");
    }

    internal static void Report(string dir, BertGraphShape s, bool vocab)
    {
        Console.Error.WriteLine($"imported BERT: {s.Describe()} → {dir}");
        if (!vocab) Console.Error.WriteLine($"note: no --vocab given; copy the model's vocab.txt into {dir} before tokenizing text with it.");
    }
}
