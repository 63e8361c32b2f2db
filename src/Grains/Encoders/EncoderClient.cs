using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Shoal.Encoders;

namespace Shoal.Grains.Encoders;

/// <summary>
/// The <see cref="IEncoderService"/> of silos and clients. On a silo it reads the encoder
/// catalog from the silo's <see cref="EncoderSiloDirectory"/> and serves encoders the silo hosts
/// from its own <see cref="EncoderPoolRegistry"/> (no grain call, no copy); elsewhere it asks an
/// <see cref="IEncoderCatalogGrain"/> (cached for <see cref="EncoderClientOptions.CatalogRefreshInterval"/>)
/// and calls <see cref="IEncoderPoolGrain"/>s.
/// </summary>
public sealed class EncoderClient : IEncoderService
{
    private readonly IGrainFactory _grains;
    private readonly EncoderPoolRegistry? _registry;
    private readonly EncoderSiloDirectory? _directory;
    private readonly EncoderClientOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, EncoderDescriptor> _descriptors = new(StringComparer.Ordinal);
    private volatile CatalogSnapshot? _catalog;
    private int _next;

    /// <summary>
    /// Creates the client. <paramref name="services"/> supplies, on silos, the
    /// <see cref="EncoderPoolRegistry"/> and <see cref="EncoderSiloDirectory"/> registered by
    /// <c>AddShoalEncoderPools</c>; without them (a client process) everything goes through grains.
    /// </summary>
    public EncoderClient(IGrainFactory grainFactory, IServiceProvider services, IOptions<EncoderClientOptions>? options = null, ILogger<EncoderClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(grainFactory);
        ArgumentNullException.ThrowIfNull(services);
        _grains = grainFactory;
        _registry = services.GetService<EncoderPoolRegistry>();
        _directory = services.GetService<EncoderSiloDirectory>();
        _options = options?.Value ?? new EncoderClientOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<EncoderDescriptor>> ListEncodersAsync(CancellationToken cancellationToken = default)
    {
        var catalog = await GetCatalogAsync(refresh: false, cancellationToken).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + _options.SettleTimeout;
        while (!catalog.Settled && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            catalog = await GetCatalogAsync(refresh: true, cancellationToken).ConfigureAwait(false);
        }
        var result = new List<EncoderDescriptor>();
        foreach (var name in catalog.EncoderNames) result.Add(await DescribeAsync(name, cancellationToken).ConfigureAwait(false));
        return result;
    }

    /// <inheritdoc />
    public async Task<EncoderDescriptor> DescribeAsync(string encoder, CancellationToken cancellationToken = default)
    {
        CheckName(encoder);
        if (_descriptors.TryGetValue(encoder, out var cached)) return cached;
        Exception? last = null;
        foreach (var silo in await CandidatesAsync(encoder, cancellationToken).ConfigureAwait(false))
        {
            EncoderDescriptor descriptor;
            try
            {
                descriptor = IsLocal(encoder, silo)
                    ? _registry!.Describe(encoder)
                    : await Pool(encoder, silo).DescribeAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // any failure of one silo (placement refused, unreachable, activation failed) means trying the next; the last failure is reported when none is left
            catch (Exception e)
#pragma warning restore CA1031
            {
                last = e;
                _catalog = null;
                continue;
            }
            if (descriptor.Kind != EncoderKind.Dense || descriptor.Dimensions > 0) _descriptors[encoder] = descriptor;
            return descriptor;
        }
        throw new EncoderUnavailableException(encoder, $"No silo hosting encoder '{encoder}' could describe it: {last?.Message}", last);
    }

    /// <inheritdoc />
    public async Task<EncodedText> EncodeQueryAsync(string encoder, string text, CancellationToken cancellationToken = default)
    {
        CheckName(encoder);
        ArgumentNullException.ThrowIfNull(text);
        var batch = await EncodeChunkAsync(encoder, [text], retryQueueFull: false, cancellationToken).ConfigureAwait(false);
        return batch[0];
    }

    /// <inheritdoc />
    public async Task<EncodedBatch> EncodeDocumentsAsync(string encoder, IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        CheckName(encoder);
        ArgumentNullException.ThrowIfNull(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null) throw new ArgumentNullException(nameof(texts), $"Text {i} is null.");
        }
        int chunkSize = Math.Clamp(_options.DocumentChunkSize, 1, EncoderPoolGrain.MaxTextsPerCall);
        if (texts.Count <= chunkSize)
            return await EncodeChunkAsync(encoder, texts.ToArray(), retryQueueFull: true, cancellationToken).ConfigureAwait(false);

        var chunks = new string[(texts.Count + chunkSize - 1) / chunkSize][];
        for (int c = 0; c < chunks.Length; c++)
        {
            int start = c * chunkSize;
            chunks[c] = new string[Math.Min(chunkSize, texts.Count - start)];
            for (int i = 0; i < chunks[c].Length; i++) chunks[c][i] = texts[start + i];
        }
        var parts = new EncodedBatch[chunks.Length];
        using var gate = new SemaphoreSlim(Math.Max(1, _options.MaxConcurrentDocumentChunks));
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = chunks.Select(async (chunk, c) =>
        {
            await gate.WaitAsync(failed.Token).ConfigureAwait(false);
            try
            {
                parts[c] = await EncodeChunkAsync(encoder, chunk, retryQueueFull: true, failed.Token).ConfigureAwait(false);
            }
            catch
            {
                await failed.CancelAsync().ConfigureAwait(false); // one chunk failed: stop sending the rest
                throw;
            }
            finally
            {
                gate.Release();
            }
        }).ToArray();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Chunks cancelled because another failed: report that failure, not the cancellation.
            throw tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault() ?? throw new InvalidOperationException("A document chunk was cancelled.");
        }
        return Concat(parts);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<EncoderPoolStats>> GetStatsAsync(string encoder, CancellationToken cancellationToken = default)
    {
        CheckName(encoder);
        var result = new List<EncoderPoolStats>();
        foreach (var silo in await CandidatesAsync(encoder, cancellationToken).ConfigureAwait(false))
        {
            result.Add(IsLocal(encoder, silo)
                ? _registry!.GetStats(encoder, silo)
                : await Pool(encoder, silo).GetStatsAsync().WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        return result;
    }

    private async Task<EncodedBatch> EncodeChunkAsync(string encoder, string[] texts, bool retryQueueFull, CancellationToken ct)
    {
        var tried = new HashSet<SiloAddress>();
        string? queueFull = null;
        Exception? last = null;
        int rounds = 0;
        var delay = _options.QueueFullRetryDelay;
        while (true)
        {
            var candidates = (await CandidatesAsync(encoder, ct).ConfigureAwait(false)).Where(s => !tried.Contains(s)).ToList();
            if (candidates.Count == 0)
            {
                if (queueFull is not null && retryQueueFull && rounds < _options.DocumentQueueFullRetries)
                {
                    // Every silo hosting the encoder refused: back off and go round again.
                    rounds++;
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                    tried.Clear();
                    queueFull = null;
                    continue;
                }
                if (queueFull is not null) throw new EncoderQueueFullException(queueFull);
                throw new EncoderUnavailableException(encoder, $"No silo hosting encoder '{encoder}' could encode: {last?.Message ?? "none answered"}", last);
            }
            var silo = candidates[0];
            tried.Add(silo);
            if (IsLocal(encoder, silo))
            {
                try
                {
                    var kind = _registry!.KindOf(encoder);
                    var results = await _registry.EncodeAsync(encoder, texts, ct).ConfigureAwait(false);
                    return ToBatch(kind, results);
                }
                catch (EncoderQueueFullException e)
                {
                    queueFull = e.Message;
                }
                catch (UnknownEncoderException e)
                {
                    last = e;
                }
                continue;
            }

            EncodeResponse response;
            try
            {
                response = await Pool(encoder, silo).EncodeAsync(texts, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // any failure of one silo (placement refused, unreachable, activation failed) means trying the next; the last failure is reported when none is left
            catch (Exception e)
#pragma warning restore CA1031
            {
                // Placement refused (the silo left or lost the role), the silo is unreachable, the
                // activation failed: the catalog is stale; try another silo.
                EncoderPoolLog.SiloFailed(_logger, e, encoder, silo);
                last = e;
                _catalog = null;
                continue;
            }
            switch (response.Status)
            {
                case EncodeStatus.Ok:
                    return response.ToBatch();
                case EncodeStatus.QueueFull:
                    queueFull = response.Error;
                    break;
                case EncodeStatus.Invalid:
                    throw new ArgumentException(response.Error);
                case EncodeStatus.UnknownEncoder:
                    last = new UnknownEncoderException(response.Error ?? $"Silo {silo} does not host encoder '{encoder}'.");
                    _catalog = null;
                    break;
                default:
                    last = new EncoderUnavailableException(encoder, response.Error ?? $"Encoder '{encoder}' on silo {silo} failed.");
                    break;
            }
        }
    }

    /// <summary>The silos to try for <paramref name="encoder"/>: the local one first (when it hosts it), then the others round-robin.</summary>
    private async Task<List<SiloAddress>> CandidatesAsync(string encoder, CancellationToken ct)
    {
        var catalog = await GetCatalogAsync(refresh: false, ct).ConfigureAwait(false);
        var hosts = catalog.SilosHosting(encoder).ToList();
        if (hosts.Count == 0)
        {
            // Unknown so far: look again, and wait while some silo's metadata has not arrived yet.
            var deadline = DateTime.UtcNow + _options.SettleTimeout;
            while (true)
            {
                catalog = await GetCatalogAsync(refresh: true, ct).ConfigureAwait(false);
                hosts = catalog.SilosHosting(encoder).ToList();
                if (hosts.Count > 0) break;
                if (catalog.Settled || DateTime.UtcNow >= deadline)
                {
                    int unknown = catalog.Silos.Count(s => !s.Known);
                    throw new UnknownEncoderException(encoder, catalog.EncoderNames,
                        unknown == 0 ? null : $"{unknown} active silo(s) have not announced their encoders yet");
                }
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
        var ordered = new List<SiloAddress>(hosts.Count);
        var local = _directory?.LocalSilo;
        if (local is not null && _options.PreferLocalPool && hosts.Contains(local) && _registry?.Hosts(encoder) == true)
        {
            ordered.Add(local);
            hosts.Remove(local);
        }
        int start = hosts.Count == 0 ? 0 : (int)((uint)Interlocked.Increment(ref _next) % (uint)hosts.Count);
        for (int i = 0; i < hosts.Count; i++) ordered.Add(hosts[(start + i) % hosts.Count]);
        return ordered;
    }

    private async Task<EncoderCatalog> GetCatalogAsync(bool refresh, CancellationToken ct)
    {
        if (_directory is not null) return _directory.GetCatalog(); // on a silo: read locally, always current
        var cached = _catalog;
        if (!refresh && cached is not null && DateTime.UtcNow - cached.At < _options.CatalogRefreshInterval) return cached.Catalog;
        var catalog = await _grains.GetGrain<IEncoderCatalogGrain>(0).GetCatalogAsync().WaitAsync(ct).ConfigureAwait(false);
        _catalog = new CatalogSnapshot(catalog, DateTime.UtcNow);
        return catalog;
    }

    private bool IsLocal(string encoder, SiloAddress silo) =>
        _options.PreferLocalPool && _directory is not null && _registry is not null && silo.Equals(_directory.LocalSilo) && _registry.Hosts(encoder);

    private IEncoderPoolGrain Pool(string encoder, SiloAddress silo) => _grains.GetGrain<IEncoderPoolGrain>(EncoderRoles.PoolKey(encoder, silo));

    private static void CheckName(string encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        if (!EncoderRoles.IsValidName(encoder))
            throw new ArgumentException($"'{encoder}' is not a valid encoder name (1 to {EncoderRoles.MaxNameLength} characters from A-Z a-z 0-9 . _ -).", nameof(encoder));
    }

    private static EncodedBatch ToBatch(EncoderKind kind, EncodedText[] results)
    {
        switch (kind)
        {
            case EncoderKind.Dense:
                {
                    int dims = results.Length == 0 ? 0 : results[0].Dense!.Length;
                    var values = new float[results.Length * dims];
                    for (int i = 0; i < results.Length; i++) results[i].Dense!.CopyTo(values, i * dims);
                    return EncodedBatch.FromDense(values, results.Length, dims);
                }
            case EncoderKind.Sparse:
                return EncodedBatch.FromSparse(results.Select(r => r.Sparse).ToArray());
            default:
                return EncodedBatch.FromTerms(results.Select(r => r.Terms!).ToArray());
        }
    }

    private static EncodedBatch Concat(EncodedBatch[] parts)
    {
        var kind = parts[0].Kind;
        switch (kind)
        {
            case EncoderKind.Dense:
                {
                    int dims = parts[0].Dimensions;
                    if (parts.Any(p => p.Dimensions != dims && p.Count > 0))
                        throw new InvalidOperationException($"Encoder silos returned vectors of different sizes ({string.Join(", ", parts.Select(p => p.Dimensions).Distinct())}); the same encoder name must mean the same model on every silo.");
                    int count = parts.Sum(p => p.Count);
                    var values = new float[count * dims];
                    int at = 0;
                    foreach (var p in parts)
                    {
                        p.DenseValues!.CopyTo(values, at);
                        at += p.DenseValues!.Length;
                    }
                    return EncodedBatch.FromDense(values, count, dims);
                }
            case EncoderKind.Sparse:
                return EncodedBatch.FromSparse(parts.SelectMany(p => p.Sparse!).ToArray());
            default:
                return EncodedBatch.FromTerms(parts.SelectMany(p => p.Terms!).ToArray());
        }
    }

    private sealed record CatalogSnapshot(EncoderCatalog Catalog, DateTime At);
}
