using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Shoal.Encoders;

namespace Shoal.Grains.Encoders;

/// <summary>
/// The encoder pools of one silo (a singleton service): for every configured encoder one
/// <see cref="EncoderPool"/> whose model session is created once, when the silo starts, and reused
/// by every request. <see cref="EncoderPoolGrain"/> is a thin adapter over it, and
/// <see cref="EncoderClient"/> uses it directly when the local silo hosts the encoder: both feed the
/// same pool, so all concurrent requests of the silo micro-batch together.
/// </summary>
/// <remarks>
/// Loading happens in the silo lifecycle at <see cref="ServiceLifecycleStage.RuntimeInitialize"/>,
/// before the silo joins the cluster: a missing file, a model with the wrong inputs or outputs, or
/// a failing warm-up run makes silo startup fail with an <see cref="EncoderConfigurationException"/>
/// naming the encoder and the file. On a silo without the encoder role nothing is loaded.
/// </remarks>
public sealed class EncoderPoolRegistry : ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    private readonly EncoderPoolsRegistration _registration;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IOptions<SiloMetadata>? _metadata;
    private readonly object _lock = new();
    private volatile Dictionary<string, Entry>? _pools;

    /// <summary>
    /// A registry outside a silo (benchmarks, tools): call <see cref="StartAsync"/> to load the
    /// encoders, <see cref="DisposeAsync"/> when done.
    /// </summary>
    public EncoderPoolRegistry(EncoderPoolsOptions options, ILoggerFactory? loggerFactory = null)
        : this(new EncoderPoolsRegistration(options ?? throw new ArgumentNullException(nameof(options))),
            loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, null)
    {
    }

    internal EncoderPoolRegistry(EncoderPoolsRegistration registration, ILoggerFactory loggerFactory, IOptions<SiloMetadata>? metadata)
    {
        _registration = registration;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<EncoderPoolRegistry>();
        _metadata = metadata;
    }

    /// <summary>The configuration the pools are built from.</summary>
    public EncoderPoolsOptions Options => _registration.Options;

    /// <summary>Whether this silo holds the encoder role (and so loads its encoders).</summary>
    public bool HoldsEncoderRole => _registration.Options.HoldsEncoderRole;

    /// <summary>Whether the pools are loaded.</summary>
    public bool IsStarted => _pools is not null;

    /// <summary>The encoders this silo hosts (empty before start and without the role).</summary>
    public IReadOnlyCollection<string> Names => (IReadOnlyCollection<string>?)_pools?.Keys ?? [];

    /// <summary>
    /// Loads every encoder (once; later calls return at once). Called by the silo lifecycle; call it
    /// yourself only when using the registry outside a silo.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">An encoder cannot be loaded; nothing stays loaded.</exception>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (_pools is not null) return;
        var options = _registration.Options;
        options.Validate();
        var pools = new Dictionary<string, Entry>(StringComparer.Ordinal);
        if (!options.HoldsEncoderRole)
        {
            if (options.Encoders.Count > 0)
                EncoderPoolLog.RoleExcluded(_logger, string.Join(",", options.EffectiveRoles), options.Encoders.Count);
        }
        else
        {
            try
            {
                foreach (var (name, encoderOptions) in options.Encoders.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    ct.ThrowIfCancellationRequested();
                    pools[name] = await LoadAsync(name, encoderOptions, options.WarmUp, ct).ConfigureAwait(false);
                }
            }
            catch
            {
                foreach (var entry in pools.Values) await entry.Pool.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        lock (_lock)
        {
            if (_pools is null)
            {
                _pools = pools;
                Diagnostics.ShoalTelemetry.SetEncoderQueues(this, () => pools.Select(p => (p.Key, p.Value.Pool.QueueLength)));
                return;
            }
        }
        foreach (var entry in pools.Values) await entry.Pool.DisposeAsync().ConfigureAwait(false); // lost a race with another StartAsync
    }

    /// <summary>The pool of <paramref name="encoder"/>, if this silo hosts it.</summary>
    public bool TryGetPool(string encoder, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EncoderPool? pool)
    {
        pool = null;
        if (_pools is not { } pools || encoder is null || !pools.TryGetValue(encoder, out var entry)) return false;
        pool = entry.Pool;
        return true;
    }

    /// <summary>Whether this silo hosts <paramref name="encoder"/>.</summary>
    public bool Hosts(string encoder) => TryGetPool(encoder, out _);

    /// <summary>What <paramref name="encoder"/> produces.</summary>
    /// <exception cref="UnknownEncoderException">This silo does not host it.</exception>
    public EncoderDescriptor Describe(string encoder)
    {
        var entry = Get(encoder);
        var options = entry.Options;
        return entry.Pool.Encoder switch
        {
            DenseOnnxEncoder dense => new EncoderDescriptor
            {
                Name = encoder, Kind = EncoderKind.Dense, Dimensions = dense.Dimensions, Normalized = dense.Normalize,
                MaxSequenceLength = dense.Tokenizer.MaxLength, Model = options.Model ?? Path.GetFileName(options.ModelPath ?? ""), ExecutionProvider = dense.ExecutionProvider,
            },
            SpladeOnnxEncoder splade => new EncoderDescriptor
            {
                Name = encoder, Kind = EncoderKind.Sparse, VocabularySize = splade.Tokenizer.VocabularySize,
                MaxSequenceLength = splade.Tokenizer.MaxLength, Model = Path.GetFileName(options.ModelPath ?? ""), ExecutionProvider = splade.ExecutionProvider,
            },
            InferenceFreeSparseEncoder free => new EncoderDescriptor
            {
                Name = encoder, Kind = EncoderKind.Sparse, VocabularySize = free.Tokenizer.VocabularySize,
                Model = Path.GetFileName(options.IdfPath ?? ""), ExecutionProvider = "inline",
            },
            var other => new EncoderDescriptor
            {
                Name = encoder, Kind = other.Kind, Model = other.Name, ExecutionProvider = "inline",
            },
        };
    }

    /// <summary>The counters of <paramref name="encoder"/>'s pool.</summary>
    /// <exception cref="UnknownEncoderException">This silo does not host it.</exception>
    public EncoderPoolStats GetStats(string encoder, SiloAddress? silo = null)
    {
        var entry = Get(encoder);
        var pool = entry.Pool;
        return new EncoderPoolStats
        {
            Encoder = encoder,
            Silo = silo,
            BatchesRun = pool.BatchesRun,
            ItemsProcessed = pool.ItemsProcessed,
            ItemsRejected = pool.ItemsRejected,
            QueueLength = pool.QueueLength,
            QueueCapacity = entry.Options.QueueCapacity,
            SessionRuns = (pool.Encoder as ITokenizedTextEncoder)?.SessionRuns ?? 0,
        };
    }

    /// <summary>What <paramref name="encoder"/> produces (its kind).</summary>
    /// <exception cref="UnknownEncoderException">This silo does not host it.</exception>
    public EncoderKind KindOf(string encoder) => Get(encoder).Pool.Kind;

    /// <summary>
    /// Encodes <paramref name="texts"/> as queries through the pool: each text is one request to the pool, so
    /// texts of this call and of concurrent calls are batched together. A call with more texts than
    /// the queue has room for queues what fits, waits for those, then queues the rest (so a document
    /// chunk larger than the free capacity still completes); it is refused only when not one of the
    /// next texts can be queued.
    /// </summary>
    /// <exception cref="UnknownEncoderException">This silo does not host the encoder.</exception>
    /// <exception cref="EncoderQueueFullException">The pool's queue is full; none of the results is
    /// returned (texts already encoded or queued by this call are dropped).</exception>
    /// <exception cref="ArgumentNullException">A text is null.</exception>
    public async Task<EncodedText[]> EncodeAsync(string encoder, IReadOnlyList<string> texts, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        using var activity = Diagnostics.ShoalTelemetry.Source.StartActivity("shoal.encode");
        activity?.SetTag("shoal.encoder", encoder);
        activity?.SetTag("shoal.texts", texts.Count);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var results = await EncodeCoreAsync(encoder, texts, ct).ConfigureAwait(false);
        var tag = new KeyValuePair<string, object?>("encoder", encoder);
        Diagnostics.ShoalTelemetry.EncodeDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, tag);
        Diagnostics.ShoalTelemetry.EncodedTexts.Add(texts.Count, tag);
        return results;
    }

    private async Task<EncodedText[]> EncodeCoreAsync(string encoder, IReadOnlyList<string> texts, CancellationToken ct)
    {
        var pool = Get(encoder).Pool;
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null) throw new ArgumentNullException(nameof(texts), $"Text {i} is null.");
        }
        if (texts.Count == 0) return [];
        if (texts.Count == 1) return [await pool.EncodeAsync(texts[0], ct).ConfigureAwait(false)];
        // Submitting tokenises each text on the submitting thread: for a document batch that is real
        // work, which should not run on a grain's scheduler thread.
        return texts.Count > 8
            ? await Task.Run(() => EncodeManyAsync(pool, texts, ct), ct).ConfigureAwait(false)
            : await EncodeManyAsync(pool, texts, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Encodes <paramref name="texts"/> as documents through the pool (its document instruction,
    /// length-bucketed batches on the pool's session; see <see cref="EncoderPool.EncodeDocumentsAsync"/>).
    /// </summary>
    /// <exception cref="UnknownEncoderException">This silo does not host the encoder.</exception>
    /// <exception cref="ArgumentNullException">A text is null.</exception>
    public async Task<EncodedText[]> EncodeDocumentsAsync(string encoder, IReadOnlyList<string> texts, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var pool = Get(encoder).Pool;
        using var activity = Diagnostics.ShoalTelemetry.Source.StartActivity("shoal.encode.documents");
        activity?.SetTag("shoal.encoder", encoder);
        activity?.SetTag("shoal.texts", texts.Count);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var results = await pool.EncodeDocumentsAsync(texts, ct).ConfigureAwait(false);
        var tag = new KeyValuePair<string, object?>("encoder", encoder);
        Diagnostics.ShoalTelemetry.EncodeDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, tag);
        Diagnostics.ShoalTelemetry.EncodedTexts.Add(texts.Count, tag);
        return results;
    }

    /// <summary>Disposes the pools (queued requests still run).</summary>
    public async ValueTask DisposeAsync()
    {
        Dictionary<string, Entry>? pools;
        lock (_lock)
        {
            pools = _pools;
            _pools = null;
        }
        if (pools is null) return;
        foreach (var entry in pools.Values) await entry.Pool.DisposeAsync().ConfigureAwait(false);
    }

    void ILifecycleParticipant<ISiloLifecycle>.Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(EncoderPoolRegistry), ServiceLifecycleStage.RuntimeInitialize, OnStartAsync, async _ => await DisposeAsync().ConfigureAwait(false));

    private async Task OnStartAsync(CancellationToken ct)
    {
        CheckPublishedMetadata();
        await Task.Run(() => StartAsync(ct), ct).ConfigureAwait(false);
        if (HoldsEncoderRole)
        {
            string encoders = string.Join("; ", Names.Select(n => Describe(n).ToString()));
            EncoderPoolLog.PoolsReady(_logger, encoders);
        }
    }

    private void CheckPublishedMetadata()
    {
        // The roles and encoders are announced through Orleans silo metadata; make sure what Orleans
        // publishes is what the registry serves (every AddShoalEncoderPools call included).
        if (_metadata?.Value is not { } published) return;
        foreach (var (key, value) in _registration.Metadata)
        {
            if (!published.Metadata.TryGetValue(key, out var actual) || actual != value)
                throw new EncoderConfigurationException(
                    $"Silo metadata '{key}' is '{actual ?? "(missing)"}' but the encoder configuration needs '{value}'; was the metadata overridden after AddShoalEncoderPools?");
        }
    }

    private static async Task<EncodedText[]> EncodeManyAsync(EncoderPool pool, IReadOnlyList<string> texts, CancellationToken ct)
    {
        var results = new EncodedText[texts.Count];
        var wave = new List<Task<EncodedText>>(texts.Count);
        int next = 0;
        while (next < texts.Count)
        {
            int first = next;
            wave.Clear();
            try
            {
                for (; next < texts.Count; next++) wave.Add(pool.EncodeAsync(texts[next], ct));
            }
            catch (EncoderQueueFullException) when (wave.Count > 0)
            {
                // The queue filled up part-way: wait for what was queued, then queue the rest.
            }
            catch
            {
                // Those already queued run anyway; observe them so that their faults are not unobserved.
                foreach (var t in wave) _ = t.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw;
            }
            var done = await Task.WhenAll(wave).ConfigureAwait(false);
            done.CopyTo(results, first);
        }
        return results;
    }

    private Entry Get(string encoder)
    {
        if (_pools is { } pools && encoder is not null && pools.TryGetValue(encoder, out var entry)) return entry;
        throw new UnknownEncoderException(encoder ?? "(null)", (IReadOnlyCollection<string>?)_pools?.Keys ?? [],
            _pools is null ? "this silo's encoder pools are not loaded" : "this silo does not host it");
    }

    private async Task<Entry> LoadAsync(string name, EncoderOptions options, bool warmUp, CancellationToken ct)
    {
        string where = $"{EncoderPoolsOptions.EncodersSection}:{name}";
        var logger = _loggerFactory.CreateLogger($"Shoal.Encoders.{name}");
        EncoderPool pool;
        try
        {
#pragma warning disable CA2000 // ownership moves into the returned Entry, which the registry disposes (DisposeAsync); the failing paths below dispose it
            pool = EncoderPool.Create(options, logger);
#pragma warning restore CA2000
        }
        catch (EncoderConfigurationException e)
        {
            throw new EncoderConfigurationException($"Encoder '{name}' ({where}) cannot be loaded: {e.Message}", e.Path, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            string? file = options.ModelPath ?? options.IdfPath ?? options.TokenizerPath ?? options.VocabPath;
            throw new EncoderConfigurationException($"Encoder '{name}' ({where}) cannot be loaded from '{file}': {e.Message}", file, e);
        }
        if (!warmUp || pool.Encoder is not ITokenizedTextEncoder) return new Entry(options, pool);
        try
        {
            var batch = await pool.Encoder.EncodeAsync(["shoal encoder warm-up"], ct).ConfigureAwait(false);
            if (batch.Count != 1) throw new InvalidOperationException($"the warm-up run returned {batch.Count} encodings for one text");
        }
        catch (OperationCanceledException)
        {
            await pool.DisposeAsync().ConfigureAwait(false); // start-up cancelled during the warm-up: the pool (ONNX sessions) would leak
            throw;
        }
        catch (Exception e)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw new EncoderConfigurationException($"Encoder '{name}' ({where}): the model '{options.ModelPath}' failed its warm-up run: {e.Message}", options.ModelPath, e);
        }
        return new Entry(options, pool);
    }

    private sealed record Entry(EncoderOptions Options, EncoderPool Pool);
}
