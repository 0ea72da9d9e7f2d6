using Xunit;

namespace MobileBert.Serving.Tests;

/// <summary>Tests that load the machine (real sockets, child processes, a browser) run one after another, not side by side,
/// so that none of them starves the others' bounded waits.</summary>
[CollectionDefinition(Name)]
public sealed class LoopbackCollection
{
    public const string Name = "loopback servers";
}
