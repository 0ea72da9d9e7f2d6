using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MobileBert.Serving.Tests;

/// <summary>The `serve` application on a real Kestrel socket at 127.0.0.1 (any free port), in this process.</summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    readonly WebApplication _app;

    LoopbackServer(WebApplication app, Uri address) { _app = app; Address = address; }

    public Uri Address { get; }
    public MobileBertModels Models => _app.Services.GetRequiredService<MobileBertModels>();
    public BatchedClassifier Classifier(string name) => (BatchedClassifier)Models.GetClassifier(name);

    public static async Task<LoopbackServer> StartAsync(Action<MobileBertServingOptions> configure)
    {
        var app = MobileBertServer.Build(configure, ["http://127.0.0.1:0"]);
        await app.StartAsync();
        return new LoopbackServer(app, new Uri(MobileBertServer.Addresses(app).Single()));
    }

    public HttpClient Client(int maxConnections = 64) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = maxConnections }) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A raw TCP connection to the server (for byte-level clients: slow, stalled, malformed).</summary>
    public async Task<NetworkStream> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", Address.Port);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Head of a POST of <paramref name="length"/> JSON bytes to <paramref name="path"/> (Connection: close).</summary>
    public static byte[] PostHead(string path, long? length, bool chunked = false) => Encoding.ASCII.GetBytes(
        $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + (chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {length}\r\n") + "\r\n");

    /// <summary>Reads a whole response (the server closes the connection) and returns its status code and body.</summary>
    public static async Task<(int Status, string Text)> ReadResponseAsync(Stream stream, CancellationToken cancel)
    {
        using var buffer = new MemoryStream();
        try { await stream.CopyToAsync(buffer, cancel); }
        catch (IOException) { }   // the server may reset after answering an oversized request
        string text = Encoding.UTF8.GetString(buffer.ToArray());
        int space = text.IndexOf(' ');
        if (space < 0 || text.Length < space + 4) throw new IOException($"no HTTP response: '{text}'");
        return (int.Parse(text.AsSpan(space + 1, 3)), text);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
