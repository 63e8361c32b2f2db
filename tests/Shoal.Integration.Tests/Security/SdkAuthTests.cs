using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Client;

namespace Shoal.Integration.Tests.Security;

/// <summary>
/// Tests that set process environment variables (SHOAL_API_KEY): xUnit runs this collection alone,
/// after the parallel ones, so no other test's client or CLI sees the variable.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "process environment";
}

/// <summary>The SDK against the real gateway with API keys on: its key accepted, a missing one a 401 problem.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class SdkAuthTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private const string Variable = ShoalClientOptions.ApiKeyEnvironmentVariable;

    private Uri Base => fixture.Http.BaseAddress!;

    [Fact]
    public async Task The_sdk_sends_its_key_and_without_one_gets_a_401_problem()
    {
        string? saved = Environment.GetEnvironmentVariable(Variable);
        Environment.SetEnvironmentVariable(Variable, null);
        try
        {
            using (var client = new ShoalClient(new ShoalClientOptions { BaseAddress = Base, ApiKey = SecuredGatewayFixture.SearchKey }))
            {
                var results = await client.SearchAsync("sample", ShoalQuery.Bm25("ranking") with { K = 3 });
                Assert.NotEmpty(results.Hits);
                Assert.Contains("sample", await client.ListIndexesAsync());
                // The key's scope is search: an ingest is a 403 problem naming the missing scope.
                var forbidden = await Assert.ThrowsAsync<ShoalApiException>(() => client.StartIngestAsync("other", new IngestOptions("x.jsonl")));
                Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
                Assert.Contains("'admin'", forbidden.Detail, StringComparison.Ordinal);
            }

            using (var anonymous = new ShoalClient(Base, maxRetries: 0))
            {
                var e = await Assert.ThrowsAsync<ShoalApiException>(() => anonymous.SearchAsync("sample", new SearchQuery("ranking", K: 3)));
                Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
                Assert.Equal(401, e.Problem.Status);
                Assert.Contains("X-Api-Key", e.Problem.Detail, StringComparison.Ordinal);
                Assert.False(e.IsTransient);
                var list = await Assert.ThrowsAsync<ShoalApiException>(() => anonymous.ListIndexesAsync());
                Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
                // Health probes stay open.
                Assert.True(await anonymous.IsReadyAsync());
            }

            // The DI path with the key from configuration.
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Shoal:BaseAddress"] = Base.ToString(),
                ["Shoal:ApiKey"] = SecuredGatewayFixture.SearchKey,
            }).Build();
            var services = new ServiceCollection();
            services.AddShoalClient(configuration);
            await using var provider = services.BuildServiceProvider();
            Assert.NotEmpty((await provider.GetRequiredService<ShoalClient>().SearchAsync("sample", new SearchQuery("ranking", K: 3))).Hits);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, saved);
        }
    }

    [Fact]
    public async Task With_no_key_configured_the_sdk_reads_SHOAL_API_KEY()
    {
        string? saved = Environment.GetEnvironmentVariable(Variable);
        try
        {
            Environment.SetEnvironmentVariable(Variable, SecuredGatewayFixture.SearchKey);
            using (var client = new ShoalClient(Base))
                Assert.NotEmpty((await client.SearchAsync("sample", new SearchQuery("ranking", K: 3))).Hits);

            var services = new ServiceCollection();
            services.AddShoalClient(o => o.BaseAddress = Base);
            await using (var provider = services.BuildServiceProvider())
                Assert.Contains("sample", await provider.GetRequiredService<ShoalClient>().ListIndexesAsync());

            // A configured key wins over the variable.
            Environment.SetEnvironmentVariable(Variable, "not-a-valid-key-at-all");
            using (var configured = new ShoalClient(new ShoalClientOptions { BaseAddress = Base, ApiKey = SecuredGatewayFixture.SearchKey }))
                Assert.NotEmpty((await configured.SearchAsync("sample", new SearchQuery("ranking", K: 3))).Hits);
            using (var fromVariable = new ShoalClient(Base, maxRetries: 0))
            {
                var e = await Assert.ThrowsAsync<ShoalApiException>(() => fromVariable.ListIndexesAsync());
                Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
                Assert.Contains("not valid", e.Problem.Detail, StringComparison.Ordinal);
            }

            // A variable that cannot be a header value is a clear error naming it.
            Environment.SetEnvironmentVariable(Variable, "bad\nkey");
            var bad = Assert.Throws<InvalidOperationException>(() => new ShoalClient(Base));
            Assert.Contains(Variable, bad.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, saved);
        }
    }
}
