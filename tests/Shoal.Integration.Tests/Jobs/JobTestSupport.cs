using System.Text;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Grains.Jobs;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>A generated BEIR corpus with known contents: unique tokens, re-issued ids and malformed lines at known line numbers.</summary>
internal sealed class GeneratedCorpus
{
    private static readonly string[] Words =
    [
        "river", "stone", "market", "signal", "garden", "engine", "harbor", "lantern", "meadow", "copper",
        "orbit", "velvet", "canyon", "tiger", "violet", "summit", "glacier", "ember", "falcon", "maple",
        "quartz", "saddle", "thunder", "willow", "beacon", "cobalt", "dune", "fjord", "grove", "island",
    ];

    private GeneratedCorpus(string path, string cleanPath, long lines, long wellFormed, IReadOnlyList<long> malformed, IReadOnlyDictionary<string, string> finalUnique)
    {
        Path = path;
        CleanPath = cleanPath;
        Lines = lines;
        WellFormed = wellFormed;
        MalformedLines = malformed;
        FinalUnique = finalUnique;
    }

    /// <summary>The corpus (with malformed lines).</summary>
    public string Path { get; }

    /// <summary>The same corpus without its malformed lines (for a reference build by the classic ingest).</summary>
    public string CleanPath { get; }

    public long Lines { get; }

    public long WellFormed { get; }

    public IReadOnlyList<long> MalformedLines { get; }

    /// <summary>Document id → the unique token of its final (last) version.</summary>
    public IReadOnlyDictionary<string, string> FinalUnique { get; }

    /// <summary>
    /// Writes <paramref name="documents"/> documents; every <paramref name="reissueEvery"/>th line re-issues an
    /// earlier id with new text, every <paramref name="malformedEvery"/>th line is broken JSON.
    /// </summary>
    public static GeneratedCorpus Write(string directory, int documents, int reissueEvery = 997, int malformedEvery = 4999, bool gzip = false)
    {
        var rng = new Random(42);
        var final = new Dictionary<string, string>(StringComparer.Ordinal);
        var malformed = new List<long>();
        string path = System.IO.Path.Combine(directory, gzip ? "generated.jsonl.gz" : "generated.jsonl");
        string clean = System.IO.Path.Combine(directory, "generated-clean.jsonl");
        long line = 0, wellFormed = 0;
        using (var file = File.Create(path))
        using (Stream raw = gzip ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest) : file)
        using (var w = new StreamWriter(raw, new UTF8Encoding(false)))
        using (var c = new StreamWriter(clean, false, new UTF8Encoding(false)))
        {
            int next = 0;
            while (next < documents)
            {
                line++;
                if (line % malformedEvery == 0)
                {
                    w.Write("{\"_id\": \"broken-" + line + "\", \"text\": \n");
                    malformed.Add(line);
                    continue;
                }
                string id, unique;
                if (line % reissueEvery == 0 && next > 10)
                {
                    id = $"d{rng.Next(next)}";
                    unique = $"zqr{line}";
                }
                else
                {
                    id = $"d{next++}";
                    unique = $"zq{next - 1}";
                }
                var sb = new StringBuilder();
                int words = 8 + rng.Next(25);
                for (int i = 0; i < words; i++) sb.Append(Words[rng.Next(Words.Length)]).Append(' ');
                sb.Append(unique);
                string json = $$"""{"_id": "{{id}}", "title": "Title {{id}}", "text": "{{sb}}"}""";
                w.Write(json);
                w.Write('\n');
                c.Write(json);
                c.Write('\n');
                final[id] = unique;
                wellFormed++;
            }
        }
        return new GeneratedCorpus(path, clean, line, wellFormed, malformed, final);
    }
}

