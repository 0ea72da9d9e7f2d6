using MobileBert.Tasks.QuestionAnswering;
using MobileBert.Text;

namespace MobileBert.Tests.Tasks.QuestionAnswering;

/// <summary>Shared inputs of the QA tests: the uncased tokenizer and the bundled wordnet-qa files (data/wordnet-qa).</summary>
internal static class QaTestData
{
    private static readonly Lazy<WordPieceTokenizer> s_tokenizer = new(() => WordPieceTokenizer.FromVocabFile(TestPaths.Vocab));
    private static readonly Lazy<SquadDataset> s_devV1 = new(() => SquadReader.Read(DataPath("dev-v1.json")));
    private static readonly Lazy<SquadDataset> s_devV2 = new(() => SquadReader.Read(DataPath("dev-v2.json")));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, int, int), Lazy<QaFeatureSet>> s_features = new();

    public static WordPieceTokenizer Tokenizer => s_tokenizer.Value;

    /// <summary>Features of a bundled dev file, built once per (file, max_seq_length, doc_stride) and shared by the tests.</summary>
    public static QaFeatureSet DevFeatures(string file, int maxSeqLength, int docStride) =>
        s_features.GetOrAdd((file, maxSeqLength, docStride), k => new Lazy<QaFeatureSet>(() =>
            new QaFeaturizer(Tokenizer, new QaFeatureOptions { MaxSeqLength = k.Item2, DocStride = k.Item3 })
                .CreateFeatures((k.Item1 == "dev-v1.json" ? DevV1 : DevV2).Examples))).Value;

    public static SquadDataset DevV1 => s_devV1.Value;

    public static SquadDataset DevV2 => s_devV2.Value;

    public static string DataPath(string file) => Path.Combine(TestPaths.RepoRoot, "data", "wordnet-qa", file);

    public static SquadExample Example(string id, string context, string question, params (string Text, int Start)[] answers) =>
        new(id, "t", context, question, answers.Select(a => new SquadAnswer(a.Text, a.Start)).ToArray(), IsImpossible: answers.Length == 0);

    /// <summary>An example whose single answer is the first occurrence of <paramref name="answer"/> in the context.</summary>
    public static SquadExample ExampleAt(string id, string context, string question, string answer)
    {
        int at = context.IndexOf(answer, StringComparison.Ordinal);
        if (at < 0) throw new ArgumentException($"'{answer}' is not in the context.");
        return Example(id, context, question, (answer, at));
    }
}
