using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;

namespace MobileBert.Checkpoints;

/// <summary>One tensor of a PyTorch checkpoint, contiguous, in its stored dtype (little-endian bytes; a slice of its storage
/// when the tensor already was contiguous, so tensors sharing a storage may share these bytes).</summary>
public sealed record PyTorchTensor(string Name, TensorDType DType, int[] Shape, ReadOnlyMemory<byte> Data);

/// <summary>
/// Reads a state dict written by <c>torch.save</c> — HuggingFace's <c>pytorch_model.bin</c> — without Python: the zip format
/// (PyTorch ≥ 1.6: <c>archive/data.pkl</c> + one record per storage) and the legacy format (a sequence of pickles followed by
/// the raw storages). The pickle is interpreted, never executed (<see cref="PickleReader"/>): only tensors rebuilt by
/// <c>torch._utils._rebuild_tensor_v2</c> / <c>_rebuild_parameter</c> from typed storages are accepted. Views (any strides
/// and storage offset) are copied out contiguously; a tensor that already is contiguous is a slice of its storage, so tensors
/// sharing a storage (tied weights) share its bytes.
/// Anything else — a value that is not a tensor, a quantized or sparse tensor, a big-endian file — is a
/// <see cref="CheckpointException"/> naming the file and the entry.
/// </summary>
public static class PyTorchCheckpoint
{
    /// <summary>HuggingFace's file name for a PyTorch checkpoint.</summary>
    public const string HfFileName = "pytorch_model.bin";

    const string LegacyMagic = "1950a86a20f9469cfc6c";   // torch.serialization.MAGIC_NUMBER, hex

    sealed record Storage(TensorDType DType, string Key, long Elements);

    sealed record TensorView(Storage Storage, long Offset, int[] Shape, long[] Stride);

