using System.CommandLine;
using MobileBert.Text;

namespace MobileBert.Cli;

/// <summary>`mobilebert tokenize --vocab FILE [--max-length N]`: JSONL on stdin → JSONL tokens, ids, types, offsets on stdout.</summary>
public static class TokenizeCli
{
    public static Command Create()
    {
        var vocab = new Option<string>("--vocab") { Description = "WordPiece vocabulary (vocab.txt, one token a line).", Required = true };
        var maxLength = new Option<int>("--max-length") { Description = "Maximum tokens including [CLS]/[SEP] (longest-first truncation).",
            DefaultValueFactory = _ => 512 };
        var cmd = new Command("tokenize", "Tokenize JSONL lines {\"text\":…,\"text_pair\":…} from stdin with BERT uncased WordPiece.") {
            vocab, maxLength };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false)) { AutoFlush = false };
            using var stdin = Console.OpenStandardInput();
            int rc = TokenizeCommand.Run(stdin, stdout, Console.Error, r.GetValue(vocab)!, r.GetValue(maxLength));
            stdout.Flush();
            return rc;
        }));
        return cmd;
    }
}
