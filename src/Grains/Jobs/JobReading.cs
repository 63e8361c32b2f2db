using System.Diagnostics;
using Shoal.Engine.Analysis;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Encoders;
using Shoal.Grains.Query;

namespace Shoal.Grains.Jobs;

/// <summary>What reading one chunk did: the source kind and chunk number it read, or why the job fails there.</summary>
/// <param name="Kind">The source's kind ("text", "sparse" or "dense").</param>
/// <param name="Chunk">The chunk's number in its source.</param>
/// <param name="Failure">Why the job fails at this chunk (a malformed line under "stop", a source without documents); null when it goes on.</param>
internal sealed record JobChunkStep(string Kind, long Chunk, string? Failure);

/// <summary>
/// The reading phase of a job: cuts the first unfinished source into chunks of a fixed number of
/// lines (records for a SHOALVEC file), parses each chunk (text analysed), routes its records by id
/// hash to shards and spills them per shard to the snapshot store
/// (<c>jobs/spill/{id}/{channel}/shard-NNNN/chunk-NNNNNNNN.spill</c>, named by chunk number so a chunk
/// run twice overwrites itself); then records the chunk in the job record (the checkpoint the grain
/// persists). Keeps the open reader between chunks of a source. A job with encoders encodes each
/// chunk of its text source (title and text, through the cluster's encoder pools) into sparse or
/// dense spills of the same chunk number, so encoding is checkpointed with the reading (chunks of
/// <see cref="ShoalJobOptions.EncodedChunkLines"/> lines by default).
/// </summary>
internal sealed class JobReading(JobFiles files, ShoalJobOptions jobOptions, ITextEncoderClient encoders) : IDisposable
{
    /// <summary>Documents per encoder call: one call's vectors stay far below Orleans' message limit (256 x 1,024 dims x 4 B = 1 MiB).</summary>
    private const int EncodeBatch = 256;

    private IChunkSourceReader? _reader;
    private int _readerSource = -1;

    // The chunk being encoded: its source (-1 when none), its encoders (1 or 2) and the documents
    // through them so far (each encoder's batches counted, so a chunk with two encoders counts twice).
    private int _encodingSource = -1;
    private int _encodingPasses = 1;
    private long _encodedInChunk;

    /// <summary>Bytes read of source <paramref name="source"/>: the checkpointed count, or the open reader's when it is further.</summary>
    public long LiveBytes(int source, long checkpointed) =>
        _reader is { } r && _readerSource == source ? Math.Max(checkpointed, r.BytesRead) : checkpointed;

    /// <summary>
    /// Documents of source <paramref name="source"/>: the checkpointed count plus, while a chunk of it
    /// is being encoded, the documents of that chunk through the encoders so far (averaged over the
    /// encoders when there are two), so the count moves during a chunk of thousands of documents
    /// that takes minutes to encode. The chunk's documents join the checkpointed count when it is
    /// checkpointed, and the live part goes back to 0 in the same step.
    /// </summary>
    public long LiveDocuments(int source, long checkpointed) =>
        Volatile.Read(ref _encodingSource) == source ? checkpointed + Interlocked.Read(ref _encodedInChunk) / Volatile.Read(ref _encodingPasses) : checkpointed;

    private void StopEncoding()
    {
        Volatile.Write(ref _encodingSource, -1);
        Interlocked.Exchange(ref _encodedInChunk, 0);
    }

    /// <summary>Closes the open reader.</summary>
    public void Close()
    {
        _reader?.Dispose();
        _reader = null;
        _readerSource = -1;
    }

    /// <inheritdoc />
    public void Dispose() => Close();

    /// <summary>
    /// A chunk's documents (title and text) through an encoder, <see cref="EncodeBatch"/> per call,
    /// each vector made into a spill record with its document's line and id.
    /// </summary>
    private async Task<List<TRecord>> EncodeAsync<TVector, TRecord>(IReadOnlyList<NumberedDocument> docs,
        Func<string[], Task<TVector[]>> encode, Func<NumberedDocument, TVector, TRecord> record)
    {
        var records = new List<TRecord>(docs.Count);
        for (int start = 0; start < docs.Count; start += EncodeBatch)
        {
            int count = Math.Min(EncodeBatch, docs.Count - start);
            var texts = new string[count];
            for (int i = 0; i < count; i++) texts[i] = docs[start + i].Document.EncoderText;
            var vectors = await encode(texts);
            for (int i = 0; i < count; i++) records.Add(record(docs[start + i], vectors[i]));
            Interlocked.Add(ref _encodedInChunk, count);
        }
        return records;
    }

    /// <summary>What one chunk of a source gave.</summary>
    private sealed record ChunkOutcome(long Lines, int Documents, IReadOnlyList<MalformedLine> Malformed, MalformedLine? StopAt, bool EndOfInput,
        string Format, SparseMaxWeightTracker? SparseMax, int DenseDims);

