using System.Text;
using System.Text.Json.Nodes;

namespace MobileBert.FineTuning;

/// <summary>A task's training sentences as unlabelled transfer text (knowledge transfer reads plain-text corpora): one
/// sentence per line, documents of <see cref="SentencesPerDocument"/> consecutive sentences separated by a blank line. Only
/// the training split is ever written — never dev or test.</summary>
public static class TransferText
{
    public const int SentencesPerDocument = 8;

    /// <summary>Writes the "text" field of every row of <paramref name="trainJsonl"/> to <paramref name="outPath"/> (atomically);
    /// returns the number of sentences.</summary>
    public static int Write(string trainJsonl, string outPath)
    {
        var sb = new StringBuilder();
        int n = 0, line = 0;
        foreach (var raw in File.ReadLines(trainJsonl))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            string? text = JsonNode.Parse(raw)?["text"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(text)) throw new FormatException($"{trainJsonl}:{line}: no \"text\" field.");
            sb.Append(text.ReplaceLineEndings(" ").Trim()).Append('\n');
            if (++n % SentencesPerDocument == 0) sb.Append('\n');
        }
        Checkpoints.AtomicFile.WriteText(outPath, w => { w.Write(sb.ToString()); return 0; });
        return n;
    }
}
