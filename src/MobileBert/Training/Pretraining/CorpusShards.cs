using System.Diagnostics;
using MobileBert.PretrainingData;
using MobileBert.Text;

namespace MobileBert.Training.Pretraining;

/// <summary>The training and held-out shards of a run, opened (dispose to unmap).</summary>
public sealed class CorpusShards : IDisposable
{
    public PretrainingDataset Train { get; }
    public PretrainingDataset HeldOut { get; }
    /// <summary>Whether existing shards were reused (same manifest) instead of built.</summary>
    public bool Reused { get; }
    public string Directory { get; }

    CorpusShards(PretrainingDataset train, PretrainingDataset heldOut, bool reused, string dir) { Train = train; HeldOut = heldOut; Reused = reused;
        Directory = dir; }

    public void Dispose() { Train.Dispose(); HeldOut.Dispose(); }

    /// <summary>The builder options for these settings and data seed.</summary>
    public static PretrainingOptions Options(CorpusRunOptions s, long seed) => new()
    {
        MaxSeqLength = s.Seq, DupeFactor = s.DupeFactor, MaxPredictionsPerSeq = s.MaxPredictions, WholeWordMasking = s.WholeWordMasking,
        Seed = seed, HeldOutFraction = s.HeldOutFraction,
        Corpus = new CorpusReadOptions { SkipBadFiles = s.SkipBadFiles, BlankLinesBetweenDocuments = s.BlankLinesBetweenDocuments },
    };

    /// <summary>Builds the shards in <paramref name="dataDir"/> (or reuses them when the manifest matches), opens both splits and
    /// checks there is a batch of training sequences and a non-empty held-out split. <paramref name="progress"/> gets
    /// throttled build progress lines and a summary line.</summary>
    public static CorpusShards Prepare(CorpusRunOptions s, long seed, string dataDir, WordPieceTokenizer tokenizer, int batch,
        Action<string>? progress = null)
    {
        PretrainingStage? last = null; var clock = Stopwatch.StartNew();
        var build = PretrainingDataBuilder.Build(s.Data, tokenizer, dataDir, Options(s, seed), p =>
        {
            if (progress is null || (p.Stage == last && clock.Elapsed.TotalSeconds < 2)) return;
            last = p.Stage; clock.Restart();
            progress($"{p.Stage} {p.DocumentsProcessed}/{p.DocumentsTotal} documents, {p.ExamplesWritten} examples");
        });
        var train = PretrainingDataset.Open(dataDir, PretrainingManifest.TrainSplit);
        PretrainingDataset? heldOut = null;
        try
        {
            heldOut = PretrainingDataset.Open(dataDir, PretrainingManifest.HeldOutSplit);
            progress?.Invoke($"{train.Count} training / {heldOut.Count} held-out sequences ({(build.Reused ? "reused" : "built")} in {dataDir})");
            if (build.Manifest.ReplacedCharacters > 0)
                progress?.Invoke($"the corpus had {build.Manifest.ReplacedCharacters} invalid UTF-8 sequence(s) or unpaired UTF-16 surrogate(s), " +
                    $"replaced with U+FFFD");
            if (train.Count < batch) throw new SettingException($"{dataDir}: only {train.Count} training sequences for a batch of {batch}; add " +
                $"text or lower Batch.", "Batch");
            if (heldOut.Count == 0) throw new ArgumentException($"{dataDir}: the held-out split is empty; raise the held-out fraction or add " +
                $"documents.");
            return new CorpusShards(train, heldOut, build.Reused, dataDir);
        }
        catch
        {
            train.Dispose(); heldOut?.Dispose();
            throw;
        }
    }
}
