using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MobileBert.FineTuning;
using MobileBert.Tasks.Classification;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert.Cli;

/// <summary>`mobilebert predict`: JSONL predictions of a fine-tuned model, one per input line; or GLUE test-set submission files.</summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Fine-tuned model folder.", Required = true };
        var input = new Option<string>("--input") { DefaultValueFactory = _ => "-",
            Description = "Input file or - (stdin). One input per line: text; text<TAB>pair; {\"text\",\"text_pair\"}; {\"question\",\"context\"}." };
        var output = new Option<string>("--output") { DefaultValueFactory = _ => "-",
            Description = "JSONL output file or - (stdout); with --glue-test: the submission folder." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 32, Description = "Inputs per forward pass." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var kernel = CliFlags.Int8KernelOption();
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 3, Description = "Question answering: answers per question." };
        var glueTest = new Option<string?>("--glue-test") { Description = "GLUE task folder (e.g. glue_data/SST-2): write the test-set submission " +
            "file (MNLI: also MNLI-mm and AX when present) to --output." };
        var cmd = new Command("predict", "Predict with a fine-tuned model: labels + probabilities, scores, or answers with character spans (JSONL).")
        { model, input, output, batch, threads, topK, glueTest, kernel };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var options = new PredictorOptions { BatchSize = r.GetValue(batch), Threads = r.GetValue(threads), Int8Kernel = r.GetValue(kernel) };
            if (options.BatchSize < 1) throw new ArgumentException($"--batch must be positive, got {options.BatchSize}.");
            if (r.GetValue(glueTest) is { } glue)
            {
                string outDir = r.GetValue(output) is "-" ? "." : r.GetValue(output)!;
                foreach (var f in GlueTest(r.GetValue(model)!, glue, outDir, options)) Console.Error.WriteLine($"wrote {f}");
                return 0;
            }
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!;
            var sanitizer = new TextSanitizer();
            string inName = inPath == "-" ? "<stdin>" : inPath;
            if (inPath != "-" && !File.Exists(inPath)) throw new InputException($"{inPath}: input file not found.");
            using var reader = new LineReader(inPath == "-" ? Console.OpenStandardInput() : File.OpenRead(inPath), sanitizer);
            int n;
            if (outPath == "-")
            {
                using var writer = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
                n = Run(r.GetValue(model)!, reader, inName, writer, options, r.GetValue(topK), sanitizer);
                writer.Flush();
            }
            else n = MobileBert.Checkpoints.AtomicFile.WriteText(outPath, w =>
            Run(r.GetValue(model)!, reader, inName, w, options, r.GetValue(topK), sanitizer));
            sanitizer.Report(Console.Error, inName);
            Console.Error.WriteLine($"{n} predictions");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Reads inputs line by line, predicts in batches of <see cref="PredictorOptions.BatchSize"/>, writes one JSON line per input. Returns
    /// the count.</summary>
    public static int Run(string modelDir, TextReader input, string inputName, TextWriter output, PredictorOptions options, int topK = 3)
    {
        using var lines = new LineReader(input);
        return Run(modelDir, lines, inputName, output, options, topK, new TextSanitizer());
    }

    /// <summary>As above, reading lines from <paramref name="input"/> (only \n and \r\n end a line) with <paramref name="sanitizer"/>'s
    /// policy.</summary>
    public static int Run(string modelDir, LineReader input, string inputName, TextWriter output, PredictorOptions options, int topK,
        TextSanitizer sanitizer)
    {
        var info = File.Exists(Path.Combine(modelDir, TaskInfo.FileName)) ? TaskInfo.Load(modelDir) : null;
        bool qa = info?.Kind == TaskInfoKind.QuestionAnswering;
        TextClassifier? classifier = qa ? null : TextClassifier.Load(modelDir, options);
        QuestionAnswerer? answerer = qa ? QuestionAnswerer.Load(modelDir, options) : null;
        int count = 0, lineNo = 0;
        var pending = new List<(int Line, string? Id, string A, string? B)>();
        void Flush()
        {
            if (pending.Count == 0) return;
            if (answerer is not null)
            {
                var answers = answerer.Answer(pending.Select(p => (p.B!, p.A)).ToArray(), topK);
                for (int i = 0; i < pending.Count; i++)
                {
                    var list = answers[i];
                    var best = list.Count > 0 ? list[0] : null;
                    var o = new JsonObject();
                    if (pending[i].Id is { } id) o["id"] = id;
                    o["answer"] = best?.Text ?? ""; o["start"] = best?.Start ?? 0; o["end"] = best?.End ?? 0; o["score"] = best?.Score ?? 0;
                    o["probability"] = best?.Probability ?? 0;
                    o["answers"] = new JsonArray(list.Select(a => (JsonNode)new JsonObject {
                        ["text"] = a.Text, ["start"] = a.Start, ["end"] = a.End, ["score"] = a.Score, ["probability"] = a.Probability }).ToArray());
                    output.WriteLine(o.ToJsonString(TaskCli.Compact));
                }
            }
            else
            {
                var results = classifier!.Classify(pending.Select(p => (p.A, p.B)).ToArray());
                for (int i = 0; i < pending.Count; i++)
                {
                    var c = results[i];
                    var o = new JsonObject();
                    if (pending[i].Id is { } id) o["id"] = id;
                    if (c.Score is float score) o["score"] = score;
                    else
                    {
                        o["label"] = c.Label; o["probability"] = c.Probability;
                        var probs = new JsonObject();
                        foreach (var label in classifier.Labels) probs[label] = c.Categories.First(x => x.Label == label).Probability;
                        o["probabilities"] = probs;
                    }
                    output.WriteLine(o.ToJsonString(TaskCli.Compact));
                }
            }
            count += pending.Count;
            pending.Clear();
        }
        while (input.ReadLine() is { } line)
        {
            lineNo = input.LineNumber;
            if (line.Trim().Length == 0) throw new InputException($"{inputName}:{lineNo}: empty input line (every line is one input; nothing is " +
                $"skipped silently).");
            pending.Add(Parse(line.TrimStart().StartsWith('{') ? sanitizer.CleanJson(line) : sanitizer.Clean(line), lineNo, inputName, qa,
                info?.IsPair ?? false));
            if (pending.Count >= options.BatchSize) Flush();
        }
        Flush();
        return count;
    }

    static (int, string?, string, string?) Parse(string line, int lineNo, string name, bool qa, bool pairTask)
    {
        if (line.TrimStart().StartsWith('{'))
        {
            JsonObject o;
            try { o = JsonNode.Parse(line)?.AsObject() ?? throw new InputException($"{name}:{lineNo}: expected a JSON object."); }
            catch (JsonException e) { throw new InputException($"{name}:{lineNo}: invalid JSON: {JsonKinds.Problem(e)}"); }
            catch (InvalidOperationException) { throw new InputException($"{name}:{lineNo}: expected a JSON object."); }
            string? Field(string key, bool required)
            {
                var v = o[key];
                if (v is null) return required ? throw new InputException($"{name}:{lineNo}: missing field '{key}'.") : null;
                if (v is JsonValue jv && jv.TryGetValue(out string? s)) return s;
                if (key == "id" && v is JsonValue num) return num.ToJsonString();
                throw new InputException($"{name}:{lineNo}: field '{key}' must be a string.");
            }
            string? id = Field("id", false);
            if (qa) return (lineNo, id, Field("question", true)!, Field("context", true)!);
            var text = Field("text", true)!;
            if (text.Length == 0) throw new InputException($"{name}:{lineNo}: field 'text' is empty.");
            return (lineNo, id, text, Field("text_pair", false));
        }
        if (qa) throw new InputException($"{name}:{lineNo}: a question-answering model needs JSON lines {{\"question\":…,\"context\":…}}.");
        int tab = line.IndexOf('\t');
        if (pairTask)
        {
            if (tab < 0) throw new InputException($"{name}:{lineNo}: the model was trained on text pairs: give text<TAB>pair or " +
                $"{{\"text\",\"text_pair\"}}.");
            return (lineNo, null, line[..tab], line[(tab + 1)..]);
        }
        return (lineNo, null, line, null);
    }

    /// <summary>GLUE test-set submission files (index, prediction) for the model's GLUE task.</summary>
    public static IReadOnlyList<string> GlueTest(string modelDir, string glueTaskDir, string outDir, PredictorOptions options)
    {
        var info = TaskInfo.Load(modelDir);
        if (!TaskInfo.IsGlue(info.Task)) throw new ArgumentException($"--glue-test needs a model fine-tuned on a GLUE task; {modelDir} is " +
            $"'{info.Task}'.");
        var classifier = TextClassifier.Load(modelDir, options);
        var def = info.ToDefinition();
        var sets = new List<TaskDataset> { GlueReader.Load(def, glueTaskDir, GlueSplit.Test) };
        if (def == GlueTasks.Mnli)
        {
            if (File.Exists(Path.Combine(glueTaskDir, "test_mismatched.tsv"))) sets.Add(
                GlueReader.Load(GlueTasks.MnliMismatched, glueTaskDir, GlueSplit.Test));
            var ax = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(glueTaskDir))!, "AX");
            if (Directory.Exists(ax)) sets.Add(GlueReader.Load(GlueTasks.Ax, ax, GlueSplit.Test));
        }
        var written = new List<string>();
        Directory.CreateDirectory(outDir);
        foreach (var set in sets)
        {
            var results = classifier.Classify(set.Examples.Select(e => (e.Text, e.TextPair)).ToArray());
            written.Add(def.Kind == TaskKind.Regression
                ? GlueSubmission.Write(outDir, set, results.Select(r => r.Score!.Value).ToArray())
                : GlueSubmission.Write(outDir, set, results.Select(r => set.Task.LabelToId(r.Label!)).ToArray()));
        }
        return written;
    }
}
