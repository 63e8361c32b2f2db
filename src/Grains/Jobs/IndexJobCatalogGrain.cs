using Orleans;
using Orleans.Runtime;

using Shoal.Grains.Hosting;

namespace Shoal.Grains.Jobs;

/// <summary>The persisted list of indexing jobs (key 0); see <see cref="IIndexJobCatalogGrain"/>.</summary>
public sealed class IndexJobCatalogGrain : Grain, IIndexJobCatalogGrain
{
    private readonly IPersistentState<IndexJobCatalogRecord> _state;

    /// <summary>Created by Orleans.</summary>
    public IndexJobCatalogGrain([PersistentState("catalog", ShoalJobsSiloBuilderExtensions.StorageName)] IPersistentState<IndexJobCatalogRecord> state) => _state = state;

    /// <inheritdoc />
    public async Task RegisterAsync(string jobId)
    {
        var s = _state.State;
        bool changed = false;
        if (!s.Jobs.Contains(jobId)) { s.Jobs.Add(jobId); changed = true; }
        if (!s.Active.Contains(jobId)) { s.Active.Add(jobId); changed = true; }
        if (changed) await _state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task FinishedAsync(string jobId)
    {
        if (_state.State.Active.Remove(jobId)) await _state.WriteStateAsync();
    }

    /// <inheritdoc />
    public Task<string[]> ListAsync(int limit) => Task.FromResult(Page(_state.State.Jobs, limit, _state.State.Jobs.Count));

    /// <inheritdoc />
    public Task<string[]?> ListPageAsync(int limit, string? after)
    {
        var jobs = _state.State.Jobs;
        if (after is null) return Task.FromResult<string[]?>(Page(jobs, limit, jobs.Count));
        // Jobs are kept oldest first and never reordered, so everything before 'after' is older.
        int at = jobs.LastIndexOf(after);
        return Task.FromResult(at < 0 ? null : Page(jobs, limit, at));
    }

    /// <summary>Up to <paramref name="limit"/> ids below index <paramref name="end"/>, newest first.</summary>
    private static string[] Page(List<string> jobs, int limit, int end)
    {
        int n = Math.Clamp(limit, 0, end);
        var result = new string[n];
        for (int i = 0; i < n; i++) result[i] = jobs[end - 1 - i];
        return result;
    }

    /// <inheritdoc />
    public Task<string[]> ActiveAsync() => Task.FromResult(_state.State.Active.ToArray());
}
