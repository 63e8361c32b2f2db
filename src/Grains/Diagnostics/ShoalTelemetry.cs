using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Shoal.Grains.Diagnostics;

/// <summary>
/// Shoal's own meter and activity source (both named <see cref="Name"/>). Instruments are created
/// once and recorded from the grains; an exporter (Prometheus at <c>/metrics</c>, OTLP) listens by
/// name. Names follow OpenTelemetry's dotted style (<c>shoal.query.duration</c>); the Prometheus
/// exporter writes them as <c>shoal_query_duration_milliseconds</c> and so on.
/// </summary>
public static class ShoalTelemetry
{
    /// <summary>Name of the meter and of the activity source.</summary>
    public const string Name = "Shoal";

    /// <summary>The meter every Shoal instrument belongs to.</summary>
    public static readonly Meter Meter = new(Name, "1.0");

    /// <summary>Spans of a search (coordinator, shards, encoder pools) and of jobs and merges.</summary>
    public static readonly ActivitySource Source = new(Name, "1.0");

    /// <summary>Search latency at the coordinator, per index and channel set ("bm25", "bm25+dense", ...).</summary>
    public static readonly Histogram<double> QueryDuration = Meter.CreateHistogram<double>(
        "shoal.query.duration", "ms", "Search latency at the coordinator, per index and channel set",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000] });

    /// <summary>
    /// Time a search spends in each stage at the coordinator (tag <c>stage</c>): <c>index</c> (the
    /// index's description), <c>plan</c> (analysis, encoding, checks), <c>scatter</c> (from the first
    /// shard call until the last answer), <c>merge</c> (gather, top-k merge, fusion) and <c>fetch</c>
    /// (stored fields of fused hits). Always on: a timestamp per stage.
    /// </summary>
    public static readonly Histogram<double> QueryStageDuration = Meter.CreateHistogram<double>(
        "shoal.query.stage.duration", "ms", "Time a search spends in each coordinator stage (index, plan, scatter, merge, fetch)",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024] });

    /// <summary>Time one shard spends on one channel of a search.</summary>
    public static readonly Histogram<double> ShardChannelDuration = Meter.CreateHistogram<double>(
        "shoal.shard.search.duration", "ms", "Time one shard replica spends on one channel of a search",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024] });

    /// <summary>Searches answered, per index and outcome (ok, partial, invalid, not_found, unavailable).</summary>
    public static readonly Counter<long> Queries = Meter.CreateCounter<long>(
        "shoal.queries", "{query}", "Searches answered, per index and outcome");

    /// <summary>Shards a search was scattered to.</summary>
    public static readonly Histogram<int> QueryFanout = Meter.CreateHistogram<int>(
        "shoal.query.fanout", "{shard}", "Shards one search was scattered to",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024] });

    /// <summary>Messages that carried several shards of one search to the silo holding them (one message instead of one per shard).</summary>
    public static readonly Counter<long> SiloBatches = Meter.CreateCounter<long>(
        "shoal.query.silo_batches", "{message}", "Messages that carried several shards of one search to one silo, per index");

    /// <summary>Shards that did not answer a search in time (each partial answer adds its missing shards).</summary>
    public static readonly Counter<long> MissingShards = Meter.CreateCounter<long>(
        "shoal.query.missing_shards", "{shard}", "Shards that missed the deadline or failed, per index and reason");

    /// <summary>Fraction of shards that answered, per search.</summary>
    public static readonly Histogram<double> Coverage = Meter.CreateHistogram<double>(
        "shoal.query.coverage", "1", "Fraction of shards that answered a search",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 0.75, 0.9, 0.99, 1] });

    /// <summary>Hedged replica calls (a second replica asked because the first was slow or failed).</summary>
    public static readonly Counter<long> HedgedRequests = Meter.CreateCounter<long>(
        "shoal.query.hedged", "{request}", "Replica calls hedged to another replica, per index");

    /// <summary>Time one encode call took at the pool grain (queueing and the model run).</summary>
    public static readonly Histogram<double> EncodeDuration = Meter.CreateHistogram<double>(
        "shoal.encoder.encode.duration", "ms", "Time an encode request took at the encoder pool, per encoder",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096] });

    /// <summary>Texts encoded, per encoder.</summary>
    public static readonly Counter<long> EncodedTexts = Meter.CreateCounter<long>(
        "shoal.encoder.texts", "{text}", "Texts encoded, per encoder");

    /// <summary>Wall time of merges of online updates into a new version.</summary>
    public static readonly Histogram<double> MergeDuration = Meter.CreateHistogram<double>(
        "shoal.merge.duration", "s", "Wall time of a merge of online updates into a new version, per index and outcome",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600] });

    /// <summary>Documents read by indexing jobs (a rate of this is the jobs' documents per second).</summary>
    public static readonly Counter<long> JobDocuments = Meter.CreateCounter<long>(
        "shoal.job.documents", "{document}", "Documents read and spilled by indexing jobs, per index");

    /// <summary>Bytes written to the snapshot store (segment uploads).</summary>
    public static readonly Counter<long> SnapshotBytes = Meter.CreateCounter<long>(
        "shoal.snapshot.bytes", "By", "Segment bytes uploaded to the snapshot store, per index");

    /// <summary>Bytes restored from the snapshot store (or the local cache) into a shard.</summary>
    public static readonly Counter<long> RestoreBytes = Meter.CreateCounter<long>(
        "shoal.restore.bytes", "By", "Segment bytes a shard restored, per index and source (store, cache)");

    /// <summary>Transfer rate of snapshot uploads and restores.</summary>
    public static readonly Histogram<double> TransferRate = Meter.CreateHistogram<double>(
        "shoal.snapshot.transfer.rate", "MBy/s", "Rate of one segment upload or restore, per direction",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200] });

    private static readonly ConcurrentDictionary<string, (string Index, int Live, int Hidden)> LiveBuffers = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, (string Index, string Phase, double DocsPerSecond)> RunningJobs = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<object, Func<IEnumerable<(string Encoder, int Queue)>>> EncoderQueues = new();

    static ShoalTelemetry()
    {
        Meter.CreateObservableGauge("shoal.live_buffer.documents", ObserveLiveBuffers, "{document}",
            "Documents in the live buffers of this silo's shard replicas (upserted or hidden), per index and kind");
        Meter.CreateObservableGauge("shoal.jobs.running", ObserveJobPhases, "{job}", "Indexing jobs running on this silo, per phase");
        Meter.CreateObservableGauge("shoal.job.throughput", ObserveJobRates, "{document}/s", "Documents per second of the indexing jobs running on this silo, per index");
        Meter.CreateObservableGauge("shoal.encoder.queue.depth", ObserveEncoderQueues, "{request}", "Requests waiting in this silo's encoder pools, per encoder");
    }

    /// <summary>Records what one shard replica's live buffer holds (key: the shard grain's key); null forgets it.</summary>
    public static void SetLiveBuffer(string shardKey, string index, int live, int hidden)
    {
        if (live == 0 && hidden == 0) LiveBuffers.TryRemove(shardKey, out _);
        else LiveBuffers[shardKey] = (index, live, hidden);
    }

    /// <summary>Records a running job's phase and rate; <paramref name="phase"/> null forgets the job.</summary>
    public static void SetJob(string jobId, string index, string? phase, double docsPerSecond)
    {
        if (phase is null) RunningJobs.TryRemove(jobId, out _);
        else RunningJobs[jobId] = (index, phase, docsPerSecond);
    }

    /// <summary>Registers a silo's encoder pools for the queue-depth gauge; null unregisters them.</summary>
    public static void SetEncoderQueues(object owner, Func<IEnumerable<(string Encoder, int Queue)>>? observe)
    {
        if (observe is null) EncoderQueues.TryRemove(owner, out _);
        else EncoderQueues[owner] = observe;
    }

    private static IEnumerable<Measurement<int>> ObserveLiveBuffers()
    {
        foreach (var group in LiveBuffers.Values.GroupBy(v => v.Index, StringComparer.Ordinal))
        {
            yield return new Measurement<int>(group.Sum(v => v.Live), new("index", group.Key), new("kind", "upserted"));
            yield return new Measurement<int>(group.Sum(v => v.Hidden), new("index", group.Key), new("kind", "hidden"));
        }
    }

    private static IEnumerable<Measurement<int>> ObserveJobPhases() =>
        RunningJobs.Values.GroupBy(j => j.Phase, StringComparer.Ordinal)
            .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("phase", g.Key)));

    private static IEnumerable<Measurement<double>> ObserveJobRates() =>
        RunningJobs.Values.GroupBy(j => j.Index, StringComparer.Ordinal)
            .Select(g => new Measurement<double>(g.Sum(j => j.DocsPerSecond), new KeyValuePair<string, object?>("index", g.Key)));

    private static IEnumerable<Measurement<int>> ObserveEncoderQueues()
    {
        foreach (var observe in EncoderQueues.Values)
            foreach (var (encoder, queue) in observe())
                yield return new Measurement<int>(queue, new KeyValuePair<string, object?>("encoder", encoder));
    }
}
