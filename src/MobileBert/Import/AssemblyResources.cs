using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace MobileBert.Import;

/// <summary>Reads a manifest resource embedded in a .NET assembly from its metadata and PE image, without loading or running it.</summary>
public static class AssemblyResources
{
    public static byte[] Read(string assemblyPath, string resourceName)
    {
        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata) throw new OnnxImportException($"{assemblyPath}: not a .NET assembly.");
            var md = pe.GetMetadataReader();
            var names = new List<string>();
            foreach (var handle in md.ManifestResources)
            {
                var res = md.GetManifestResource(handle);
                string name = md.GetString(res.Name);
                names.Add(name);
                if (name != resourceName) continue;
                if (!res.Implementation.IsNil) throw new OnnxImportException($"{assemblyPath}: resource '{name}' lives in another file.");
                // Embedded resources: the CLI header's resources directory holds [int32 length][bytes] at each resource's offset.
                var dir = pe.PEHeaders.CorHeader!.ResourcesDirectory;
                var section = pe.GetSectionData(dir.RelativeVirtualAddress);
                if (res.Offset < 0 || res.Offset + 4 > Math.Min(section.Length, dir.Size))
                    throw new OnnxImportException($"{assemblyPath}: resource '{name}' lies outside the resources directory.");
                var reader = section.GetReader((int)res.Offset, Math.Min(section.Length, dir.Size) - (int)res.Offset);
                int length = reader.ReadInt32();
                if (length < 0 || length > reader.RemainingBytes) throw new OnnxImportException($"{assemblyPath}: resource '{name}' is truncated.");
                return reader.ReadBytes(length);
            }
            throw new OnnxImportException($"{assemblyPath}: no embedded resource '{resourceName}' (it has: {string.Join(", ", names)}).");
        }
        catch (Exception e) when (e is BadImageFormatException or IOException or UnauthorizedAccessException)
        {
            throw new OnnxImportException($"{assemblyPath}: cannot read resources: {e.Message}");
        }
    }
}
