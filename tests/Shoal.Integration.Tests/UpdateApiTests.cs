using System.Net;
using System.Text;
using System.Text.Json;
using Shoal.Cli.Commands;
using Shoal.Client;
using Shoal.Gateway;

namespace Shoal.Integration.Tests;

/// <summary>Online update endpoints over real HTTP (the gateway with its embedded silo and the sample index).</summary>
public sealed class UpdateApiTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private Task<HttpResponseMessage> PostJson(string path, string json) =>
        fixture.Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("""[{"id": "a"}]""", "not valid JSON")]
    [InlineData("""{}""", "no operations")]
    [InlineData("""{"documents": [], "deletes": []}""", "no operations")]
    [InlineData("""{"docs": [{"id": "a"}]}""", "docs")]
    [InlineData("""{"documents": [{"id": "a", "txt": "misspelt"}]}""", "txt")]
    [InlineData("""{"documents": [null]}""", "documents[0] is null")]
    [InlineData("""{"documents": [{"title": "no id"}]}""", "documents[0] has no 'id'")]
    [InlineData("""{"documents": [{"id": "a"}, {"id": "  "}]}""", "documents[1] has an empty 'id'")]
    [InlineData("""{"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}""", "Document 'a' appears more than once")]
    [InlineData("""{"documents": [{"id": "a", "sparse": {"apple": 1}, "sparseTermIds": [1], "sparseWeights": [1]}]}""", "Document 'a': give 'sparse' (token weights) or 'sparseTermIds' with 'sparseWeights', not both")]
    [InlineData("""{"documents": [{"id": "a", "sparseTermIds": [1, 2], "sparseWeights": [0.5]}]}""", "'sparseTermIds' has 2 entries but 'sparseWeights' has 1")]
    [InlineData("""{"documents": [{"id": "a", "sparseTermIds": [1, 2]}]}""", "go together")]
    [InlineData("""{"documents": [{"id": "a", "sparse": {"apple": 1e39}}]}""", "sparse weight of token 'apple' is not a finite number")]
    [InlineData("""{"documents": [{"id": "b", "dense": [0.5, 1e39]}]}""", "Document 'b': 'dense' has a non-finite value at dimension 1")]
    [InlineData("""{"documents": [{"id": "b", "dense": []}]}""", "'dense' is empty")]
    [InlineData("""{"documents": [{"id": "b", "dense": ["x"]}]}""", "not valid JSON")]
    [InlineData("""{"documents": [{"id": "a", "text": "x"}], "deletes": ["a"]}""", "Document 'a' is both upserted and deleted")]
    [InlineData("""{"deletes": ["a", "b", "a"]}""", "Document 'a' is deleted twice")]
    [InlineData("""{"deletes": ["a", ""]}""", "deletes[1] is empty")]
    public async Task Bad_update_requests_get_400_saying_what_is_wrong(string body, string expected)
    {
        using var response = await PostJson("v1/indexes/sample/documents", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{body}: {response.StatusCode} {text}");
        Assert.Contains(expected, JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_document_text_or_title_over_the_field_limit_is_400_naming_the_document_and_field_and_the_limit_itself_is_accepted()
    {
        int limit = Shoal.Engine.Updates.UpdateValidation.MaxTextLength;
        using var tooLong = await PostJson("v1/indexes/sample/documents", JsonSerializer.Serialize(new
        {
            documents = new object[] { new { id = "fine", text = "short" }, new { id = "long-text", text = new string('a', limit + 1) } },
        }));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        string detail = (await Json(tooLong)).GetProperty("detail").GetString()!;
        Assert.Contains("Document 'long-text': 'text' has", detail);
        Assert.Contains("split it into passages", detail);

        using var longTitle = await PostJson("v1/indexes/sample/documents", JsonSerializer.Serialize(new
        {
            documents = new[] { new { id = "long-title", title = new string('t', Shoal.Engine.Updates.UpdateValidation.MaxTitleLength + 1), text = "x" } },
        }));
        Assert.Equal(HttpStatusCode.BadRequest, longTitle.StatusCode);
        Assert.Contains("Document 'long-title': 'title' has", (await Json(longTitle)).GetProperty("detail").GetString());

        // Nothing of a refused request was applied; a text of exactly the limit is accepted.
        using var search = await PostJson("v1/indexes/sample/search", """{"text": "short", "k": 10}""");
        Assert.DoesNotContain("\"fine\"", await search.Content.ReadAsStringAsync());
        using var atLimit = await PostJson("v1/indexes/sample/documents", JsonSerializer.Serialize(new
        {
            documents = new[] { new { id = "at-limit", text = string.Concat(Enumerable.Repeat("word ", limit / 5)) } },
        }));
        Assert.True(atLimit.StatusCode == HttpStatusCode.OK, await atLimit.Content.ReadAsStringAsync());
        using var cleanup = await PostJson("v1/indexes/sample/documents", """{"deletes": ["at-limit"]}""");
        Assert.Equal(HttpStatusCode.OK, cleanup.StatusCode);
    }

    [Fact]
    public async Task More_than_10000_operations_is_400_saying_to_split_and_10000_is_not_refused_for_size()
    {
        string Deletes(int n) => JsonSerializer.Serialize(new { deletes = Enumerable.Range(0, n).Select(i => $"missing-{i}") });
        using var tooMany = await PostJson("v1/indexes/sample/documents", Deletes(UpdatesApi.MaxOperationsPerRequest + 1));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        string detail = (await Json(tooMany)).GetProperty("detail").GetString()!;
        Assert.Contains("10,001 operations", detail);
        Assert.Contains("split it", detail);

        using var mixed = await PostJson("v1/indexes/sample/documents", JsonSerializer.Serialize(new
        {
            documents = Enumerable.Range(0, 6000).Select(i => new { id = $"new-{i}", text = "x" }),
            deletes = Enumerable.Range(0, 4001).Select(i => $"gone-{i}"),
        }));
        Assert.Equal(HttpStatusCode.BadRequest, mixed.StatusCode);
        Assert.Contains("6,000 documents, 4,001 deletes", await mixed.Content.ReadAsStringAsync());

        using var atCap = await PostJson("v1/indexes/sample/documents", Deletes(UpdatesApi.MaxOperationsPerRequest));
        Assert.NotEqual(HttpStatusCode.BadRequest, atCap.StatusCode);
    }

    [Fact]
    public async Task Unknown_index_is_404_for_upserts_deletes_and_merges_and_a_bad_name_is_400()
    {
        using var upsert = await PostJson("v1/indexes/no-such-index/documents", """{"documents": [{"id": "a", "text": "x"}]}""");
        Assert.Equal(HttpStatusCode.NotFound, upsert.StatusCode);
        Assert.Contains("Index 'no-such-index' does not exist.", (await Json(upsert)).GetProperty("detail").GetString());

        using var delete = await fixture.Http.DeleteAsync("v1/indexes/no-such-index/documents/a");
        Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        Assert.Contains("does not exist", (await Json(delete)).GetProperty("detail").GetString());

        using var merge = await fixture.Http.PostAsync("v1/indexes/no-such-index/merge", null);
        Assert.Equal(HttpStatusCode.NotFound, merge.StatusCode);
        Assert.Contains("does not exist", (await Json(merge)).GetProperty("detail").GetString());

        using var badName = await PostJson("v1/indexes/Bad%20Name/documents", """{"deletes": ["a"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);

        // The SDK surfaces the same problems.
        using var client = new ShoalClient(fixture.Http);
        var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.UpsertAsync("no-such-index", [new DocumentInput("a") { Text = "x" }]));
        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        var m = await Assert.ThrowsAsync<ShoalApiException>(() => client.MergeAsync("no-such-index"));
        Assert.Equal(HttpStatusCode.NotFound, m.StatusCode);
        var bad = await Assert.ThrowsAsync<ShoalApiException>(() => client.UpdateAsync("sample", [new DocumentInput("a") { SparseTermIds = [1, 2], SparseWeights = [1f] }], []));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("'sparseTermIds' has 2 entries but 'sparseWeights' has 1", bad.Detail);
    }

    [Fact]
    public async Task Index_info_serialises_the_updates_member()
    {
        using var response = await fixture.Http.GetAsync("v1/indexes/sample");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var info = await Json(response);
        Assert.True(info.TryGetProperty("updates", out var updates), info.ToString());
        Assert.True(updates.ValueKind is JsonValueKind.Null or JsonValueKind.Object);
        // The SDK reads the whole description, updates included.
        using var client = new ShoalClient(fixture.Http);
        Assert.NotNull(await client.GetIndexAsync("sample"));
    }

    /// <summary>
    /// The whole path: an upsert is searchable when the call returns, a delete hides it again.
    /// The id holds a '/' so the DELETE route must take it escaped (%2F) and restore it.
    /// Needs IIndexGrain.UpdateAsync (and the shard side) to be implemented.
    /// </summary>
    [Fact]
    public async Task Upsert_then_search_sees_it_delete_then_not()
    {
        const string Word = "quokkaflux";
        async Task<string[]> SearchIds()
        {
            using var search = await PostJson("v1/indexes/sample/search", JsonSerializer.Serialize(new { text = Word, k = 5 }));
            string text = await search.Content.ReadAsStringAsync();
            Assert.True(search.StatusCode == HttpStatusCode.OK, text);
            return [.. JsonDocument.Parse(text).RootElement.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!)];
        }

        Assert.Empty(await SearchIds());
        using var upsert = await PostJson("v1/indexes/sample/documents",
            $$"""{"documents": [{"id": "online/1", "title": "Live update", "text": "The {{Word}} is a word no other passage holds."}]}""");
        string upserted = await upsert.Content.ReadAsStringAsync();
        Assert.True(upsert.StatusCode == HttpStatusCode.OK, upserted);
        var result = JsonDocument.Parse(upserted).RootElement;
        Assert.Equal("sample", result.GetProperty("index").GetString());
        Assert.Equal(1, result.GetProperty("upserted").GetInt32());
        Assert.Equal(0, result.GetProperty("deleted").GetInt32());
        Assert.True(result.GetProperty("version").GetInt64() > 0);
        Assert.True(result.GetProperty("pendingOperations").GetInt64() >= 1);

        Assert.Equal(["online/1"], await SearchIds());

        using var delete = await fixture.Http.DeleteAsync("v1/indexes/sample/documents/online%2F1");
        string deleted = await delete.Content.ReadAsStringAsync();
        Assert.True(delete.StatusCode == HttpStatusCode.OK, deleted);
        Assert.Equal(1, JsonDocument.Parse(deleted).RootElement.GetProperty("deleted").GetInt32());

        Assert.Empty(await SearchIds());
    }
}

/// <summary>What the SDK and the CLI send, against a recording HTTP handler (no cluster).</summary>
public sealed class UpdateSdkAndCliTests
{
    /// <summary>Records each request (method, path and query, body) and answers with <see cref="Respond"/>.</summary>
    private sealed class Recorder : HttpMessageHandler
    {
        public List<(HttpMethod Method, string Path, string Body)> Requests { get; } = [];

        public Func<HttpRequestMessage, JsonElement?, HttpResponseMessage> Respond { get; set; } = (_, body) => Outcome(body);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Add((request.Method, request.RequestUri!.PathAndQuery, body));
            return Respond(request, body.Length == 0 ? null : JsonDocument.Parse(body).RootElement);
        }

        /// <summary>The server's answer to an update body: counts of what it carried.</summary>
        public static HttpResponseMessage Outcome(JsonElement? body)
        {
            int Count(string name) => body is { } b && b.TryGetProperty(name, out var a) ? a.GetArrayLength() : 0;
            return Answer(HttpStatusCode.OK, new { index = "idx", version = 3, upserted = Count("documents"), deleted = Count("deletes"), pendingOperations = 42 });
        }

        public static HttpResponseMessage Answer(HttpStatusCode status, object body) =>
            new(status) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
    }

    private static (ShoalClient Client, Recorder Recorder) Client()
    {
        var recorder = new Recorder();
#pragma warning disable CA2000 // an HttpClient over an in-memory recording handler: no socket or native handle to release
        return (new ShoalClient(new HttpClient(recorder) { BaseAddress = new Uri("http://shoal.test/") }, maxRetries: 0), recorder);
#pragma warning restore CA2000
    }

    private static JsonElement Body(Recorder r, int i) => JsonDocument.Parse(r.Requests[i].Body).RootElement;

    [Fact]
    public async Task Upserts_are_sent_in_batches_in_the_http_document_shape_and_the_totals_are_summed()
    {
        var (client, recorder) = Client();
        var documents = Enumerable.Range(0, 25).Select(i => new DocumentInput($"d{i}") { Text = $"text {i}" }).ToList();
        documents[0] = documents[0] with
        {
            Title = "First",
            Sparse = new Dictionary<string, float> { ["apple"] = 1.5f },
            Dense = [0.25f, -1f],
        };
        documents[1] = documents[1] with { SparseTermIds = [7, 9], SparseWeights = [0.5f, 2f] };
        var reports = new List<UpdateOutcome>();
        var outcome = await client.UpsertAsync("idx", documents, batchSize: 10, progress: new SyncProgress(reports.Add));

        Assert.Equal([10, 10, 5], recorder.Requests.Select((_, i) => Body(recorder, i).GetProperty("documents").GetArrayLength()));
        Assert.All(recorder.Requests, r => Assert.Equal((HttpMethod.Post, "/v1/indexes/idx/documents"), (r.Method, r.Path)));
        var first = Body(recorder, 0).GetProperty("documents");
        Assert.Equal("""{"id":"d0","title":"First","text":"text 0","sparse":{"apple":1.5},"dense":[0.25,-1]}""", first[0].GetRawText());
        Assert.Equal("""{"id":"d1","text":"text 1","sparseTermIds":[7,9],"sparseWeights":[0.5,2]}""", first[1].GetRawText());
        Assert.False(Body(recorder, 0).TryGetProperty("deletes", out _));
        Assert.Equal(new UpdateOutcome("idx", 3, 25, 0, 42) { Requests = 3 }, outcome);
        Assert.Equal([10, 20, 25], reports.Select(r => r.Upserted));
    }

    [Fact]
    public async Task Updates_send_upserts_then_deletes_split_on_a_repeated_id_and_refuse_an_id_upserted_and_deleted()
    {
        var (client, recorder) = Client();
        var outcome = await client.UpdateAsync("idx",
            [new DocumentInput("a"), new DocumentInput("b"), new DocumentInput("a") { Text = "newer" }],
            ["x", "y", "z", "x", "w"], batchSize: 3);
        // "a" again starts a new request (the later copy wins); the last upserts share a request with the first deletes; "x" is sent once.
        Assert.Equal(
            ["""{"documents":[{"id":"a"},{"id":"b"}]}""", """{"documents":[{"id":"a","text":"newer"}],"deletes":["x","y"]}""", """{"deletes":["z","w"]}"""],
            recorder.Requests.Select(r => r.Body));
        Assert.Equal((3, 4, 3), (outcome.Upserted, outcome.Deleted, outcome.Requests));

        recorder.Requests.Clear();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.UpdateAsync("idx", [new DocumentInput("q")], ["q"]));
        Assert.Contains("'q' is both upserted and deleted", e.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => client.UpsertAsync("idx", [new DocumentInput(" ")]));
        Assert.Contains("Document 'v': the dense vector has a non-finite value at dimension 1",
            (await Assert.ThrowsAsync<ArgumentException>(() => client.UpsertAsync("idx", [new DocumentInput("v") { Dense = [0f, float.NaN] }]))).Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.UpsertAsync("idx", [new DocumentInput("a")], batchSize: 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.DeleteAsync("idx", ["a"], batchSize: ShoalClient.MaxOperationsPerRequest + 1));
        await Assert.ThrowsAsync<ArgumentException>(() => client.UpdateAsync("idx", [], []));
        Assert.Empty(recorder.Requests);
    }

    [Fact]
    public async Task Delete_of_one_id_uses_the_delete_route_merge_posts_and_problems_become_ShoalApiException()
    {
        var (client, recorder) = Client();
        var one = await client.DeleteAsync("idx", "a/b c");
        Assert.Equal((HttpMethod.Delete, "/v1/indexes/idx/documents/a%2Fb%20c"), (recorder.Requests[0].Method, recorder.Requests[0].Path));
        Assert.Equal("idx", one.Index);

        recorder.Respond = (_, _) => Recorder.Answer(HttpStatusCode.Accepted, new { state = "running", phase = "merging", documentsRead = 0, startedUtc = DateTimeOffset.UtcNow });
        var merge = await client.MergeAsync("idx");
        Assert.Equal((HttpMethod.Post, "/v1/indexes/idx/merge"), (recorder.Requests[1].Method, recorder.Requests[1].Path));
        Assert.Equal(("running", "merging"), (merge.State, merge.Phase));

        recorder.Respond = (_, _) => Recorder.Answer(HttpStatusCode.BadRequest, new { title = "Invalid request", status = 400, detail = "Document 'a' has 3 dense dimensions; the index has 384." });
        var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.UpsertAsync("idx", [new DocumentInput("a") { Dense = [1, 2, 3] }]));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Equal("Document 'a' has 3 dense dimensions; the index has 384.", e.Detail);
    }

    private static HttpResponseMessage IndexWithMerge(string state, long? version, string? error = null) => Recorder.Answer(HttpStatusCode.OK, new
    {
        name = "idx", version = 2, shardCount = 1, docCount = 10, analyzer = "english", k1 = 0.9, b = 0.4, createdUtc = DateTimeOffset.UtcNow,
        updates = new { pendingOperations = 5, pendingBatches = 2, merge = new { state, phase = state == "running" ? "building" : "published", documentsRead = 10, version, error } },
    });

    [Fact]
    public async Task Merge_wait_polls_the_index_until_the_merge_ends_and_prints_the_new_version()
    {
        var (client, recorder) = Client();
        int polls = 0;
        recorder.Respond = (request, _) => request.Method == HttpMethod.Post
            ? Recorder.Answer(HttpStatusCode.Accepted, new { state = "running", phase = "building", documentsRead = 0 })
            : ++polls < 3 ? IndexWithMerge("running", null) : IndexWithMerge("succeeded", 3);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await UpdateCommands.RunMergeAsync(client, "idx", wait: true, output, error, CancellationToken.None);
        Assert.True(code == 0, error.ToString());
        Assert.Equal(3, polls);
        Assert.Equal("index idx version 3 published (merge succeeded)", output.ToString().Trim());
        Assert.Contains("merge running", error.ToString());
        Assert.Equal(["/v1/indexes/idx/merge", "/v1/indexes/idx", "/v1/indexes/idx", "/v1/indexes/idx"], recorder.Requests.Select(r => r.Path));

        recorder.Respond = (request, _) => request.Method == HttpMethod.Post
            ? Recorder.Answer(HttpStatusCode.Accepted, new { state = "running", phase = "building", documentsRead = 0 })
            : IndexWithMerge("failed", null, "disk full");
        error = new StringWriter();
        Assert.Equal(1, await UpdateCommands.RunMergeAsync(client, "idx", wait: true, new StringWriter(), error, CancellationToken.None));
        Assert.Contains("merge of index 'idx' failed: disk full", error.ToString());

        // The SDK reads the updates of an index description.
        var info = await client.GetIndexAsync("idx");
        Assert.Equal((5L, 2L, "failed"), (info!.Updates!.PendingOperations, info.Updates.PendingBatches, info.Updates.Merge!.State));
    }

    [Fact]
    public void Document_lines_parse_in_the_http_shape_and_as_beir_corpus_lines()
    {
        var beir = UpdateCommands.ParseLine("""{"_id": "s1", "title": "T", "text": "body", "metadata": {"year": 2020}}""");
        Assert.Equal(new DocumentInput("s1") { Title = "T", Text = "body" }, beir);

        var full = UpdateCommands.ParseLine("""{"id": "d", "text": "t", "sparse": {"apple": 2.5}, "dense": [1, -0.5]}""");
        Assert.Equal(2.5f, full.Sparse!["apple"]);
        Assert.Equal([1f, -0.5f], full.Dense!);
        var ids = UpdateCommands.ParseLine("""{"id": "e", "title": null, "sparseTermIds": [3, 4], "sparseWeights": [0.1, 0.2]}""");
        Assert.Equal([3, 4], ids.SparseTermIds!);
        Assert.Null(ids.Title);

        foreach (var (line, expected) in new[]
        {
            ("""{"id": "a", """, "not valid JSON"),
            ("""["a"]""", "expected a JSON object, got array"),
            ("""{"title": "no id"}""", "has no 'id' (or '_id')"),
            ("""{"id": "", "text": "x"}""", "has no 'id'"),
            ("""{"id": "a", "_id": "b"}""", "has both 'id' and '_id'"),
            ("""{"id": 7}""", "'id' must be a string, got number"),
            ("""{"id": "a", "body": "x"}""", "unknown field 'body'"),
            ("""{"id": "a", "text": 5}""", "'text' must be a string"),
            ("""{"id": "a", "sparse": {"x": "high"}}""", "the sparse weight of 'x' is not a number"),
            ("""{"id": "a", "sparse": {"x": 1}, "sparseTermIds": [1], "sparseWeights": [1]}""", "not both"),
            ("""{"id": "a", "sparseTermIds": [1, 2], "sparseWeights": [1]}""", "'sparseTermIds' has 2 entries but 'sparseWeights' has 1"),
            ("""{"id": "a", "sparseWeights": [1]}""", "go together"),
            ("""{"id": "a", "sparseTermIds": [1.5], "sparseWeights": [1]}""", "'sparseTermIds'[0] is not an integer"),
            ("""{"id": "a", "dense": [1, 1e39]}""", "'dense'[1] is not a finite 32-bit number"),
            ("""{"id": "a", "dense": {"0": 1}}""", "'dense' must be an array, got object"),
        })
        {
            var e = Assert.Throws<FormatException>(() => UpdateCommands.ParseLine(line));
            Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"{line}: {e.Message}");
        }
    }

    [Fact]
    public async Task Upsert_command_reports_every_malformed_line_with_its_number_and_sends_nothing()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-upsert-").FullName;
        try
        {
            string file = Path.Combine(dir, "docs.jsonl");
            await File.WriteAllLinesAsync(file,
            [
                """{"id": "a", "text": "fine"}""",
                """{"id": "b", "text": "unterminated""",
                "",
                """{"_id": "c", "title": "fine too", "text": "x"}""",
                """{"id": "d", "dense": [1, "x"]}""",
            ]);
            var (client, recorder) = Client();
            var error = new StringWriter();
            int code = await UpdateCommands.RunUpsertAsync(client, "idx", file, 1000, new StringWriter(), error, CancellationToken.None);
            Assert.Equal(2, code);
            string err = error.ToString();
            Assert.Contains($"{file}:2: not valid JSON", err);
            Assert.Contains($"{file}:5: 'dense'[1] is not a number", err);
            Assert.DoesNotContain($"{file}:1:", err);
            Assert.Contains("2 malformed lines", err);
            Assert.Contains("nothing was sent", err);
            Assert.Empty(recorder.Requests);

            var missing = new StringWriter();
            Assert.Equal(2, await UpdateCommands.RunUpsertAsync(client, "idx", Path.Combine(dir, "nope.jsonl"), 1000, new StringWriter(), missing, CancellationToken.None));
            Assert.Contains("does not exist", missing.ToString());
            string empty = Path.Combine(dir, "empty.jsonl");
            await File.WriteAllTextAsync(empty, "\n\n");
            var none = new StringWriter();
            Assert.Equal(2, await UpdateCommands.RunUpsertAsync(client, "idx", empty, 1000, new StringWriter(), none, CancellationToken.None));
            Assert.Contains("holds no documents", none.ToString());
            Assert.Empty(recorder.Requests);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Upsert_and_delete_commands_stream_the_file_in_batches_and_report_what_was_applied()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-upsert-").FullName;
        try
        {
            string file = Path.Combine(dir, "corpus.jsonl");
            await File.WriteAllLinesAsync(file, Enumerable.Range(0, 7).Select(i => $$$"""{"_id": "c{{{i}}}", "title": "t{{{i}}}", "text": "text {{{i}}}", "metadata": {}}"""));
            var (client, recorder) = Client();
            var output = new StringWriter();
            var error = new StringWriter();
            Assert.Equal(0, await UpdateCommands.RunUpsertAsync(client, "idx", file, 3, output, error, CancellationToken.None));
            Assert.Equal([3, 3, 1], recorder.Requests.Select((_, i) => Body(recorder, i).GetProperty("documents").GetArrayLength()));
            Assert.Equal("""{"id":"c6","title":"t6","text":"text 6"}""", Body(recorder, 2).GetProperty("documents")[0].GetRawText());
            Assert.Equal("index idx version 3: 7 documents upserted in 3 requests, 42 operations pending merge", output.ToString().Trim());
            Assert.Contains("7 of 7 documents sent", error.ToString());

            // Delete: ids from arguments and a file, blank lines skipped.
            recorder.Requests.Clear();
            string ids = Path.Combine(dir, "ids.txt");
            await File.WriteAllLinesAsync(ids, ["c3", "", "  c4  "]);
            output = new StringWriter();
            Assert.Equal(0, await UpdateCommands.RunDeleteAsync(client, "idx", ["c1", "c2"], ids, 1000, output, new StringWriter(), CancellationToken.None));
            Assert.Equal("""{"deletes":["c1","c2","c3","c4"]}""", Assert.Single(recorder.Requests).Body);
            Assert.Equal("index idx version 3: 4 of 4 ids deleted, 42 operations pending merge", output.ToString().Trim());
            var nothing = new StringWriter();
            Assert.Equal(2, await UpdateCommands.RunDeleteAsync(client, "idx", [], null, 1000, new StringWriter(), nothing, CancellationToken.None));
            Assert.Contains("give the ids to delete", nothing.ToString());

            // A refusal after earlier batches says what stays applied; exit code 1.
            recorder.Requests.Clear();
            recorder.Respond = (_, body) => recorder.Requests.Count < 2
                ? Recorder.Outcome(body)
                : Recorder.Answer(HttpStatusCode.BadRequest, new { title = "Invalid request", status = 400, detail = "Document 'c3' has no text." });
            error = new StringWriter();
            Assert.Equal(1, await UpdateCommands.RunUpsertAsync(client, "idx", file, 3, new StringWriter(), error, CancellationToken.None));
            Assert.Contains("Document 'c3' has no text. (3 documents were upserted by earlier requests and stay so)", error.ToString());
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("/v1/indexes/x/documents/a%2Fb%20c", "a/b c")]
    [InlineData("/v1/indexes/x/documents/plain?trace=1", "plain")]
    [InlineData("/v1/indexes/x/documents/100%25", "100%")]
    public void The_delete_route_takes_the_id_as_the_client_escaped_it(string rawTarget, string id)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget = rawTarget;
        Assert.Equal(id, UpdatesApi.DocumentIdFromRawTarget(context.Request));
    }

    [Fact]
    public void Update_commands_parse_and_refuse_a_batch_over_the_cap()
    {
        var root = new System.CommandLine.RootCommand { UpdateCommands.Upsert(), UpdateCommands.Delete(), UpdateCommands.Merge() };
        Assert.Empty(root.Parse(["upsert", "--index", "x", "--file", "docs.jsonl", "--batch", "500"]).Errors);
        Assert.Empty(root.Parse(["delete", "--index", "x", "a", "b"]).Errors);
        Assert.Empty(root.Parse(["merge", "--index", "x", "--wait"]).Errors);
        Assert.Contains(root.Parse(["upsert", "--index", "x", "--file", "d.jsonl", "--batch", "10001"]).Errors, e => e.Message.Contains("--batch must be between 1 and 10,000", StringComparison.Ordinal));
        Assert.Contains(root.Parse(["upsert", "--index", "x"]).Errors, e => e.Message.Contains("--file", StringComparison.Ordinal));
    }

    private sealed class SyncProgress(Action<UpdateOutcome> report) : IProgress<UpdateOutcome>
    {
        public void Report(UpdateOutcome value) => report(value);
    }
}