internal static class JobWaits
{
    /// <summary>Polls a job until <paramref name="until"/> holds (calls that fail while a silo dies are retried).</summary>
    public static async Task<IndexJobStatus> PollAsync(InProcessTestCluster cluster, string id, Func<IndexJobStatus, bool> until, TimeSpan timeout, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        IndexJobStatus? last = null;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await cluster.Client.GetGrain<IIndexJobGrain>(id).GetStatusAsync();
                if (last is not null && until(last)) return last;
            }
#pragma warning disable CA1031 // polling through transient failures (failover in progress); the last one is reported in the timeout
            catch (Exception e)
#pragma warning restore CA1031
            {
                lastError = e;
            }
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(50));
        }
        throw new TimeoutException($"Job {id}: condition not reached in {timeout}; last status {last}; last error {lastError?.Message}");
    }

    public static Task<IndexJobStatus> FinishedAsync(InProcessTestCluster cluster, string id, TimeSpan? timeout = null) =>
        PollAsync(cluster, id, s => s.IsFinished, timeout ?? TimeSpan.FromMinutes(3), TimeSpan.FromMilliseconds(100));

    /// <summary>Builds an index through an ingest (a job with the ingest's defaults: one chunk of text, malformed lines stop it) and waits for it.</summary>
    public static async Task<IndexInfo> IngestAsync(InProcessTestCluster cluster, string index, IngestRequest request)
    {
        var grain = cluster.Client.GetGrain<IIndexGrain>(index);
        await grain.StartIngestAsync(request);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while ((await grain.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.True(st.State != IngestState.Failed, $"reference ingest failed: {st.Error}");
            Assert.True(DateTime.UtcNow < deadline, "reference ingest did not finish");
            await Task.Delay(100);
        }
        return (await grain.GetInfoAsync())!;
    }
}

/// <summary>An in-process cluster of <c>silos</c> silos sharing a snapshot directory, with indexing jobs.</summary>
public class JobCluster : IAsyncLifetime
{
    private readonly int _silos;

    public JobCluster() : this(2)
    {
    }

    protected JobCluster(int silos) => _silos = silos;

    public string Data { get; } = Directory.CreateTempSubdirectory("shoal-jobs-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public string Snapshots => Path.Combine(Data, "snapshots");

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder((short)_silos);
        string data = Data;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.AdditionalDataRoots = [Path.GetTempPath()]; // tests write sources to temporary directories
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
            });
            silo.AddShoalJobs(o => o.SupervisorInterval = TimeSpan.FromSeconds(1));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        try { TempDirectory.Delete(Data); }
        catch (IOException) { }
    }
}

