using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Shoal.Cli.Commands;
using Shoal.Client;

namespace Shoal.Integration.Tests;

/// <summary>
/// <c>shoal upsert</c> and <c>shoal delete</c> progress written to a log or pipe: plain lines, no
/// carriage returns, at most one line per interval besides the first and the final one.
/// </summary>
public sealed class UpdateProgressTests
{
    /// <summary>Answers every update request as applied, counting its documents and deletes.</summary>
    private sealed class Applied : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            var body = JsonDocument.Parse(await request.Content!.ReadAsStringAsync(cancellationToken)).RootElement;
            int Count(string name) => body.TryGetProperty(name, out var a) ? a.GetArrayLength() : 0;
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = JsonContent.Create(new { index = "idx", version = 1, upserted = Count("documents"), deleted = Count("deletes"), pendingOperations = Requests }),
            };
        }
    }

    private static void AssertPlainLines(string written, TimeSpan elapsed, string first, string last)
    {
        Assert.DoesNotContain('\r', written);
        var lines = written.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // The first report, then at most one a PlainInterval, then the final count: never one per request.
        int allowed = 2 + (int)(elapsed / LiveLine.PlainInterval);
        Assert.True(lines.Length >= 2 && lines.Length <= allowed, $"{lines.Length} lines (at most {allowed}):\n{written}");
        Assert.StartsWith(first, lines[0], StringComparison.Ordinal);
        Assert.StartsWith(last, lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upsert_and_delete_progress_to_a_writer_that_is_not_a_terminal_is_plain_lines_not_carriage_return_rewrites()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-update-progress-").FullName;
        using var handler = new Applied();
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = new Uri("http://shoal.test/") };
        using var client = new ShoalClient(http, maxRetries: 0);
        try
        {
            const int Docs = 60;
            string file = Path.Combine(dir, "docs.jsonl");
            await File.WriteAllLinesAsync(file, Enumerable.Range(0, Docs).Select(i => $$"""{"id": "d{{i}}", "text": "text {{i}}"}"""));

            var error = new StringWriter();
            var output = new StringWriter();
            var clock = Stopwatch.StartNew();
            Assert.Equal(0, await UpdateCommands.RunUpsertAsync(client, "idx", file, 1, output, error, CancellationToken.None));
            Assert.Equal(Docs, handler.Requests); // one request a document: sixty reports
            AssertPlainLines(error.ToString(), clock.Elapsed, $"1 of {Docs} documents sent", $"{Docs} of {Docs} documents sent");
            Assert.Contains($"{Docs} documents upserted in {Docs} requests", output.ToString(), StringComparison.Ordinal);

            error = new StringWriter();
            clock.Restart();
            var ids = Enumerable.Range(0, Docs).Select(i => $"d{i}").ToArray();
            Assert.Equal(0, await UpdateCommands.RunDeleteAsync(client, "idx", ids, null, 1, new StringWriter(), error, CancellationToken.None));
            AssertPlainLines(error.ToString(), clock.Elapsed, "1 requests sent,", $"{Docs} requests sent,");
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }
}
