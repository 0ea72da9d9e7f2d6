using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MobileBert.Checkpoints;
using MobileBert.Text;

namespace MobileBert.PretrainingData;

/// <summary>Stage of a build, for progress reports.</summary>
public enum PretrainingStage { Hashing, Reading, Tokenizing, CreatingExamples, Committing, Reused, Done }

/// <summary>A progress report (always raised on the thread that called the builder).</summary>
/// <param name="Split">"train" / "heldout" while creating examples, else null.</param>
/// <param name="Round">Dupe round (0-based) while creating examples.</param>
public readonly record struct PretrainingProgress(PretrainingStage Stage, int DocumentsProcessed, int DocumentsTotal, long ExamplesWritten,
    string? Split = null, int Round = 0);

/// <summary>Tokenized documents, split into training and held-out documents.</summary>
public sealed class TokenizedCorpus
{
    public required CorpusReadResult Corpus { get; init; }
    public required IReadOnlyList<TokenizedDocument> Train { get; init; }
    public required IReadOnlyList<TokenizedDocument> HeldOut { get; init; }
}

/// <summary>Examples created in memory (same order as the shards a build writes).</summary>
public sealed class PretrainingExampleSet
{
    public required TokenizedCorpus Documents { get; init; }
    public required IReadOnlyList<PretrainingExample> Train { get; init; }
    public required IReadOnlyList<PretrainingExample> HeldOut { get; init; }
}

/// <summary>Result of <see cref="PretrainingDataBuilder.Build"/>.</summary>
public sealed class PretrainingBuildResult
{
    public required string OutputDirectory { get; init; }
    public required PretrainingManifest Manifest { get; init; }
    /// <summary>True when existing shards matched the settings and inputs and nothing was written.</summary>
    public required bool Reused { get; init; }
    public string ManifestPath => Path.Combine(OutputDirectory, PretrainingManifest.FileName);
}

/// <summary>
/// BERT-style pre-training data: corpus → documents → sentences → WordPiece → NSP pairs → masked LM examples → shards.
/// </summary>
/// <remarks>
/// Output is a pure function of (input bytes, vocabulary, <see cref="PretrainingOptions"/> except the degree of
/// parallelism): each (split, round, document) uses its own random stream, and work is merged in document order.
/// </remarks>
public static class PretrainingDataBuilder
{
    private const int Chunk = 256;
    private const ulong TrainTag = 1, HeldOutTag = 2, HeldOutChoiceTag = 3, ShuffleTag = ulong.MaxValue;

    /// <summary>Reads, tokenizes (in parallel) and splits the corpus into training and held-out documents.</summary>
    /// <exception cref="PretrainingDataException">Bad input, or a corpus too small for the split or the sequence length.</exception>
    public static TokenizedCorpus Prepare(IEnumerable<string> inputs, WordPieceTokenizer tokenizer, PretrainingOptions options,
        Action<PretrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        progress?.Invoke(new PretrainingProgress(PretrainingStage.Reading, 0, 0, 0));
        CorpusReadResult corpus = CorpusReader.Read(inputs, options.Corpus);
        return Prepare(corpus, tokenizer, options, progress);
    }

    /// <inheritdoc cref="Prepare(IEnumerable{string}, WordPieceTokenizer, PretrainingOptions, Action{PretrainingProgress}?)"/>
    public static TokenizedCorpus Prepare(CorpusReadResult corpus, WordPieceTokenizer tokenizer, PretrainingOptions options,
        Action<PretrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        options.Validate();
        int n = corpus.Documents.Count;
        var tokenized = new TokenizedDocument?[n];
        var cached = new CachedWordPiece(tokenizer);
        ForEachChunked(n, options, i => tokenized[i] = TokenizedDocument.Create(i, corpus.Documents[i].Sentences, cached),
            done => progress?.Invoke(new PretrainingProgress(PretrainingStage.Tokenizing, done, n, 0)));
        TokenizedDocument[] docs = tokenized.Where(d => d is not null).ToArray()!;
        string source = DescribeSource(corpus);

        int heldOut = options.HeldOutDocuments ?? (options.HeldOutFraction > 0 ? Math.Max(1, (int)Math.Round(docs.Length * options.HeldOutFraction))
            : 0);
        if (heldOut > 0 && (heldOut < 2 || docs.Length - heldOut < 2))
            throw new PretrainingDataException(
                $"The corpus ({source}) has {docs.Length} documents: too few to hold out {heldOut} and train on the rest " +
                "(each split needs at least 2 documents, for random next segments). Add text or lower the held-out split.");
        if (docs.Length < 2)
            throw new PretrainingDataException($"The corpus ({source}) has {docs.Length} document(s); at least 2 are needed (random next segments " +
                $"come from another document).");

        var isHeldOut = new bool[docs.Length];
        if (heldOut > 0)
        {
            int[] order = Enumerable.Range(0, docs.Length).ToArray();
            DeterministicRandom.Derive((ulong)options.Seed, HeldOutChoiceTag).Shuffle(order.AsSpan());
            foreach (int i in order.AsSpan(0, heldOut)) isHeldOut[i] = true;
        }

        TokenizedDocument[] train = docs.Where((_, i) => !isHeldOut[i]).ToArray();
        TokenizedDocument[] held = docs.Where((_, i) => isHeldOut[i]).ToArray();
        long trainTokens = train.Sum(d => (long)d.Tokens.Length);
        if (trainTokens < options.MaxSeqLength - 3)
            throw new PretrainingDataException(
                $"The corpus ({source}) has only {trainTokens} training tokens, fewer than one sequence of {options.MaxSeqLength} " +
                "(max sequence length): add text or lower MaxSeqLength.");
        return new TokenizedCorpus { Corpus = corpus, Train = train, HeldOut = held };
    }

