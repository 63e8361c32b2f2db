namespace Shoal.Encoders.Tests;

public sealed class EncoderPoolTests
{
    [Fact]
    public async Task Sixty_four_concurrent_requests_share_far_fewer_session_runs()
    {
#pragma warning disable CA2000 // the encoder owns the session, and the pool below owns the encoder (ownsEncoder defaults to true)
        var encoder = new DenseOnnxEncoder(OnnxSessionFactory.Create(TestPaths.Model("dense-tiny.onnx")), WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt));
#pragma warning restore CA2000
        await using var pool = new EncoderPool(encoder, new MicroBatcherOptions { MaxBatchSize = 32, MaxWait = TimeSpan.FromMilliseconds(20) });
        var texts = Enumerable.Range(0, 64).Select(i => $"query number {i} about protein folding").ToArray();

        using var start = new ManualResetEventSlim();
        var tasks = texts.Select(t => Task.Run(() =>
        {
            start.Wait();
            return pool.EncodeAsync(t);
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(tasks);

        Assert.Equal(64, pool.ItemsProcessed);
        Assert.Equal(pool.BatchesRun, encoder.SessionRuns);
        Assert.True(encoder.SessionRuns <= 16, $"64 requests took {encoder.SessionRuns} session runs");
        // Batching does not change what each caller gets.
        for (int i = 0; i < texts.Length; i += 9)
        {
            var alone = encoder.Encode([texts[i]]);
            DenseOnnxEncoderTests.AssertClose(alone.DenseRow(0).ToArray(), results[i].Dense);
        }
    }

    [Fact]
    public async Task Model_free_encoders_are_served_inline()
    {
        await using var bm25 = new EncoderPool(new Bm25QueryEncoder());
        var terms = await bm25.EncodeAsync("dogs and cats");
        Assert.Equal(EncoderKind.Bm25, terms.Kind);
        Assert.Equal(["dog", "cat"], terms.Terms!.Select(t => t.Term));
        Assert.Equal(0, bm25.BatchesRun);

        await using var pool = EncoderPool.Create(new EncoderOptions
        {
            Kind = EncoderKind.Sparse, IdfPath = TestPaths.OpenSearchIdfJson, TokenizerPath = TestPaths.OpenSearchTokenizerJson,
        });
        var sparse = await pool.EncodeAsync("ny weather now");
        Assert.Equal(3, sparse.Sparse.Count);
    }

    [Fact]
    public async Task A_pool_from_options_encodes_sparse_through_the_model()
    {
        await using var pool = EncoderPool.Create(new EncoderOptions
        {
            Kind = EncoderKind.Sparse, ModelPath = TestPaths.Model("splade-tiny.onnx"), VocabPath = TestPaths.VocabTxt, SparseTopK = 16, MaxBatchWait = TimeSpan.FromMilliseconds(1),
        });
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => pool.EncodeAsync($"text {i}")));
        Assert.All(results, r => Assert.Equal(16, r.Sparse.Count));
        Assert.Equal(8, pool.ItemsProcessed);
    }
}
