using CsCheck;
using MobileBert.Cli;
using Xunit.Abstractions;

namespace MobileBert.Tests.Fuzz;

/// <summary>
/// Runs a CsCheck generator for a fixed number of cases from a fixed PCG seed (the same inputs on every run and
/// machine), checks a property on each, and reports the count on the test output ("fuzz TARGET: N cases"). A failing case
/// names its index and input so it can be replayed.
/// </summary>
public static class FuzzRunner
{
    /// <summary>Fixed seed of every fuzz target (change it to explore new inputs; keep it fixed in CI).</summary>
    public const ulong Seed = 20261206;

    /// <summary>Fixed PCG stream.</summary>
    public const uint Stream = 7;

    public static int Run<T>(ITestOutputHelper output, string target, Gen<T> gen, int cases, Action<T> property, Func<T, string>? describe = null) =>
        Run(output, target, gen, cases, v => { property(v); return "ok"; }, describe);

    /// <summary>As above; <paramref name="property"/> returns the case's outcome ("ok", "error", …), tallied in the report line.</summary>
    public static int Run<T>(ITestOutputHelper output, string target, Gen<T> gen, int cases, Func<T, string> property,
        Func<T, string>? describe = null)
    {
        var pcg = new PCG(Stream, Seed);   // both fixed: the one-argument constructor draws a random seed
        var tally = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < cases; i++)
        {
            var value = gen.Generate(pcg, null, out _);
            string outcome;
            try { outcome = property(value); }
            catch (Exception e)
            {
                string shown = describe?.Invoke(value) ?? value?.ToString() ?? "null";
                throw new Xunit.Sdk.XunitException($"fuzz {target}: case {i} of {cases} (seed {Seed}) " +
                    $"failed: {e.GetType().Name}: {e.Message}\ninput: {Trim(shown)}\n{e.StackTrace}");
            }
            tally[outcome] = tally.GetValueOrDefault(outcome) + 1;
        }
        output.WriteLine($"fuzz {target}: {cases} cases ({string.Join(", ", tally.Select(kv => $"{kv.Key} {kv.Value}"))})");
        return cases;
    }

    /// <summary>Runs <paramref name="body"/>; an exception other than a documented user-input error (what the CLI prints as
    /// one `error:` line) fails the property. Returns the error, or null when the body succeeded.</summary>
    public static Exception? OnlyUserErrors(Action body)
    {
        try { body(); return null; }
        catch (Exception e) when (CliApp.IsUserError(e)) { return e; }
    }

    static string Trim(string s) => s.Length > 600 ? s[..600] + "…" : s;
}
