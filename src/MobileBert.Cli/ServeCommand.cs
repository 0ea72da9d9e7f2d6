using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MobileBert.Serving;
using Pooling = MobileBert.Pooling;

namespace MobileBert.Cli;

/// <summary>`mobilebert serve`: an HTTP inference server (Kestrel) with dynamic batching over one or more model folders.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string[]>("--model") { Description = "NAME=DIR: serve the model folder DIR as NAME (repeatable). The task comes " +
            "from the folder: task.json, else config.json (…ForSequenceClassification, …ForQuestionAnswering, …ForMaskedLM/ForPreTraining: " +
                "fill-mask, a bare backbone: embedding)." };
        var embedder = new Option<string[]>("--embedder") { Description = "NAME=DIR: serve any model folder's backbone as a sentence embedder " +
            "(repeatable)." };
        var pooling = new Option<Pooling?>("--pooling") { Description = "Embedders: mean or cls pooling (default: a sentence-transformers " +
            "folder's own, else mean)." };
        var normalize = new Option<bool?>("--normalize") { Description = "Embedders: true for unit-length vectors, false for raw ones (default: a " +
            "sentence-transformers folder's own, else false)." };
        var urls = new Option<string>("--urls") { DefaultValueFactory = _ => "http://127.0.0.1:8080",
            Description = "Addresses to listen on, ';'-separated (loopback unless told otherwise; port 0: any free port)." };
        var maxBatch = new Option<int>("--max-batch") { DefaultValueFactory = _ => 32,
            Description = "Most inputs per engine batch (1: batching off)." };
        var maxWait = new Option<double>("--max-wait-ms") { DefaultValueFactory = _ => 5,
            Description = "Longest wait of the first input for others to join its batch." };
        var maxQueue = new Option<int>("--max-queue") { DefaultValueFactory = _ => 1024,
            Description = "Most inputs waiting per model; beyond: 503 with Retry-After." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount,
            Description = "Kernel threads of each model's engine." };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File holding a bearer key required on /v1/* (Authorization: " +
            "Bearer KEY)." };
        var maxTexts = new Option<int>("--max-texts") { DefaultValueFactory = _ => 256, Description = "Most texts per classify request." };
        var maxBody = new Option<int>("--max-body-bytes") { DefaultValueFactory = _ => 1 << 20, Description = "Largest request body." };
        var kernel = CliFlags.Int8KernelOption();
        var log = new Option<LogLevel>("--log-level") { DefaultValueFactory = _ => LogLevel.Warning, Description = "ASP.NET Core log level." };
        var cmd = new Command("serve",
            "Serve fine-tuned models over HTTP: /v1/models/NAME/classify|qa|embed|fill-mask|tokenize, a web page at /, /metrics, /openapi/v1.json.")
        { model, embedder, pooling, normalize, urls, maxBatch, maxWait, maxQueue, threads, apiKeyFile, maxTexts, maxBody, kernel, log };
        cmd.SetAction(r => CliApp.Guard(() =>
        {
            var models = (r.GetValue(model) ?? []).Select(ParseModel).ToArray();
            var embedders = (r.GetValue(embedder) ?? []).Select(ParseModel).ToArray();
            if (models.Length + embedders.Length == 0)
                throw new ArgumentException("nothing to serve: give --model NAME=DIR (or --embedder NAME=DIR).");
            string? key = r.GetValue(apiKeyFile) is { } f ? ReadKey(f) : null;
            void Configure(MobileBertServingOptions o)
            {
                foreach (var (name, dir) in models) o.AddModel(name, dir);
                foreach (var (name, dir) in embedders) o.AddEmbedder(name, dir, r.GetValue(pooling), r.GetValue(normalize));
                o.MaxBatch = r.GetValue(maxBatch); o.MaxWait = TimeSpan.FromMilliseconds(r.GetValue(maxWait)); o.MaxQueue = r.GetValue(maxQueue);
                o.Threads = r.GetValue(threads); o.Int8Kernel = r.GetValue(kernel); o.ApiKey = key;
                o.Limits.MaxTextsPerRequest = r.GetValue(maxTexts); o.Limits.MaxBodyBytes = r.GetValue(maxBody);
            }
            var addresses = r.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var a in addresses) CheckUrl(a, key is not null);
            return Run(Configure, addresses, r.GetValue(log));
        }));
        return cmd;
    }

    /// <summary>Starts the server, prints where it listens, runs until SIGTERM / Ctrl+C, drains in-flight requests.</summary>
    static int Run(Action<MobileBertServingOptions> configure, string[] urls, LogLevel logLevel)
    {
        using var app = MobileBertServer.Build(configure, urls, logLevel);
        try { app.StartAsync().GetAwaiter().GetResult(); }
        catch (ModelLoadException e) { Console.Error.WriteLine($"error: {e.Message}"); return 1; }
        catch (IOException e) { Console.Error.WriteLine($"error: cannot listen on {string.Join(", ", urls)}: {e.Message}"); return 1; }
        var served = (MobileBertModels)app.Services.GetService(typeof(MobileBertModels))!;
        foreach (var m in served.All)
            Console.WriteLine($"model {m.Name}: {ServedModel.TaskName(m.Task)}, {(m.IsQuantized ? "int8" : "fp32")}, max {m.MaxSeqLength} tokens " +
                $"({m.Directory})");
        foreach (var a in MobileBertServer.Addresses(app)) Console.WriteLine($"listening on {a}");
        Console.Out.Flush();
        app.WaitForShutdownAsync().GetAwaiter().GetResult();
        long ran = served.All.Sum(m => m.Stats.ItemCount), dropped = served.All.Sum(m => m.Stats.DroppedCount);
        Console.WriteLine($"stopped: {ran} inputs run, {dropped} dropped (client gone)");
        return 0;
    }

    static (string Name, string Dir) ParseModel(string spec)
    {
        int eq = spec.IndexOf('=');
        if (eq <= 0 || eq == spec.Length - 1) throw new ArgumentException($"--model '{spec}': expected NAME=DIR.");
        return (spec[..eq], spec[(eq + 1)..]);
    }

    static string ReadKey(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--api-key-file {path}: file not found.", path);
        string key = File.ReadAllText(path).Trim();
        if (key.Length == 0) throw new ArgumentException($"--api-key-file {path}: the file is empty.");
        if (key.Any(char.IsWhiteSpace)) throw new ArgumentException($"--api-key-file {path}: the key must be one line without spaces.");
        return key;
    }

    /// <summary>Checks one --urls entry; warns when it is reachable from other machines without an API key.</summary>
    static void CheckUrl(string url, bool hasKey)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--urls '{url}': expected http://HOST:PORT.");
        bool loopback = uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
        if (!loopback && !hasKey) Console.Error.WriteLine($"warning: {url} is reachable from other machines and no --api-key-file is set.");
    }
}
