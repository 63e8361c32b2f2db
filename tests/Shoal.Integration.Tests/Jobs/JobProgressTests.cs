using Shoal.Cli.Commands;
using Shoal.Client;
using Shoal.Encoders;
using Shoal.Engine.Security;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Grains.Hosting;
using Shoal.Grains.Jobs;
using Shoal.Grains.Query;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>
/// What a job's progress says: <c>shoal jobs</c> shows the phase (encoding included) and counts that
/// mean documents, as an ingest's status does, and the count of a text source moves while a chunk
/// of it is being encoded.
/// </summary>
public sealed class JobProgressTests
{
    private static JobProgress Job(string state, string phase, long recordsSummed, IReadOnlyList<JobSourceProgress> sources, JobSubmission request,
        long indexed = 0, int shardsBuilt = 0) =>
        new("j", state, phase, LinesRead: recordsSummed, DocumentsRead: recordsSummed, DocumentsIndexed: indexed, Malformed: 0, MalformedLines: [],
            Chunks: 1, BytesRead: 10, TotalBytes: 20, DocsPerSecond: 5, EtaSeconds: null, ShardsBuilt: shardsBuilt, Version: null, Error: null,
            CreatedUtc: DateTimeOffset.UtcNow, FinishedUtc: null, Silo: "silo", Attempts: 1, CancelRequested: false)
        { Request = request, Sources = sources };

    private static JobSourceProgress Source(string kind, long documents, bool done) => new(kind, "/x", "jsonl", documents, documents, 0, 1, 10, 10, done);

    [Fact]
    public void Jobs_progress_names_the_source_being_read_and_counts_documents_never_records_summed_over_sources()
    {
        var request = new JobSubmission("both", "/c.jsonl", Shards: 2) { DenseVectors = "/d.jsonl" };

        var readingText = Job("running", "reading", 30, [Source("text", 30, false), Source("dense", 0, false)], request);
        Assert.Equal(("reading text", 30L), JobsCommand.Progress(readingText));

        // 40 documents of text read, 20 of their vectors: the line says 20 of the dense source, never 60.
        var readingDense = Job("running", "reading", 60, [Source("text", 40, true), Source("dense", 20, false)], request);
        Assert.Equal(("reading dense vectors", 20L), JobsCommand.Progress(readingDense));
        string line = JobsCommand.ProgressLine(readingDense);
        Assert.Contains("reading dense vectors", line, StringComparison.Ordinal);
        Assert.Contains(" 20 documents", line, StringComparison.Ordinal);
        Assert.DoesNotContain("60", line, StringComparison.Ordinal);

        var building = Job("running", "building", 80, [Source("text", 40, true), Source("dense", 40, true)], request, shardsBuilt: 1);
        Assert.Equal(("building", 40L), JobsCommand.Progress(building));
        line = JobsCommand.ProgressLine(building);
        Assert.Contains("building 1/2 shards", line, StringComparison.Ordinal);
        Assert.Contains(" 40 documents", line, StringComparison.Ordinal);
        Assert.DoesNotContain("80", line, StringComparison.Ordinal);

        var done = Job("succeeded", "done", 80, [Source("text", 40, true), Source("dense", 40, true)], request, indexed: 38);
        Assert.Equal(("done", 38L), JobsCommand.Progress(done));
    }

    [Fact]
    public void Jobs_progress_says_encoding_while_a_job_encodes_its_text()
    {
        var encoded = new JobSubmission("enc", "/c.jsonl") { DenseEncoder = "arctic-xs" };
        var p = Job("running", "reading", 300, [Source("text", 300, false)], encoded);
        Assert.Equal(("reading and encoding text", 300L), JobsCommand.Progress(p));
        Assert.Contains("reading and encoding text", JobsCommand.ProgressLine(p), StringComparison.Ordinal);

        var encodeOnly = new JobSubmission("enc", "/c.jsonl") { SparseEncoder = "splade", Bm25 = false };
        Assert.Equal("encoding text", JobsCommand.Progress(Job("running", "reading", 5, [Source("text", 5, false)], encodeOnly)).Phase);
    }

