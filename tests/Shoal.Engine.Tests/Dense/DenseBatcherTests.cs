using Shoal.Engine.Dense;

namespace Shoal.Engine.Tests.Dense;

/// <summary>The shard's opportunistic batching of exact dense scans, counted without timing.</summary>
public sealed class DenseBatcherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-batcher-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Queries_that_arrive_during_a_pass_are_answered_together_by_the_next_pass()
    {
        const int Docs = 20_000, Dims = 64, Queries = 64;
        var rng = new Random(3);
        var vectors = new float[Docs * Dims];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = (float)(rng.NextDouble() * 2 - 1);
        string path = Path.Combine(_dir, "dense.seg");
        DenseSegmentWriter.Write(path, Enumerable.Range(0, Docs).Select(i => $"d{i:D5}").ToArray(), vectors,
            new DenseBuildOptions(Dims) { BuildAnnIndex = false });
        using var segment = DenseSegment.Open(path);
        var batcher = new DenseBatcher(segment);
        var queries = Enumerable.Range(0, Queries).Select(_ => Enumerable.Range(0, Dims).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var alone = new List<Shoal.Engine.Search.ScoredDoc[]>();
        foreach (var q in queries) alone.Add(await batcher.SearchAsync(q, 10, CancellationToken.None));
        Assert.Equal(Queries, batcher.Passes); // one at a time: a pass each

        // A pass is in flight while the rest arrive: hold the first caller's pass open by
        // submitting everything before awaiting anything.
        var together = queries.Select((q, i) => batcher.SearchAsync(q, i % 2 == 0 ? 10 : 5, CancellationToken.None)).ToArray();
        var results = await Task.WhenAll(together);
        long passes = batcher.Passes - Queries;
        Assert.Equal(2 * Queries, batcher.Queries);
        Assert.True(passes <= Queries / 8, $"{Queries} queued queries took {passes} passes (at most {DenseBatcher.MaxBatch} per pass)");
        for (int i = 0; i < Queries; i++)
        {
            var expected = i % 2 == 0 ? alone[i] : alone[i][..5];
            Assert.Equal(expected, results[i]);
        }
    }
}
