using System.Net;
using System.Text;
using System.Text.Json;
using Shoal.Client;
using Shoal.Cli.Commands;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>The job endpoints over real HTTP (the gateway with its embedded silo), and the SDK over them.</summary>
public sealed class JobsHttpTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private Task<HttpResponseMessage> PostJson(string path, string json) =>
        fixture.Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task A_job_submitted_over_http_runs_reports_progress_and_its_index_answers_searches()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-jobs-http-").FullName;
        try
        {
            var corpus = GeneratedCorpus.Write(dir, documents: 6000, malformedEvery: 2500);
            string body = JsonSerializer.Serialize(new { index = "httpjob", source = corpus.Path, shards = 2, chunkLines = 500, id = "http-1" });
            using var submitted = await PostJson("v1/jobs", body);
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            Assert.Equal("/v1/jobs/http-1", submitted.Headers.Location?.ToString());
            var first = await Json(submitted);
            Assert.Equal("http-1", first.GetProperty("id").GetString());
            Assert.Equal("running", first.GetProperty("state").GetString());

            JsonElement status;
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (true)
            {
                using var get = await fixture.Http.GetAsync("v1/jobs/http-1");
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
                status = await Json(get);
                if (status.GetProperty("state").GetString() is "succeeded" or "failed" or "cancelled") break;
                Assert.True(DateTime.UtcNow < deadline, "job did not finish: " + status);
                await Task.Delay(100);
            }
            Assert.Equal("succeeded", status.GetProperty("state").GetString());
            Assert.Equal(corpus.FinalUnique.Count, status.GetProperty("documentsIndexed").GetInt64());
            Assert.Equal(corpus.MalformedLines.Count, status.GetProperty("malformed").GetInt64());
            Assert.Equal(corpus.MalformedLines, status.GetProperty("malformedLines").EnumerateArray().Select(m => m.GetProperty("line").GetInt64()));
            Assert.True(status.GetProperty("docsPerSecond").GetDouble() > 0);

            using var list = await fixture.Http.GetAsync("v1/jobs");
            Assert.Contains((await Json(list)).GetProperty("jobs").EnumerateArray(), j => j.GetProperty("id").GetString() == "http-1");

            var (id, unique) = corpus.FinalUnique.First();
            using var search = await PostJson("v1/indexes/httpjob/search", JsonSerializer.Serialize(new { text = unique, k = 3 }));
            Assert.Equal(id, (await Json(search)).GetProperty("hits")[0].GetProperty("id").GetString());

            // The same id with another body is a conflict; with the same body it is the same job.
            using var conflict = await PostJson("v1/jobs", JsonSerializer.Serialize(new { index = "httpjob", source = corpus.Path, shards = 3, chunkLines = 500, id = "http-1" }));
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
            using var same = await PostJson("v1/jobs", body);
            Assert.Equal(HttpStatusCode.Accepted, same.StatusCode);
            Assert.Equal("succeeded", (await Json(same)).GetProperty("state").GetString());

            // The SDK over the same endpoints.
            using var client = new ShoalClient(fixture.BaseAddress);
            var job = await client.SubmitJobAsync(new JobSubmission("httpjob", corpus.Path, Shards: 1) { ChunkLines = 1000, OnMalformed = "stop" });
            var reports = new List<JobProgress>();
            var done = await client.WaitForJobAsync(job.Id, new Progress<JobProgress>(reports.Add), TimeSpan.FromMilliseconds(50));
            Assert.Equal("failed", done.State);
            Assert.Contains($"Malformed line {corpus.MalformedLines[0]}", done.Error);
            Assert.Equal(corpus.MalformedLines[0], Assert.Single(done.MalformedLines).Line);
            Assert.Equal("httpjob", done.Request?.Index);
            Assert.Contains(await client.ListJobsAsync(), j => j.Id == job.Id);
            Assert.Equal("succeeded", (await client.CancelJobAsync("http-1"))!.State);
            Assert.Null(await client.GetJobAsync("no-such-job"));
            Assert.Null(await client.CancelJobAsync("no-such-job"));
            var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.SubmitJobAsync(new JobSubmission("httpjob", corpus.Path + ".nope")));
            Assert.Contains("does not exist", e.Message);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Vector_jobs_are_accepted_over_http_the_sdk_and_the_cli()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-jobs-http-vec-").FullName;
        try
        {
            string toy = Paths.Shared("seismic-toy-splade", "documents.jsonl");
            string vocab = Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt");
            var rng = new Random(5);
            string dense = Path.Combine(dir, "dense.jsonl");
            await File.WriteAllLinesAsync(dense, Enumerable.Range(0, 20).Select(i =>
                $$"""{"id": "{{i}}", "vector": [{{string.Join(", ", Enumerable.Range(0, 8).Select(_ => (rng.NextDouble() - 0.5).ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}}]}"""));

            // HTTP: vector sources only, no text source.
            string body = JsonSerializer.Serialize(new { index = "httpvec", sparseVectors = toy, denseVectors = dense, denseMetric = "cosine", denseIndex = "flat", chunkLines = 7, id = "http-vec-1" });
            using var submitted = await PostJson("v1/jobs", body);
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            JsonElement status;
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (true)
            {
                using var get = await fixture.Http.GetAsync("v1/jobs/http-vec-1");
                status = await Json(get);
                if (status.GetProperty("state").GetString() is "succeeded" or "failed" or "cancelled") break;
                Assert.True(DateTime.UtcNow < deadline, "job did not finish: " + status);
                await Task.Delay(100);
            }
            Assert.True(status.GetProperty("state").GetString() == "succeeded", status.ToString());
            var request = status.GetProperty("request");
            Assert.Equal(toy, request.GetProperty("sparseVectors").GetString());
            Assert.Equal("flat", request.GetProperty("denseIndex").GetString());
            Assert.Equal("", request.GetProperty("source").GetString());
            Assert.Equal(["sparse", "dense"], status.GetProperty("sources").EnumerateArray().Select(x => x.GetProperty("kind").GetString()));
            Assert.Equal(20, status.GetProperty("documentsIndexed").GetInt64());
            Assert.Equal(3 + 3, status.GetProperty("chunks").GetInt64());
            using var search = await PostJson("v1/indexes/httpvec/search", """{"sparse": {"vector": {"manhattan": 1.0}, "exact": true}, "k": 3}""");
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
            Assert.Equal(3, (await Json(search)).GetProperty("hits").GetArrayLength());

            // The SDK.
            using var client = new ShoalClient(fixture.BaseAddress);
            var job = await client.SubmitJobAsync(new JobSubmission("httpvec-sdk", null) { SparseVectors = toy, DenseVectors = dense, DenseStorage = "fp16", ChunkLines = 5 });
            var done = await client.WaitForJobAsync(job.Id, pollInterval: TimeSpan.FromMilliseconds(50));
            Assert.True(done.State == "succeeded", done.Error);
            Assert.Equal("fp16", done.Request?.DenseStorage);
            Assert.Equal(toy, done.Request?.SparseVectors);
            Assert.Equal(["sparse", "dense"], done.Sources.Select(x => x.Kind));
            Assert.Equal([20L, 20], done.Sources.Select(x => x.LinesRead));
            Assert.Equal(["anserini", "jsonl"], done.Sources.Select(x => x.Format));
            var sdkIndex = await client.GetIndexAsync("httpvec-sdk");
            Assert.Equal("fp16", sdkIndex!.Channels!.Single(c => c.Name == "dense").Storage);

            // The CLI: its options become the submission (relative paths made absolute), which runs.
            var root = new System.CommandLine.RootCommand { JobsCommand.Create() };
            string relativeDense = Path.GetRelativePath(Environment.CurrentDirectory, dense);
            var parse = root.Parse(["jobs", "submit", "--url", fixture.BaseAddress.ToString(), "--index", "httpvec-cli", "--sparse-vectors", toy, "--vocab", vocab,
                "--dense-vectors", relativeDense, "--dense-metric", "cosine", "--dense-storage", "int8", "--dense-index", "flat", "--chunk-lines", "6", "--id", "cli-vec-1", "--no-wait"]);
            Assert.Empty(parse.Errors);
            var submission = JobsCommand.Submission(parse);
            Assert.Equal(new JobSubmission("httpvec-cli", null, null, 1)
            {
                SparseVectors = toy, SparseVocabulary = vocab, DenseVectors = dense, DenseMetric = "cosine", DenseStorage = "int8", DenseIndex = "flat", ChunkLines = 6, Id = "cli-vec-1",
            }, submission);
            var cliJob = await client.SubmitJobAsync(submission);
            var cliDone = await client.WaitForJobAsync(cliJob.Id, pollInterval: TimeSpan.FromMilliseconds(50));
            Assert.True(cliDone.State == "succeeded", cliDone.Error);
            var cliIndex = await client.GetIndexAsync("httpvec-cli");
            Assert.Equal(["sparse", "dense"], cliIndex!.Channels!.Select(c => c.Name));
            Assert.Equal(("cosine", "int8", "flat"), cliIndex.Channels!.Where(c => c.Name == "dense").Select(c => (c.Metric, c.Storage, c.AnnIndex)).Single());

            var nothing = root.Parse(["jobs", "submit", "--url", fixture.BaseAddress.ToString(), "--index", "x"]);
            Assert.Empty(nothing.Errors);
            Assert.Contains("give --source, --sparse-vectors or --dense-vectors", Assert.Throws<FormatException>(() => JobsCommand.Submission(nothing)).Message);
            Assert.Equal(2, await nothing.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = new StringWriter() }));

            // Bad vector requests over HTTP are 400s saying what is wrong.
            using var badMetric = await PostJson("v1/jobs", JsonSerializer.Serialize(new { index = "x", denseVectors = dense, denseMetric = "l2" }));
            Assert.Equal(HttpStatusCode.BadRequest, badMetric.StatusCode);
            Assert.Contains("denseMetric must be 'dot' or 'cosine'", (await Json(badMetric)).GetProperty("detail").GetString());
            using var missing = await PostJson("v1/jobs", JsonSerializer.Serialize(new { index = "x", sparseVectors = toy + ".missing" }));
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("does not exist", (await Json(missing)).GetProperty("detail").GetString());
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("""{"source": "/tmp/x.jsonl"}""", "'index' is required")]
    [InlineData("""{"index": "x"}""", "'source' is required")]
    [InlineData("""{"index": "x", "source": "/nonexistent/corpus.jsonl"}""", "not an allowed source")]
    [InlineData("""{"index": "Bad Name", "source": "/tmp/x.jsonl"}""", "Index name 'Bad Name' is invalid")]
    [InlineData("""{"index": "x", "source": "/tmp/x.jsonl", "id": "Bad Id"}""", "Job id 'Bad Id' is invalid")]
    [InlineData("""{"index": "x", "source": "/tmp/x.jsonl", "shards": "two"}""", "not valid JSON")]
    [InlineData("""{"index": "x", "source": "/tmp/x.jsonl", "shard": 2}""", "not valid JSON")]
    [InlineData("""{"index": "x" """, "not valid JSON")]
    [InlineData("""{"index": "x", "source": "/tmp/x.jsonl", "denseEncoder": "nope"}""", "Unknown encoder 'nope'")]
    [InlineData("""{"index": "x", "source": "/tmp/x.jsonl", "denseEncoder": "nope", "denseVectors": "/tmp/v.jsonl"}""", "Give denseVectors or denseEncoder, not both")]
    [InlineData("""{"index": "x", "denseVectors": "/tmp/v.jsonl", "sparseEncoder": "splade"}""", "needs a text source")]
    public async Task Bad_job_requests_get_400_saying_what_is_wrong(string body, string expected)
    {
        using var response = await PostJson("v1/jobs", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (await Json(response)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Unknown_jobs_are_404_and_bad_ids_400()
    {
        using var get = await fixture.Http.GetAsync("v1/jobs/no-such-job");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Contains("Job 'no-such-job' does not exist", (await Json(get)).GetProperty("detail").GetString());
        using var cancel = await fixture.Http.PostAsync("v1/jobs/no-such-job/cancel", null);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        using var bad = await fixture.Http.GetAsync("v1/jobs/NOT_VALID");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var limit = await fixture.Http.GetAsync("v1/jobs?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, limit.StatusCode);
    }
}