    /// <summary>Reads every tensor of the state dict at <paramref name="path"/>, in the file's order.</summary>
    public static IReadOnlyList<PyTorchTensor> Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file does not exist.") { FilePath = path };
        try
        {
            using var fs = File.OpenRead(path);
            Span<byte> head = stackalloc byte[4];
            int n = fs.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            fs.Position = 0;
            bool zip = n == 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;
            return zip ? ReadZip(fs, path) : ReadLegacy(fs, path);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new CheckpointException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message
                : $"{path}: not a readable PyTorch checkpoint ({e.Message})", e) { FilePath = path };
        }
    }

    static List<PyTorchTensor> ReadZip(FileStream fs, string path)
    {
        using var zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: true);
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
            ?? throw new InvalidDataException($"{path}: zip file without <archive>/data.pkl (not a torch.save checkpoint).");
        string root = pkl.FullName[..^"data.pkl".Length];
        var order = zip.GetEntry(root + "byteorder");
        if (order is not null)
        {
            using var r = new StreamReader(order.Open());
            string bo = r.ReadToEnd().Trim();
            if (bo != "little") throw new InvalidDataException($"{path}: byte order '{bo}' (only little-endian checkpoints are read).");
        }
        if (pkl.Length > fs.Length * 1100L) throw new InvalidDataException($"{path}: data.pkl claims {pkl.Length} bytes.");   // before allocating
        var pickle = new byte[pkl.Length];
        using (var s = pkl.Open()) s.ReadExactly(pickle);
        var reader = new PickleReader(new MemoryStream(pickle), path + ":data.pkl")
            { PersistentLoad = pid => ParseStorage(pid, path, legacy: false) };
        var state = reader.Load();
        var cache = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        byte[] Bytes(Storage st)
        {
            if (cache.TryGetValue(st.Key, out var b)) return b;
            var entry = zip.GetEntry(root + "data/" + st.Key)
                ?? throw new InvalidDataException($"{path}: storage record data/{st.Key} is missing.");
            long want = st.Elements * DTypeInfo.SizeOf(st.DType);
            if (entry.Length < want) throw new InvalidDataException($"{path}: storage data/{st.Key} has {entry.Length} bytes, needs {want}.");
            if (want > Array.MaxLength || want > fs.Length * 1100L)
                throw new InvalidDataException($"{path}: storage data/{st.Key} claims {want} bytes.");
            b = new byte[checked((int)want)];
            using (var es = entry.Open()) es.ReadExactly(b);
            return cache[st.Key] = b;
        }
        return Tensors(state, path, Bytes);
    }

    static List<PyTorchTensor> ReadLegacy(FileStream fs, string path)
    {
        var input = new BufferedStream(fs, 1 << 16);
        var plain = new PickleReader(input, path);
        object? magic = plain.Load();
        if (!(magic is BigInteger m && m.ToString("x").TrimStart('0') == LegacyMagic))
            throw new InvalidDataException($"{path}: not a PyTorch checkpoint (neither a zip archive nor the legacy torch.save format).");
        if (plain.Load() is not long protocol || protocol != 1001)
            throw new InvalidDataException($"{path}: unsupported legacy torch.save protocol (expected 1001).");
        if (plain.Load() is PickleDict sysInfo && sysInfo.Items.Any(kv => kv.Key as string == "little_endian" && kv.Value is false))
            throw new InvalidDataException($"{path}: big-endian checkpoint (only little-endian checkpoints are read).");
        var storages = new Dictionary<string, Storage>(StringComparer.Ordinal);
        var state = new PickleReader(input, path) { PersistentLoad = pid =>
        {
            var st = ParseStorage(pid, path, legacy: true);
            return storages.TryGetValue(st.Key, out var known) ? known : storages[st.Key] = st;
        } }.Load();
        if (plain.Load() is not List<object?> keys) throw new InvalidDataException($"{path}: storage key list missing after the state dict.");
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        Span<byte> count = stackalloc byte[8];
        foreach (var k in keys)
        {
            string key = k as string ?? throw new InvalidDataException($"{path}: storage key is not a string.");
            if (!storages.TryGetValue(key, out var st)) throw new InvalidDataException($"{path}: storage '{key}' is not used by any tensor.");
            input.ReadExactly(count);
            long elements = BinaryPrimitives.ReadInt64LittleEndian(count);
            if (elements != st.Elements)
                throw new InvalidDataException($"{path}: storage '{key}' holds {elements} elements, the pickle says {st.Elements}.");
            if (elements * DTypeInfo.SizeOf(st.DType) > input.Length - input.Position)
                throw new InvalidDataException($"{path}: file ends inside storage '{key}'.");
            var b = new byte[checked((int)(elements * DTypeInfo.SizeOf(st.DType)))];
            input.ReadExactly(b);
            data[key] = b;
        }
        return Tensors(state, path, st => data.TryGetValue(st.Key, out var b) ? b
            : throw new InvalidDataException($"{path}: storage '{st.Key}' has no data."));
    }

    /// <summary>('storage', storage type, key, location, numel[, view metadata]) → a typed storage.</summary>
    static Storage ParseStorage(object? pid, string path, bool legacy)
    {
        if (pid is not object?[] t || t.Length < 5 || t[0] as string != "storage")
            throw new InvalidDataException($"{path}: persistent id {Describe(pid)} is not a tensor storage.");
        if (legacy && t.Length > 5 && t[5] is not null)
            throw new InvalidDataException($"{path}: storage views of the pre-1.0 format are not supported; re-save the state dict with a " +
                "current torch.");
        var type = t[1] as PickleGlobal ?? throw new InvalidDataException($"{path}: storage type {Describe(t[1])} is not a class.");
        var dtype = type.Name switch
        {
            "FloatStorage" => TensorDType.F32, "HalfStorage" => TensorDType.F16, "BFloat16Storage" => TensorDType.BF16,
            "DoubleStorage" => TensorDType.F64, "LongStorage" => TensorDType.I64, "IntStorage" => TensorDType.I32,
            "ShortStorage" => TensorDType.I16, "CharStorage" => TensorDType.I8, "ByteStorage" => TensorDType.U8, "BoolStorage" => TensorDType.Bool,
            _ => throw new InvalidDataException($"{path}: unsupported storage type {type}."),
        };
        if (type.Module != "torch") throw new InvalidDataException($"{path}: unsupported storage type {type}.");
        string key = t[2] as string ?? throw new InvalidDataException($"{path}: storage key {Describe(t[2])} is not a string.");
        long elements = t[4] is long e && e >= 0 ? e : throw new InvalidDataException($"{path}: storage '{key}' has no element count.");
        return new Storage(dtype, key, elements);
    }

    static List<PyTorchTensor> Tensors(object? state, string path, Func<Storage, byte[]> bytes)
    {
        if (state is not PickleDict dict)
            throw new CheckpointException($"{path}: the checkpoint holds {Describe(state)}, not a state dict (name → tensor).") { FilePath = path };
        var result = new List<PyTorchTensor>(dict.Items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, v) in dict.Items)
        {
            string name = k as string ?? throw new CheckpointException($"{path}: state dict key {Describe(k)} is not a string.") { FilePath = path };
            if (!seen.Add(name)) throw new CheckpointException($"{path}: tensor '{name}' appears twice.") { FilePath = path, TensorName = name };
            var view = AsTensor(v, path, name);
            result.Add(new PyTorchTensor(name, view.Storage.DType, view.Shape, Contiguous(view, bytes(view.Storage))));
        }
        return result;
    }

    /// <summary>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]), possibly
    /// wrapped in _rebuild_parameter(data, requires_grad, hooks).</summary>
    static TensorView AsTensor(object? v, string path, string name)
    {
        CheckpointException Bad(string what) => new($"{path}: '{name}' {what}.") { FilePath = path, TensorName = name };
        if (v is PickleCall { Callable: { Module: "torch._utils", Name: "_rebuild_parameter" or "_rebuild_parameter_with_state" } } p)
            v = p.Args.Length > 0 ? p.Args[0] : throw Bad("is a parameter without data");
        if (v is not PickleCall { Callable: { Module: "torch._utils", Name: "_rebuild_tensor_v2" or "_rebuild_tensor" } } call)
            throw Bad(v is PickleCall c ? $"is built by {c.Callable} (only dense tensors are read)" : $"is {Describe(v)}, not a tensor");
        var a = call.Args;
        if (a.Length < 4 || a[0] is not Storage st || a[1] is not long offset || a[2] is not object?[] size || a[3] is not object?[] stride
            || size.Length != stride.Length)
            throw Bad("has malformed tensor arguments");
        var shape = size.Select(s => s is long x && x >= 0 && x <= int.MaxValue ? (int)x : throw Bad("has a bad size")).ToArray();
        var strides = stride.Select(s => s is long x && x >= 0 ? x : throw Bad("has a bad stride")).ToArray();
        long last = offset;
        for (int i = 0; i < shape.Length; i++) if (shape[i] == 0) { last = -1; break; } else last += (shape[i] - 1L) * strides[i];
        if (offset < 0 || last >= st.Elements) throw Bad($"reaches element {last} of storage '{st.Key}', which has {st.Elements}");
        // A state dict's tensor never repeats elements (broadcast or overlapping strides): more elements than its storage is a broken file.
        if (shape.Aggregate(1.0, (p, d) => p * d) > Math.Max(1, st.Elements)) throw Bad($"has more elements than its storage '{st.Key}'");
        return new TensorView(st, offset, shape, strides);
    }

    /// <summary>The view's elements in row-major order (a slice of the storage when the view is already contiguous).</summary>
    static ReadOnlyMemory<byte> Contiguous(TensorView v, byte[] storage)
    {
        int es = DTypeInfo.SizeOf(v.Storage.DType);
        long count = v.Shape.Aggregate(1L, (p, d) => p * d);
        if (count == 0) return ReadOnlyMemory<byte>.Empty;
        bool contiguous = true;
        for (long expect = 1, i = v.Shape.Length - 1; i >= 0; i--)
        {
            if (v.Shape[i] != 1 && v.Stride[i] != expect) { contiguous = false; break; }
            expect *= v.Shape[i];
        }
        if (contiguous) return storage.AsMemory((int)(v.Offset * es), (int)(count * es));
        var output = new byte[count * es];
        var index = new int[v.Shape.Length];
        for (long o = 0; o < count; o++)
        {
            long src = v.Offset;
            for (int d = 0; d < index.Length; d++) src += index[d] * v.Stride[d];
            storage.AsSpan((int)(src * es), es).CopyTo(output.AsSpan((int)(o * es), es));
            for (int d = index.Length - 1; d >= 0 && ++index[d] == v.Shape[d]; d--) index[d] = 0;
        }
        return output;
    }

    static string Describe(object? v) => v switch
    {
        null => "None",
        string s => $"the string '{s}'",
        long or double or bool => $"the value {v}",
        PickleDict => "a dict",
        PickleCall c => $"an object built by {c.Callable}",
        PickleGlobal g => $"the global {g}",
        object?[] => "a tuple",
        List<object?> => "a list",
        _ => $"a {v.GetType().Name}",
    };
}
