using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Orleans;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Routing;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;
using Shoal.Grains.Contracts;
using Shoal.Grains.Query;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Indexes;

/// <summary>
/// Online updates. The index grain is the single writer of the index's update log: it validates
/// a request whole, splits it by shard, writes each shard's batch to the log (durable), then has
/// every replica of those shards apply it (visible), and only then answers. A merge folds the
/// pending batches into a new version with fresh collection statistics, publishes it in the same
/// lineage with each shard's folded sequence, and shards keep only the later batches.
/// </summary>
public sealed partial class IndexGrain
{
    private UpdateLogState? _logState;
    private IngestStatus? _merge;
    private IGrainTimer? _mergeTimer;

    /// <summary>Where the update log of the served version stands.</summary>
    private sealed class UpdateLogState(long lineage, long[] heads, long[] through, long pendingOperations)
    {
        public long Lineage { get; } = lineage;
        /// <summary>Last batch written per shard.</summary>
        public long[] Heads { get; } = heads;
        /// <summary>Last batch folded into the served version per shard.</summary>
        public long[] Through { get; set; } = through;
        /// <summary>Operations in the batches after <see cref="Through"/>.</summary>
        public long PendingOperations { get; set; } = pendingOperations;
        public long PendingBatches => Heads.Select((h, i) => h - Through[i]).Sum();
    }

    private UpdateInfo? CurrentUpdateInfo() => _logState is null && _merge is null ? null : new UpdateInfo
    {
        PendingOperations = _logState?.PendingOperations ?? 0,
        PendingBatches = _logState?.PendingBatches ?? 0,
        Merge = _merge,
    };

    /// <summary>Reads the log's heads (and counts pending operations) for the served version, once per lineage.</summary>
    private async Task<UpdateLogState> EnsureLogStateAsync(IndexManifest manifest, CancellationToken cancellationToken)
    {
        if (_logState is { } state && state.Lineage == manifest.Lineage && state.Heads.Length == manifest.ShardCount) return state;
        var heads = new long[manifest.ShardCount];
        var through = manifest.Shards.Select(s => s.UpdatesThrough).ToArray();
        long pending = 0;
        await Task.WhenAll(Enumerable.Range(0, manifest.ShardCount).Select(async shard =>
        {
            heads[shard] = Math.Max(through[shard], await _updateLog.HeadAsync(Name, manifest.Lineage, shard, cancellationToken));
            if (heads[shard] > through[shard])
            {
                var batches = await _updateLog.ReadAsync(Name, manifest.Lineage, shard, through[shard], cancellationToken: cancellationToken);
                long ops = batches.Sum(b => (long)UpdateBatchCodec.Decode(b.Payload, UpdateLog.Key(Name, manifest.Lineage, shard, b.Sequence)).Updates.Count);
                Interlocked.Add(ref pending, ops);
            }
        }));
        _logState = new UpdateLogState(manifest.Lineage, heads, through, pending);
        return _logState;
    }

    /// <inheritdoc />
    public async Task<UpdateResult> UpdateAsync(UpdateRequest request, CancellationToken cancellationToken = default)
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        var manifest = _manifest ?? throw new InvalidOperationException($"Index '{Name}' does not exist (it has no published version).");
        int total = request.Upserts.Length + request.Deletes.Length;
        if (total == 0) throw new ArgumentException("The update has no documents and no deletes.");
        if (total > _options.MaxUpdateOperations)
            throw new ArgumentException($"The update has {total} operations; at most {_options.MaxUpdateOperations} are allowed per request (split it).");

        var updates = await ToDocumentUpdatesAsync(manifest, request, cancellationToken);
        var state = await EnsureLogStateAsync(manifest, cancellationToken);

        // One batch per shard touched, in request order (upserts, then deletes).
        var byShard = updates.GroupBy(u => ShardRouter.ShardOf(u.Id, manifest.ShardCount)).ToArray();
        var now = DateTimeOffset.UtcNow;
        var batches = byShard.Select(g =>
        {
            long sequence = state.Heads[g.Key] + 1;
            var batch = new UpdateBatch(sequence, now, g.ToArray());
            return (Shard: g.Key, Sequence: sequence, Payload: UpdateBatchCodec.Encode(batch), Count: batch.Updates.Count);
        }).ToArray();

        // Durable first: a batch whose write failed keeps its number for the next request.
        var writes = batches.Select(b => _updateLog.AppendAsync(Name, manifest.Lineage, b.Shard, b.Sequence, b.Payload, cancellationToken)).ToArray();
        try
        {
            await Task.WhenAll(writes);
        }
        finally
        {
            for (int i = 0; i < batches.Length; i++)
            {
                if (writes[i].IsCompletedSuccessfully)
                {
                    state.Heads[batches[i].Shard] = batches[i].Sequence;
                    state.PendingOperations += batches[i].Count;
                }
            }
        }

