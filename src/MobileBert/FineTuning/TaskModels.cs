using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Text;
using MobileBert.Tasks;

namespace MobileBert.FineTuning;

/// <summary>Builds the model of a task: a pre-trained backbone (+ pooler) with the task head, or a random initialisation.</summary>
public static class TaskModels
{
    public static ModelHeads HeadsFor(TaskInfo task) => task.Kind == TaskInfoKind.QuestionAnswering ? ModelHeads.QuestionAnswering
        : ModelHeads.SequenceClassification;

    /// <summary>The config with the task's label map (config.json id2label / problem_type).</summary>
    public static MobileBertConfig WithTask(MobileBertConfig config, TaskInfo task)
    {
        var c = config.Clone();
        c.Labels = task.Kind switch
        {
            TaskInfoKind.Classification => [.. task.Labels],
            TaskInfoKind.Regression => ["LABEL_0"],
            _ => c.Labels,
        };
        c.ProblemType = task.ProblemType;
        return c;
    }

    /// <summary>
    /// A model for fine-tuning <paramref name="task"/>: every backbone tensor (and the pooler when the folder has one) is
    /// copied from <paramref name="modelDir"/>; the task head is newly initialised (seeded, HF's init) unless the folder
    /// already has that head with the same labels. Null <paramref name="modelDir"/>: everything random (<paramref name="config"/>).
    /// </summary>
    public static MobileBertModel ForFineTuning(string? modelDir, MobileBertConfig? config, TaskInfo task, int seed)
    {
        var heads = HeadsFor(task);
        if (modelDir is null)
        {
            var model0 = new MobileBertModel(WithTask(config ?? throw new ArgumentNullException(nameof(config)), task), heads);
            model0.InitializeWeights(seed);
            return model0;
        }
        var source = ModelFolder.Load(modelDir);
        var model = new MobileBertModel(WithTask(source.Config, task), heads);
        model.InitializeWeights(seed);
        bool sameHead = source.Heads.HasFlag(heads) && source.Config.Labels.SequenceEqual(model.Config.Labels);
        var missing = new List<string>();
        foreach (var p in model.Store.Parameters)
        {
            bool backbone = p.Name.StartsWith(model.BackbonePrefix, StringComparison.Ordinal);
            bool pooler = p.Name.Contains(".pooler.", StringComparison.Ordinal);
            if (!backbone && !sameHead) continue;
            if (source.Store.TryGet(p.Name, out var q) && q.Shape.SequenceEqual(p.Shape)) source.Store.Span(q).CopyTo(model.Store.Span(p));
            else if (backbone && !pooler) missing.Add(p.Name);
        }
        if (missing.Count > 0)
            throw new CheckpointException($"{modelDir}: the backbone is missing {missing.Count} tensor(s) needed for fine-tuning: " +
                $"{string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", …" : "")}.");
        return model;
    }

    /// <summary>DIR/vocab.txt, or an error saying a model folder needs one.</summary>
    public static WordPieceTokenizer Tokenizer(string? vocabPath, string? modelDir)
    {
        string path = vocabPath ?? Path.Combine(modelDir ?? throw new SettingException("Give VocabPath (the model is randomly initialised).",
            "VocabPath"), ModelFolder.VocabFile);
        if (!File.Exists(path))
            throw new SettingException($"{path}: vocab not found (set VocabPath, or put vocab.txt in the model folder).", "VocabPath");
        return WordPieceTokenizer.FromVocabFile(path);
    }
}
