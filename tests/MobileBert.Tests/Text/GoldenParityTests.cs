using System.Text.Json;
using MobileBert.Text;
using Xunit;
using Xunit.Abstractions;

namespace MobileBert.Tests.Text;

/// <summary>Every line of the HuggingFace golden file (slow BertTokenizer, bert-base-uncased) must be reproduced exactly.</summary>
public sealed class GoldenParityTests(ITestOutputHelper output)
{
    private static string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Fact]
    public void AllGoldenLinesMatchHuggingFace()
    {
        WordPieceTokenizer tok = TokenizerTestData.Uncased;
        string[] lines = File.ReadAllLines(TokenizerTestData.GoldenPath).Where(l => l.Length > 0).ToArray();
        Assert.Equal(474, lines.Length);

        int matched = 0, pairs = 0;
        var failures = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            JsonElement d = JsonDocument.Parse(lines[i]).RootElement;
            string text = d.GetProperty("text").GetString()!;
            string? pair = d.TryGetProperty("text_pair", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            string[] tokens = Strings(d.GetProperty("tokens"));
            string[] tokensPair = pair is null ? [] : Strings(d.GetProperty("tokens_pair"));
            int[] inputIds = Ints(d.GetProperty("input_ids"));
            int[] typeIds = Ints(d.GetProperty("token_type_ids"));
            pairs += pair is null ? 0 : 1;

            EncodedInput enc = tok.Encode(text, pair);
            string[] gotTokens = tok.Tokenize(text).ToArray();
            string[] gotPair = pair is null ? [] : tok.Tokenize(pair).ToArray();
            string[] encTokensFirst = enc.Tokens.Where((_, k) => enc.SequenceIds[k] == 0).ToArray();
            string[] encTokensPair = enc.Tokens.Where((_, k) => enc.SequenceIds[k] == 1).ToArray();

            bool ok = gotTokens.SequenceEqual(tokens) && gotPair.SequenceEqual(tokensPair)
                && encTokensFirst.SequenceEqual(tokens) && encTokensPair.SequenceEqual(tokensPair)
                && enc.InputIds.SequenceEqual(inputIds) && enc.TokenTypeIds.SequenceEqual(typeIds)
                && enc.AttentionMask.All(m => m == 1) && enc.AttentionMask.Length == inputIds.Length;
            if (ok)
            {
                matched++;
            }
            else
            {
                failures.Add($"line {i + 1}: {text}\n  expected {string.Join(' ', tokens)} | {string.Join(' ', tokensPair)}\n  got     " +
                    $" {string.Join(' ', gotTokens)} | {string.Join(' ', gotPair)}");
            }
        }

        output.WriteLine($"golden parity: {matched}/{lines.Length} lines match ({pairs} pairs)");
        Assert.True(failures.Count == 0, $"{matched}/{lines.Length} match.\n" + string.Join("\n", failures.Take(20)));
        Assert.True(pairs > 0);
    }

    [Fact]
    public void GoldenOffsetsRoundTrip()
    {
        WordPieceTokenizer tok = TokenizerTestData.Uncased;
        int checkedTokens = 0;
        foreach (string line in File.ReadLines(TokenizerTestData.GoldenPath).Where(l => l.Length > 0))
        {
            JsonElement d = JsonDocument.Parse(line).RootElement;
            string text = d.GetProperty("text").GetString()!;
            string? pair = d.TryGetProperty("text_pair", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            EncodedInput enc = tok.Encode(text, pair);
            checkedTokens += OffsetAssert.RoundTrips(enc, text, pair);
        }

        Assert.True(checkedTokens > 5000, $"only {checkedTokens} tokens checked");
    }
}
