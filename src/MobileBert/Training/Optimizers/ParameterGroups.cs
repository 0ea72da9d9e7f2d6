using System.Globalization;
using System.Text.RegularExpressions;
using MobileBert.Tensors;

namespace MobileBert.Training.Optimizers;

/// <summary>How the optimizer treats one parameter.</summary>
/// <param name="LrMultiplier">The parameter's learning rate is the step's learning rate times this (weight decay uses the
/// scaled rate too, like a torch parameter group with its own lr).</param>
/// <param name="Frozen">No update, no weight decay; its moments and its step counter are left untouched (torch: a
/// parameter whose grad is None).</param>
/// <param name="WeightDecay">Whether decoupled weight decay applies to it.</param>
/// <param name="TrustRatio">LAMB only: whether its update is scaled by the layer-wise trust ratio (otherwise ratio 1).</param>
public readonly record struct ParameterSettings(double LrMultiplier, bool Frozen, bool WeightDecay, bool TrustRatio)
{
    public static ParameterSettings Default => new(1.0, false, true, true);
}

/// <summary>
/// Selects parameters by name: predicates, regular expressions, explicit name lists, encoder-layer ranges. Explicit names
/// are checked against the store when used (a typo is an error, not a silent no-op).
/// </summary>
public sealed class ParameterSelector
{
    static readonly Regex LayerIndex = new(@"(?:^|\.)encoder\.layer\.(\d+)\.", RegexOptions.CultureInvariant | RegexOptions.Compiled);
    static readonly Regex BertNoDecayNames = new("LayerNorm|layer_norm|bias", RegexOptions.CultureInvariant | RegexOptions.Compiled);

    readonly Func<Parameter, bool> _match;
    readonly string _description;

    ParameterSelector(Func<Parameter, bool> match, string description, IReadOnlyCollection<string>? explicitNames = null)
    {
        _match = match; _description = description; ExplicitNames = explicitNames;
    }

    /// <summary>Names that must exist in the store (set by <see cref="Names"/>).</summary>
    public IReadOnlyCollection<string>? ExplicitNames { get; }
    public bool Matches(Parameter p) => _match(p);
    public override string ToString() => _description;

    public static ParameterSelector All { get; } = new(_ => true, "all");
    public static ParameterSelector None { get; } = new(_ => false, "none");
    public static ParameterSelector Where(Func<Parameter, bool> predicate, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new(predicate, description ?? "predicate");
    }
    /// <summary>Parameters whose name matches <paramref name="pattern"/> anywhere (Regex.IsMatch, like TF's re.search).</summary>
    public static ParameterSelector Regex(string pattern) => Regex(new Regex(pattern, RegexOptions.CultureInvariant));
    public static ParameterSelector Regex(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return new(p => pattern.IsMatch(p.Name), $"regex /{pattern}/");
    }
    public static ParameterSelector Prefix(string prefix) => new(p => p.Name.StartsWith(prefix, StringComparison.Ordinal), $"prefix '{prefix}'");
    /// <summary>Exactly these parameters; unknown names throw when the selector is applied to a store.</summary>
    public static ParameterSelector Names(params IEnumerable<string> names)
    {
        var set = new HashSet<string>(names, StringComparer.Ordinal);
        return new(p => set.Contains(p.Name), $"{set.Count} named parameters", set);
    }
    /// <summary>Biases and normalization parameters (LayerNorm and NoNorm weight/bias, every bias): 1-D parameters, or
    /// names matching the reference's exclusion list (LayerNorm | layer_norm | bias; TF's FakeLayerNorm contains
    /// "LayerNorm").</summary>
    public static ParameterSelector BiasesAndNorms { get; } = new(p => p.IsVectorLike || BertNoDecayNames.IsMatch(p.Name), "biases and norms");

    /// <summary>Encoder layer index parsed from "…encoder.layer.{l}.…", or -1 for parameters outside the encoder layers.</summary>
    public static int EncoderLayerOf(Parameter p)
    {
        var m = LayerIndex.Match(p.Name);
        return m.Success ? int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : -1;
    }
    /// <summary>Parameters of encoder layers first ≤ l &lt; endExclusive.</summary>
    public static ParameterSelector EncoderLayers(int first, int endExclusive) =>
        new(p => EncoderLayerOf(p) is var l && l >= first && l < endExclusive, $"encoder layers [{first}, {endExclusive})");
    public static ParameterSelector EncoderLayer(int layer) => EncoderLayers(layer, layer + 1);
    /// <summary>Encoder layers 0 … layer−1.</summary>
    public static ParameterSelector EncoderLayersBelow(int layer) => EncoderLayers(0, layer);
    /// <summary>Encoder layers layer+1 … (all later layers).</summary>
    public static ParameterSelector EncoderLayersAbove(int layer) => EncoderLayers(layer + 1, int.MaxValue);
    /// <summary>Everything outside the encoder layers: embeddings, pooler, heads.</summary>
    public static ParameterSelector OutsideEncoderLayers { get; } = new(p => EncoderLayerOf(p) < 0, "outside encoder layers");

    public ParameterSelector Not() => new(p => !_match(p), $"not ({_description})");
    public ParameterSelector Or(ParameterSelector other) => new(p => _match(p) || other._match(p), $"({_description}) or ({other})",
        Union(ExplicitNames, other.ExplicitNames));
    public ParameterSelector And(ParameterSelector other) => new(p => _match(p) && other._match(p), $"({_description}) and ({other})");

    static IReadOnlyCollection<string>? Union(IReadOnlyCollection<string>? a, IReadOnlyCollection<string>? b) =>
        a is null ? b : b is null ? a : [.. a.Union(b)];