/// <summary>
/// Generated sources of one document set for the vector channels of jobs: a BEIR text corpus, Anserini
/// sparse vector lines over real WordPiece tokens and dense vectors (jsonl or SHOALVEC), each with a
/// clean copy (without its malformed lines) for a reference build by an ingest (one chunk, no failover; the engine tests hold spill builds equal to the in-memory build).
/// </summary>
internal sealed class VectorSources
{
    private static readonly Lazy<string[]> Tokens = new(() => File.ReadLines(Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt"))
        .Skip(2000).Where(t => t.Length >= 4 && t.All(char.IsAsciiLetterLower)).Take(400).ToArray());

    public required string Text { get; init; }
    public required string Sparse { get; init; }
    public required string SparseClean { get; init; }
    public required string Dense { get; init; }
    public required string DenseClean { get; init; }
    public long TextLines { get; init; }
    public long SparseLines { get; init; }
    public long SparseWellFormed { get; init; }
    public IReadOnlyList<long> SparseMalformed { get; init; } = [];
    public long DenseLines { get; init; }
    public long DenseWellFormed { get; init; }
    public IReadOnlyList<long> DenseMalformed { get; init; } = [];
    public int Dims { get; init; }

    /// <summary>Distinct ids over the three (clean) sources.</summary>
    public required IReadOnlySet<string> Ids { get; init; }

    /// <summary>A real WordPiece token.</summary>
    public static string Token(int i) => Tokens.Value[i % Tokens.Value.Length];

    /// <summary>
    /// Writes text for ids <c>g0..g{textDocs-1}</c>, sparse vectors for <c>g0..g{sparseDocs-1}</c> (after the
    /// lines of <paramref name="sparsePrefix"/>, if given) and dense vectors for <c>g{denseFrom}..</c> (<paramref name="denseDocs"/>
    /// of them, after the ids of <paramref name="denseExtraIds"/>). Every <paramref name="sparseMalformedEvery"/>th sparse line has an
    /// unknown token; every <paramref name="denseMalformedEvery"/>th dense record a NaN component.
    /// </summary>
    public static VectorSources Write(string directory, int textDocs, int sparseDocs, int denseDocs, int dims, bool shoalvec,
        string? sparsePrefix = null, IReadOnlyList<string>? denseExtraIds = null, int denseFrom = 0,
        int sparseMalformedEvery = 0, int denseMalformedEvery = 0, bool gzipDense = false)
    {
        var rng = new Random(1234);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        string text = System.IO.Path.Combine(directory, "vs-text.jsonl");
        using (var w = new StreamWriter(text, false, new UTF8Encoding(false)))
        {
            for (int i = 0; i < textDocs; i++)
            {
                var words = Enumerable.Range(0, 6 + rng.Next(10)).Select(_ => Token(rng.Next(400)));
                w.Write($$$"""{"_id": "g{{{i}}}", "title": "Title g{{{i}}}", "text": "{{{string.Join(' ', words)}}} uniq{{{i}}}"}""" + "\n");
                ids.Add($"g{i}");
            }
        }

        string sparse = System.IO.Path.Combine(directory, "vs-sparse.jsonl.gz");
        string sparseClean = System.IO.Path.Combine(directory, "vs-sparse-clean.jsonl");
        var sparseMalformed = new List<long>();
        long sparseLines = 0, sparseWell = 0;
        using (var gz = new System.IO.Compression.GZipStream(File.Create(sparse), System.IO.Compression.CompressionLevel.Fastest))
        using (var w = new StreamWriter(gz, new UTF8Encoding(false)))
        using (var c = new StreamWriter(sparseClean, false, new UTF8Encoding(false)))
        {
            void Good(string line, string id)
            {
                w.Write(line + "\n");
                c.Write(line + "\n");
                sparseLines++;
                sparseWell++;
                ids.Add(id);
            }
            if (sparsePrefix is not null)
            {
                foreach (var line in File.ReadLines(sparsePrefix))
                {
                    using var doc = System.Text.Json.JsonDocument.Parse(line);
                    Good(line, doc.RootElement.GetProperty("id").ToString());
                }
            }
            for (int i = 0; i < sparseDocs; i++)
            {
                if (sparseMalformedEvery > 0 && (sparseLines + 1) % sparseMalformedEvery == 0)
                {
                    sparseLines++;
                    sparseMalformed.Add(sparseLines);
                    w.Write($$$"""{"id": "bad{{{sparseLines}}}", "vector": {"{{{Token(1)}}}": 1.0, "zz-not-a-token-{{{sparseLines}}}": 0.5}}""" + "\n");
                }
                var pairs = Enumerable.Range(0, 400).OrderBy(_ => rng.Next()).Take(3 + rng.Next(8))
                    .Select(t => $"\"{Token(t)}\": {(0.05 + rng.NextDouble() * 3).ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}");
                Good($"{{\"id\": \"g{i}\", \"contents\": \"sparse g{i}\", \"vector\": {{{string.Join(", ", pairs)}}}}}", $"g{i}");
            }
        }

        var denseIds = (denseExtraIds ?? []).Concat(Enumerable.Range(denseFrom, denseDocs).Select(i => $"g{i}")).ToList();
        var rows = new float[denseIds.Count * dims];
        for (int i = 0; i < rows.Length; i++) rows[i] = (float)(rng.NextDouble() * 2 - 1);
        var denseBad = denseMalformedEvery > 0 ? Enumerable.Range(1, denseIds.Count).Where(r => r % denseMalformedEvery == 0).Select(r => (long)r).ToList() : [];
        var cleanIds = denseIds.Where((_, r) => !denseBad.Contains(r + 1)).ToList();
        var cleanRows = denseIds.SelectMany((_, r) => denseBad.Contains(r + 1) ? [] : rows.AsSpan(r * dims, dims).ToArray()).ToArray();
        ids.UnionWith(cleanIds);
        string dense, denseClean;
        if (shoalvec)
        {
            dense = System.IO.Path.Combine(directory, gzipDense ? "vs-dense.bin.gz" : "vs-dense.bin");
            denseClean = System.IO.Path.Combine(directory, "vs-dense-clean.bin");
            Shoal.Engine.Dense.DenseVectorFile.Write(denseClean, cleanIds, cleanRows, dims);
            string all = System.IO.Path.Combine(directory, "vs-dense-all.bin");
            Shoal.Engine.Dense.DenseVectorFile.Write(all, denseIds, rows, dims);
            var bytes = File.ReadAllBytes(all);
            long rowsOffset = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(40));
            foreach (long r in denseBad)
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(rowsOffset + ((r - 1) * dims + 1) * sizeof(float))), float.NaN);
            if (gzipDense)
            {
                using var gz = new System.IO.Compression.GZipStream(File.Create(dense), System.IO.Compression.CompressionLevel.Fastest);
                gz.Write(bytes);
            }
            else File.WriteAllBytes(dense, bytes);
        }
        else
        {
            dense = System.IO.Path.Combine(directory, gzipDense ? "vs-dense.jsonl.gz" : "vs-dense.jsonl");
            denseClean = System.IO.Path.Combine(directory, "vs-dense-clean.jsonl");
            string Line(int r) => $$$"""{"id": "{{{denseIds[r]}}}", "vector": [{{{string.Join(", ", rows.AsSpan(r * dims, dims).ToArray().Select(x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}}}]}""";
            using (var c = new StreamWriter(denseClean, false, new UTF8Encoding(false)))
                for (int r = 0; r < denseIds.Count; r++)
                    if (!denseBad.Contains(r + 1)) c.Write(Line(r) + "\n");
            using Stream file = File.Create(dense);
            using Stream raw = gzipDense ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest) : file;
            using var w = new StreamWriter(raw, new UTF8Encoding(false));
            for (int r = 0; r < denseIds.Count; r++)
                w.Write((denseBad.Contains(r + 1) ? $$$"""{"id": "{{{denseIds[r]}}}", "vector": [1, NaN]}""" : Line(r)) + "\n");
        }

        return new VectorSources
        {
            Text = text,
            Sparse = sparse,
            SparseClean = sparseClean,
            Dense = dense,
            DenseClean = denseClean,
            TextLines = textDocs,
            SparseLines = sparseLines,
            SparseWellFormed = sparseWell,
            SparseMalformed = sparseMalformed,
            DenseLines = denseIds.Count,
            DenseWellFormed = denseIds.Count - denseBad.Count,
            DenseMalformed = denseBad,
            Dims = dims,
            Ids = ids,
        };
    }
}