    private static string DescribeSource(CorpusReadResult corpus) =>
        corpus.Files.Count == 1 ? $"'{corpus.Files[0].Path}'" : $"{corpus.Files.Count} files";

    /// <summary>Creates all examples in memory (for small corpora, tests and inspection).</summary>
    public static PretrainingExampleSet CreateExamples(IEnumerable<string> inputs, WordPieceTokenizer tokenizer, PretrainingOptions options,
        Action<PretrainingProgress>? progress = null)
    {
        TokenizedCorpus docs = Prepare(inputs, tokenizer, options, progress);
        return CreateExamples(docs, tokenizer, options, progress);
    }

    /// <inheritdoc cref="CreateExamples(IEnumerable{string}, WordPieceTokenizer, PretrainingOptions, Action{PretrainingProgress}?)"/>
    public static PretrainingExampleSet CreateExamples(TokenizedCorpus docs, WordPieceTokenizer tokenizer, PretrainingOptions options,
        Action<PretrainingProgress>? progress = null)
    {
        var factory = new ExampleFactory(tokenizer, options);
        var train = GenerateRounds(docs.Train, TrainTag, factory, options, progress, PretrainingManifest.TrainSplit).SelectMany(r => r).ToList();
        var held = docs.HeldOut.Count == 0 ? [] : GenerateRounds(docs.HeldOut, HeldOutTag, factory, options, progress,
            PretrainingManifest.HeldOutSplit).SelectMany(r => r).ToList();
        return new PretrainingExampleSet { Documents = docs, Train = train, HeldOut = held };
    }

    /// <summary>One list of (shuffled) examples per dupe round.</summary>
    private static IEnumerable<List<PretrainingExample>> GenerateRounds(IReadOnlyList<TokenizedDocument> docs, ulong tag, ExampleFactory factory,
        PretrainingOptions options, Action<PretrainingProgress>? progress, string split, Func<long>? written = null)
    {
        ulong seed = (ulong)options.Seed;
        for (int round = 0; round < options.DupeFactor; round++)
        {
            var perDoc = new List<PretrainingExample>[docs.Count];
            int r = round;
            ForEachChunked(docs.Count, options,
                d => perDoc[d] = factory.FromDocument(docs, d, DeterministicRandom.Derive(seed, tag, (ulong)r, (ulong)d)),
                done => progress?.Invoke(new PretrainingProgress(PretrainingStage.CreatingExamples, done, docs.Count, written?.Invoke() ?? 0, split,
                r)));
            var examples = new List<PretrainingExample>(perDoc.Sum(l => l.Count));
            foreach (var l in perDoc) examples.AddRange(l);
            DeterministicRandom.Derive(seed, tag, (ulong)round, ShuffleTag).Shuffle(
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(examples));
            yield return examples;
        }
    }

