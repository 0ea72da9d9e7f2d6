using System.CommandLine;
using MobileBert.Checkpoints;
using MobileBert.Export;

namespace MobileBert.Cli;

/// <summary>`mobilebert export-onnx --model DIR --out FILE.onnx [--int8] [--per-column] [--opset N]`: the model folder as an ONNX model.</summary>
public static class ExportOnnxCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string>("--model")
        {
            Description = "Model folder (config.json + model.safetensors or pytorch_model.bin).", Required = true,
        };
        var output = new Option<string>("--out") { Description = "Output .onnx file.", Required = true };
        var int8 = new Option<bool>("--int8") { Description = "Dynamically quantized int8 weights (ONNX Runtime quantize_dynamic style)." };
        var perColumn = new Option<bool>("--per-column") { Description = "With --int8: one weight scale per output column instead of per tensor." };
        var opset = new Option<int>("--opset") { Description = $"ONNX opset ({OnnxExporter.MinOpset}–{OnnxExporter.MaxOpset}).",
            DefaultValueFactory = _ => 17 };
        var cmd = new Command("export-onnx", "Export a model folder to ONNX (inputs input_ids/attention_mask/token_type_ids; outputs " +
            "last_hidden_state, pooler_output and one per head).")
            { modelDir, output, int8, perColumn, opset };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            bool q = r.GetValue(int8);
            if (r.GetValue(perColumn) && !q) throw new InputException("--per-column needs --int8.");
            var model = ModelFolder.Load(r.GetValue(modelDir)!);
            string path = r.GetValue(output)!;
            try
            {
                OnnxExporter.Export(model, path, new OnnxExportOptions { Int8 = q, Int8PerColumn = r.GetValue(perColumn),
                    Opset = r.GetValue(opset) });
            }
            catch (OnnxExportException e) { throw new InputException($"export-onnx: {e.Message}"); }
            Console.Error.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e6:F1} MB, opset {r.GetValue(opset)}, {(q ? "int8" : "fp32")}, " +
                $"heads: {model.Heads})");
            return 0;
        }));
        return cmd;
    }
}