/// <summary>Compares the search results of a job-built index with those of a reference index built by an ingest (one chunk, no failover; the engine tests hold spill builds equal to the in-memory build).</summary>
internal static class SameResults
{
    public static async Task AssertAsync(IQueryCoordinatorGrain coordinator, string index, string reference, VectorSources sources,
        IEnumerable<string> texts, IEnumerable<(int[] Terms, float[] Weights)> sparseQueries, int denseQueries)
    {
        async Task Same(SearchRequest request, string what)
        {
            var a = await coordinator.SearchAsync(request with { Index = index });
            var b = await coordinator.SearchAsync(request with { Index = reference });
            Assert.True(a.Status == SearchStatus.Ok, $"{what}: {a.Error}");
            Assert.True(b.Status == SearchStatus.Ok, $"{what}: {b.Error}");
            Assert.False(a.Coverage.Partial, what);
            Assert.NotEmpty(b.Hits);
            Assert.Equal(b.Channels, a.Channels);
            Assert.Equal(b.Hits.Select(h => (h.Id, h.Score, h.Title, h.Snippet)), a.Hits.Select(h => (h.Id, h.Score, h.Title, h.Snippet)));
        }

        foreach (var t in texts) await Same(new SearchRequest { Text = t, K = 15, Channels = ["bm25"] }, $"text '{t}'");
        foreach (var (terms, weights) in sparseQueries)
        {
            await Same(new SearchRequest { K = 10, Sparse = new SparseQuerySpec { TermIds = terms, Weights = weights, Exact = true } }, "exact sparse");
            await Same(new SearchRequest { K = 10, Sparse = new SparseQuerySpec { TermIds = terms, Weights = weights } }, "approximate sparse");
        }
        var rng = new Random(99);
        for (int q = 0; q < denseQueries; q++)
        {
            var v = Enumerable.Range(0, sources.Dims).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            byte[] packed = System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
            await Same(new SearchRequest { K = 10, Dense = new DenseQuerySpec { Vector = packed, Exact = true } }, "exact dense");
            await Same(new SearchRequest { K = 10, Dense = new DenseQuerySpec { Vector = packed } }, "hnsw dense");
        }
        // Hybrid: text, sparse and dense fused.
        var (ht, hw) = sparseQueries.First();
        var hv = System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Range(0, sources.Dims).Select(i => i % 2 == 0 ? 0.5f : -0.25f).ToArray().AsSpan()).ToArray();
        await Same(new SearchRequest { Text = texts.First(), K = 10, Sparse = new SparseQuerySpec { TermIds = ht, Weights = hw }, Dense = new DenseQuerySpec { Vector = hv } }, "hybrid");
    }
}
