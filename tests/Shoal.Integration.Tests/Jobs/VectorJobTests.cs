using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>Jobs with vector sources: sparse (Anserini JSON vectors) and dense (jsonl, SHOALVEC) beside or instead of text.</summary>
public sealed partial class JobTests
{
    private static readonly Lazy<SparseVocabulary> Vocabulary = new(() => SparseVocabulary.Load(Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt")));

    private IQueryCoordinatorGrain Coordinator => fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);

    [Fact]
    public async Task A_job_over_text_splade_and_dense_vectors_answers_as_the_in_memory_ingest_of_the_same_files()
    {
        string dir = Directory.CreateDirectory(Path.Combine(fixture.Data, "vec-equal")).FullName;
        string toy = Paths.Shared("seismic-toy-splade", "documents.jsonl");
        // Text for g0..g299; sparse for the 20 real SPLADE documents (ids 0..19) and g0..g499; dense
        // for 0..19 and g100..g349: documents in some channels only, joined by id.
        var sources = VectorSources.Write(dir, textDocs: 300, sparseDocs: 500, denseDocs: 250, dims: 16, shoalvec: false,
            sparsePrefix: toy, denseExtraIds: [.. Enumerable.Range(0, 20).Select(i => $"{i}")], denseFrom: 100, gzipDense: true);
        await Store.PutFileAsync("uploads/vs-sparse.jsonl.gz", sources.Sparse);

        var request = new IndexJobRequest
        {
            Index = "vec-job", Source = sources.Text, SparseVectors = "store:uploads/vs-sparse.jsonl.gz", DenseVectors = sources.Dense,
            DenseMetric = "cosine", Shards = 3, ChunkLines = 100,
        };
        await Job("vec-equal-1").SubmitAsync(request);
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "vec-equal-1");
        Assert.True(done.State == IndexJobState.Succeeded, done.Error);
        Assert.Equal(["text", "sparse", "dense"], done.Sources.Select(s => s.Kind));
        Assert.Equal(["beir", "anserini", "jsonl"], done.Sources.Select(s => s.Format));
        Assert.Equal([sources.TextLines, sources.SparseLines, sources.DenseLines], done.Sources.Select(s => s.LinesRead));
        Assert.Equal([sources.TextLines, sources.SparseWellFormed, sources.DenseWellFormed], done.Sources.Select(s => s.DocumentsRead));
        Assert.Equal(done.Sources.Select(s => s.LinesRead / 100 + 1), done.Sources.Select(s => s.Chunks)); // several chunks per source
        Assert.All(done.Sources, s => Assert.True(s.Done));
        Assert.Equal(done.Sources.Sum(s => s.LinesRead), done.LinesRead);
        Assert.Equal(done.Sources.Sum(s => s.Chunks), done.Chunks);
        Assert.Equal(0, done.Malformed);
        Assert.Equal(sources.Ids.Count, done.DocumentsIndexed);

        var reference = await JobWaits.IngestAsync(fixture.Cluster, "vec-ref", new IngestRequest
        {
            CorpusPath = sources.Text, SparseVectorsPath = sources.SparseClean, DenseVectorsPath = sources.DenseClean, DenseMetric = "cosine", Shards = 3,
        });
        var info = (await fixture.Cluster.Client.GetGrain<IIndexGrain>("vec-job").GetInfoAsync())!;
        Assert.Equal(done.Version, info.Version);
        Assert.Equal(reference.DocCount, info.DocCount);
        Assert.Equal(sources.Ids.Count, info.DocCount);
        Assert.Equal(reference.Channels, info.Channels);
        Assert.Equal(["bm25", "sparse", "dense"], info.Channels.Select(c => c.Name));

        // The manifests agree on the schema (the sparse scale included) and the vocabulary is stored with the version.
        var catalog = new SnapshotCatalog(Store);
        var jobManifest = (await catalog.GetManifestAsync("vec-job", info.Version))!;
        var refManifest = (await catalog.GetManifestAsync("vec-ref", reference.Version))!;
        Assert.Equal(refManifest.Schema.Text, jobManifest.Schema.Text);
        Assert.Equal(refManifest.Schema.Dense, jobManifest.Schema.Dense);
        Assert.Equal(refManifest.Schema.Sparse! with { VocabularyKey = "" }, jobManifest.Schema.Sparse! with { VocabularyKey = "" });
        Assert.Equal($"indexes/vec-job/v{info.Version:D8}/sparse-vocab.txt", jobManifest.Schema.Sparse!.VocabularyKey);
        Assert.Equal(refManifest.TotalLength, jobManifest.TotalLength);
        Assert.Equal(refManifest.Shards.Select(s => s.DocCount), jobManifest.Shards.Select(s => s.DocCount));
        Assert.Equal(refManifest.Shards.SelectMany(s => s.Segments).Select(g => (g.Channel, g.Xxh3)), jobManifest.Shards.SelectMany(s => s.Segments).Select(g => (g.Channel, g.Xxh3)));

        var toyQueries = SparseCorpusReader.ReadQueries(Paths.Shared("seismic-toy-splade", "queries.jsonl"), Vocabulary.Value)
            .Select(q => (q.Vector.Terms, q.Vector.Weights)).ToList();
        var generated = SparseVector.Create(Enumerable.Range(0, 4).Select(i => (Vocabulary.Value.TryGetId(VectorSources.Token(i * 7), out int t) ? t : throw new InvalidOperationException(), 1f + i)));
        await SameResults.AssertAsync(Coordinator, "vec-job", "vec-ref", sources,
            [$"{VectorSources.Token(3)} {VectorSources.Token(10)}", "uniq17", $"{VectorSources.Token(42)} {VectorSources.Token(7)} {VectorSources.Token(200)}"],
            [.. toyQueries, (generated.Terms, generated.Weights)], denseQueries: 4);
        Assert.Empty(await Store.ListAsync("jobs/spill/vec-equal-1/"));
    }

