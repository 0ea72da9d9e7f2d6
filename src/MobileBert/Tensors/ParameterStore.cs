namespace MobileBert.Tensors;

/// <summary>A named view into the store's contiguous buffer. Shape uses HuggingFace's layout (Linear weight [out, in]).</summary>
public sealed class Parameter
{
    internal Parameter(string name, int[] shape, long offset, int length) { Name = name; Shape = shape; Offset = offset; Length = length; }
    public string Name { get; }
    public int[] Shape { get; }
    /// <summary>Element offset into <see cref="ParameterStore.Data"/> (and into the gradient buffer); −1 for a parameter
    /// left out of the buffer (<see cref="ParameterStore.Exclude"/>).</summary>
    public long Offset { get; internal set; }
    public int Length { get; }
    /// <summary>Biases and norm scales/shifts (1-D): excluded from weight decay and trust ratios by convention.</summary>
    public bool IsVectorLike => Shape.Length <= 1;
    public override string ToString() => $"{Name} [{string.Join(",", Shape)}]";
}

/// <summary>
/// Owns every weight of a model in ONE contiguous float buffer (and, when training, one gradient buffer of the same
/// layout), llm.c style, so clipping and optimizers are single passes. Modules register their parameters while the
/// model is built, then <see cref="Allocate"/> makes the buffer. Offsets are 16-float aligned (64 bytes) for SIMD.
/// </summary>
public sealed class ParameterStore
{
    const int Align = 16;
    readonly List<Parameter> _list = [];
    readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);
    long _next;

    public IReadOnlyList<Parameter> Parameters => _list;
    public float[] Data { get; private set; } = [];
    public float[]? Grad { get; private set; }
    public bool IsAllocated { get; private set; }
    /// <summary>Number of trainable values (padding between parameters not counted).</summary>
    public long Count => _list.Sum(p => (long)p.Length);

    public Parameter Add(string name, params int[] shape)
    {
        if (IsAllocated) throw new InvalidOperationException($"Cannot add parameter '{name}' after the store was allocated.");
        if (_byName.ContainsKey(name)) throw new InvalidOperationException($"Parameter '{name}' registered twice.");
        long len = 1;
        foreach (int d in shape) { if (d < 0) throw new ArgumentException($"Parameter '{name}' has a negative dimension."); len *= d; }
        if (len > int.MaxValue) throw new ArgumentException($"Parameter '{name}' is too large ({len} values).");
        var p = new Parameter(name, shape, _next, (int)len);
        _next += (len + Align - 1) / Align * Align;
        _list.Add(p); _byName[name] = p;
        return p;
    }

    readonly HashSet<string> _excluded = new(StringComparer.Ordinal);

    /// <summary>Leaves parameter <paramref name="name"/> out of the buffer (call before <see cref="Allocate"/>): its
    /// values live elsewhere — e.g. an int8 Linear's weights that only the inference engine reads — and
    /// <see cref="Span"/> of it throws. A store with excluded parameters cannot be trained (<see cref="AllocateGrad"/>).</summary>
    public void Exclude(string name)
    {
        if (IsAllocated) throw new InvalidOperationException($"Cannot exclude parameter '{name}' after the store was allocated.");
        if (!_byName.ContainsKey(name)) throw new KeyNotFoundException($"No parameter named '{name}'.");
        _excluded.Add(name);
    }

    /// <summary>Whether <paramref name="p"/> has its values in <see cref="Data"/> (false: excluded).</summary>
    public bool IsResident(Parameter p) => p.Offset >= 0;

    /// <summary>Whether some parameter was excluded from the buffer.</summary>
    public bool HasExcluded => _excluded.Count > 0;

    /// <summary>Throws the error <see cref="Span"/> gives, naming the first excluded parameter, if any was excluded
    /// (for operations that need every value, such as saving).</summary>
    public void RequireAllResident()
    {
        foreach (var p in _list) if (p.Offset < 0) throw NotResident(p);
    }

    public void Allocate()
    {
        if (IsAllocated) return;
        if (_excluded.Count > 0)
        {
            long next = 0;
            foreach (var p in _list)
            {
                if (_excluded.Contains(p.Name)) { p.Offset = -1; continue; }
                p.Offset = next;
                next += (p.Length + Align - 1) / Align * Align;
            }
            _next = next;
        }
        if (_next > Array.MaxLength) throw new InvalidOperationException($"Model too large for one buffer ({_next} floats).");
        Data = GC.AllocateUninitializedArray<float>((int)_next, pinned: true);
        Array.Clear(Data);
        IsAllocated = true;
    }

    /// <summary>Allocates (zeroed) the gradient buffer, same layout as <see cref="Data"/>.</summary>
    public void AllocateGrad()
    {
        if (_excluded.Count > 0)
            throw new InvalidOperationException($"This model was loaded without the float weights of {_excluded.Count} parameters (e.g. " +
                $"'{_excluded.First()}'; an int8 model for inference only): it cannot be trained. Load it with its float weights " +
                $"(QuantizedCheckpoint.Load(dir)) or train the fp32 model.");
        Allocate();
        Grad ??= GC.AllocateArray<float>(Data.Length, pinned: true);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);
    public Parameter this[string name] => _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"No parameter named '{name}'.");
    public bool TryGet(string name, out Parameter p) => _byName.TryGetValue(name, out p!);

    public Span<float> Span(Parameter p) => p.Offset >= 0 ? Data.AsSpan((int)p.Offset, p.Length) : throw NotResident(p);
    public Span<float> GradSpan(Parameter p) => p.Offset >= 0 ? (Grad ?? throw new InvalidOperationException("Gradients are not allocated.")).AsSpan(
        (int)p.Offset, p.Length) : throw NotResident(p);

    static InvalidOperationException NotResident(Parameter p) =>
        new($"Parameter '{p.Name}' has no float values in this model: it was loaded without them (an int8 model for the inference engine only). " +
        $"Load the model with its float weights (QuantizedCheckpoint.Load(dir), or PredictorOptions.KeepFloatWeights) to run model.Forward, save " +
        $"or train it.");
}