    /// <summary>Runs <paramref name="body"/> for 0..n−1 in parallel chunks, reporting after each chunk on this thread.</summary>
    private static void ForEachChunked(int n, PretrainingOptions options, Action<int> body, Action<int> afterChunk)
    {
        var po = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount };
        int chunk = Math.Max(Chunk, n / 20);
        for (int start = 0; start < n; start += chunk)
        {
            int end = Math.Min(n, start + chunk);
            try
            {
                if (po.MaxDegreeOfParallelism == 1)
                    for (int i = start; i < end; i++) body(i);
                else
                    Parallel.For(start, end, po, body);
            }
            catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            }
            afterChunk(end);
        }
    }

    /// <summary>SHA-256 identifying the vocabulary (tokens in id order) and the casing.</summary>
    public static string VocabHash(WordPieceTokenizer tokenizer)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData(Encoding.UTF8.GetBytes(tokenizer.LowerCase ? "uncased\n" : "cased\n"));
        for (int id = 0; id < tokenizer.VocabSize; id++) h.AppendData(Encoding.UTF8.GetBytes(tokenizer.IdToToken(id) + "\n"));
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    private static (string InputsHash, List<CorpusFile> Files) HashInputs(IReadOnlyList<string> files, bool skipBad)
    {
        using var all = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var list = new List<CorpusFile>();
        foreach (string f in files)
        {
            string entry;
            try
            {
                using var fs = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                string sha = Convert.ToHexStringLower(SHA256.HashData(fs));
                list.Add(new CorpusFile(f, fs.Length, sha));
                entry = $"{Path.GetFileName(f)}\t{fs.Length}\t{sha}\n";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (!skipBad) throw new PretrainingDataException($"Cannot read corpus file '{f}': {ex.Message}", f, inner: ex);
                entry = $"{Path.GetFileName(f)}\tunreadable\n";
            }
            all.AppendData(Encoding.UTF8.GetBytes(entry));
        }
        return (Convert.ToHexStringLower(all.GetHashAndReset()), list);
    }

    /// <summary>
    /// Builds shards (or reuses them when <paramref name="outputDirectory"/> holds a manifest with the same settings,
    /// seed, vocabulary and input bytes).
    /// </summary>
    /// <param name="inputs">Files and/or folders (see <see cref="CorpusReader"/>).</param>
    /// <param name="tokenizer">WordPiece tokenizer (its vocabulary is hashed into the reuse key).</param>
    /// <param name="outputDirectory">Created if missing. Receives <c>train-NNNNN.mbpt</c>, <c>heldout-NNNNN.mbpt</c>, <c>manifest.json</c>.</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Optional progress callback (raised on the calling thread).</param>
    /// <exception cref="PretrainingDataException">Bad input (see <see cref="CorpusReadOptions.SkipBadFiles"/>) or too small a corpus.</exception>
    /// <remarks>
    /// Atomic: shards are written to temp files and renamed only when all are complete, then the manifest is written
    /// (temp + rename). On any failure the temp files are deleted and an existing build is left untouched.
    /// </remarks>
    public static PretrainingBuildResult Build(IEnumerable<string> inputs, WordPieceTokenizer tokenizer, string outputDirectory,
        PretrainingOptions options, Action<PretrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options.Validate();
        var clock = Stopwatch.StartNew();
        string outDir = Path.GetFullPath(outputDirectory);
        string manifestPath = Path.Combine(outDir, PretrainingManifest.FileName);
        StaleTemp.Clean(outDir);   // shard and manifest temp files of a killed build

        IReadOnlyList<string> files = CorpusReader.EnumerateFiles(inputs);
        progress?.Invoke(new PretrainingProgress(PretrainingStage.Hashing, 0, 0, 0));
        (string inputsHash, _) = HashInputs(files, options.Corpus.SkipBadFiles);
        string vocabHash = VocabHash(tokenizer);
        JsonObject settings = options.ToJson();
        string reuseKey = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{PretrainingManifest.Format}/{PretrainingManifest.FormatVersion}\n{settings.ToJsonString()}\n{inputsHash}\n{vocabHash}")));

        PretrainingManifest? old = TryLoad(manifestPath);
        if (old is not null && old.ReuseKey == reuseKey && ShardsPresent(outDir, old))
        {
            progress?.Invoke(new PretrainingProgress(PretrainingStage.Reused, 0, 0, old.Splits.Values.Sum(s => (long)s.Examples)));
            return new PretrainingBuildResult { OutputDirectory = outDir, Manifest = old, Reused = true };
        }

        progress?.Invoke(new PretrainingProgress(PretrainingStage.Reading, 0, files.Count, 0));
        CorpusReadResult corpus = CorpusReader.Read(files, options.Corpus);
        TokenizedCorpus docs = Prepare(corpus, tokenizer, options, progress);
        var factory = new ExampleFactory(tokenizer, options);

        Directory.CreateDirectory(outDir);
        var pending = new List<(string Temp, string Final)>();
        ShardWriter? writer = null;
        try
        {
            var splits = new Dictionary<string, SplitInfo>();
            long written = 0;
            foreach ((string split, ulong tag, IReadOnlyList<TokenizedDocument> splitDocs) in new[]
                     { (PretrainingManifest.TrainSplit, TrainTag, docs.Train), (PretrainingManifest.HeldOutSplit, HeldOutTag, docs.HeldOut) })
            {
                if (splitDocs.Count == 0) continue;
                var shards = new List<ShardInfo>();
                int examples = 0, randomNext = 0, shortTargets = 0;
                long tokens = 0, masked = 0;

                void Finish()
                {
                    if (writer is null) return;
                    writer.Complete();
                    string final = Path.Combine(outDir, $"{split}-{shards.Count:D5}{ShardFormat.Extension}");
                    string sha;
                    using (var fs = File.OpenRead(writer.TempPath)) sha = Convert.ToHexStringLower(SHA256.HashData(fs));
                    shards.Add(new ShardInfo(Path.GetFileName(final), writer.Count, writer.Bytes, sha));
                    pending.Add((writer.TempPath, final));
                    writer.Dispose();
                    writer = null;
                }

                foreach (List<PretrainingExample> round in GenerateRounds(splitDocs, tag, factory, options, progress, split, () => written))
                {
                    foreach (PretrainingExample e in round)
                    {
                        writer ??= new ShardWriter(
                            Path.Combine(outDir, $".{split}-{shards.Count:D5}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}"),
                            tokenizer.VocabSize, options.MaxSeqLength, options.MaxPredictionsPerSeq);
                        writer.Write(e);
                        examples++; written++;
                        randomNext += e.NextSentenceLabel;
                        tokens += e.Length;
                        masked += e.MaskedPositions.Length;
                        if (e.Provenance is { } p && p.TargetLength < options.MaxSeqLength - 3) shortTargets++;
                        if (writer.Count >= options.ExamplesPerShard) Finish();
                    }
                }

                Finish();
                splits[split] = new SplitInfo(shards, new SplitStats(splitDocs.Count, examples, randomNext, tokens, masked, shortTargets));
            }

            progress?.Invoke(new PretrainingProgress(PretrainingStage.Committing, docs.Train.Count + docs.HeldOut.Count,
                docs.Train.Count + docs.HeldOut.Count, written));
            var manifest = new PretrainingManifest
            {
                ReuseKey = reuseKey,
                Seed = options.Seed,
                Settings = settings,
                InputsHash = inputsHash,
                VocabHash = vocabHash,
                VocabSize = tokenizer.VocabSize,
                PadId = tokenizer.PadId,
                MaxSeqLength = options.MaxSeqLength,
                MaxPredictionsPerSeq = options.MaxPredictionsPerSeq,
                Inputs = corpus.Files,
                SkippedFiles = corpus.SkippedFiles,
                ReplacedCharacters = corpus.Replaced,
                Splits = splits,
                BuildSeconds = clock.Elapsed.TotalSeconds,
            };

            // Commit: invalidate the old manifest first, so no manifest ever lists a mix of old and new shards.
            if (File.Exists(manifestPath)) File.Delete(manifestPath);
            foreach ((string temp, string final) in pending) File.Move(temp, final, overwrite: true);
            pending.Clear();
            AtomicFile.Write(manifestPath, fs => fs.Write(Encoding.UTF8.GetBytes(manifest.ToJsonString())));
            if (old is not null)
            {
                var keep = manifest.Splits.Values.SelectMany(s => s.Shards).Select(s => s.File).ToHashSet(StringComparer.Ordinal);
                foreach (ShardInfo s in old.Splits.Values.SelectMany(s => s.Shards))
                    if (!keep.Contains(s.File) && !s.File.Contains('/') && !s.File.Contains('\\'))
                        TryDelete(Path.Combine(outDir, s.File));
            }

            progress?.Invoke(new PretrainingProgress(PretrainingStage.Done, docs.Train.Count + docs.HeldOut.Count,
                docs.Train.Count + docs.HeldOut.Count, written));
            return new PretrainingBuildResult { OutputDirectory = outDir, Manifest = manifest, Reused = false };
        }
        catch
        {
            writer?.Dispose();
            foreach ((string temp, _) in pending) TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static PretrainingManifest? TryLoad(string path)
    {
        if (!File.Exists(path)) return null;
        try { return PretrainingManifest.Load(path); }
        catch (Exception ex) when (ex is InvalidDataException or IOException) { return null; }
    }

    private static bool ShardsPresent(string dir, PretrainingManifest m) =>
        m.Splits.Values.SelectMany(s => s.Shards).All(s =>
        {
            var fi = new FileInfo(Path.Combine(dir, s.File));
            return fi.Exists && fi.Length == s.Bytes;
        });
}
