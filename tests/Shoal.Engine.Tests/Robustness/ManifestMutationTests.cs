using System.Text;
using FsCheck.Xunit;
using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Robustness;

/// <summary>Index manifests (JSON read back from the snapshot store) under mutation: a clear <see cref="InvalidDataException"/> or a valid manifest, nothing else.</summary>
public sealed class ManifestMutationTests
{
    private static byte[] ValidManifest() => new IndexManifest
    {
        Index = "docs",
        Version = 3,
        CreatedUtc = new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero),
        ShardCount = 2,
        Schema = new IndexSchema(new TextChannelSchema(K1: 0.9, B: 0.4)),
        DocCount = 10,
        TotalLength = 100,
        Shards = [new ShardManifest(0, 4, [new SegmentManifest("docs/v3/0.seg", 100, "00")]), new ShardManifest(1, 6, [])],
    }.ToJson();

    private static void ParsesOrInvalidData(byte[] json, string what)
    {
        var ex = Record.Exception(() => IndexManifest.FromJson(json, "mutant"));
        Assert.True(ex is null or InvalidDataException, $"{what}: {ex}");
    }

    [Fact]
    public void Mutants_of_a_valid_manifest_parse_or_fail_with_InvalidDataException()
    {
        var valid = ValidManifest();
        IndexManifest.FromJson(valid, "valid");
        string text = Encoding.UTF8.GetString(valid);
        for (int seed = 0; seed < 800; seed++)
        {
            ParsesOrInvalidData(Mutations.Mutate(valid, seed), $"seed {seed}");
            ParsesOrInvalidData(Mutations.MutateText(text, seed), $"text seed {seed}");
        }
    }

    [Theory]
    [InlineData("shards")]
    [InlineData("schema")]
    [InlineData("index")]
    [InlineData("createdUtc")]
    public void A_required_field_set_to_null_is_InvalidDataException(string field)
    {
        string text = Encoding.UTF8.GetString(ValidManifest());
        int at = text.IndexOf($"\"{field}\":", StringComparison.Ordinal);
        Assert.True(at >= 0, field);
        int valueStart = at + field.Length + 3;
        // Replace the value (up to the matching end of the line's value) by null.
        int end = field is "shards" or "schema" ? MatchingClose(text, text.IndexOfAny(['[', '{'], valueStart)) + 1 : text.IndexOfAny([',', '\n'], valueStart);
        string mutated = string.Concat(text.AsSpan(0, valueStart), " null", text.AsSpan(end));
        Assert.Throws<InvalidDataException>(() => IndexManifest.FromJson(Encoding.UTF8.GetBytes(mutated), "null-field"));
    }

    [Fact]
    public void Null_shard_entries_negative_counts_and_deep_nesting_are_InvalidDataException()
    {
        string text = Encoding.UTF8.GetString(ValidManifest());
        string[] bad =
        [
            text.Replace("\"shardCount\": 2", "\"shardCount\": -1", StringComparison.Ordinal),
            text.Replace("\"version\": 3", "\"version\": -3", StringComparison.Ordinal),
            text.Replace("\"docCount\": 10", "\"docCount\": -10", StringComparison.Ordinal),
            "{\"formatVersion\":1,\"index\":\"docs\",\"version\":1,\"createdUtc\":\"2026-12-04T00:00:00Z\",\"shardCount\":1,\"schema\":{},\"docCount\":0,\"shards\":[null]}",
            Mutations.DeepJson(10_000, objects: true),
            Mutations.DeepJson(10_000, objects: false),
            "",
            "null",
        ];
        foreach (var b in bad)
            Assert.Throws<InvalidDataException>(() => IndexManifest.FromJson(Encoding.UTF8.GetBytes(b), "bad"));
    }

    [Property(MaxTest = 300)]
    public void Arbitrary_bytes_parse_or_fail_with_InvalidDataException(byte[] data) => ParsesOrInvalidData(data, "arbitrary");

    private static int MatchingClose(string s, int open)
    {
        int depth = 0;
        for (int i = open; i < s.Length; i++)
        {
            if (s[i] is '[' or '{') depth++;
            else if (s[i] is ']' or '}' && --depth == 0) return i;
        }
        return s.Length - 1;
    }
}
