using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Orleans;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Query;

public sealed partial class SearchCoordinator
{
    /// <summary>Longest wait for the index grain's description before the coordinator serves the version it last saw.</summary>
    internal static readonly TimeSpan IndexInfoTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a description from the index grain serves searches without asking again. Versions
    /// are immutable and every shard reply carries the version it searched, so a newer version is
    /// noticed at once (the search is redone with a fresh description); the period bounds only how
    /// long other changes (an index removed, a build started) take to be seen, and keeps the index
    /// grain, one activation in the cluster, off the path of every search.
    /// </summary>
    internal static readonly TimeSpan IndexInfoFreshFor = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait for the index grain's description when this silo has seen none, before it reads the newest published version from the snapshot store.</summary>
    internal static readonly TimeSpan FirstIndexInfoTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long, after the index grain failed to answer, searches use the last seen version without asking it again.</summary>
    internal static readonly TimeSpan IndexSuspectPeriod = TimeSpan.FromSeconds(2);

    /// <summary>The index grain cannot be reached and this silo has never seen a version of the index.</summary>
    private sealed class IndexUnreachableException(string message, Exception inner) : Exception(message, inner);

    /// <summary>
    /// The index's description from its grain. A description this silo has seen serves searches
    /// while it is fresh; once it is older than <see cref="IndexInfoFreshFor"/> it still serves them
    /// while one refresh per silo asks the grain in the background, so no search waits on the index
    /// grain, one activation in the cluster. Searches wait for the grain only when this silo has
    /// never seen the index or a shard answered with a newer version than the one seen. When the
    /// grain cannot answer (the silo it ran on was killed and the cluster has not declared it dead
    /// yet, so calls fail or hang until the failure detector acts) the search goes on with the
    /// description this silo saw last (or, when it never saw one, the newest published version in
    /// the snapshot store): published versions are immutable and the shards serve them on their
    /// own, so only the index grain's bookkeeping is missing, not the data. Without such a
    /// description the search is unavailable (503), never a 500.
    /// </summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types",
        Justification = "Any failure to reach the index grain (silo unavailable, rejected message, timeout, activation failure) falls back to the version seen last.")]
    private async Task<IndexInfo?> GetIndexInfoAsync(string index, CancellationToken cancellationToken)
    {
        var known = _versions.LastKnownInfo(index);
        var now = DateTime.UtcNow;
        if (known is { } k && (k.FreshUntil > now || k.SuspectUntil > now)) return k.Info;
        if (known is { Outdated: false } stale)
        {
            if (_versions.TryBeginRefresh(index)) _ = RefreshIndexInfoAsync(index);
            return stale.Info;
        }
        try
        {
            // Never seen here: give a busy grain longer before reading the snapshot store instead.
            var call = _grains.GetGrain<IIndexGrain>(index).GetInfoAsync();
            var info = await call.WaitAsync(known is null ? FirstIndexInfoTimeout : IndexInfoTimeout, cancellationToken);
            if (info is { Version: > 0 }) _versions.RememberInfo(index, info, IndexInfoFreshFor);
            return info;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            if (known is null)
            {
                // This silo never saw the index: its newest published version in the snapshot store
                // is what the grain would serve.
                IndexInfo? published;
                try
                {
                    published = await _versions.FindPublishedInfoAsync(index, cancellationToken);
                }
                catch (Exception storeError) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new IndexUnreachableException($"Index '{index}' cannot be reached right now ({e.GetBaseException().Message}; the snapshot store: {storeError.GetBaseException().Message}); retry shortly.", e);
                }
                if (published is null)
                    throw new IndexUnreachableException($"Index '{index}' cannot be reached right now ({e.GetBaseException().Message}); retry shortly.", e);
                _versions.RememberInfo(index, published);
                _versions.SuspectInfo(index, DateTime.UtcNow + IndexSuspectPeriod);
                LogIndexUnreachable(_logger, e.GetBaseException(), index, published.Version);
                return published;
            }
            _versions.SuspectInfo(index, DateTime.UtcNow + IndexSuspectPeriod);
            LogIndexUnreachable(_logger, e.GetBaseException(), index, known.Value.Info.Version);
            return known.Value.Info;
        }
    }

    /// <summary>
    /// Asks the index grain for a newer description while searches go on with the one seen last.
    /// An index that no longer exists (or has no version) is forgotten, so the next search asks the
    /// grain and answers "not found"; a grain that does not answer is suspected for
    /// <see cref="IndexSuspectPeriod"/>.
    /// </summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types",
        Justification = "A background refresh that fails leaves the description seen last in use; the failure is logged.")]
    private async Task RefreshIndexInfoAsync(string index)
    {
        try
        {
            var info = await _grains.GetGrain<IIndexGrain>(index).GetInfoAsync().WaitAsync(IndexInfoTimeout);
            if (info is { Version: > 0 }) _versions.RememberInfo(index, info, IndexInfoFreshFor);
            else _versions.Invalidate(index);
        }
        catch (Exception e)
        {
            _versions.SuspectInfo(index, DateTime.UtcNow + IndexSuspectPeriod);
            if (_versions.LastKnownInfo(index) is { } known) LogIndexUnreachable(_logger, e.GetBaseException(), index, known.Info.Version);
        }
        finally
        {
            _versions.EndRefresh(index);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index}: its grain did not answer; searching the version seen last ({Version})")]
    private static partial void LogIndexUnreachable(ILogger logger, Exception error, string index, long version);
}