    /// <summary>
    /// Reads, spills and records the next chunk of the first unfinished source of <paramref name="s"/>;
    /// null when every source is read.
    /// </summary>
    public async Task<JobChunkStep?> ReadChunkAsync(IndexJobRecord s, CancellationToken cancellationToken)
    {
        var request = s.Request!;
        int index = s.Sources.FindIndex(x => !x.Done);
        if (index < 0) return null;
        var source = s.Sources[index];
        if (_readerSource != index) Close();

        bool stop = request.OnMalformed == "stop";
        long chunkNo = source.ChunksDone;
        string kind = source.Kind;
        bool encoding = request.SparseEncoder is not null || request.DenseEncoder is not null;
        // Without the bm25 channel the text source feeds the encoders only, and the sparse channel stores the text.
        bool bm25 = request.Bm25 ?? true;
        int chunkLines = request.ChunkLines > 0 ? request.ChunkLines : kind == IndexJobSources.Text && encoding ? jobOptions.EncodedChunkLines : jobOptions.ChunkLines;
        string local = await files.LocalFileAsync(source.Source, kind, cancellationToken);
        var vocabulary = kind == IndexJobSources.Sparse ? await files.VocabularyAsync(s, cancellationToken) : null;
        var textFormat = kind == IndexJobSources.Text ? CorpusFormats.Parse(s.Format) : default;
        var sparseMax = new SparseMaxWeightTracker(s.SparseMaxWeight, s.SparseMaxHolder, s.SparseMaxStale);
        int denseDims = s.DenseDims;
        var clock = Stopwatch.StartNew();
        var store = files.Catalog.Store;
        string scratch = files.ScratchDirectory;
        string prefix = files.SpillPrefix;
        long linesDone = source.LinesDone;
        int shards = request.Shards;
        var reader = _reader;
        int passes = kind == IndexJobSources.Text ? (request.SparseEncoder is null ? 0 : 1) + (request.DenseEncoder is null ? 0 : 1) : 0;
        if (passes > 0)
        {
            Interlocked.Exchange(ref _encodedInChunk, 0);
            Volatile.Write(ref _encodingPasses, passes);
            Volatile.Write(ref _encodingSource, index);
        }

        async Task SpillAsync<T>(string channel, List<T>[] byShard, Action<string, IEnumerable<T>> write, CancellationToken ct)
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, shards).Where(s => byShard[s].Count > 0),
                new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (s, token) =>
                {
                    string key = IndexSpill.ChunkKey(prefix, channel, s, chunkNo);
                    string path = Path.Combine(scratch, "spill", key.Replace('/', Path.DirectorySeparatorChar));
                    write(path, byShard[s]);
                    await store.PutFileAsync(key, path, token);
                    File.Delete(path);
                });
        }

        // Keeps the records before the first malformed line under the "stop" policy (the job fails at it).
        static (List<T> Kept, MalformedLine? StopAt) Cut<T>(IReadOnlyList<T> records, IReadOnlyList<MalformedLine> malformed, bool stop, Func<T, long> lineOf)
        {
            if (!stop || malformed.Count == 0) return (records as List<T> ?? [.. records], null);
            var at = malformed[0];
            return ([.. records.Where(r => lineOf(r) < at.Line)], at);
        }

        ChunkOutcome outcome;
        try
        {
            outcome = await Task.Run(async () =>
            {
                switch (kind)
                {
                    case IndexJobSources.Text:
                        {
                            var r = (CorpusChunkReader)(reader ??= CorpusChunkReader.Open(local, textFormat, linesDone));
                            var c = r.ReadChunk(chunkLines, cancellationToken);
                            var (docs, at) = Cut(c.Documents, c.Malformed, stop, d => d.Line);
                            SparseMaxWeightTracker? encodedMax = null;
                            if (at is null)
                            {
                                if (bm25) await SpillAsync(IndexChannels.Text, IndexSpill.AnalyzeText(docs, shards, EnglishAnalyzer.Instance, cancellationToken), IndexSpill.WriteText, cancellationToken);
                                if (request.SparseEncoder is { } sparseEncoder)
                                {
                                    var records = await EncodeAsync(docs, t => encoders.EncodeSparseAsync(sparseEncoder, t, TextRole.Document, cancellationToken),
                                        (d, v) => new SparseSpillRecord(d.Line, d.Document.Id, bm25 ? null : d.Document.EncoderText, v.Terms, v.Weights));
                                    await SpillAsync(IndexChannels.Sparse, IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteSparse, cancellationToken);
                                    encodedMax = sparseMax.Observe(records);
                                }
                                if (request.DenseEncoder is { } denseEncoder)
                                {
                                    var records = await EncodeAsync(docs, t => encoders.EncodeDenseAsync(denseEncoder, t, TextRole.Document, cancellationToken),
                                        (d, v) => new DenseSpillRecord(d.Line, d.Document.Id, v));
                                    await SpillAsync(IndexChannels.Dense, IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteDense, cancellationToken);
                                    if (records.Count > 0) denseDims = records[0].Vector.Length;
                                }
                            }
                            return new ChunkOutcome(c.Lines, docs.Count, c.Malformed, at, c.EndOfInput, CorpusFormats.Name(textFormat), encodedMax, denseDims);
                        }
                    case IndexJobSources.Sparse when reader is SparseBinaryChunkReader || (reader is null && SparseBinaryFormat.IsBinary(local)):
                        {
                            var r = (SparseBinaryChunkReader)(reader ??= SparseBinaryChunkReader.Open(local, vocabulary!, linesDone));
                            var c = r.ReadChunk(chunkLines, cancellationToken);
                            var (records, at) = Cut(c.Records, c.Malformed, stop, d => d.Line);
                            if (at is null) await SpillAsync(IndexChannels.Sparse, IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteSparse, cancellationToken);
                            return new ChunkOutcome(c.Lines, records.Count, c.Malformed, at, c.EndOfInput, SparseBinaryFormat.FormatName, sparseMax.Observe(records), denseDims);
                        }
                    case IndexJobSources.Sparse:
                        {
                            var r = (SparseChunkReader)(reader ??= SparseChunkReader.Open(local, vocabulary!, linesDone));
                            var c = r.ReadChunk(chunkLines, cancellationToken);
                            var (records, at) = Cut(c.Records, c.Malformed, stop, d => d.Line);
                            if (at is null) await SpillAsync(IndexChannels.Sparse, IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteSparse, cancellationToken);
                            return new ChunkOutcome(c.Lines, records.Count, c.Malformed, at, c.EndOfInput, "anserini", sparseMax.Observe(records), denseDims);
                        }
                    default:
                        {
                            var r = (DenseChunkReader)(reader ??= DenseChunkReader.Open(local, denseDims, linesDone));
                            var c = r.ReadChunk(chunkLines, cancellationToken);
                            var (records, at) = Cut(c.Records, c.Malformed, stop, d => d.Line);
                            if (at is null) await SpillAsync(IndexChannels.Dense, IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteDense, cancellationToken);
                            return new ChunkOutcome(c.Lines, records.Count, c.Malformed, at, c.EndOfInput, r.Binary ? "shoalvec" : "jsonl", null, r.Dims);
                        }
                }
            }, cancellationToken);
        }
        catch
        {
            StopEncoding();
            throw;
        }
        _reader = reader;
        _readerSource = index;

        s.ReadingSeconds += clock.Elapsed.TotalSeconds;
        source.Format = outcome.Format;
        source.BytesRead = reader!.BytesRead;
        source.DocumentsRead += outcome.Documents;
        StopEncoding(); // in the same turn as the count above, so a status never counts the chunk twice or drops it
        Diagnostics.ShoalTelemetry.JobDocuments.Add(outcome.Documents, new KeyValuePair<string, object?>("index", request.Index));
        var malformed = outcome.StopAt is { } first ? [first] : outcome.Malformed;
        source.Malformed += malformed.Count;
        foreach (var m in malformed.Take(Math.Max(0, jobOptions.MaxMalformedReported - s.MalformedLines.Count)))
            s.MalformedLines.Add(new MalformedLineInfo { Line = m.Line, Reason = m.Reason, Source = kind });
        if (outcome.StopAt is { } at)
        {
            source.LinesDone = at.Line - 1;
            s.Recount();
            string unit = reader is DenseChunkReader { Binary: true } or SparseBinaryChunkReader ? "record" : "line";
            string what = kind switch
            {
                IndexJobSources.Sparse => "sparse vectors ",
                IndexJobSources.Dense => "dense vectors ",
                _ => "",
            };
            return new JobChunkStep(kind, chunkNo, $"Malformed {unit} {at.Line} of {what}'{source.Source}': {at.Reason} (onMalformed is 'stop').");
        }
        source.LinesDone += outcome.Lines;
        source.ChunksDone = chunkNo + 1;
        if (outcome.SparseMax is { } max)
        {
            s.SparseMaxWeight = max.MaxWeight;
            s.SparseMaxHolder = max.HolderId;
            s.SparseMaxStale = max.Stale;
        }
        if (kind == IndexJobSources.Dense || request.DenseEncoder is not null) s.DenseDims = outcome.DenseDims;
        if (outcome.EndOfInput)
        {
            source.Done = true;
            Close();
            if (source.DocumentsRead == 0)
            {
                // Publishing an empty index would look like success; say what was wrong instead.
                s.Recount();
                var firstBad = s.MalformedLines.FirstOrDefault(m => m.Source == kind);
                return new JobChunkStep(kind, chunkNo, source.Malformed == 0
                    ? $"'{source.Source}' ({kind}) holds no documents."
                    : $"'{source.Source}' ({kind}) holds no well-formed document: all {source.Malformed} lines were malformed" +
                      (firstBad is null ? "." : $" (the first, line {firstBad.Line}: {firstBad.Reason})."));
            }
            if (kind == IndexJobSources.Dense && s.DenseDims == 0)
            {
                s.Recount();
                return new JobChunkStep(kind, chunkNo, $"Dense vectors '{source.Source}' hold no well-formed vector, so their dimensions are unknown.");
            }
        }
        s.Recount();
        if (s.Sources.All(x => x.Done)) s.Phase = "building";
        return new JobChunkStep(kind, chunkNo, null);
    }
}
