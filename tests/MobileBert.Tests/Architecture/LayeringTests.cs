using Mono.Cecil;
using Mono.Cecil.Cil;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Architecture;

/// <summary>
/// The library's layers (docs/ARCHITECTURE.md), lowest first: a type may use types of its own layer and of the layers below,
/// never of a layer above. Read from the compiled IL (signatures, fields, locals, every instruction's operand), so a
/// reference through a fully qualified name or a parent namespace counts too.
/// </summary>
public class LayeringTests
{
    /// <summary>Namespaces of each layer; a type belongs to the layer of its longest matching namespace.</summary>
    public static readonly string[][] Layers =
    [
        ["MobileBert.MobileBertException", "MobileBert.SettingException"],
        ["MobileBert.Kernels", "MobileBert.Reporting"],
        ["MobileBert.Tensors"],
        ["MobileBert.Text"],
        ["MobileBert.Model"],
        ["MobileBert.Checkpoints"],
        ["MobileBert.Inference"],
        ["MobileBert.PretrainingData"],
        ["MobileBert.Training"],              // losses, optimizers, the run harness, the pre-training run
        ["MobileBert.Tasks.Metrics"],
        ["MobileBert.Tasks.Classification", "MobileBert.Tasks.QuestionAnswering"],
        ["MobileBert.Tasks"],                 // task.json (TaskInfo) and running a model over a task's data (Evaluators)
        ["MobileBert.Export"],
        ["MobileBert"],                       // the task APIs (src/MobileBert/Api): TextClassifier, QuestionAnswerer, …
        ["MobileBert.Import"],
        ["MobileBert.Distillation"],
        ["MobileBert.FineTuning"],
    ];

    static int LayerOf(string fullName)
    {
        int best = -1, bestLength = -1;
        for (int i = 0; i < Layers.Length; i++)
            foreach (var ns in Layers[i])
                if ((fullName == ns || fullName.StartsWith(ns + ".", StringComparison.Ordinal)) && ns.Length > bestLength)
                    (best, bestLength) = (i, ns.Length);
        return best;
    }

    static TypeReference Outermost(TypeReference t) { while (t.DeclaringType is not null) t = t.DeclaringType; return t; }

    static IEnumerable<TypeReference> Expand(TypeReference? t)
    {
        if (t is null || t is GenericParameter) yield break;
        if (t is GenericInstanceType g)
        {
            foreach (var x in Expand(g.ElementType)) yield return x;
            foreach (var a in g.GenericArguments) foreach (var x in Expand(a)) yield return x;
        }
        else if (t is TypeSpecification spec) { foreach (var x in Expand(spec.ElementType)) yield return x; }
        else yield return Outermost(t);
    }

    static IEnumerable<TypeReference> Uses(TypeDefinition t)
    {
        var refs = new List<TypeReference?> { t.BaseType };
        refs.AddRange(t.Interfaces.Select(i => i.InterfaceType));
        refs.AddRange(t.CustomAttributes.Select(a => a.AttributeType));
        refs.AddRange(t.Fields.Select(f => f.FieldType));
        refs.AddRange(t.Properties.Select(p => p.PropertyType));
        foreach (var m in t.Methods)
        {
            refs.Add(m.ReturnType);
            refs.AddRange(m.Parameters.Select(p => p.ParameterType));
            if (!m.HasBody) continue;
            refs.AddRange(m.Body.Variables.Select(v => v.VariableType));
            foreach (Instruction ins in m.Body.Instructions)
                switch (ins.Operand)
                {
                    case TypeReference tr: refs.Add(tr); break;
                    case MethodReference mr:
                        refs.Add(mr.DeclaringType); refs.Add(mr.ReturnType); refs.AddRange(mr.Parameters.Select(p => p.ParameterType));
                        if (mr is GenericInstanceMethod gm) refs.AddRange(gm.GenericArguments);
                        break;
                    case FieldReference fr: refs.Add(fr.DeclaringType); refs.Add(fr.FieldType); break;
                }
        }
        return refs.SelectMany(Expand);
    }

    static IEnumerable<TypeDefinition> LibraryTypes()
    {
        var module = ModuleDefinition.ReadModule(typeof(MobileBertConfig).Assembly.Location);
        return module.Types.Where(t => t.Namespace.StartsWith("MobileBert", StringComparison.Ordinal));
    }

    [Fact]
    public void NoTypeUsesATypeOfAHigherLayer()
    {
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in LibraryTypes())
        {
            int layer = LayerOf(type.FullName);
            foreach (var used in Uses(type).Where(u => u.Namespace.StartsWith("MobileBert", StringComparison.Ordinal)))
                if (LayerOf(used.FullName) is var usedLayer && usedLayer > layer)
                    violations.Add($"{type.FullName} (layer {layer}) → {used.FullName} (layer {usedLayer})");
        }
        Assert.True(violations.Count == 0, $"{violations.Count} references go up a layer:\n" + string.Join("\n", violations.Take(40)));
    }

    [Fact]
    public void EveryNamespaceHasALayer()
    {
        var missing = LibraryTypes().Where(t => LayerOf(t.FullName) < 0).Select(t => t.Namespace).Distinct().ToList();
        Assert.True(missing.Count == 0, "namespaces without a layer: " + string.Join(", ", missing));
    }

    [Fact]
    public void TheCheckSeesAReferenceUpwards()
    {
        // The check itself: the API layer uses the inference engine (below it), and the engine never the API.
        var api = LibraryTypes().Single(t => t.FullName == "MobileBert.TextClassifier");
        Assert.Contains(Uses(api), u => u.FullName.StartsWith("MobileBert.Inference.", StringComparison.Ordinal));
        Assert.True(LayerOf("MobileBert.TextClassifier") > LayerOf("MobileBert.Inference.InferenceEngine"));
    }
}
