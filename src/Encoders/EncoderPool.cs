using Microsoft.Extensions.Logging;

namespace Shoal.Encoders;

/// <summary>
/// One encoder (its session created once and reused) behind a <see cref="MicroBatcher{TIn, TOut}"/>:
/// concurrent <see cref="EncodeAsync"/> calls for single texts are merged into batches, one model
/// run per batch. No Orleans dependency: a grain holds a pool and awaits it.
/// </summary>
/// <remarks>
/// <para>Model-free encoders (<see cref="Bm25QueryEncoder"/>, <see cref="InferenceFreeSparseEncoder"/>)
/// gain nothing from batching, so the pool encodes their texts inline, without queueing; the
/// batching counters then stay at zero.</para>
/// <para>Errors: <see cref="EncoderQueueFullException"/> (thrown synchronously) when the queue is
/// full; the encoder's own exception when its batch fails; a cancelled task when the caller
/// cancels. Thread-safe.</para>
/// </remarks>
public sealed class EncoderPool : IAsyncDisposable, IDisposable
{
    private readonly MicroBatcher<string, EncodedText>? _textBatcher;
    private readonly MicroBatcher<int[], EncodedText>? _tokenBatcher;
    private readonly ITokenizedTextEncoder? _tokenized;
    private readonly bool _ownsEncoder;
    private readonly DocumentBatching _documents;
    private readonly SemaphoreSlim _documentGate;
    private readonly int _workers;
    private WorkerThreads? _documentThreads; // started on the first document batch
    private volatile bool _disposed;
    private long _documentsEncoded;
    private long _documentBatches;
    private long _documentTokens;
    private long _documentPaddedTokens;

    /// <summary>Puts <paramref name="encoder"/> behind a batcher with <paramref name="options"/>.</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="options">Batching settings (defaults when null).</param>
    /// <param name="logger">Receives batch failures.</param>
    /// <param name="ownsEncoder">Whether disposing the pool disposes the encoder.</param>
    /// <param name="documents">How <see cref="EncodeDocumentsAsync"/> batches (default <see cref="DocumentBatching.Default"/>).</param>
    public EncoderPool(ITextEncoder encoder, MicroBatcherOptions? options = null, ILogger? logger = null, bool ownsEncoder = true, DocumentBatching? documents = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        Encoder = encoder;
        _ownsEncoder = ownsEncoder;
        _documents = documents ?? DocumentBatching.Default;
        _documents.Validate();
        _workers = Math.Max(1, options?.Workers ?? 1);
        _documentGate = new SemaphoreSlim(_workers, _workers);
        if (encoder is Bm25QueryEncoder or InferenceFreeSparseEncoder) return;
        var given = options ?? new MicroBatcherOptions();
        options = new MicroBatcherOptions
        {
            MaxBatchSize = given.MaxBatchSize,
            MaxWait = given.MaxWait,
            QueueCapacity = given.QueueCapacity,
            EarlyDispatch = given.EarlyDispatch,
            Workers = given.Workers,
            Name = given.Name == "encoder" ? encoder.Name : given.Name,
        };
        if (encoder is ITokenizedTextEncoder tokenized)
        {
            _tokenized = tokenized;
            _tokenBatcher = new MicroBatcher<int[], EncodedText>(RunTokenBatchAsync, options, logger);
        }
        else
        {
            _textBatcher = new MicroBatcher<string, EncodedText>(RunTextBatchAsync, options, logger);
        }
    }

