using System.Numerics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Shoal.Engine.Sparse;

namespace Shoal.Encoders;

/// <summary>
/// A learned sparse (SPLADE) encoder over an ONNX model: one <see cref="SparseVector"/> over the
/// tokenizer's vocabulary per text (term id = WordPiece id).
/// </summary>
/// <remarks>
/// <para><b>Inputs</b> as <see cref="DenseOnnxEncoder"/>: <c>input_ids</c>, <c>attention_mask</c>,
/// optional <c>token_type_ids</c>.</para>
/// <para><b>Output conventions</b>, detected from the model's output metadata (see <see cref="Mode"/>):</para>
/// <list type="number">
/// <item><see cref="SpladeOutputMode.Logits"/>: a float output <c>[batch, sequence, vocab]</c> of MLM
/// logits (named <c>logits</c>, or the only rank-3 float output, or the configured name). The
/// weight of term <c>v</c> is <c>max over tokens s with attention_mask 1 of log(1 + ReLU(logits[s, v]))</c>
/// — computed as <c>log(1 + ReLU(max_s logits[s, v]))</c>, identical since the activation is monotonic.
/// [CLS] and [SEP] take part, as in SPLADE's reference implementation. The vocab dimension must
/// equal the tokenizer's vocabulary size.</item>
/// <item><see cref="SpladeOutputMode.Pairs"/>: the model already pooled and selected terms and
/// returns one integer output (int64/int32) of term ids and one float output of their weights,
/// both <c>[batch, k]</c> (e.g. <c>indices</c> and <c>weights</c>; names are free). Weights are taken
/// as final (no activation); entries with weight ≤ 0 are padding; a repeated id keeps its largest
/// weight.</item>
/// <item><see cref="SpladeOutputMode.Pooled"/>: a single float output <c>[batch, vocab]</c> of final
/// term weights (activation and pooling inside the graph).</item>
/// </list>
/// <para>Then, in every mode, terms with weight ≥ <see cref="Threshold"/> (and &gt; 0) are kept, at
/// most <see cref="TopK"/> of them (the heaviest; ties to the lower id; 0 = no limit).</para>
/// <para>The session is created once and owned by the encoder; one session run per batch. Thread-safe.</para>
/// </remarks>
public sealed class SpladeOnnxEncoder : ITokenizedTextEncoder, IDisposable
{
    private readonly OnnxModelSession _model;
    private readonly BertModelInputs _inputs;
    private readonly string[] _outputNames;
    private long _sessionRuns;