        // Visible next: every replica of every shard touched applies its batch, and says how many
        // of its deletes removed a document that was there (the replicas agree; one that had the
        // batch already, through a retry or a replay, does not know and answers -1).
        var removedPerShard = await Task.WhenAll(batches.Select(async b =>
        {
            var counts = await Task.WhenAll(Enumerable.Range(0, manifest.Replicas).Select(r =>
                GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(Name, b.Shard, r))
                    .ApplyUpdatesAsync(manifest.Version, manifest.Lineage, b.Sequence, b.Payload)));
            int known = counts.Max();
            return known >= 0 ? known : byShard.First(g => g.Key == b.Shard).Count(u => u.Delete);
        }));

        if (_options.MergeThresholdOperations > 0 && state.PendingOperations >= _options.MergeThresholdOperations && _merge?.State != IngestState.Running)
            await TryStartMergeAsync("threshold");

        return new UpdateResult
        {
            Index = Name,
            Version = manifest.Version,
            Upserted = request.Upserts.Length,
            Deleted = removedPerShard.Sum(),
            PendingOperations = state.PendingOperations,
        };
    }

    /// <summary>Validates a request and turns it into engine operations: tokens mapped to term ids, missing vectors encoded by the channels' encoders.</summary>
    private async Task<List<DocumentUpdate>> ToDocumentUpdatesAsync(IndexManifest manifest, UpdateRequest request, CancellationToken cancellationToken)
    {
        var schema = manifest.Schema;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in request.Upserts.Select(u => u.Id).Concat(request.Deletes))
        {
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("A document id is empty.");
            if (!seen.Add(id)) throw new ArgumentException($"Document '{id}' appears more than once in the update (upsert it or delete it once).");
        }

        SparseVocabulary? vocabulary = null;
        if (schema.Sparse is not null && request.Upserts.Any(u => u.SparseTokens is not null))
            vocabulary = (await _versions.GetAsync(Name, manifest.Version, cancellationToken)).Vocabulary;

        var updates = new List<DocumentUpdate>(request.Upserts.Length + request.Deletes.Length);
        var needSparse = new List<int>();
        var needDense = new List<int>();
        foreach (var doc in request.Upserts)
        {
            int[]? terms = doc.SparseTermIds;
            float[]? weights = doc.SparseWeights;
            if (doc.SparseTokens is not null)
            {
                if (doc.SparseTermIds is not null) throw new ArgumentException($"Document '{doc.Id}' gives its sparse vector both as tokens and as term ids.");
                if (schema.Sparse is null) throw new ArgumentException($"Document '{doc.Id}' has a sparse vector but index '{Name}' has no sparse channel.");
                if (doc.SparseTokenWeights is null || doc.SparseTokenWeights.Length != doc.SparseTokens.Length)
                    throw new ArgumentException($"Document '{doc.Id}': sparse tokens and weights differ in length.");
                terms = new int[doc.SparseTokens.Length];
                for (int i = 0; i < terms.Length; i++)
                {
                    if (!vocabulary!.TryGetId(doc.SparseTokens[i], out terms[i]))
                        throw new ArgumentException($"Document '{doc.Id}': sparse token '{doc.SparseTokens[i]}' is not in the vocabulary of index '{Name}'.");
                }
                weights = doc.SparseTokenWeights;
            }
            float[]? dense = null;
            if (doc.DenseVector is { } packed)
            {
                if (packed.Length % 4 != 0) throw new ArgumentException($"Document '{doc.Id}': the packed dense vector has {packed.Length} bytes, not a multiple of 4.");
                dense = MemoryMarshal.Cast<byte, float>(packed).ToArray();
            }
            if (terms is null && schema.Sparse?.Encoder is not null) needSparse.Add(updates.Count);
            if (dense is null && schema.Dense?.Encoder is not null) needDense.Add(updates.Count);
            updates.Add(new DocumentUpdate { Id = doc.Id, Title = doc.Title, Text = doc.Text, SparseTerms = terms, SparseWeights = weights, Dense = dense });
        }

        // Channels with an encoder and no vector given: encode title and text, as a build does.
        string TextOf(DocumentUpdate u) =>
            u.Text is null ? throw new ArgumentException($"Document '{u.Id}' has no vector for an encoded channel and no text to encode.")
            : Shoal.Engine.Ingest.SourceDocument.EncoderTextOf(u.Title, u.Text);
        try
        {
            if (needSparse.Count > 0)
            {
                var vectors = await _encoders.EncodeSparseAsync(schema.Sparse!.Encoder!, needSparse.Select(i => TextOf(updates[i])).ToArray(), Shoal.Encoders.TextRole.Document, cancellationToken);
                for (int j = 0; j < needSparse.Count; j++)
                    updates[needSparse[j]] = updates[needSparse[j]] with { SparseTerms = vectors[j].Terms, SparseWeights = vectors[j].Weights };
            }
            if (needDense.Count > 0)
            {
                var vectors = await _encoders.EncodeDenseAsync(schema.Dense!.Encoder!, needDense.Select(i => TextOf(updates[i])).ToArray(), Shoal.Encoders.TextRole.Document, cancellationToken);
                for (int j = 0; j < needDense.Count; j++)
                    updates[needDense[j]] = updates[needDense[j]] with { Dense = vectors[j] };
            }
        }
        catch (Exception e) when (e is Encoders.UnknownEncoderException)
        {
            throw new ArgumentException(e.Message, e);
        }

        foreach (var u in updates)
            if (UpdateValidation.Check(u, schema) is { } error) throw new ArgumentException(error);
        foreach (var id in request.Deletes)
        {
            var delete = new DocumentUpdate { Id = id, Delete = true };
            if (UpdateValidation.Check(delete, schema) is { } error) throw new ArgumentException(error);
            updates.Add(delete);
        }
        return updates;
    }

    /// <inheritdoc />
    public async Task<IngestStatus> StartMergeAsync()
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        if (_manifest is null) throw new InvalidOperationException($"Index '{Name}' does not exist (it has no published version).");
        if (await IngestStatusAsync() is { State: IngestState.Running } building)
            throw new InvalidOperationException($"Index '{Name}' is building a new version from '{building.CorpusPath}' (job {building.JobId}); merge after it finishes.");
        return await TryStartMergeAsync("requested");
    }

    /// <summary>Starts a merge unless one runs or a build runs; returns the merge status.</summary>
    private async Task<IngestStatus> TryStartMergeAsync(string reason)
    {
        if (_merge is { State: IngestState.Running } running) return running;
        if ((await IngestStatusAsync()).State == IngestState.Running || _manifest is not { } manifest) return _merge ?? new IngestStatus { State = IngestState.Idle };
        var state = await EnsureLogStateAsync(manifest, CancellationToken.None);
        if (state.PendingBatches == 0)
            return _merge = new IngestStatus { State = IngestState.Succeeded, Phase = "nothing to merge", Version = manifest.Version, StartedUtc = DateTimeOffset.UtcNow, FinishedUtc = DateTimeOffset.UtcNow };
        var heads = (long[])state.Heads.Clone();
        _merge = new IngestStatus { State = IngestState.Running, Phase = "reading", StartedUtc = DateTimeOffset.UtcNow, CorpusPath = $"updates ({reason})" };
        DelayDeactivation(TimeSpan.FromHours(12));
        _ = RunMergeAsync(manifest, heads);
        return _merge;
    }

    /// <summary>Merges on a timer: pending updates do not wait longer than the merge interval while the index is active.</summary>
    private void StartMergeTimer()
    {
        if (_options.MergeInterval <= TimeSpan.Zero || _mergeTimer is not null) return;
        _mergeTimer = this.RegisterGrainTimer(async ct =>
        {
            if (_manifest is { } m && _merge?.State != IngestState.Running && (await IngestStatusAsync()).State != IngestState.Running)
            {
                var state = await EnsureLogStateAsync(m, ct);
                if (state.PendingBatches > 0) await TryStartMergeAsync("interval");
            }
        }, new GrainTimerCreationOptions(_options.MergeInterval, _options.MergeInterval) { KeepAlive = false });
    }

    private async Task RunMergeAsync(IndexManifest manifest, long[] heads)
    {
        string buildRoot = Path.Combine(_options.BuildDirectory, Name, "merge-" + Guid.NewGuid().ToString("N"));
        long mergedOps = 0;
        using var activity = Diagnostics.ShoalTelemetry.Source.StartActivity("shoal.merge", System.Diagnostics.ActivityKind.Internal, parentContext: default);
        activity?.SetTag("shoal.index", Name);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        string outcome = "failed";
        try
        {
            long version = await _catalog.NextVersionAsync(Name);
            var entry = await _versions.GetAsync(Name, manifest.Version);
            var plan = PlanFor(manifest.Schema, manifest.ShardCount, entry.Vocabulary);
            long pendingBatches = heads.Select((h, i) => h - manifest.Shards[i].UpdatesThrough).Sum();
            LogMergeStarted(_logger, Name, manifest.Version, version, pendingBatches);

            IndexVersionBuildResult built;
            if (manifest.DocCount <= _options.MergeInMemoryMaxDocuments)
            {
                // Small enough to rebuild in memory (faster): feed every shard's documents to one builder.
                var builder = new IndexVersionBuilder(plan);
                for (int shard = 0; shard < manifest.ShardCount; shard++)
                {
                    mergedOps += await FoldShardAsync(manifest, shard, heads[shard], (text, sparse, dense, delta) =>
                    {
                        if (plan.Text is not null) builder.AddText(DeltaMerge.Text(text, delta));
                        if (plan.SparseVocabulary is not null) builder.AddSparse(DeltaMerge.Sparse(sparse, delta, keepText: plan.Text is null));
                        if (plan.Dense is not null) builder.AddDense(DeltaMerge.Dense(dense, delta));
                        return delta.PendingOperations;
                    });
                }
                _merge = _merge! with { Phase = "building" };
                built = await Task.Run(() => builder.Build(s => Path.Combine(buildRoot, $"shard-{s:D4}")));
            }
            else
            {
                // Bounded memory: each shard's documents are spilled to disk (as many shards at once as
                // there are cores), then collection statistics over all spills, then each shard's
                // segments, as an indexing job builds.
                int parallel = Math.Clamp(Environment.ProcessorCount, 1, manifest.ShardCount);
                var spills = new ShardSpills[manifest.ShardCount];
                foreach (var group in Enumerable.Range(0, manifest.ShardCount).Chunk(parallel))
                {
                    var done = await Task.WhenAll(group.Select(shard => FoldShardAsync(manifest, shard, heads[shard], (text, sparse, dense, delta) =>
                        (Spills: DeltaMerge.Spill(shard, manifest.ShardCount, text, sparse, dense, delta, plan, Path.Combine(buildRoot, "spill")), delta.PendingOperations))));
                    for (int i = 0; i < group.Length; i++)
                    {
                        spills[group[i]] = done[i].Spills;
                        mergedOps += done[i].PendingOperations;
                    }
                }
                _merge = _merge! with { Phase = "building" };
                var builder = new SpillIndexBuilder(plan);
                var stats = await Task.Run(() => builder.ComputeStatistics(s => spills[s]));
                var shardsBuilt = new List<ShardSegments>(manifest.ShardCount);
                foreach (var group in Enumerable.Range(0, manifest.ShardCount).Chunk(parallel))
                    shardsBuilt.AddRange(await Task.WhenAll(group.Select(s => Task.Run(() => builder.BuildShard(s, spills[s], stats, Path.Combine(buildRoot, $"shard-{s:D4}"))))));
                built = new IndexVersionBuildResult(shardsBuilt.Sum(x => x.DocCount), plan.Text is null ? null : stats.Collection, stats.SparseMaxWeight, shardsBuilt);
            }

            _merge = _merge with { Phase = "uploading", DocumentsRead = built.DocCount };
            var vocabularyFile = manifest.Schema.Sparse is { } sp ? await CopyVocabularyAsync(sp.VocabularyKey, buildRoot) : null;
            var published = await PublishBuiltAsync(new PublishSpec(
                version,
                built,
                plan,
                manifest.Replicas,
                vocabularyFile,
                manifest.Schema.Sparse?.Encoder,
                manifest.Schema.Dense,
                manifest.Lineage,
                heads), phase => _merge = _merge! with { Phase = phase });

            // The served version moves on: batches up to the heads are now in its segments.
            if (_logState is { } state && state.Lineage == manifest.Lineage)
            {
                state.Through = heads;
                state.PendingOperations = Math.Max(0, state.PendingOperations - mergedOps);
            }
            _merge = _merge with { State = IngestState.Succeeded, Phase = "done", Version = published.Version, FinishedUtc = DateTimeOffset.UtcNow };
            outcome = "succeeded";
            LogMergeDone(_logger, Name, published.Version, mergedOps, built.DocCount, (_merge.FinishedUtc - _merge.StartedUtc)?.TotalSeconds ?? 0);
            await PruneAfterMergeAsync();
        }
#pragma warning disable CA1031 // a background merge's failure is recorded in the merge status clients poll, and logged; nothing awaits this task
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogMergeFailed(_logger, e, Name);
            _merge = _merge! with { State = IngestState.Failed, Phase = "failed", Error = e.Message, FinishedUtc = DateTimeOffset.UtcNow };
        }
        finally
        {
            Diagnostics.ShoalTelemetry.MergeDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>("index", Name), new KeyValuePair<string, object?>("outcome", outcome));
            activity?.SetTag("shoal.outcome", outcome);
            try { if (Directory.Exists(buildRoot)) Directory.Delete(buildRoot, recursive: true); }
            catch (IOException) { }
            DelayDeactivation(TimeSpan.FromTicks(-1));
        }
    }

    /// <summary>
    /// One shard of a merge: opens its segments of the served version, folds its pending batches
    /// (after the version's, up to <paramref name="head"/>) into a buffer and runs
    /// <paramref name="work"/> over them on the thread pool, then closes the segments.
    /// </summary>
    private async Task<T> FoldShardAsync<T>(IndexManifest manifest, int shard, long head, Func<TextSegment?, SparseSegment?, DenseSegment?, ShardDelta, T> work)
    {
        TextSegment? text = null;
        SparseSegment? sparse = null;
        DenseSegment? dense = null;
        try
        {
            foreach (var segment in manifest.Shards[shard].Segments)
            {
                var file = await _catalog.MaterializeVerifiedAsync(segment, _options.CacheDirectory);
                bool verify = !file.Verified;
                switch (segment.Channel)
                {
                    case IndexChannels.Text: text = await Task.Run(() => TextSegment.Open(file.Path, verify)); break;
                    case IndexChannels.Sparse: sparse = await Task.Run(() => SparseSegment.Open(file.Path, verify)); break;
                    case IndexChannels.Dense: dense = await Task.Run(() => DenseSegment.Open(file.Path, verify)); break;
                    default: throw new InvalidDataException($"Segment '{segment.Key}' has unknown channel '{segment.Channel}'.");
                }
            }
            long through = manifest.Shards[shard].UpdatesThrough;
            var batches = await _updateLog.ReadAsync(Name, manifest.Lineage, shard, through, head);
            return await Task.Run(() =>
            {
                var delta = ShardDelta.Empty(DeltaScoring.Create(manifest, text), through);
                foreach (var (sequence, payload) in batches)
                    delta = delta.Apply(UpdateBatchCodec.Decode(payload, UpdateLog.Key(Name, manifest.Lineage, shard, sequence)));
                return work(text, sparse, dense, delta);
            });
        }
        finally
        {
            text?.Dispose();
            sparse?.Dispose();
            dense?.Dispose();
        }
    }

    /// <summary>The build plan that reproduces a published schema.</summary>
    private static IndexBuildPlan PlanFor(IndexSchema schema, int shards, SparseVocabulary? vocabulary)
    {
        if (schema.Sparse is not null && vocabulary is null) throw new InvalidDataException("The sparse channel's vocabulary is missing.");
        var plan = IndexSpecification.Of(schema, shards).Plan(vocabulary);
        plan.Validate();
        return plan;
    }

    /// <summary>A local copy of a version's vocabulary file, to publish with the merged version.</summary>
    private async Task<string> CopyVocabularyAsync(string key, string buildRoot)
    {
        Directory.CreateDirectory(buildRoot);
        string path = Path.Combine(buildRoot, "vocab.txt");
        await _catalog.Store.GetFileAsync(key, path);
        return path;
    }

    /// <summary>
    /// Keeps the newest <c>KeepVersions</c> versions and deletes the update log that no kept
    /// version needs: batches folded into the oldest kept version of the lineage, and older lineages.
    /// </summary>
    private async Task PruneAfterMergeAsync()
    {
        try
        {
            var pruned = await _catalog.PruneAsync(Name, _options.KeepVersions);
            if (pruned.KeptVersions.Count == 0) return;
            var oldest = await _catalog.GetManifestAsync(Name, pruned.KeptVersions.Min());
            if (oldest is null) return;
            await _updateLog.DeleteLineagesBeforeAsync(Name, oldest.Lineage);
            foreach (var shard in oldest.Shards)
                if (shard.UpdatesThrough > 0) await _updateLog.TruncateAsync(Name, oldest.Lineage, shard.Shard, shard.UpdatesThrough);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            LogPruneFailed(_logger, e, Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: merging {Batches} update batches of version {Version} into version {NewVersion}")]
    private static partial void LogMergeStarted(ILogger logger, string index, long version, long newVersion, long batches);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: version {Version} published by merge ({Operations} operations folded, {Docs} documents, {Seconds:F1} s)")]
    private static partial void LogMergeDone(ILogger logger, string index, long version, long operations, long docs, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: merge failed; the served version and its live updates stay")]
    private static partial void LogMergeFailed(ILogger logger, Exception error, string index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index}: pruning old versions after a merge failed")]
    private static partial void LogPruneFailed(ILogger logger, Exception error, string index);
}
