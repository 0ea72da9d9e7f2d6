using MobileBert.Checkpoints;
using MobileBert.FineTuning;
using MobileBert.Inference;
using MobileBert.Model;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert;

/// <summary>
/// What every predictor loads from a model folder: the model (fp32 from model.safetensors, or int8 from a folder written by
/// <c>mobilebert quantize</c>, without float copies of its int8 weights unless <see cref="PredictorOptions.KeepFloatWeights"/>),
/// its int8 weights for the engine, the tokenizer (vocab.txt) and task.json when present.
/// </summary>
internal sealed record InferenceFolder(MobileBertModel Model, QuantizedWeights? Int8, WordPieceTokenizer Tokenizer, TaskInfo? Task)
{
    public static InferenceFolder Load(string dir, PredictorOptions options)
    {
        if (!Directory.Exists(dir)) throw new CheckpointException($"{dir}: model folder does not exist.");
        TaskInfo? task = File.Exists(Path.Combine(dir, TaskInfo.FileName)) ? TaskInfo.Load(dir) : null;
        var vocab = Path.Combine(dir, ModelFolder.VocabFile);
        if (!File.Exists(vocab)) throw new FileNotFoundException($"{vocab}: missing (the model folder needs its vocab.txt).", vocab);
        MobileBertModel model; QuantizedWeights? int8 = null;
        if (QuantizedCheckpoint.IsQuantizedFolder(dir)) (model, int8, _) = QuantizedCheckpoint.Load(dir, floatWeights: options.KeepFloatWeights);
        else model = ModelFolder.Load(dir);
        model.Threads = Math.Max(1, options.Threads);
        var tokenizer = WordPieceTokenizer.FromVocabFile(vocab);
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new CheckpointException($"{vocab}: has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}.");
        return new InferenceFolder(model, int8, tokenizer, task);
    }

    /// <summary>The fast executor for this folder's model (int8 where the folder is quantized).</summary>
    public InferenceEngine NewEngine(PredictorOptions options) =>
        new(Model, new InferenceOptions { Threads = Math.Max(1, options.Threads), Quantized = Int8, Int8Kernel = options.Int8Kernel });
}
