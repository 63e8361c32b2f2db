using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Shoal.Gateway.Auth;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Security;

public sealed class SecretsTests
{
    [Theory]
    [InlineData("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;", "Eby8vdM02")]
    [InlineData("BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=abcdEFGH1234%3D", "abcdEFGH1234")]
    [InlineData("https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=topSecretSig&se=2030", "topSecretSig")]
    [InlineData("redis-0.redis:6379,password=hunter2-redis,ssl=true", "hunter2-redis")]
    [InlineData("redis://default:hunter2@redis:6379", "hunter2")]
    public void Connection_strings_lose_their_secrets(string connection, string secret)
    {
        string redacted = Secrets.Redact(connection);
        Assert.DoesNotContain(secret, redacted, StringComparison.Ordinal);
        Assert.Contains("***", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_secret_parts_are_kept()
    {
        Assert.Equal("127.0.0.1:6379", Secrets.Redact("127.0.0.1:6379"));
        Assert.Contains("AccountName=devstoreaccount1", Secrets.Redact("AccountName=devstoreaccount1;AccountKey=abc"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_start_up_auth_line_names_keys_and_scopes_but_never_a_key_or_hash()
    {
        const string key = "a-very-secret-key-0123456789";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Shoal:Auth:Keys:0:Name"] = "app",
            ["Shoal:Auth:Keys:0:Key"] = key,
            ["Shoal:Auth:Keys:0:Scopes"] = "search,write",
        }).Build();
        var settings = GatewayAuth.Decide(configuration, "http://127.0.0.1:5080");
        var logger = new ListLogger();
        GatewayAuth.LogMode(logger, settings);
        string all = string.Join("\n", logger.Lines);
        Assert.Contains("app [search write]", all, StringComparison.Ordinal);
        Assert.DoesNotContain(key, all, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKeyRing.HashOf(key), all, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_keys_on_loopback_start_up_warns_that_the_api_is_open_to_this_machine_only()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build();
        var settings = GatewayAuth.Decide(configuration, "http://127.0.0.1:5080");
        Assert.Equal(AnonymousAccess.LoopbackOnly, settings.Anonymous);
        var logger = new ListLogger();
        GatewayAuth.LogMode(logger, settings);
        var (level, line) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("No API keys configured", line, StringComparison.Ordinal);
        Assert.Contains("loopback only", line, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:5080", line, StringComparison.Ordinal);
        Assert.Contains("Configure Shoal:Auth:Keys", line, StringComparison.Ordinal);
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public List<(LogLevel Level, string Line)> Entries { get; } = [];

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Lines.Add(formatter(state, exception));
            Entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
