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
    public Task<string[]> ListAsync(int limit)
    {
        var jobs = _state.State.Jobs;
        int n = Math.Clamp(limit, 0, jobs.Count);
        var result = new string[n];
        for (int i = 0; i < n; i++) result[i] = jobs[jobs.Count - 1 - i];
        return Task.FromResult(result);
    }

    /// <inheritdoc />
    public Task<string[]> ActiveAsync() => Task.FromResult(_state.State.Active.ToArray());
}
