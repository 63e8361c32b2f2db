using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>
/// A tiny OTLP/HTTP collector for tests: Kestrel on a free loopback port that keeps every POST
/// (path, content type, body) and answers 200 with an empty protobuf message, as a collector does.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>Requests received, in order.</summary>
    public ConcurrentQueue<(string Path, string? ContentType, byte[] Body)> Posts { get; } = new();

    /// <summary>Where exporters send to (the collector's base address).</summary>
    public Uri Endpoint { get; private set; } = null!;

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/{**path}", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            receiver.Posts.Enqueue((request.Path.Value ?? "", request.ContentType, body.ToArray()));
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Endpoint = new Uri(address.TrimEnd('/') + "/");
        return receiver;
    }

    /// <summary>Bodies posted to <paramref name="path"/>.</summary>
    public IReadOnlyList<byte[]> BodiesAt(string path) => [.. Posts.Where(p => p.Path == path).Select(p => p.Body)];

    /// <summary>Waits until a body posted to <paramref name="path"/> contains <paramref name="text"/> (protobuf keeps strings as UTF-8).</summary>
    public async Task<bool> WaitForAsync(string path, string text, TimeSpan timeout)
    {
        byte[] needle = System.Text.Encoding.UTF8.GetBytes(text);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (BodiesAt(path).Any(b => b.AsSpan().IndexOf(needle) >= 0)) return true;
            await Task.Delay(100);
        }
        return false;
    }

    /// <summary>What arrived, for a failure message.</summary>
    public string Describe() => string.Join(", ", Posts.GroupBy(p => (p.Path, p.ContentType)).Select(g => $"{g.Key.Path} ({g.Key.ContentType}) x{g.Count()}"));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
