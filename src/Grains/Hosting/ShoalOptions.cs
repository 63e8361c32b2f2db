namespace Shoal.Grains.Hosting;

/// <summary>Settings of Shoal's grains in a silo.</summary>
public sealed class ShoalOptions
{
    /// <summary>Root of the local-directory snapshot store (the embedded default).</summary>
    public string SnapshotDirectory { get; set; } = Path.Combine(".shoal", "snapshots");

    /// <summary>
    /// Azure Blob Storage connection string for snapshots (Azurite locally). When set, snapshots
    /// go to <see cref="BlobContainer"/> instead of <see cref="SnapshotDirectory"/>.
    /// </summary>
    public string? BlobConnectionString { get; set; }

    /// <summary>Container of the blob snapshot store.</summary>
    public string BlobContainer { get; set; } = "shoal-snapshots";

    /// <summary>Where shards keep local copies of segments restored from a remote store.</summary>
    public string CacheDirectory { get; set; } = Path.Combine(".shoal", "cache");

    /// <summary>Scratch space for index builds.</summary>
    public string BuildDirectory { get; set; } = Path.Combine(".shoal", "build");

    /// <summary>Deadline of a search when the request gives none.</summary>
    public TimeSpan DefaultDeadline { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// With replicas, how long the coordinator waits for a shard's first replica before sending
    /// the same request to the next one (hedging); a failed replica is replaced at once.
    /// </summary>
    public TimeSpan HedgeDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A search that starts on a silo reads the shard replicas active on that silo directly
    /// instead of sending their grains a message (<see cref="Shards.LocalShards"/>), and a gateway in
    /// a silo's process calls that silo's <see cref="Query.SearchCoordinator"/> instead of a
    /// coordinator grain; false sends every search and every shard search as a grain call.
    /// </summary>
    public bool DirectLocalSearch { get; set; } = true;

    /// <summary>Largest k a search may ask for.</summary>
    public int MaxK { get; set; } = 1000;

    /// <summary>Largest HNSW candidate list (<c>dense.ef</c>) a search may ask for: the candidate depth each shard explores.</summary>
    public int MaxEf { get; set; } = 10_000;

    /// <summary>Largest shard count an index may have.</summary>
    public int MaxShards { get; set; } = 1024;

    /// <summary>
    /// WordPiece vocabulary (<c>vocab.txt</c>) used by sparse channels whose ingest request names
    /// none. Null looks for bert-base-uncased's vocabulary in <c>shared/data/tokenizers</c> beside
    /// the working directory or the application (the repository's evaluation data).
    /// </summary>
    public string? SparseVocabularyPath { get; set; }

    /// <summary>Characters of text returned as a hit's snippet.</summary>
    public int SnippetLength { get; set; } = 300;

    /// <summary>Most upserts plus deletes one update request may carry.</summary>
    public int MaxUpdateOperations { get; set; } = 10_000;

    /// <summary>
    /// Pending update operations (since the served version) at which the index merges them into
    /// a new version on its own; 0 merges only on request or on the interval. The live buffers
    /// are searched by brute force, so this bounds their cost.
    /// </summary>
    public long MergeThresholdOperations { get; set; } = 20_000;

    /// <summary>How often an active index merges pending updates (whatever their number); zero or negative: never on a timer.</summary>
    public TimeSpan MergeInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Indexes of at most this many documents are merged in memory (faster); larger ones are
    /// spilled to <see cref="BuildDirectory"/> shard by shard, so memory stays bounded.
    /// </summary>
    public long MergeInMemoryMaxDocuments { get; set; } = 1_000_000;

    /// <summary>Published versions kept for rollback when a merge publishes a new one (older ones and their update log are deleted).</summary>
    public int KeepVersions { get; set; } = 4;

    /// <summary>Moves shard replicas when silos join or leave so every silo holds a fair share (see README, "Shard placement").</summary>
    public bool RebalanceEnabled { get; set; } = true;

    /// <summary>How often the rebalancer checks the placement map when membership has not changed.</summary>
    public TimeSpan RebalanceInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Wait after a membership change before moving, so a burst of joins is planned once.</summary>
    public TimeSpan RebalanceSettleDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Replica moves in flight at once (each restores one shard's segments on its new silo).</summary>
    public int RebalanceMaxConcurrentMoves { get; set; } = 2;

    /// <summary>Longest a gracefully stopping silo spends moving its replicas away before it stops anyway.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>
    /// Directories whose files ingest and job requests may name as sources (besides <c>store:</c>
    /// objects). Empty: the defaults, which are the data directory (the parent of
    /// <see cref="SnapshotDirectory"/>), <c>shared/data</c> when found beside the repository, and
    /// the repository's <c>samples</c> folder. Configured: exactly these.
    /// </summary>
    public string[] DataRoots { get; set; } = [];

    /// <summary>Directories the host adds to the data roots (e.g. the directory of the gateway's start-up corpus).</summary>
    public string[] AdditionalDataRoots { get; set; } = [];

    /// <summary>The data roots in force: <see cref="DataRoots"/> or the defaults, plus <see cref="AdditionalDataRoots"/>.</summary>
    public IReadOnlyList<string> EffectiveDataRoots()
    {
        var roots = new List<string>();
        if (DataRoots.Length > 0) roots.AddRange(DataRoots);
        else
        {
            roots.Add(Path.GetDirectoryName(Path.GetFullPath(SnapshotDirectory)) ?? Path.GetFullPath(SnapshotDirectory));
            if (SharedData.Root() is { } shared) roots.Add(shared);
            if (SharedData.Samples() is { } samples) roots.Add(samples);
        }
        roots.AddRange(AdditionalDataRoots);
        return roots;
    }
}
