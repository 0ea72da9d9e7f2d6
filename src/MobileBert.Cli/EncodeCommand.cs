using System.CommandLine;
using System.Text.Json;
using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Text;

namespace MobileBert.Cli;

/// <summary>
/// `mobilebert encode --model DIR --input FILE.jsonl --output OUT.safetensors [--hidden-states] [--attentions] [--threads N]`.
/// Input lines are either token ids {"input_ids","attention_mask","token_type_ids"} (all the same length) or text
/// {"text","text_pair"} tokenized with DIR/vocab.txt and padded to the longest.
/// </summary>
public static class EncodeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "Model folder (config.json + model.safetensors or pytorch_model.bin [+ vocab.txt]).", Required = true,
        };
        var input = new Option<string>("--input") { Description = "JSONL input file.", Required = true };
        var output = new Option<string>("--output") { Description = "Output .safetensors file.", Required = true };
        var hidden = new Option<bool>("--hidden-states") { Description = "Also write hidden_states [L+1,B,S,H]." };
        var attn = new Option<bool>("--attentions") { Description = "Also write attentions [L,B,heads,S,S]." };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores).",
            DefaultValueFactory = _ => Environment.ProcessorCount };
        var maxLength = new Option<int>("--max-length") { Description = "Text inputs: maximum tokens (default: the model's max_position_embeddings).",
            DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass (outputs are concatenated).",
            DefaultValueFactory = _ => 32 };
        var cmd = new Command("encode", "Run the model on a JSONL file and write its outputs as float32 safetensors.") {
            model, input, output, hidden, attn, threads, maxLength, batchSize };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var result = Run(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(output)!, r.GetValue(hidden), r.GetValue(attn), r.GetValue(threads),
                r.GetValue(maxLength), r.GetValue(batchSize));
            Console.Error.WriteLine($"encoded {result.Batch} sequences × {result.Seq} tokens → {r.GetValue(output)} " +
                $"({string.Join(", ", result.Tensors)})");
            return 0;
        }));
        return cmd;
    }

    public sealed record Result(int Batch, int Seq, IReadOnlyList<string> Tensors);

    public static Result Run(string modelDir, string inputPath, string outputPath, bool hiddenStates, bool attentions, int threads, int maxLength = 0,
        int batchSize = 32)
        => Run(modelDir, inputPath, outputPath, hiddenStates, attentions, threads, maxLength, batchSize, Console.Error);

    /// <summary>Encodes every input line; outputs stream to a temporary file renamed into place at the end (memory stays
    /// flat in the number of lines; a failure leaves no output file). Replacement characters are reported on <paramref name="log"/>.</summary>
    public static Result Run(string modelDir, string inputPath, string outputPath, bool hiddenStates, bool attentions, int threads, int maxLength,
        int batchSize,
        TextWriter log)
    {
        if (batchSize <= 0) throw new InputException($"--batch-size must be positive, got {batchSize}.");
        if (maxLength < 0 || maxLength == 1) throw new InputException($"--max-length must be at least 2 ([CLS] and [SEP]), or 0 for the model's " +
            $"maximum; got {maxLength}.");
        var model = ModelFolder.Load(modelDir);
        model.Threads = threads > 0 ? threads : Environment.ProcessorCount;
        var c = model.Config;
        if (maxLength > c.MaxPositionEmbeddings)
            throw new InputException($"--max-length {maxLength} exceeds the model's max_position_embeddings = {c.MaxPositionEmbeddings}.");
        var sanitizer = new TextSanitizer();
        var all = EncodeInput.Scan(inputPath, modelDir, c, maxLength > 0 ? maxLength : c.MaxPositionEmbeddings, sanitizer);
        sanitizer.Report(log, inputPath);
        int b = all.Count, s = all.Seq, h = c.HiddenSize, L = c.NumHiddenLayers, heads = c.NumAttentionHeads;
        var shapes = new List<(string Name, int[] Shape)> { ("last_hidden_state", [b, s, h]) };
        if (model.HasPooler) shapes.Add(("pooler_output", [b, h]));
        if (model.Mlm is not null) shapes.Add(("mlm_logits", [b, s, c.VocabSize]));
        if (model.Nsp is not null) shapes.Add(("nsp_logits", [b, 2]));
        if (model.Classifier is not null) shapes.Add(("seqcls_logits", [b, c.NumLabels]));
        if (model.Qa is not null) { shapes.Add(("qa_start_logits", [b, s])); shapes.Add(("qa_end_logits", [b, s])); }
        if (hiddenStates) shapes.Add(("hidden_states", [L + 1, b, s, h]));
        if (attentions) shapes.Add(("attentions", [L, b, heads, s, s]));
        using var file = new SafeTensorsStreamWriter(outputPath, shapes);
        var written = shapes.ToDictionary(x => x.Name, _ => false);
        int firstLine = 0;
        void Put(string name, float[]? chunk, long offset)
        {
            if (chunk is null) return;
            for (int i = 0; i < chunk.Length; i++)
                if (!float.IsFinite(chunk[i])) throw new InputException($"{inputPath}: the model's '{name}' is {chunk[i]} for the batch from " +
                    $"line {firstLine}; nothing was written.");
            file.Write(name, offset, chunk);
            written[name] = true;
        }
        // The fast executor computes the backbone, pooler and classifier exactly as model.Forward does (padded rows included);
        // per-layer outputs and the MLM/NSP/QA heads need the reference path.
        using var engine = hiddenStates || attentions || model.Mlm is not null || model.Nsp is not null || model.Qa is not null
            ? null : new MobileBert.Inference.InferenceEngine(model, new MobileBert.Inference.InferenceOptions { Threads = model.Threads });
        int start = 0;
        foreach (var (input, line) in all.Batches(batchSize))
        {
            firstLine = line;
            var o = engine is null ? model.Forward(input, new ForwardOptions { OutputHiddenStates = hiddenStates, OutputAttentions = attentions })
                : EngineOutput(engine.Run(input), model);
            Put("last_hidden_state", o.LastHiddenState, (long)start * s * h);
            Put("pooler_output", o.PooledOutput, (long)start * h);
            Put("mlm_logits", o.MlmLogits, (long)start * s * c.VocabSize);
            Put("nsp_logits", o.NspLogits, (long)start * 2);
            Put("seqcls_logits", o.SequenceClassificationLogits, (long)start * c.NumLabels);
            Put("qa_start_logits", o.QaStartLogits, (long)start * s);
            Put("qa_end_logits", o.QaEndLogits, (long)start * s);
            for (int l = 0; o.HiddenStates is not null && l <= L; l++)     // [L+1, B, S, H]: layer-major
                Put("hidden_states", o.HiddenStates[l], ((long)l * b + start) * s * h);
            for (int l = 0; o.Attentions is not null && l < L; l++)         // [L, B, heads, S, S]
                Put("attentions", o.Attentions[l], ((long)l * b + start) * heads * s * s);
            start += input.Batch;
        }
        if (written.FirstOrDefault(x => !x.Value) is { Key: { } never }) throw new InvalidOperationException(
            $"encode: the model produced no '{never}'.");
        file.Commit();
        string[] order = ["last_hidden_state", "pooler_output", "mlm_logits", "nsp_logits", "seqcls_logits", "qa_start_logits", "qa_end_logits",
            "hidden_states", "attentions"];
        return new Result(b, s, order.Where(written.ContainsKey).ToList());
    }

    /// <summary>The engine's result as a <see cref="ModelOutput"/> (copies: the engine reuses its buffers).</summary>
    static ModelOutput EngineOutput(MobileBert.Inference.InferenceResult r, MobileBertModel model) => new()
    {
        LastHiddenState = r.LastHiddenState.ToArray(),
        PooledOutput = r.HasPooler ? r.PooledOutput.ToArray() : null,
        SequenceClassificationLogits = model.Classifier is null ? null : r.Logits.ToArray(),
    };
}