    /// <summary>Creates the encoder and checks the model's inputs and outputs.</summary>
    /// <param name="model">The session (owned by the encoder from now on).</param>
    /// <param name="tokenizer">The model's tokenizer; its vocabulary defines the term ids.</param>
    /// <param name="threshold">Minimum kept weight (terms must also weigh &gt; 0).</param>
    /// <param name="topK">Most terms kept per text; 0 keeps all.</param>
    /// <param name="outputName">Logits or pooled output to read; null detects the convention.</param>
    /// <param name="name">Name for logs; defaults to the model file name.</param>
    /// <exception cref="EncoderConfigurationException">The model's inputs or outputs fit no convention,
    /// or its vocabulary size differs from the tokenizer's.</exception>
    public SpladeOnnxEncoder(OnnxModelSession model, WordPieceTokenizer tokenizer, float threshold = 0, int topK = 0,
        string? outputName = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        if (!float.IsFinite(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must be finite.");
        _model = model;
        Tokenizer = tokenizer;
        Threshold = threshold;
        TopK = topK;
        Name = name ?? Path.GetFileName(model.ModelPath);
        _inputs = BertModelInputs.Detect(model);
        (Mode, _outputNames) = PickOutputs(model, tokenizer, outputName);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string QueryPrefix { get; init; } = "";

    /// <inheritdoc />
    public string DocumentPrefix { get; init; } = "";

    /// <summary>Tokenises queries (with <see cref="QueryPrefix"/>) and encodes them in one session run, on the calling thread.</summary>
    public EncodedBatch EncodeQueries(IReadOnlyList<string> queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        return Encode(QueryPrefix.Length == 0 ? queries : queries.Select(q => QueryPrefix + q).ToArray());
    }

    /// <summary>Tokenises documents (with <see cref="DocumentPrefix"/>) and encodes them in one session run, on the calling thread.</summary>
    public EncodedBatch EncodeDocuments(IReadOnlyList<string> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        return Encode(DocumentPrefix.Length == 0 ? documents : documents.Select(d => DocumentPrefix + d).ToArray());
    }

    /// <inheritdoc />
    public EncoderKind Kind => EncoderKind.Sparse;

    /// <summary>The tokenizer.</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Which output convention the model follows.</summary>
    public SpladeOutputMode Mode { get; }

    /// <summary>Minimum kept weight.</summary>
    public float Threshold { get; }

    /// <summary>Most terms kept per text (0: all).</summary>
    public int TopK { get; }

    /// <summary>The outputs read: the logits or pooled output, or the (ids, weights) pair.</summary>
    public IReadOnlyList<string> OutputNames => _outputNames;

    /// <summary>Where the session runs: "cpu" or "cuda:N".</summary>
    public string ExecutionProvider => _model.ExecutionProvider;

    /// <summary>Session runs so far (one per non-empty batch).</summary>
    public long SessionRuns => Interlocked.Read(ref _sessionRuns);

    /// <inheritdoc />
    public Task<EncodedBatch> EncodeAsync(IReadOnlyList<string> texts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return Task.Run(() => Encode(texts), ct);
    }

    /// <summary>Tokenises and encodes <paramref name="texts"/> in one session run, on the calling thread.</summary>
    public EncodedBatch Encode(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) return EncodedBatch.Empty(EncoderKind.Sparse);
        return EncodeTokens(Tokenizer.EncodeBatch(texts));
    }

    /// <summary>Encodes already tokenised input in one session run, on the calling thread.</summary>
    /// <exception cref="InvalidOperationException">The model returned tensors of unexpected shapes or a negative term id.</exception>
    public EncodedBatch EncodeTokens(TokenizedBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.BatchSize == 0) return EncodedBatch.Empty(EncoderKind.Sparse);
        var inputs = _inputs.Create(batch);
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = _model.Session.Run(runOptions, _inputs.Names, inputs, _outputNames);
            Interlocked.Increment(ref _sessionRuns);
            return EncodedBatch.FromSparse(Mode switch
            {
                SpladeOutputMode.Logits => FromLogits(batch, outputs[0]),
                SpladeOutputMode.Pooled => FromPooled(batch, outputs[0]),
                _ => FromPairs(batch, outputs[0], outputs[1]),
            });
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();

    private SparseVector[] FromLogits(TokenizedBatch batch, OrtValue output)
    {
        var shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 3 || shape[0] != batch.BatchSize || shape[1] != batch.SequenceLength || shape[2] != Tokenizer.VocabularySize)
            throw new InvalidOperationException($"Model '{_model.ModelPath}' output {_outputNames[0]} has shape [{string.Join(", ", shape)}]; expected [{batch.BatchSize}, {batch.SequenceLength}, {Tokenizer.VocabularySize}].");
        var logits = output.GetTensorDataAsSpan<float>();
        int seq = batch.SequenceLength, vocab = Tokenizer.VocabularySize;
        var max = new float[vocab];
        var result = new SparseVector[batch.BatchSize];
        for (int b = 0; b < batch.BatchSize; b++)
        {
            // Only positive maxima matter: ReLU zeroes the rest. Starting at 0 also makes an
            // all-padding row the empty vector.
            Array.Clear(max);
            var mask = batch.AttentionMask.AsSpan(b * seq, seq);
            for (int s = 0; s < seq; s++)
            {
                if (mask[s] != 0) MaxInto(max, logits.Slice((b * seq + s) * vocab, vocab));
            }
            for (int v = 0; v < vocab; v++)
            {
                if (max[v] > 0) max[v] = MathF.Log(1f + max[v]);
            }
            result[b] = SparseTermSelection.FromDense(max, Threshold, TopK);
        }
        return result;
    }

    private SparseVector[] FromPooled(TokenizedBatch batch, OrtValue output)
    {
        var shape = output.GetTensorTypeAndShape().Shape;
        if (shape.Length != 2 || shape[0] != batch.BatchSize || shape[1] != Tokenizer.VocabularySize)
            throw new InvalidOperationException($"Model '{_model.ModelPath}' output {_outputNames[0]} has shape [{string.Join(", ", shape)}]; expected [{batch.BatchSize}, {Tokenizer.VocabularySize}].");
        var weights = output.GetTensorDataAsSpan<float>();
        int vocab = Tokenizer.VocabularySize;
        var result = new SparseVector[batch.BatchSize];
        for (int b = 0; b < batch.BatchSize; b++) result[b] = SparseTermSelection.FromDense(weights.Slice(b * vocab, vocab), Threshold, TopK);
        return result;
    }

    private SparseVector[] FromPairs(TokenizedBatch batch, OrtValue idsValue, OrtValue weightsValue)
    {
        var idShape = idsValue.GetTensorTypeAndShape();
        var wShape = weightsValue.GetTensorTypeAndShape().Shape;
        if (idShape.Shape.Length != 2 || idShape.Shape[0] != batch.BatchSize || !idShape.Shape.SequenceEqual(wShape))
            throw new InvalidOperationException($"Model '{_model.ModelPath}' outputs {_outputNames[0]} [{string.Join(", ", idShape.Shape)}] and {_outputNames[1]} [{string.Join(", ", wShape)}]; expected both [{batch.BatchSize}, k].");
        int k = checked((int)wShape[1]);
        long[] ids = idShape.ElementDataType == TensorElementType.Int64
            ? idsValue.GetTensorDataAsSpan<long>().ToArray()
            : Array.ConvertAll(idsValue.GetTensorDataAsSpan<int>().ToArray(), v => (long)v);
        var weights = weightsValue.GetTensorDataAsSpan<float>();
        var result = new SparseVector[batch.BatchSize];
        for (int b = 0; b < batch.BatchSize; b++)
            result[b] = SparseTermSelection.FromPairs(ids.AsSpan(b * k, k), weights.Slice(b * k, k), Threshold, TopK);
        return result;
    }

    private static void MaxInto(Span<float> acc, ReadOnlySpan<float> row)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            for (; i <= acc.Length - width; i += width)
                Vector.Max(new Vector<float>(acc[i..]), new Vector<float>(row[i..])).CopyTo(acc[i..]);
        }
        for (; i < acc.Length; i++)
        {
            if (row[i] > acc[i]) acc[i] = row[i];
        }
    }

    private static (SpladeOutputMode Mode, string[] Names) PickOutputs(OnnxModelSession model, WordPieceTokenizer tokenizer, string? requested)
    {
        var outputs = model.Session.OutputMetadata;
        string conventions = "expected float logits [batch, sequence, vocab], or (int64/int32 ids [batch, k], float weights [batch, k]), or float weights [batch, vocab]";
        if (requested is null)
        {
            var ints = outputs.Where(kv => kv.Value.IsTensor && kv.Value.ElementDataType is TensorElementType.Int64 or TensorElementType.Int32 && kv.Value.Dimensions.Length == 2).ToList();
            var float2 = outputs.Where(kv => IsFloat(kv.Value) && kv.Value.Dimensions.Length == 2).ToList();
            if (ints.Count == 1 && float2.Count == 1) return (SpladeOutputMode.Pairs, [ints[0].Key, float2[0].Key]);
            if (ints.Count > 1)
                throw new EncoderConfigurationException($"Model '{model.ModelPath}' has several integer outputs; {conventions}; found {model.DescribeOutputs()}.", model.ModelPath);
            requested = outputs.ContainsKey("logits") ? "logits"
                : outputs.Count(kv => IsFloat(kv.Value) && kv.Value.Dimensions.Length == 3) == 1 ? outputs.First(kv => IsFloat(kv.Value) && kv.Value.Dimensions.Length == 3).Key
                : float2.Count == 1 && outputs.Count == 1 ? float2[0].Key
                : throw new EncoderConfigurationException($"Model '{model.ModelPath}': cannot tell which output holds the term weights; {conventions}; found {model.DescribeOutputs()}. Set OutputName.", model.ModelPath);
        }
        if (!outputs.TryGetValue(requested, out var meta))
            throw new EncoderConfigurationException($"Model '{model.ModelPath}' has no output '{requested}' (OutputName); found {model.DescribeOutputs()}.", model.ModelPath);
        if (!IsFloat(meta) || meta.Dimensions.Length is not (2 or 3))
            throw new EncoderConfigurationException($"Model '{model.ModelPath}' output {requested} is {OnnxModelSession.Describe(meta)}; {conventions}.", model.ModelPath);
        long vocab = meta.Dimensions[^1];
        if (vocab > 0 && vocab != tokenizer.VocabularySize)
            throw new EncoderConfigurationException(
                $"Model '{model.ModelPath}' output {requested} has a vocabulary of {vocab} terms but the tokenizer '{tokenizer.Source}' has {tokenizer.VocabularySize}; they must be the same vocabulary.", model.ModelPath);
        return (meta.Dimensions.Length == 3 ? SpladeOutputMode.Logits : SpladeOutputMode.Pooled, [requested]);
    }

    private static bool IsFloat(NodeMetadata meta) => meta.IsTensor && meta.ElementDataType == TensorElementType.Float;
}
