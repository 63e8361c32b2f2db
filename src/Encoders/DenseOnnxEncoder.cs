using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Shoal.Encoders;

/// <summary>
/// A dense sentence encoder over a BERT-style ONNX model (all-MiniLM, bge, e5 exports).
/// </summary>
/// <remarks>
/// <para><b>Inputs</b>: <c>input_ids</c>, <c>attention_mask</c> and, when the model declares it,
/// <c>token_type_ids</c> (all zeros), int64 or int32, from <see cref="WordPieceTokenizer.EncodeBatch"/>.</para>
/// <para><b>Output</b>: the configured output name, else <c>last_hidden_state</c>, else the model's
/// only float output of rank 3 <c>[batch, sequence, hidden]</c>, which is pooled (<see cref="PoolingMode"/>:
/// mean over tokens whose attention mask is 1, or the [CLS] row). A model whose only float output
/// has rank 2 <c>[batch, hidden]</c> (pooling inside the graph, e.g. <c>sentence_embedding</c>) is
/// used as is.</para>
/// <para><b>Normalisation</b>: when on, each vector is divided by its L2 norm (a zero vector stays
/// zero), so that inner product equals cosine similarity.</para>
/// <para>The session is created once (in <see cref="OnnxSessionFactory"/>) and owned by the encoder;
/// each <see cref="Encode"/> is one session run. Thread-safe.</para>
/// </remarks>
public sealed class DenseOnnxEncoder : ITokenizedTextEncoder, IDisposable
{
    private readonly OnnxModelSession _model;
    private readonly BertModelInputs _inputs;
    private readonly string _outputName;
    private readonly bool _pooledByModel;
    private long _sessionRuns;

    /// <summary>Creates the encoder and checks the model's inputs and outputs.</summary>
    /// <param name="model">The session (owned by the encoder from now on).</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="pooling">How token states become one vector.</param>
    /// <param name="normalize">Whether vectors are L2-normalised.</param>
    /// <param name="outputName">The output to read; null picks it by convention.</param>
    /// <param name="name">Name for logs; defaults to the model file name.</param>
    /// <exception cref="EncoderConfigurationException">The model's inputs or outputs are not a BERT
    /// encoder's; the message lists what was expected and what the model has.</exception>
    public DenseOnnxEncoder(OnnxModelSession model, WordPieceTokenizer tokenizer, PoolingMode pooling = PoolingMode.Mean,
        bool normalize = true, string? outputName = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _model = model;
        Tokenizer = tokenizer;
        Pooling = pooling;
        Normalize = normalize;
        Name = name ?? Path.GetFileName(model.ModelPath);
        _inputs = BertModelInputs.Detect(model);
        (_outputName, _pooledByModel, Dimensions) = PickOutput(model, outputName);
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
    public EncoderKind Kind => EncoderKind.Dense;

    /// <summary>The tokenizer.</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>The pooling applied to the hidden states.</summary>
    public PoolingMode Pooling { get; }

    /// <summary>Whether vectors are L2-normalised.</summary>
    public bool Normalize { get; }

    /// <summary>Vector size as declared by the model, or -1 when the model leaves it symbolic.</summary>
    public int Dimensions { get; private set; }

    /// <summary>The output read (e.g. <c>last_hidden_state</c>).</summary>
    public string OutputName => _outputName;

    /// <summary>Whether the model takes token_type_ids (detected from its inputs).</summary>
    public bool UsesTokenTypeIds => _inputs.HasTokenTypeIds;

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
        if (texts.Count == 0) return EncodedBatch.Empty(EncoderKind.Dense, Math.Max(Dimensions, 0));
        return EncodeTokens(Tokenizer.EncodeBatch(texts));
    }

    /// <summary>Encodes already tokenised input in one session run, on the calling thread.</summary>
    /// <exception cref="InvalidOperationException">The model returned a tensor of an unexpected shape.</exception>
    public EncodedBatch EncodeTokens(TokenizedBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.BatchSize == 0) return EncodedBatch.Empty(EncoderKind.Dense, Math.Max(Dimensions, 0));
        var inputs = _inputs.Create(batch);
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = _model.Session.Run(runOptions, _inputs.Names, inputs, [_outputName]);
            Interlocked.Increment(ref _sessionRuns);
            var output = outputs[0];
            var shape = output.GetTensorTypeAndShape().Shape;
            var data = output.GetTensorDataAsSpan<float>();
            float[] result = _pooledByModel ? CopyPooled(batch, shape, data) : Pool(batch, shape, data);
            int dims = result.Length / batch.BatchSize;
            if (Normalize) NormalizeRows(result, dims);
            if (Dimensions < 0) Dimensions = dims;
            return EncodedBatch.FromDense(result, batch.BatchSize, dims);
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();

