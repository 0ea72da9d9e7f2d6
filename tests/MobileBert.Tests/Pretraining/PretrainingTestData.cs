using System.Text;
using MobileBert.PretrainingData;
using MobileBert.Tests.Text;
using MobileBert.Text;

namespace MobileBert.Tests.Pretraining;

/// <summary>Small slices of the bundled corpus (data/corpus) written to temp folders, and shared builders.</summary>
internal static class PretrainingTestData
{
    public static WordPieceTokenizer Tok => TokenizerTestData.Uncased;

    public static string Corpus(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "data", "corpus", .. parts]);

    /// <summary>The first <paramref name="maxChars"/> characters of a bundled file, cut at a line end, written into <paramref name="dir"/>.</summary>
    public static string Slice(string dir, string name, string sourceRelative, int maxChars, int skipChars = 0)
    {
        string text = File.ReadAllText(Corpus(sourceRelative.Split('/')));
        int start = skipChars == 0 ? 0 : text.IndexOf("\n\n", skipChars, StringComparison.Ordinal) + 2;
        int end = Math.Min(text.Length, start + maxChars);
        int nl = text.IndexOf('\n', end);
        string slice = text[start..(nl < 0 ? text.Length : nl + 1)];
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, slice, new UTF8Encoding(false));
        return path;
    }

    /// <summary>~120 KB of Genesis (chapters = documents: long documents, as NSP statistics need).</summary>
    public static string KjvSlice(string dir, int chars = 120_000) => Slice(dir, "kjv.txt", "kjv/kjv-genesis-deuteronomy.txt", chars);

    public static PretrainingOptions Options(int seq = 128, int dupe = 3, long seed = 7) => new()
    {
        MaxSeqLength = seq,
        DupeFactor = dupe,
        Seed = seed,
        Corpus = new CorpusReadOptions { MinSentencesPerDocument = 2 },
    };
}