    [Fact]
    public async Task Malformed_vector_lines_are_skipped_and_reported_with_their_source_and_line_numbers()
    {
        string t1 = VectorSources.Token(1), t2 = VectorSources.Token(2);
        string text = Write("mv-text.jsonl", string.Join('\n', Enumerable.Range(1, 6).Select(i => $$$"""{"_id": "m{{{i}}}", "text": "text {{{i}}}"}""")) + "\n");
        string sparse = Write("mv-sparse.jsonl", string.Join('\n',
        [
            $$$"""{"id": "m1", "contents": "one", "vector": {"{{{t1}}}": 1.5}}""",
            $$$"""{"id": "m2", "vector": {"{{{t2}}}": 0.5}}""",
            """{"id": "m3", "vector": {"zzqqxx-not-a-token": 1.0}}""",
            $$$"""{"id": "m4", "vector": {"{{{t1}}}": 2}}""",
            "",
            $$$"""{"id": "m5", "vector": {"{{{t1}}}": -0.5}}""",
            $$$"""{"id": "m6", "vector": {"{{{t1}}}": NaN}}""",
            $$$"""{"id": "s8", "vector": {"{{{t2}}}": 1}}""",
            $$$"""{"id": "s9", "vector": {"{{{t2}}}": 1e39}}""",
            $$$"""{"id": "s10", "vector": {"{{{t1}}}": 0.25, "{{{t2}}}": 0.75}}""",
        ]) + "\n");
        string dense = Write("mv-dense.jsonl", string.Join('\n',
        [
            """{"id": "m1", "vector": [1, 0, 0, 0]}""",
            """{"id": "m2", "vector": [0, 1, 0, 0]}""",
            """{"id": "m3", "vector": [0, 1, 0]}""",
            """{"id": "m4", "vector": [0, NaN, 0, 1]}""",
            """{"id": "m5", "vector": [0, 0, 1, 0""",
            """{"id": "d6", "vector": [0, 0, 0, 1]}""",
        ]) + "\n");
        var request = new IndexJobRequest { Index = "vec-skipped", Source = text, SparseVectors = sparse, DenseVectors = dense, Shards = 2, ChunkLines = 3 };
        await Job("vec-skip-1").SubmitAsync(request);
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "vec-skip-1");
        Assert.True(done.State == IndexJobState.Succeeded, done.Error);
        Assert.Equal(7, done.Malformed);
        Assert.Equal([("sparse", 3L), ("sparse", 6), ("sparse", 7), ("sparse", 9), ("dense", 3), ("dense", 4), ("dense", 5)],
            done.MalformedLines.Select(m => (m.Source, m.Line)));
        var reasons = done.MalformedLines.Select(m => m.Reason).ToList();
        Assert.Contains("'zzqqxx-not-a-token' is not in the vocabulary", reasons[0]);
        Assert.Contains("negative weight", reasons[1]);
        Assert.Contains("invalid JSON", reasons[2]);
        Assert.Contains("infinite weight", reasons[3]);
        Assert.Contains("vector has 3 dimensions, expected 4", reasons[4]);
        Assert.Contains("NaN or Infinity", reasons[5]);
        Assert.Contains("malformed JSON", reasons[6]);
        Assert.Equal([(6L, 6L, 0L), (10, 5, 4), (6, 3, 3)], done.Sources.Select(s => (s.LinesRead, s.DocumentsRead, s.Malformed)));
        // m1..m6 from text, s8 and s10 from sparse, d6 from dense.
        Assert.Equal(9, done.DocumentsIndexed);