    [Fact]
    public async Task The_count_of_a_text_source_moves_while_its_chunk_is_encoded_and_joins_the_checkpoint_once()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-live-encode-").FullName;
        try
        {
            const int Docs = 600; // one chunk of three encoder batches (256, 256, 88) per encoder
            string corpus = Path.Combine(dir, "corpus.jsonl");
            await File.WriteAllLinesAsync(corpus, Enumerable.Range(0, Docs).Select(i => $"{{\"_id\": \"d{i}\", \"title\": \"\", \"text\": \"document number {i}\"}}"));
            var files = new JobFiles(new SnapshotCatalog(new LocalDirectorySnapshotStore(Path.Combine(dir, "store"))), new DataRoots([dir]),
                new ShoalOptions(), "live-job", Path.Combine(dir, "scratch"), "silo");
            var encoder = new GatedEncoder();
            using var reading = new JobReading(files, new ShoalJobOptions(), encoder);
            var record = new IndexJobRecord
            {
                Request = new IndexJobRequest { Index = "live", Source = corpus, Shards = 2, SparseEncoder = "s", DenseEncoder = "d" },
                Format = "beir",
                Phase = "reading",
                Sources = [new JobSource { Kind = IndexJobSources.Text, Source = corpus }],
            };
            Assert.Equal(0, reading.LiveDocuments(0, 0));

            var chunk = reading.ReadChunkAsync(record, CancellationToken.None);
            await encoder.SparseWaiting.Task.WaitAsync(TimeSpan.FromSeconds(30));
            // The sparse encoder has done its first batch of 256; with two encoders that is half of them.
            Assert.Equal(128, reading.LiveDocuments(0, 0));
            Assert.Equal(0, reading.LiveDocuments(1, 0)); // another source: its checkpoint only
            encoder.SparseGo.SetResult();

            await encoder.DenseWaiting.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((Docs + 256) / 2, reading.LiveDocuments(0, 0));
            Assert.Equal(0, record.Sources[0].DocumentsRead); // nothing checkpointed yet
            encoder.DenseGo.SetResult();

            var step = await chunk.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.NotNull(step);
            Assert.Null(step.Failure);
            Assert.Equal(Docs, record.Sources[0].DocumentsRead);
            // The chunk's documents are in the checkpoint now, and counted there only.
            Assert.Equal(Docs, reading.LiveDocuments(0, record.Sources[0].DocumentsRead));
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    /// <summary>Encoders whose second call waits until the test lets it go.</summary>
    private sealed class GatedEncoder : ITextEncoderClient
    {
        private int _sparseCalls;
        private int _denseCalls;

        public TaskCompletionSource SparseWaiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource SparseGo { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource DenseWaiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource DenseGo { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<EncoderDescription> DescribeAsync(string encoder, CancellationToken cancellationToken) =>
            Task.FromResult(new EncoderDescription(encoder, encoder == "d" ? "dense" : "sparse", encoder == "d" ? 3 : 10));

        public async Task<SparseVector[]> EncodeSparseAsync(string encoder, IReadOnlyList<string> texts, TextRole role, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _sparseCalls) == 2)
            {
                SparseWaiting.SetResult();
                await SparseGo.Task;
            }
            return [.. texts.Select(_ => new SparseVector([1, 4], [0.5f, 1.5f]))];
        }

        public async Task<float[][]> EncodeDenseAsync(string encoder, IReadOnlyList<string> texts, TextRole role, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _denseCalls) == 2)
            {
                DenseWaiting.SetResult();
                await DenseGo.Task;
            }
            return [.. texts.Select(_ => new[] { 0.1f, 0.2f, 0.3f })];
        }
    }
}
