using System.Net;
using System.Text;
using System.Text.Json;

namespace Shoal.Integration.Tests.Security;

/// <summary><c>DELETE /v1/indexes/{name}</c>: admin only, stops serving, empties the store, and the name can be built again.</summary>
public sealed class IndexDeletionTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private const string Admin = SecuredGatewayFixture.AdminKey;

    private async Task<string> WriteCorpusAsync(string name, int documents, string word)
    {
        string path = Path.Combine(fixture.Root, name);
        var lines = new StringBuilder();
        for (int i = 0; i < documents; i++) lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"{word}-{i}\t{word} passage number {i} about rivers and lakes\n");
        await File.WriteAllTextAsync(path, lines.ToString());
        return path;
    }

    private async Task<JsonElement> IngestAndWaitAsync(string index, string corpus)
    {
        using (var started = await fixture.SendAsync(HttpMethod.Post, $"v1/indexes/{index}/ingest", Admin, JsonSerializer.Serialize(new { corpus, shards = 2 })))
            Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        return await WaitForBuildAsync(index);
    }

    private async Task<JsonElement> WaitForBuildAsync(string index)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            using var status = await fixture.SendAsync(HttpMethod.Get, $"v1/indexes/{index}/ingest", Admin);
            var json = JsonDocument.Parse(await status.Content.ReadAsStringAsync()).RootElement;
            string? state = json.GetProperty("state").GetString();
            if (state is "succeeded") return json;
            Assert.True(state is "running" or "idle", json.ToString());
            Assert.True(DateTime.UtcNow < deadline, "the build did not finish: " + json);
            await Task.Delay(100);
        }
    }

    private async Task<HttpResponseMessage> SearchAsync(string index, string text) =>
        await fixture.SendAsync(HttpMethod.Post, $"v1/indexes/{index}/search", SecuredGatewayFixture.SearchKey, JsonSerializer.Serialize(new { text, k = 5 }));

    [Fact]
    public async Task Deleting_an_index_needs_admin_stops_serving_empties_the_store_and_the_name_can_be_built_again()
    {
        const string index = "doomed";
        string first = await WriteCorpusAsync("doomed-1.tsv", 40, "alpha");
        var built = await IngestAndWaitAsync(index, first);
        long firstVersion = built.GetProperty("version").GetInt64();
        using (var found = await SearchAsync(index, "alpha rivers"))
            Assert.Equal(HttpStatusCode.OK, found.StatusCode);

        // search and write keys may not delete; nothing changes.
        foreach (var key in new[] { SecuredGatewayFixture.SearchKey, SecuredGatewayFixture.WriteKey })
        {
            using var denied = await fixture.SendAsync(HttpMethod.Delete, $"v1/indexes/{index}", key);
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            Assert.Contains("'admin'", JsonDocument.Parse(await denied.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString());
        }
        using (var still = await SearchAsync(index, "alpha rivers"))
            Assert.Equal(HttpStatusCode.OK, still.StatusCode);

        string snapshots = Path.Combine(fixture.DataDirectory, "snapshots");
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(snapshots, "indexes", index), "manifest.json", SearchOption.AllDirectories));
        // An online update, so the index has an update log to delete too.
        using (var update = await fixture.SendAsync(HttpMethod.Post, $"v1/indexes/{index}/documents", Admin,
                   """{"documents": [{"id": "live-1", "text": "alpha written online"}]}"""))
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.True(Directory.Exists(Path.Combine(snapshots, "updates", index)));

        using (var deleted = await fixture.SendAsync(HttpMethod.Delete, $"v1/indexes/{index}", Admin))
        {
            string body = await deleted.Content.ReadAsStringAsync();
            Assert.True(deleted.StatusCode == HttpStatusCode.OK, body);
            var json = JsonDocument.Parse(body).RootElement;
            Assert.Equal(index, json.GetProperty("index").GetString());
            Assert.Equal([firstVersion], json.GetProperty("removedVersions").EnumerateArray().Select(v => v.GetInt64()));
            Assert.True(json.GetProperty("shardReplicasDropped").GetInt32() == 2, body);
            Assert.True(json.GetProperty("removedObjects").GetInt32() >= 3, body);
        }

        // Gone: search, description and listing say so, and the store keeps no version or update log of it.
        using (var gone = await SearchAsync(index, "alpha rivers"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            Assert.Contains("does not exist", await gone.Content.ReadAsStringAsync());
        }
        using (var gone = await fixture.SendAsync(HttpMethod.Get, $"v1/indexes/{index}", Admin))
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using (var list = await fixture.SendAsync(HttpMethod.Get, "v1/indexes", Admin))
            Assert.DoesNotContain($"\"{index}\"", await list.Content.ReadAsStringAsync());
        Assert.Equal([Path.Combine(snapshots, "indexes", index, "deleted-through")],
            Directory.EnumerateFiles(Path.Combine(snapshots, "indexes", index), "*", SearchOption.AllDirectories));
        Assert.False(Directory.Exists(Path.Combine(snapshots, "updates", index)));
        using (var again = await fixture.SendAsync(HttpMethod.Delete, $"v1/indexes/{index}", Admin))
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);

        // The name is free: a new build of other documents serves them, never the deleted ones, with a version after the deleted one.
        string second = await WriteCorpusAsync("doomed-2.tsv", 30, "bravo");
        var rebuilt = await IngestAndWaitAsync(index, second);
        Assert.True(rebuilt.GetProperty("version").GetInt64() > firstVersion, rebuilt.ToString());
        using (var fresh = await SearchAsync(index, "bravo rivers"))
        {
            string body = await fresh.Content.ReadAsStringAsync();
            Assert.True(fresh.StatusCode == HttpStatusCode.OK, body);
            var hits = JsonDocument.Parse(body).RootElement.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!).ToList();
            Assert.NotEmpty(hits);
            Assert.All(hits, id => Assert.StartsWith("bravo-", id, StringComparison.Ordinal));
        }
        using (var old = await SearchAsync(index, "alpha written online"))
        {
            var hits = JsonDocument.Parse(await old.Content.ReadAsStringAsync()).RootElement.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!);
            Assert.DoesNotContain(hits, id => id.StartsWith("alpha-", StringComparison.Ordinal) || id == "live-1");
        }
    }

    [Fact]
    public async Task An_index_that_is_building_cannot_be_deleted_until_the_build_ends()
    {
        const string index = "busy";
        string corpus = await WriteCorpusAsync("busy.tsv", 60_000, "charlie");
        using (var started = await fixture.SendAsync(HttpMethod.Post, $"v1/indexes/{index}/ingest", Admin, JsonSerializer.Serialize(new { corpus, shards = 2 })))
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        using (var conflict = await fixture.SendAsync(HttpMethod.Delete, $"v1/indexes/{index}", Admin))
        {
            string body = await conflict.Content.ReadAsStringAsync();
            Assert.True(conflict.StatusCode == HttpStatusCode.Conflict, body);
            Assert.Contains("building", body);
        }
        await WaitForBuildAsync(index);
        using var deleted = await fixture.SendAsync(HttpMethod.Delete, $"v1/indexes/{index}", Admin);
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        using var unknown = await fixture.SendAsync(HttpMethod.Delete, "v1/indexes/never-built", Admin);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var invalid = await fixture.SendAsync(HttpMethod.Delete, "v1/indexes/Bad..Name", Admin);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
    }
}
