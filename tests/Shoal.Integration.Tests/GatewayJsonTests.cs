using System.Text.Json;
using Shoal.Gateway;
using Shoal.Grains.Contracts;

namespace Shoal.Integration.Tests;

/// <summary>The source-generated writer of search answers writes what the gateway's reflection-based options write.</summary>
public sealed class GatewayJsonTests
{
    [Fact]
    public void Search_answers_are_written_as_the_reflection_based_options_write_them()
    {
        SearchResult[] answers =
        [
            new("scifact", 3, [new HitDto("d1", 12.5f, "Title “quoted” <b>", "Snippet with é, 中文 and an ellipsis…", [1, 4]), new HitDto("d2", 0.1f, null, null)],
                new Coverage { Shards = 4, Answered = 3, Partial = true, Missing = [2], Reasons = ["shard 2: no answer within the deadline (5000 ms)"] }, 0.25, ["bm25", "dense"]),
            new("empty", 1, [], new Coverage { Shards = 1, Answered = 1 }, 0, []),
        ];
        foreach (var answer in answers)
        {
            string generated = JsonSerializer.Serialize(answer, GatewayJsonContext.Default.SearchResult);
            string reflected = JsonSerializer.Serialize(answer, ShoalApi.Json);
            Assert.Equal(reflected, generated);
            Assert.Contains("\"coverage\":{\"shards\":", generated, StringComparison.Ordinal);
        }
    }
}