        var info = (await fixture.Cluster.Client.GetGrain<IIndexGrain>("vec-skipped").GetInfoAsync())!;
        Assert.Equal(9, info.DocCount);
        Assert.Equal(4, info.Channels.Single(c => c.Name == "dense").Dims);
        Vocabulary.Value.TryGetId(t2, out int t2Id);
        var hits = await Coordinator.SearchAsync(new SearchRequest { Index = "vec-skipped", K = 10, Sparse = new SparseQuerySpec { TermIds = [t2Id], Weights = [1f], Exact = true } });
        Assert.Equal(["s8", "s10", "m2"], hits.Hits.Select(h => h.Id));
    }

    [Fact]
    public async Task Under_the_stop_policy_a_malformed_vector_line_or_record_fails_the_job_with_its_number()
    {
        string sparse = Write("sv-stop.jsonl", string.Join('\n', Enumerable.Range(1, 12).Select(i => i == 8
            ? """{"id": "x8", "vector": {"zzqqxx-not-a-token": 1.0}}"""
            : $$$"""{"id": "x{{{i}}}", "vector": {"{{{VectorSources.Token(i)}}}": 1.0}}""")) + "\n");
        await Job("vec-stop-1").SubmitAsync(new IndexJobRequest { Index = "vec-stopped", SparseVectors = sparse, ChunkLines = 5, OnMalformed = "stop" });
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "vec-stop-1");
        Assert.Equal(IndexJobState.Failed, done.State);
        Assert.Contains("Malformed line 8 of sparse vectors", done.Error);
        Assert.Contains("zzqqxx-not-a-token", done.Error);
        var m = Assert.Single(done.MalformedLines);
        Assert.Equal(("sparse", 8L), (m.Source, m.Line));
        Assert.Equal(7, done.LinesRead);
        Assert.Null(await fixture.Cluster.Client.GetGrain<IIndexGrain>("vec-stopped").GetInfoAsync());
        Assert.Empty(await Store.ListAsync("jobs/spill/vec-stop-1/"));

        // A SHOALVEC record with a NaN component, from the store, gzip-compressed.
        string dir = Directory.CreateDirectory(Path.Combine(fixture.Data, "vec-stop-bin")).FullName;
        var sources = VectorSources.Write(dir, textDocs: 0, sparseDocs: 0, denseDocs: 30, dims: 6, shoalvec: true, denseMalformedEvery: 13, gzipDense: true);
        await Store.PutFileAsync("uploads/stop.bin.gz", sources.Dense);
        await Job("vec-stop-2").SubmitAsync(new IndexJobRequest { Index = "vec-stopped", DenseVectors = "store:uploads/stop.bin.gz", ChunkLines = 4, OnMalformed = "stop" });
        var bin = await JobWaits.FinishedAsync(fixture.Cluster, "vec-stop-2");
        Assert.Equal(IndexJobState.Failed, bin.State);
        Assert.Contains("Malformed record 13 of dense vectors 'store:uploads/stop.bin.gz': component 1 is NaN or infinite", bin.Error);
        Assert.Equal(("dense", 13L), (Assert.Single(bin.MalformedLines).Source, bin.MalformedLines[0].Line));
        Assert.Equal("shoalvec", Assert.Single(bin.Sources).Format);
        Assert.Equal(12, bin.LinesRead);

        // The same file under "skip": the two bad records are counted, the rest indexed.
        await Job("vec-skip-2").SubmitAsync(new IndexJobRequest { Index = "vec-bin", DenseVectors = "store:uploads/stop.bin.gz", ChunkLines = 4, DenseIndex = "flat" });
        var skipped = await JobWaits.FinishedAsync(fixture.Cluster, "vec-skip-2");
        Assert.True(skipped.State == IndexJobState.Succeeded, skipped.Error);
        Assert.Equal([13L, 26], skipped.MalformedLines.Select(x => x.Line));
        Assert.Equal(28, skipped.DocumentsIndexed);
        Assert.Equal(["dense"], (await fixture.Cluster.Client.GetGrain<IIndexGrain>("vec-bin").GetInfoAsync())!.Channels.Select(c => c.Name));
    }

    [Fact]
    public async Task Bad_vector_job_requests_are_rejected_with_a_reason()
    {
        string sparse = Write("bv-sparse.jsonl", $$$"""{"id": "a", "vector": {"{{{VectorSources.Token(1)}}}": 1}}""" + "\n");
        string dense = Write("bv-dense.jsonl", """{"id": "a", "vector": [1, 2]}""" + "\n");
        async Task<string> Rejected(IndexJobRequest r) => (await Assert.ThrowsAsync<ArgumentException>(() => Job("bad-" + Guid.NewGuid().ToString("N")[..6]).SubmitAsync(r))).Message;
        Assert.Contains("'source' is required", await Rejected(new IndexJobRequest { Index = "ok" }));
        Assert.Contains("Sparse vectors file", await Rejected(new IndexJobRequest { Index = "ok", SparseVectors = sparse + ".missing" }));
        Assert.Contains("does not exist", await Rejected(new IndexJobRequest { Index = "ok", DenseVectors = "store:nothing/here.bin" }));
        Assert.Contains("Vocabulary file", await Rejected(new IndexJobRequest { Index = "ok", SparseVectors = sparse, SparseVocabulary = sparse + ".vocab" }));
        Assert.Contains("denseMetric must be 'dot' or 'cosine'", await Rejected(new IndexJobRequest { Index = "ok", DenseVectors = dense, DenseMetric = "l2" }));
        Assert.Contains("denseStorage must be", await Rejected(new IndexJobRequest { Index = "ok", DenseVectors = dense, DenseStorage = "fp8" }));
        Assert.Contains("denseIndex must be", await Rejected(new IndexJobRequest { Index = "ok", DenseVectors = dense, DenseIndex = "ivf" }));
        Assert.Contains("denseDims must be between", await Rejected(new IndexJobRequest { Index = "ok", DenseVectors = dense, DenseDims = 0 }));
        Assert.Contains("'source' is blank", await Rejected(new IndexJobRequest { Index = "ok", Source = "  ", DenseVectors = dense }));

        // A dense source of the wrong declared dimension fails at its first record, naming the line.
        await Job("vec-dims-1").SubmitAsync(new IndexJobRequest { Index = "vec-dims", DenseVectors = dense, DenseDims = 3, OnMalformed = "stop" });
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "vec-dims-1");
        Assert.Equal(IndexJobState.Failed, done.State);
        Assert.Contains("Malformed line 1 of dense vectors", done.Error);
        Assert.Contains("vector has 2 dimensions, expected 3", done.Error);
    }
}
