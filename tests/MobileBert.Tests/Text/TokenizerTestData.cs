using MobileBert.Text;
using Xunit;

namespace MobileBert.Tests.Text;

/// <summary>Locates test inputs: the vocab is read from the repository (walking up to MobileBert.slnx), the golden files from the output
/// dir.</summary>
internal static class TokenizerTestData
{
    private static readonly Lazy<WordPieceTokenizer> s_uncased = new(() => WordPieceTokenizer.FromVocabFile(VocabPath));

    public static WordPieceTokenizer Uncased => s_uncased.Value;

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MobileBert.slnx")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"Could not find MobileBert.slnx above {AppContext.BaseDirectory}.");
        }
    }

    public static string VocabPath => Path.Combine(RepoRoot, "data", "vocab", "bert-base-uncased-vocab.txt");

    public static string GoldenPath => Path.Combine(AppContext.BaseDirectory, "golden", "tokenizer", "bert-uncased-hf.jsonl");
}
