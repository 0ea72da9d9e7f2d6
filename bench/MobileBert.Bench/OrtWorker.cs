using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MobileBert.Model;
using Microsoft.ML.OnnxRuntime;

namespace MobileBert.Bench;

/// <summary>
/// `ort-worker --model FILE.onnx --threads N [--ort-spin on|off]`: ONNX Runtime alone in its own process, driven line by
/// line over stdin by `compare --ort-process`, so the two sides share no thread pool, GC heap or allocator. Requests
/// (one line each) and replies (one JSON object per line on stdout):
/// <code>
/// input KEY BATCH SEQ ID,ID,…   → {"ok":true}              (attention mask all ones, token types 0, as in `compare`)
/// warm KEY N                    → {"ok":true}              (N untimed runs)
/// run KEY                       → {"ms":12.345}            (one session.Run, timed in this process)
/// mem                           → {"rss_mb":…,"peak_mb":…} (this process's working set and its peak)
/// </code>
/// The first line written is {"ready":true,"ort":"VERSION"} once the session is loaded; end of stdin ends the process.
/// </summary>
static class OrtWorker
{
    public static int Run(string[] args)
    {
        string? model = null;
        int threads = 1;
        bool? spin = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--model": model = Next(); break;
                case "--threads": threads = int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "--ort-spin": spin = Next() == "on"; break;
                default: Console.Error.WriteLine($"ort-worker: unknown option {args[i]}"); return 2;
            }
        }
        if (model is null) { Console.Error.WriteLine("ort-worker: --model FILE.onnx is required"); return 2; }
        InferenceSession session;
        try { session = CompareBench.Session(model, threads, spin); }
        catch (OnnxRuntimeException e) { return Fail($"{model}: ONNX Runtime cannot load it: {e.Message}"); }
        using var _ = session;
        var inputs = new Dictionary<string, ModelInput>();
        var proc = Process.GetCurrentProcess();
        Reply(Inv($"{{\"ready\":true,\"ort\":\"{OrtEnv.Instance().GetVersionString()}\"}}"));
        while (Console.In.ReadLine() is { } line)
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0) continue;
            switch (f[0])
            {
                case "input" when f.Length == 5:
                    int b = Int(f[2]), s = Int(f[3]);
                    int[] ids = Array.ConvertAll(f[4].Split(','), Int);
                    if (ids.Length != b * s) return Fail($"input {f[1]}: {ids.Length} ids for batch {b} × seq {s}");
                    inputs[f[1]] = new ModelInput(b, s, ids);
                    Reply("{\"ok\":true}");
                    break;
                case "warm" when f.Length == 3 && inputs.TryGetValue(f[1], out var w):
                    for (int k = 0, n = Int(f[2]); k < n; k++) CompareBench.RunOrt(session, w);
                    Reply("{\"ok\":true}");
                    break;
                case "run" when f.Length == 2 && inputs.TryGetValue(f[1], out var x):
                    var sw = Stopwatch.StartNew();
                    CompareBench.RunOrt(session, x);
                    Reply(Inv($"{{\"ms\":{sw.Elapsed.TotalMilliseconds:R}}}"));
                    break;
                case "mem":
                    proc.Refresh();
                    Reply(Inv($"{{\"rss_mb\":{proc.WorkingSet64 / 1048576.0:F1},\"peak_mb\":{proc.PeakWorkingSet64 / 1048576.0:F1}}}"));
                    break;
                default: return Fail($"bad request '{(line.Length > 60 ? line[..60] + "…" : line)}'");
            }
        }
        return 0;
    }

    static int Int(string s) => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
    static void Reply(string json) { Console.Out.WriteLine(json); Console.Out.Flush(); }
    static int Fail(string message) { Console.Error.WriteLine($"ort-worker: {message}"); return 2; }
    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The parent's handle on one `ort-worker` child: one ORT session (model, thread count) in its own process.</summary>
sealed class OrtChild : IOrtSide
{
    readonly Process process;
    readonly HashSet<string> sent = [];

    public OrtChild(string model, int threads, bool? spin)
    {
        List<string> args = ["ort-worker", "--model", model, "--threads", threads.ToString(CultureInfo.InvariantCulture)];
        if (spin is { } on) args.AddRange(["--ort-spin", on ? "on" : "off"]);
        process = Process.Start(SelfProcess.StartInfo(args, redirectInput: true))
            ?? throw new InvalidOperationException("could not start the ort-worker process");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"  [ort-worker] {e.Data}"); };
        process.BeginErrorReadLine();
        Version = Read().GetProperty("ort").GetString() ?? "?";
    }

    /// <summary>ONNX Runtime version the child loaded.</summary>
    public string Version { get; }

    /// <summary>Sends the input once (untimed), then warms the session on it.</summary>
    public void Warm(ModelInput input, int runs)
    {
        Send(input);
        Request(Inv($"warm {Key(input)} {runs}"));
    }

    /// <summary>One session.Run on the input, timed inside the child (ms); the parent only waits on the pipe meanwhile.</summary>
    public double Time(ModelInput input)
    {
        Send(input);
        return Request($"run {Key(input)}").GetProperty("ms").GetDouble();
    }

    /// <summary>The child's working set and its peak, MB.</summary>
    public (double RssMb, double PeakMb) Memory()
    {
        var m = Request("mem");
        return (m.GetProperty("rss_mb").GetDouble(), m.GetProperty("peak_mb").GetDouble());
    }

    static string Key(ModelInput input) => Inv($"b{input.Batch}s{input.Seq}");

    void Send(ModelInput input)
    {
        if (!sent.Add(Key(input))) return;
        Request(Inv($"input {Key(input)} {input.Batch} {input.Seq} {string.Join(',', input.InputIds)}"));
    }

    JsonElement Request(string line)
    {
        process.StandardInput.WriteLine(line);
        process.StandardInput.Flush();
        return Read();
    }

    JsonElement Read()
    {
        string? reply = process.StandardOutput.ReadLine();
        if (reply is null)
        {
            process.WaitForExit();
            throw new OrtWorkerException($"the ort-worker process exited (code {process.ExitCode}) without a reply; its error is above");
        }
        using var doc = JsonDocument.Parse(reply);
        return doc.RootElement.Clone();
    }

    public void Dispose()
    {
        try { process.StandardInput.Close(); if (!process.WaitForExit(10_000)) process.Kill(); }
        finally { process.Dispose(); }
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>An `ort-worker` child failed (its own message went to stderr); `compare` reports it in one line.</summary>
sealed class OrtWorkerException(string message) : Exception(message);