    /// <summary>Creates the encoder <paramref name="options"/> describes and a pool over it.</summary>
    /// <exception cref="EncoderConfigurationException">See <see cref="EncoderFactory.Create"/>.</exception>
    public static EncoderPool Create(EncoderOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var encoder = EncoderFactory.Create(options, logger);
        try
        {
            return new EncoderPool(encoder, options.ToBatcherOptions(), logger, documents: options.ToDocumentBatching());
        }
        catch
        {
            (encoder as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>The encoder.</summary>
    public ITextEncoder Encoder { get; }

    /// <summary>What <see cref="EncodeAsync"/> produces.</summary>
    public EncoderKind Kind => Encoder.Kind;

    /// <summary>Batches run (model runs through the pool): query batches and document batches.</summary>
    public long BatchesRun => (_tokenBatcher?.BatchesRun ?? _textBatcher?.BatchesRun ?? 0) + Interlocked.Read(ref _documentBatches);

    /// <summary>Texts encoded through batches: queries and documents.</summary>
    public long ItemsProcessed => (_tokenBatcher?.ItemsProcessed ?? _textBatcher?.ItemsProcessed ?? 0) + DocumentsEncoded;

    /// <summary>Requests refused with <see cref="EncoderQueueFullException"/>.</summary>
    public long ItemsRejected => _tokenBatcher?.ItemsRejected ?? _textBatcher?.ItemsRejected ?? 0;

    /// <summary>Documents encoded by <see cref="EncodeDocumentsAsync"/>.</summary>
    public long DocumentsEncoded => Interlocked.Read(ref _documentsEncoded);

    /// <summary>Real (unpadded) tokens of the documents encoded by <see cref="EncodeDocumentsAsync"/>.</summary>
    public long DocumentTokens => Interlocked.Read(ref _documentTokens);

    /// <summary>Tokens the model ran for those documents, padding included.</summary>
    public long DocumentPaddedTokens => Interlocked.Read(ref _documentPaddedTokens);

    /// <summary>How documents are batched.</summary>
    public DocumentBatching DocumentBatching => _documents;

    /// <summary>Requests waiting for a batch now.</summary>
    public int QueueLength => _tokenBatcher?.QueueLength ?? _textBatcher?.QueueLength ?? 0;

    /// <summary>
    /// Encodes one query, batched with concurrent requests; model encoders put their
    /// <see cref="ITokenizedTextEncoder.QueryPrefix"/> before it. For model encoders
    /// (<see cref="ITokenizedTextEncoder"/>) the text is tokenised here, on the calling thread (tens
    /// of microseconds for a query), so that concurrent requests tokenise in parallel while the
    /// pool's worker runs the model.
    /// </summary>
    /// <exception cref="EncoderQueueFullException">Thrown synchronously when the queue is full.</exception>
    public Task<EncodedText> EncodeAsync(string text, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_tokenBatcher is not null)
        {
            if (ct.IsCancellationRequested) return Task.FromCanceled<EncodedText>(ct);
            string prefix = _tokenized!.QueryPrefix;
            return _tokenBatcher.SubmitAsync(_tokenized.Tokenizer.Encode(prefix.Length == 0 ? text : prefix + text), ct);
        }
        if (_textBatcher is not null) return _textBatcher.SubmitAsync(text, ct);
        if (ct.IsCancellationRequested) return Task.FromCanceled<EncodedText>(ct);
        return Task.FromResult(Encoder switch
        {
            Bm25QueryEncoder bm25 => EncodedText.FromTerms(bm25.Encode(text)),
            InferenceFreeSparseEncoder free => EncodedText.FromSparse(free.Encode(text)),
            _ => throw new InvalidOperationException("Unreachable: inline encoders are BM25 and inference-free."),
        });
    }

    /// <summary>
    /// Encodes documents: with the encoder's <see cref="ITokenizedTextEncoder.DocumentPrefix"/>,
    /// tokenised, cut into batches of similar length (<see cref="DocumentBatching"/>) and run on a
    /// thread-pool thread through the same session as the pool's query batches. Document batches of
    /// concurrent calls share the pool's workers: at most that many run at a time (see <see cref="EncoderOptions.Workers"/>).
    /// Results are in the order of <paramref name="texts"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException">A text is null.</exception>
    public async Task<EncodedText[]> EncodeDocumentsAsync(IReadOnlyList<string> texts, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null) throw new ArgumentNullException(nameof(texts), $"Text {i} is null.");
        }
        if (texts.Count == 0) return [];
        if (_tokenized is { } tokenized)
            return await Task.Run(() => EncodeDocumentBatchesAsync(tokenized, texts, ct), ct).ConfigureAwait(false);
        if (_textBatcher is not null)
        {
            var batch = Split(await Encoder.EncodeAsync(texts, ct).ConfigureAwait(false));
            Interlocked.Add(ref _documentsEncoded, batch.Length);
            Interlocked.Increment(ref _documentBatches);
            return batch;
        }
        var results = new EncodedText[texts.Count];
        for (int i = 0; i < results.Length; i++) results[i] = await EncodeAsync(texts[i], ct).ConfigureAwait(false);
        return results;
    }

