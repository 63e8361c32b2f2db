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

    [Fact]
    public async Task Documents_encoded_by_two_workers_get_the_vectors_one_worker_gives_in_their_own_order()
    {
        var texts = Enumerable.Range(0, 40).Select(i => string.Join(' ', Enumerable.Repeat($"passage {i} about protein folding", 1 + i % 7))).ToArray();
        async Task<EncodedText[]> EncodeAsync(int workers)
        {
            await using var pool = EncoderPool.Create(new EncoderOptions
            {
                Kind = EncoderKind.Dense, ModelPath = TestPaths.Model("dense-tiny.onnx"), VocabPath = TestPaths.VocabTxt, Workers = workers, DocumentBatchTokens = 64,
            });
            var encoded = await pool.EncodeDocumentsAsync(texts);
            Assert.Equal(texts.Length, pool.DocumentsEncoded);
            Assert.True(pool.BatchesRun > 2, $"{pool.BatchesRun} batches: the token budget should cut several");
            return encoded;
        }
        var one = await EncodeAsync(1);
        var two = await EncodeAsync(2);
        for (int i = 0; i < texts.Length; i++) DenseOnnxEncoderTests.AssertClose(one[i].Dense!, two[i].Dense);
    }

    [Fact]
    public void By_default_the_cpu_runs_one_single_threaded_model_run_per_core_and_cuda_one_run()
    {
        var cpu = new EncoderOptions { Kind = EncoderKind.Dense };
        Assert.Equal(Environment.ProcessorCount, cpu.EffectiveWorkers);
        Assert.Equal(1, cpu.EffectiveIntraOpThreads);
        Assert.Equal(1024, cpu.EffectiveDocumentBatchTokens);
        Assert.Equal(Environment.ProcessorCount, cpu.ToBatcherOptions().Workers);

        var cuda = new EncoderOptions { Kind = EncoderKind.Dense, ExecutionProvider = EncoderOptions.CudaProvider };
        Assert.Equal(1, cuda.EffectiveWorkers);
        Assert.Equal(0, cuda.EffectiveIntraOpThreads);
        Assert.Equal(8192, cuda.EffectiveDocumentBatchTokens);

        var given = new EncoderOptions { Kind = EncoderKind.Dense, Workers = 1, IntraOpThreads = 0 };
        Assert.Equal(Math.Max(1, Environment.ProcessorCount), given.EffectiveIntraOpThreads);
    }

    [Fact]
    public void A_negative_worker_count_is_refused_with_the_setting_named()
    {
        var e = Assert.Throws<EncoderConfigurationException>(() => EncoderPool.Create(new EncoderOptions
        {
            Kind = EncoderKind.Dense, ModelPath = TestPaths.Model("dense-tiny.onnx"), VocabPath = TestPaths.VocabTxt, Workers = -1,
        }));
        Assert.Contains("Workers is -1", e.Message, StringComparison.Ordinal);
    }
}
