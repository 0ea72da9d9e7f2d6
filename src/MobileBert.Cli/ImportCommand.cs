using System.CommandLine;
using MobileBert.Import;

namespace MobileBert.Cli;

/// <summary>`mobilebert import --onnx FILE.onnx [--vocab FILE] [--config FILE] --out DIR`: a BERT-architecture ONNX export as a
/// model folder.</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var onnx = new Option<string>("--onnx")
            { Description = "BERT-architecture ONNX model (e.g. a PyTorch / HF export of BertModel).", Required = true };
        var vocab = new Option<string?>("--vocab") { Description = "WordPiece vocab.txt to copy into the folder (LF or CRLF lines)." };
        var config = new Option<string?>("--config")
            { Description = "HF BertConfig config.json for fields the graph cannot show (pad_token_id, dropout); must agree with the graph." };
        var output = new Option<string>("--out") { Description = "Output model folder.", Required = true };
        var cmd = new Command("import", "Convert a BERT-architecture ONNX model into a model folder (config.json + model.safetensors + vocab.txt).")
            { onnx, vocab, config, output };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            string dir = r.GetValue(output)!;
            var shape = OnnxImporter.Import(r.GetValue(onnx)!, dir, r.GetValue(vocab), r.GetValue(config));
            Report(dir, shape, r.GetValue(vocab) is not null);
            return 0;
        }));
        return cmd;
    }

    internal static void Report(string dir, BertGraphShape s, bool vocab)
    {
        Console.Error.WriteLine($"imported BERT: {s.Describe()} → {dir}");
        if (!vocab) Console.Error.WriteLine($"note: no --vocab given; copy the model's vocab.txt into {dir} before tokenizing text with it.");
    }
}
