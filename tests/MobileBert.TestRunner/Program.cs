using System.Diagnostics;
using System.Reflection;
using MobileBert.Kernels;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

// Runs the xUnit tests of MobileBert.Tests in this process through xUnit's own discovery and execution engine
// (XunitTestFramework), for a self-contained publish where no `dotnet test` host exists (linux-arm64 under qemu-user).
// Usage: MobileBert.TestRunner [--filter TEXT]… [--list]
//   --filter TEXT: run the test cases whose "Namespace.Class.Method" contains TEXT (any of them; default: all).
// Prints each failure with its message, then `N passed, N failed, N skipped`; exit code 1 when a test failed or none ran.
var filters = new List<string>();
bool list = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--filter" && i + 1 < args.Length) filters.Add(args[++i]);
    else if (args[i] == "--list") list = true;
    else { Console.Error.WriteLine($"error: unknown argument '{args[i]}' (usage: MobileBert.TestRunner [--filter TEXT]… [--list])"); return 2; }
}

Console.WriteLine($"simd: {SimdSupport.Describe()}");
Assembly assembly = typeof(MobileBert.Tests.TestPaths).Assembly;
var diagnostics = new Sink();
using var framework = new XunitTestFramework(diagnostics);
var options = new Options();

var discovery = new Sink();
using (var discoverer = framework.GetDiscoverer(Reflector.Wrap(assembly)))
{
    discoverer.Find(includeSourceInformation: false, discovery, options);
    discovery.Finished.WaitOne();
}
var cases = discovery.TestCases
    .Where(c => filters.Count == 0 || filters.Any(f => Name(c).Contains(f, StringComparison.Ordinal)))
    .ToList();
if (list)
{
    foreach (var c in cases) Console.WriteLine(c.DisplayName);
    return 0;
}
Console.WriteLine($"running {cases.Count} of {discovery.TestCases.Count} test cases");

var clock = Stopwatch.StartNew();
var execution = new Sink();
using (var executor = framework.GetExecutor(assembly.GetName()))
{
    executor.RunTests(cases, execution, options);
    execution.Finished.WaitOne();
}
foreach (var f in execution.Failures) Console.WriteLine(f);
Console.WriteLine($"time: {clock.Elapsed.TotalSeconds:F0} s");
Console.WriteLine($"{execution.Passed} passed, {execution.Failed} failed, {execution.Skipped} skipped");
return execution.Failed > 0 || execution.Passed == 0 ? 1 : 0;

static string Name(ITestCase c) => $"{c.TestMethod.TestClass.Class.Name}.{c.TestMethod.Method.Name}";

/// <summary>Collects discovery and execution messages; <see cref="Finished"/> is set by the closing message.</summary>
sealed class Sink : LongLivedMarshalByRefObject, IMessageSink
{
    public readonly List<ITestCase> TestCases = [];
    public readonly List<string> Failures = [];
    public int Passed, Failed, Skipped;
    public readonly ManualResetEvent Finished = new(false);

    public bool OnMessage(IMessageSinkMessage message)
    {
        switch (message)
        {
            case ITestCaseDiscoveryMessage d: lock (TestCases) TestCases.Add(d.TestCase); break;
            case IDiscoveryCompleteMessage: Finished.Set(); break;
            case ITestPassed: Interlocked.Increment(ref Passed); break;
            case ITestSkipped: Interlocked.Increment(ref Skipped); break;
            case ITestFailed f:
                Interlocked.Increment(ref Failed);
                lock (Failures) Failures.Add($"[FAIL] {f.Test.DisplayName}: {string.Join(" | ", f.Messages)}\n{string.Join("\n", f.StackTraces)}");
                break;
            case IErrorMessage e:
                Interlocked.Increment(ref Failed);
                lock (Failures) Failures.Add($"[ERROR] {string.Join(" | ", e.Messages)}\n{string.Join("\n", e.StackTraces)}");
                break;
            case ITestAssemblyFinished: Finished.Set(); break;
        }
        return true;
    }
}

/// <summary>Discovery/execution options: xUnit's defaults (every value unset).</summary>
sealed class Options : ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
{
    readonly Dictionary<string, object?> values = [];
    public TValue GetValue<TValue>(string name) => values.TryGetValue(name, out var v) && v is TValue t ? t : default!;
    public void SetValue<TValue>(string name, TValue value) => values[name] = value;
}