    private float[] Pool(TokenizedBatch batch, long[] shape, ReadOnlySpan<float> hidden)
    {
        if (shape.Length != 3 || shape[0] != batch.BatchSize || shape[1] != batch.SequenceLength)
            throw new InvalidOperationException($"Model '{_model.ModelPath}' output {_outputName} has shape [{string.Join(", ", shape)}]; expected [{batch.BatchSize}, {batch.SequenceLength}, hidden].");
        int seq = batch.SequenceLength;
        int dims = checked((int)shape[2]);
        var result = new float[batch.BatchSize * dims];
        var sum = new double[dims];
        for (int b = 0; b < batch.BatchSize; b++)
        {
            var dest = result.AsSpan(b * dims, dims);
            var states = hidden.Slice(b * seq * dims, seq * dims);
            if (Pooling == PoolingMode.Cls)
            {
                states[..dims].CopyTo(dest);
                continue;
            }
            Array.Clear(sum);
            int count = 0;
            var mask = batch.AttentionMask.AsSpan(b * seq, seq);
            for (int s = 0; s < seq; s++)
            {
                if (mask[s] == 0) continue;
                count++;
                var row = states.Slice(s * dims, dims);
                for (int d = 0; d < dims; d++) sum[d] += row[d];
            }
            if (count == 0) continue; // an all-padding row pools to the zero vector
            for (int d = 0; d < dims; d++) dest[d] = (float)(sum[d] / count);
        }
        return result;
    }

    private float[] CopyPooled(TokenizedBatch batch, long[] shape, ReadOnlySpan<float> pooled)
    {
        if (shape.Length != 2 || shape[0] != batch.BatchSize)
            throw new InvalidOperationException($"Model '{_model.ModelPath}' output {_outputName} has shape [{string.Join(", ", shape)}]; expected [{batch.BatchSize}, hidden].");
        return pooled.ToArray();
    }

    private static void NormalizeRows(float[] values, int dims)
    {
        for (int start = 0; start < values.Length; start += dims)
        {
            var row = values.AsSpan(start, dims);
            double norm = 0;
            foreach (float v in row) norm += (double)v * v;
            if (norm == 0) continue;
            float scale = (float)(1 / Math.Sqrt(norm));
            for (int d = 0; d < row.Length; d++) row[d] *= scale;
        }
    }

    private static (string Name, bool PooledByModel, int Dimensions) PickOutput(OnnxModelSession model, string? requested)
    {
        var outputs = model.Session.OutputMetadata;
        string expected = "expected a float output last_hidden_state [batch, sequence, hidden] (or one float [batch, hidden] output)";
        string? name = requested;
        if (name is not null)
        {
            if (!outputs.ContainsKey(name))
                throw new EncoderConfigurationException($"Model '{model.ModelPath}' has no output '{name}' (OutputName); found {model.DescribeOutputs()}.", model.ModelPath);
        }
        else if (outputs.ContainsKey("last_hidden_state"))
        {
            name = "last_hidden_state";
        }
        else
        {
            var rank3 = outputs.Where(kv => IsFloat(kv.Value) && kv.Value.Dimensions.Length == 3).Select(kv => kv.Key).ToList();
            var rank2 = outputs.Where(kv => IsFloat(kv.Value) && kv.Value.Dimensions.Length == 2).Select(kv => kv.Key).ToList();
            name = rank3.Count == 1 ? rank3[0] : rank3.Count == 0 && rank2.Count == 1 ? rank2[0]
                : throw new EncoderConfigurationException($"Model '{model.ModelPath}': cannot tell which output to read: {expected}; found {model.DescribeOutputs()}. Set OutputName.", model.ModelPath);
        }
        var meta = outputs[name];
        if (!IsFloat(meta) || meta.Dimensions.Length is not (2 or 3))
            throw new EncoderConfigurationException($"Model '{model.ModelPath}' output {name} is {OnnxModelSession.Describe(meta)}: {expected}.", model.ModelPath);
        long hidden = meta.Dimensions[^1];
        return (name, meta.Dimensions.Length == 2, hidden > 0 ? checked((int)hidden) : -1);
    }

    private static bool IsFloat(NodeMetadata meta) => meta.IsTensor && meta.ElementDataType == TensorElementType.Float;
}
