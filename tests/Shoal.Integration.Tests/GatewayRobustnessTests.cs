using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Shoal.Client;
using Shoal.Cli.Commands;
using Shoal.Engine.Tests.Robustness;

namespace Shoal.Integration.Tests;

/// <summary>
/// HTTP JSON bodies through the real gateway: every mutant of a valid body (truncations, bit
/// flips, huge numbers, NaN/Infinity, invalid UTF-8, deep nesting, wrong types) is answered with a
/// client error (a 400 problem document saying what is wrong) or accepted — never a 500.
/// </summary>
public sealed class GatewayRobustnessTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private static readonly (string Path, string Body)[] Endpoints =
    [
        ("v1/indexes/sample/search", """{"text": "wind turbines", "k": 5, "deadlineMs": 2000, "includeStored": true, "channels": ["bm25"], "fusion": {"method": "rrf", "rankConstant": 60}}"""),
        ("v1/indexes/sample/search", """{"sparse": {"vector": {"wind": 1.5}, "k": 10}, "dense": {"vector": [0.1, 0.2], "ef": 32}}"""),
        ("v1/indexes/sample/documents", """{"documents": [{"id": "fz1", "title": "Fuzz", "text": "a fuzzed document"}], "deletes": ["fz2"]}"""),
        ("v1/indexes/fuzzed/ingest", """{"corpus": "/nonexistent/fuzz/corpus.jsonl", "format": "beir", "shards": 2, "replicas": 1, "k1": 0.9, "b": 0.4}"""),
        ("v1/jobs", """{"index": "fuzzjob", "source": "/nonexistent/fuzz/corpus.jsonl", "shards": 2, "onMalformed": "skip"}"""),
    ];

    private async Task<HttpStatusCode> PostAsync(string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await fixture.Http.PostAsync(path, content);
        if ((int)response.StatusCode >= 500)
            Assert.Fail($"{path} answered {(int)response.StatusCode} to {Encoding.UTF8.GetString(body)[..Math.Min(300, body.Length)]}: {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            // A problem document that says what is wrong.
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), path);
        }
        return response.StatusCode;
    }

    [Fact]
    public async Task Mutated_bodies_get_a_client_error_or_an_answer_never_a_500()
    {
        int badRequests = 0;
        foreach (var (path, body) in Endpoints)
        {
            for (int seed = 0; seed < 120; seed++)
                if (await PostAsync(path, Mutations.MutateText(body, seed)) == HttpStatusCode.BadRequest) badRequests++;
        }
        Assert.True(badRequests > 300, $"only {badRequests} mutants were refused");
    }

    [Fact]
    public async Task Deep_json_huge_numbers_non_finite_values_and_invalid_utf8_are_400()
    {
        string[] bodies =
        [
            Mutations.DeepJson(100_000, objects: false),
            """{"text": "x", "extra": """ + Mutations.DeepJson(5_000, objects: true) + "}",
            """{"text": "x", "k": 1e400}""",
            """{"text": "x", "k": 99999999999999999999999}""",
            """{"dense": {"vector": [NaN, 1]}}""",
            """{"dense": {"vector": [1e39, 1]}}""",
            """{"sparse": {"vector": {"wind": Infinity}}}""",
            """{"text": 12}""",
            """{"text": ["a"]}""",
            "null",
        ];
        foreach (var (path, _) in Endpoints.Take(1))
        {
            foreach (var body in bodies)
                Assert.Equal(HttpStatusCode.BadRequest, await PostAsync(path, Encoding.UTF8.GetBytes(body)));
            foreach (var invalid in Mutations.InvalidUtf8)
                Assert.Equal(HttpStatusCode.BadRequest, await PostAsync(path, [.. "{\"text\": \"wind "u8, .. invalid, .. "\"}"u8]));
        }
    }

    [Fact]
    public async Task Loadtest_timeline_has_one_line_per_measured_query_with_its_time_latency_and_outcome()
    {
        var topics = new[] { "wind power", "tides", "coffee" }.Select((t, i) => new Shoal.Evaluation.Topic($"q{i}", t)).ToList();
        using var client = new ShoalClient(fixture.Http, maxRetries: 0);
        string path = Path.Combine(Path.GetTempPath(), $"shoal-timeline-{Guid.NewGuid():N}.jsonl");
        try
        {
            double before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            LoadTestCommand.Outcome outcome;
            using (var timeline = new LoadTestTimeline(path))
            {
                outcome = await LoadTestCommand.RunAsync(client,
                    new("sample", topics, 5, Clients: 1, Rate: 40, DurationSeconds: 1, WarmupSeconds: 0.3, MaxRequests: 30, DeadlineMs: null),
                    CancellationToken.None, timeline: timeline);
            }
            double after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var lines = (await File.ReadAllLinesAsync(path)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(outcome.Ok + outcome.Errors, lines.Count);
            Assert.All(lines, l =>
            {
                Assert.InRange(l.GetProperty("t").GetDouble(), before, after);
                Assert.True(l.GetProperty("ms").GetDouble() > 0);
                Assert.Contains(l.GetProperty("status").GetString(), new[] { "ok", "partial", "error" });
            });
            Assert.Equal(outcome.Partial, lines.Count(l => l.GetProperty("status").GetString() == "partial"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
