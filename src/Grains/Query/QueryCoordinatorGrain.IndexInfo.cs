using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Orleans;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Query;

public sealed partial class QueryCoordinatorGrain
{
    /// <summary>Longest wait for the index grain's description before the coordinator serves the version it last saw.</summary>
    internal static readonly TimeSpan IndexInfoTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long, after the index grain failed to answer, searches use the last seen version without asking it again.</summary>
    internal static readonly TimeSpan IndexSuspectPeriod = TimeSpan.FromSeconds(2);

    /// <summary>The index grain cannot be reached and this silo has never seen a version of the index.</summary>
    private sealed class IndexUnreachableException(string message, Exception inner) : Exception(message, inner);

    /// <summary>
    /// The index's description from its grain. When the grain cannot answer (the silo it ran on was
    /// killed and the cluster has not declared it dead yet, so calls fail or hang until the failure
    /// detector acts) the search goes on with the description this silo saw last: published versions
    /// are immutable and the shards serve them on their own, so only the index grain's bookkeeping is
    /// missing, not the data. Without such a description the search is unavailable (503), never a 500.
    /// </summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types",
        Justification = "Any failure to reach the index grain (silo unavailable, rejected message, timeout, activation failure) falls back to the version seen last.")]
    private async Task<IndexInfo?> GetIndexInfoAsync(string index, CancellationToken cancellationToken)
    {
        var known = _versions.LastKnownInfo(index);
        if (known is { } k && k.SuspectUntil > DateTime.UtcNow) return k.Info;
        try
        {
            // With nothing to fall back on, wait as long as the search may (a busy silo answers late, not never).
            var call = GrainFactory.GetGrain<IIndexGrain>(index).GetInfoAsync();
            var info = known is null ? await call.WaitAsync(cancellationToken) : await call.WaitAsync(IndexInfoTimeout, cancellationToken);
            if (info is { Version: > 0 }) _versions.RememberInfo(index, info);
            return info;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            if (known is null)
                throw new IndexUnreachableException($"Index '{index}' cannot be reached right now ({e.GetBaseException().Message}); retry shortly.", e);
            _versions.SuspectInfo(index, DateTime.UtcNow + IndexSuspectPeriod);
            LogIndexUnreachable(_logger, e.GetBaseException(), index, known.Value.Info.Version);
            return known.Value.Info;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index}: its grain did not answer; searching the version seen last ({Version})")]
    private static partial void LogIndexUnreachable(ILogger logger, Exception error, string index, long version);
}