    public static implicit operator ParameterSelector(Func<Parameter, bool> predicate) => Where(predicate);
    public static implicit operator ParameterSelector(Regex pattern) => Regex(pattern);
}

/// <summary>
/// Per-parameter optimizer settings (learning-rate multiplier, frozen, weight decay, trust ratio), indexed like the
/// store's parameter list. Rules apply in call order, later calls override earlier ones, and every method returns
/// <c>this</c> so a training stage reads as one chain:
/// <code>opt.Groups.ResetLrAndFreezing().Freeze(ParameterSelector.All).SetLrMultiplier(ParameterSelector.EncoderLayer(l), 3)</code>
/// (setting a multiplier also unfreezes). See <see cref="ConfigureEncoderStage"/> for the knowledge-transfer pattern.
/// </summary>
public sealed class ParameterGroups
{
    readonly ParameterSettings[] _settings;
    readonly Dictionary<Parameter, int> _index;

    public ParameterGroups(ParameterStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Store = store;
        _settings = new ParameterSettings[store.Parameters.Count];
        Array.Fill(_settings, ParameterSettings.Default);
        _index = new Dictionary<Parameter, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < store.Parameters.Count; i++) _index[store.Parameters[i]] = i;
    }

    public ParameterStore Store { get; }
    public int Count => _settings.Length;
    public ParameterSettings this[int index] { get => _settings[index]; set => _settings[index] = Validate(value); }
    public ParameterSettings this[Parameter p] { get => _settings[IndexOf(p)]; set => _settings[IndexOf(p)] = Validate(value); }
    public ParameterSettings this[string name] { get => this[Store[name]]; set => this[Store[name]] = value; }
    public int IndexOf(Parameter p) => _index.TryGetValue(p, out int i) ? i
        : throw new ArgumentException($"Parameter '{p.Name}' does not belong to this store.");

    /// <summary>Applies <paramref name="change"/> to every selected parameter; returns how many were selected.</summary>
    public int Apply(ParameterSelector selector, Func<ParameterSettings, ParameterSettings> change)
    {
        ArgumentNullException.ThrowIfNull(selector); ArgumentNullException.ThrowIfNull(change);
        if (selector.ExplicitNames is { } names)
        {
            var unknown = names.Where(n => !Store.Contains(n)).ToList();
            if (unknown.Count > 0) throw new ArgumentException($"No parameter " +
                $"named {string.Join(", ", unknown.Take(10).Select(n => $"'{n}'"))}{(unknown.Count > 10 ? ", …" : "")} in the store.");
        }
        int n = 0;
        for (int i = 0; i < _settings.Length; i++)
            if (selector.Matches(Store.Parameters[i])) { _settings[i] = Validate(change(_settings[i])); n++; }
        return n;
    }

    /// <summary>Sets the learning-rate multiplier of the selected parameters and unfreezes them.</summary>
    public ParameterGroups SetLrMultiplier(ParameterSelector selector, double multiplier)
    {
        if (!double.IsFinite(multiplier) || multiplier < 0) throw new ArgumentOutOfRangeException(
            nameof(multiplier), multiplier, "Learning-rate multipliers must be finite and ≥ 0.");
        Apply(selector, s => s with { LrMultiplier = multiplier, Frozen = false });
        return this;
    }
    public ParameterGroups Freeze(ParameterSelector selector) { Apply(selector, s => s with { Frozen = true }); return this; }
    public ParameterGroups Unfreeze(ParameterSelector selector) { Apply(selector, s => s with { Frozen = false }); return this; }
    public ParameterGroups SetWeightDecay(ParameterSelector selector, bool decay) { Apply(selector, s => s with { WeightDecay = decay });
        return this; }
    public ParameterGroups SetTrustRatio(ParameterSelector selector, bool adapt) { Apply(selector, s => s with { TrustRatio = adapt }); return this; }

    /// <summary>Every multiplier back to 1 and every parameter unfrozen (weight-decay and trust-ratio flags are kept).</summary>
    public ParameterGroups ResetLrAndFreezing()
    {
        for (int i = 0; i < _settings.Length; i++) _settings[i] = _settings[i] with { LrMultiplier = 1.0, Frozen = false };
        return this;
    }

    /// <summary>
    /// One stage of layer-wise (progressive knowledge-transfer) training: encoder layer <paramref name="layer"/> trains at
    /// ×<paramref name="currentMultiplier"/>; earlier layers at ×<paramref name="earlierMultiplier"/> (null = frozen);
    /// later layers are frozen; everything outside the encoder layers (embeddings, pooler, heads) at
    /// ×<paramref name="otherMultiplier"/> (null = frozen). Replaces the previous stage's multipliers and freezing.
    /// </summary>
    public ParameterGroups ConfigureEncoderStage(int layer, double currentMultiplier = 1.0, double? earlierMultiplier = null,
        double? otherMultiplier = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ResetLrAndFreezing();
        Freeze(ParameterSelector.All);
        SetLrMultiplier(ParameterSelector.EncoderLayer(layer), currentMultiplier);
        if (earlierMultiplier is double e) SetLrMultiplier(ParameterSelector.EncoderLayersBelow(layer), e);
        if (otherMultiplier is double o) SetLrMultiplier(ParameterSelector.OutsideEncoderLayers, o);
        return this;
    }

    static ParameterSettings Validate(ParameterSettings s) =>
        double.IsFinite(s.LrMultiplier) && s.LrMultiplier >= 0 ? s : throw new ArgumentOutOfRangeException(
        nameof(s), s.LrMultiplier, "Learning-rate multipliers must be finite and ≥ 0.");

    internal ParameterSettings[] Raw => _settings;
}