    private async Task<EncodedText[]> EncodeDocumentBatchesAsync(ITokenizedTextEncoder encoder, IReadOnlyList<string> texts, CancellationToken ct)
    {
        string prefix = encoder.DocumentPrefix;
        var rows = new int[texts.Count][];
        for (int i = 0; i < rows.Length; i++) rows[i] = encoder.Tokenizer.Encode(prefix.Length == 0 ? texts[i] : prefix + texts[i]);
        var lengths = Array.ConvertAll(rows, r => r.Length);
        var plan = _documents.Plan(lengths);
        var results = new EncodedText[rows.Length];
        var running = new List<Task>(plan.Count);
        foreach (var indices in plan)
        {
            // One gate slot per batch in flight: with one worker the batches run one after another.
            await _documentGate.WaitAsync(ct).ConfigureAwait(false);
            if (_disposed || running.Exists(t => t.IsFaulted || t.IsCanceled))
            {
                _documentGate.Release();
                ObjectDisposedException.ThrowIf(_disposed, this);
                break; // a batch failed: start no more, WhenAll reports it
            }
            running.Add(DocumentThreads().Run(() =>
            {
                try
                {
                    RunDocumentBatch(encoder, rows, indices, results, ct);
                }
                finally
                {
                    _documentGate.Release();
                }
            }));
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        return results;
    }

    /// <summary>The threads that run document batches (never thread-pool threads: a model run blocks).</summary>
    private WorkerThreads DocumentThreads()
    {
        if (Volatile.Read(ref _documentThreads) is { } threads) return threads;
        var created = new WorkerThreads(_workers, Encoder.Name + "/documents");
        if (Interlocked.CompareExchange(ref _documentThreads, created, null) is { } other)
        {
            created.Dispose();
            return other;
        }
        return created;
    }

    /// <summary>Runs one document batch (the rows at <paramref name="indices"/>) and stores its vectors in <paramref name="results"/>.</summary>
    private void RunDocumentBatch(ITokenizedTextEncoder encoder, int[][] rows, int[] indices, EncodedText[] results, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        // The session is freed when the pool is disposed: never run a batch after that.
        ObjectDisposedException.ThrowIf(_disposed, this);
        var batchRows = new int[indices.Length][];
        int longest = 0, real = 0;
        for (int j = 0; j < indices.Length; j++)
        {
            batchRows[j] = rows[indices[j]];
            longest = Math.Max(longest, batchRows[j].Length);
            real += batchRows[j].Length;
        }
        var encoded = encoder.EncodeTokens(TokenizedBatch.FromRows(batchRows, encoder.Tokenizer.PadId));
        for (int j = 0; j < indices.Length; j++) results[indices[j]] = encoded[j];
        Interlocked.Add(ref _documentsEncoded, indices.Length);
        Interlocked.Increment(ref _documentBatches);
        EncoderMetrics.BatchSize.Record(indices.Length, new KeyValuePair<string, object?>("batcher", Encoder.Name + "/documents"));
        Interlocked.Add(ref _documentTokens, real);
        Interlocked.Add(ref _documentPaddedTokens, (long)longest * indices.Length);
    }

    /// <summary>Runs queued requests, then disposes the encoder (when owned).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_tokenBatcher is not null) await _tokenBatcher.DisposeAsync().ConfigureAwait(false);
        if (_textBatcher is not null) await _textBatcher.DisposeAsync().ConfigureAwait(false);
        // A document batch runs outside the batchers: wait for the one in flight (later ones see
        // _disposed and stop) before the encoder's native session is freed under it.
        _disposed = true;
        for (int i = 0; i < _workers; i++) await _documentGate.WaitAsync().ConfigureAwait(false);
        try
        {
            Interlocked.Exchange(ref _documentThreads, null)?.Dispose();
            if (_ownsEncoder && Encoder is IDisposable d) d.Dispose();
        }
        finally
        {
            _documentGate.Release(_workers);
        }
    }

    /// <summary>Fails queued requests, then disposes the encoder (when owned).</summary>
    public void Dispose()
    {
        _tokenBatcher?.Dispose();
        _textBatcher?.Dispose();
        _disposed = true;
        for (int i = 0; i < _workers; i++) _documentGate.Wait();
        try
        {
            Interlocked.Exchange(ref _documentThreads, null)?.Dispose();
            if (_ownsEncoder && Encoder is IDisposable d) d.Dispose();
        }
        finally
        {
            _documentGate.Release(_workers);
        }
    }

    /// <summary>
    /// What one model run costs beyond its tokens, in token-equivalents: measured with
    /// arctic-embed-xs on 2 CPU cores (`bench encode --model arctic-xs`), a 20-token query alone
    /// takes about 6 ms where a long batch spends about 0.2 ms per token, so a run's fixed cost is
    /// worth about 13 tokens. Query micro-batches are cut into runs of similar length at this price
    /// (<see cref="DocumentBatching.PlanByCost"/>).
    /// </summary>
    internal const int QueryRunOverheadTokens = 13;

    private Task<IReadOnlyList<EncodedText>> RunTokenBatchAsync(IReadOnlyList<int[]> rows, CancellationToken ct)
    {
        // The worker's own thread runs the model: no further hop.
        ct.ThrowIfCancellationRequested();
        var encoder = _tokenized!;
        if (rows.Count <= 1) return Task.FromResult<IReadOnlyList<EncodedText>>(Split(encoder.EncodeTokens(TokenizedBatch.FromRows(rows, encoder.Tokenizer.PadId))));
        // Queries differ in length: padding them all to the longest would waste much of the run.
        var lengths = new int[rows.Count];
        for (int i = 0; i < lengths.Length; i++) lengths[i] = rows[i].Length;
        var results = new EncodedText[rows.Count];
        foreach (var run in DocumentBatching.PlanByCost(lengths, QueryRunOverheadTokens))
        {
            ct.ThrowIfCancellationRequested();
            var runRows = new int[run.Length][];
            for (int i = 0; i < run.Length; i++) runRows[i] = rows[run[i]];
            var encoded = encoder.EncodeTokens(TokenizedBatch.FromRows(runRows, encoder.Tokenizer.PadId));
            for (int i = 0; i < run.Length; i++) results[run[i]] = encoded[i];
        }
        return Task.FromResult<IReadOnlyList<EncodedText>>(results);
    }

    private async Task<IReadOnlyList<EncodedText>> RunTextBatchAsync(IReadOnlyList<string> texts, CancellationToken ct) =>
        Split(await Encoder.EncodeAsync(texts, ct).ConfigureAwait(false));

    private static EncodedText[] Split(EncodedBatch batch)
    {
        var results = new EncodedText[batch.Count];
        for (int i = 0; i < results.Length; i++) results[i] = batch[i];
        return results;
    }
}
