using System.Net;
using System.Text.Json;
using Shoal.Integration.Tests.Security;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>
/// With API keys configured, the console's files, the OpenAPI document and the Scalar page load
/// without a key (a browser cannot add X-Api-Key to a page load), while every /v1 endpoint the
/// page then reads keeps its scope.
/// </summary>
public sealed class ConsoleAuthTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    [Theory]
    [InlineData("ui/", "text/html")]
    [InlineData("ui/app.js", "text/javascript")]
    [InlineData("ui/style.css", "text/css")]
    [InlineData("ui/cluster", "text/html")]
    [InlineData("scalar/v1", "text/html")]
    [InlineData("openapi/v1.json", "application/json")]
    public async Task The_console_and_the_api_reference_load_without_a_key(string path, string mediaType)
    {
        using var response = await fixture.SendAsync(HttpMethod.Get, path, key: null);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /{path} without a key: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_data_the_console_reads_still_needs_a_key_with_its_scope()
    {
        foreach (string path in new[] { "v1/cluster", "v1/indexes/sample/versions", "v1/indexes", "v1/jobs" })
        {
            using var anonymous = await fixture.SendAsync(HttpMethod.Get, path, key: null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"GET /{path} without a key: {anonymous.StatusCode}");
            Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(await anonymous.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(401, problem.GetProperty("status").GetInt32());
            Assert.Contains("X-Api-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

            using var keyed = await fixture.SendAsync(HttpMethod.Get, path, SecuredGatewayFixture.SearchKey);
            Assert.True(keyed.StatusCode == HttpStatusCode.OK, $"GET /{path} with the search key: {keyed.StatusCode}");
        }
        // The page's admin controls stay behind the admin scope.
        using var merge = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/merge", SecuredGatewayFixture.SearchKey);
        Assert.Equal(HttpStatusCode.Forbidden, merge.StatusCode);
    }
}
