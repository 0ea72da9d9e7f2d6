using System.Reflection;
using MobileBert.Model;
using Xunit;

namespace MobileBert.Tests.Architecture;

/// <summary>One exception base type: every exception the product's assemblies declare derives from
/// <see cref="MobileBertException"/>, so a host catches one type (the CLI's guard, the server's error mapping).</summary>
public class ExceptionTypesTests
{
    static readonly Assembly[] Product =
    [
        typeof(MobileBertConfig).Assembly, typeof(MobileBert.Cli.CliApp).Assembly, typeof(MobileBert.Serving.ServedModel).Assembly,
    ];

    [Fact]
    public void EveryDeclaredExceptionDerivesFromTheOneBaseType()
    {
        var declared = Product.SelectMany(a => a.GetTypes()).Where(t => typeof(Exception).IsAssignableFrom(t) && t != typeof(MobileBertException))
            .ToList();
        Assert.True(declared.Count >= 10, $"only {declared.Count} exception types found");
        Assert.All(declared, t => Assert.True(t.IsSubclassOf(typeof(MobileBertException)), $"{t.FullName} derives from {t.BaseType}"));
    }

    [Fact]
    public void TheCliGuardTreatsTheBaseTypeAsAUserError()
    {
        var e = new MobileBert.Distillation.DistillationException("teacher: bad");
        Assert.True(MobileBert.Cli.CliApp.IsUserError(e));
        Assert.False(MobileBert.Cli.CliApp.IsUserError(new NullReferenceException()));
    }
}
