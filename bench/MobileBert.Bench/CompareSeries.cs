using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace MobileBert.Bench;

/// <summary>
/// `compare-series --runs K [compare options]`: runs `compare` K times, each in a fresh process (ONNX Runtime's 2-thread
/// speed on a shared VM switches between modes from one process to the next — see docs/results/LOG.md), and prints per
/// case the spread of the runs' medians and of the ratios ours/ORT: one run's ratio is not a result on such a machine.
/// </summary>
static class CompareSeries
{
    sealed record Row(string Precision, int Batch, int Seq, int Threads, double Ours, double Ort, double Ratio, double VsOrtFp32,
        double OursPeak, double OrtPeak);

    public static int Run(string[] args)
    {
        int runs = 3;
        string? outPath = null;
        var pass = new List<string>();
        try
        {
            for (int i = 0; i < args.Length; i++)
                switch (args[i])
                {
                    case "--runs":
                        if (i + 1 >= args.Length || !int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out runs) || runs < 1)
                            throw new ArgumentException("--runs needs a positive integer");
                        break;
                    case "--out": outPath = i + 1 < args.Length ? args[++i] : throw new ArgumentException("--out needs a value"); break;
                    default: pass.Add(args[i]); break;
                }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"compare-series: {e.Message}");
            return 2;
        }

        string dir = Path.Combine(Path.GetTempPath(), "mobilebert-compare-series-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        var all = new List<List<Row>>();
        try
        {
            for (int r = 0; r < runs; r++)
            {
                string file = Path.Combine(dir, $"run{r + 1}.md");
                var psi = SelfProcess.StartInfo(["compare", .. pass, "--out", file]);
                Console.Error.WriteLine($"compare-series: run {r + 1} of {runs}");
                using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the compare process");
                var stdout = p.StandardOutput.ReadToEndAsync();
                string stderr = p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) { Console.Error.WriteLine($"compare-series: run {r + 1} failed (exit {p.ExitCode}):\n{stderr}");
                    return p.ExitCode; }
                var rows = Parse(File.ReadAllLines(file));
                if (rows.Count == 0) { Console.Error.WriteLine($"compare-series: run {r + 1} wrote no table rows ({file})"); return 1; }
                all.Add(rows);
                if (r == 0) Console.Write(string.Join('\n', File.ReadAllLines(file).TakeWhile(l => !l.StartsWith('|'))) + "\n");
            }
        }
        finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }

        var sb = new StringBuilder();
        sb.AppendLine(Inv($"{runs} runs of `compare {string.Join(' ', pass)}`, one process each; per case the runs' medians (min–max over runs) ") +
            Inv($"and the ratio ours/ORT per run (min / median / max):"));
        sb.AppendLine();
        sb.AppendLine("| precision | batch | seq | threads | ours median ms, runs min–max | ORT median ms, runs min–max | latency ours/ORT: min / " +
            "median / max | ours / ORT fp32: min / median / max | ours / ORT fp32, each run in order | % of FMA peak, ours / ORT (medians) |");
        sb.AppendLine("|---|---:|---:|---:|---|---|---|---|---|---|");
        foreach (var first in all[0])
        {
            var same = all.Select(rs => rs.FirstOrDefault(x => x.Precision == first.Precision && x.Batch == first.Batch && x.Seq == first.Seq
                && x.Threads == first.Threads)).OfType<Row>().ToList();
            static string Spread(IEnumerable<double> v) { var s = v.Order().ToList(); return Inv($"{s[0]:F1}–{s[^1]:F1}"); }
            static string Three(IEnumerable<double> v) { var s = v.Order().ToList(); return Inv($"{s[0]:F2} / {s[s.Count / 2]:F2} / {s[^1]:F2}×"); }
            sb.AppendLine(Inv($"| {first.Precision} | {first.Batch} | {first.Seq} | {first.Threads} | {Spread(same.Select(x => x.Ours))} ") +
                Inv($"| {Spread(same.Select(x => x.Ort))} | {Three(same.Select(x => x.Ratio))} | {Three(same.Select(x => x.VsOrtFp32))} ") +
                Inv($"| {string.Join(", ", same.Select(x => Inv($"{x.VsOrtFp32:F2}")))} ") +
                Inv($"| {BenchMath.Median(same.Select(x => x.OursPeak).Where(double.IsFinite)):P0} / ") +
                Inv($"{BenchMath.Median(same.Select(x => x.OrtPeak).Where(double.IsFinite)):P0} |"));
        }
        Console.Write(sb);
        if (outPath is not null) { File.WriteAllText(outPath, sb.ToString()); Console.Error.WriteLine($"wrote {outPath}"); }
        return 0;
    }

    /// <summary>The result rows of a `compare` table (columns as CompareBench.Row writes them).</summary>
    static List<Row> Parse(IEnumerable<string> lines)
    {
        var rows = new List<Row>();
        foreach (var line in lines)
        {
            var c = line.Split('|', StringSplitOptions.TrimEntries);
            if (c.Length < 16 || !(c[1].StartsWith("fp32", StringComparison.Ordinal) || c[1].StartsWith("int8", StringComparison.Ordinal))) continue;
            // "n/a" (a `--only` run) parses as NaN.
            static double Lead(string cell) => double.TryParse(cell.Split(' ', '×')[0], NumberStyles.Float, CultureInfo.InvariantCulture,
                out double v) ? v : double.NaN;
            rows.Add(new Row(c[1], int.Parse(c[2], CultureInfo.InvariantCulture), int.Parse(c[3], CultureInfo.InvariantCulture),
                int.Parse(c[4], CultureInfo.InvariantCulture),
                Lead(c[5]), Lead(c[6]), Lead(c[7]), Lead(c[14]), Percent(c[11]), Percent(c[12])));
        }
        return rows;
    }

    /// <summary>"185.3 (49 %)" → 0.49; NaN for "n/a".</summary>
    static double Percent(string cell)
    {
        int open = cell.IndexOf('(');
        return open >= 0 && double.TryParse(cell[(open + 1)..].TrimEnd(')', ' ', '%'), NumberStyles.Float, CultureInfo.InvariantCulture,
            out double v) ? v / 100 : double.NaN;
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
