using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Orleans;
using Orleans.Runtime;
using Shoal.Encoders;
using Shoal.Engine.Sparse;

namespace Shoal.Grains.Encoders;

/// <summary>Outcome of an <see cref="IEncoderPoolGrain.EncodeAsync"/> call.</summary>
[GenerateSerializer, Alias("shoal.encoders.EncodeStatus")]
public enum EncodeStatus
{
    /// <summary>Encoded; the payload holds one encoding per text.</summary>
    Ok = 0,

    /// <summary>
    /// Back-pressure: the pool's queue is full (<see cref="EncoderOptions.QueueCapacity"/> requests
    /// waiting). Nothing of this call was returned; retry later or elsewhere.
    /// </summary>
    QueueFull = 1,

    /// <summary>This silo has no encoder of that name (the caller's view of the cluster is stale, or the name is wrong).</summary>
    UnknownEncoder = 2,

    /// <summary>The request is invalid (null text, too many texts); <see cref="EncodeResponse.Error"/> says which.</summary>
    Invalid = 3,

    /// <summary>The model run failed; <see cref="EncodeResponse.Error"/> has the exception's message.</summary>
    Failed = 4,
}

/// <summary>
/// The encodings of a batch of texts, packed to keep messages small:
/// <list type="bullet">
/// <item>dense: <see cref="Dense"/> = <see cref="Count"/> x <see cref="Dimensions"/> float32 values,
/// little-endian, row-major;</item>
/// <item>sparse: text <c>i</c> owns entries <c>Offsets[i] .. Offsets[i + 1]</c> of
/// <see cref="TermIds"/> (int32 little-endian, ascending per text) and <see cref="Weights"/>
/// (float32 little-endian);</item>
/// <item>BM25: text <c>i</c> owns entries <c>Offsets[i] .. Offsets[i + 1]</c> of
/// <see cref="Terms"/> and <see cref="TermCounts"/>.</item>
/// </list>
/// When <see cref="Status"/> is not <see cref="EncodeStatus.Ok"/> only <see cref="Error"/> is set.
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.encoders.EncodeResponse")]
public sealed class EncodeResponse
{
    /// <summary>The outcome.</summary>
    [Id(0)] public EncodeStatus Status { get; init; }

    /// <summary>What went wrong, naming the encoder (and the silo) when <see cref="Status"/> is not Ok.</summary>
    [Id(1)] public string? Error { get; init; }

    /// <summary>The representation.</summary>
    [Id(2)] public EncoderKind Kind { get; init; }

    /// <summary>Texts encoded.</summary>
    [Id(3)] public int Count { get; init; }

    /// <summary>Floats per dense vector (0 otherwise).</summary>
    [Id(4)] public int Dimensions { get; init; }

    /// <summary>Dense vectors, float32 little-endian, row-major.</summary>
    [Id(5)] public byte[]? Dense { get; init; }

    /// <summary>Sparse and BM25: <see cref="Count"/> + 1 offsets into the flattened arrays.</summary>
    [Id(6)] public int[]? Offsets { get; init; }

    /// <summary>Sparse term ids, int32 little-endian.</summary>
    [Id(7)] public byte[]? TermIds { get; init; }

    /// <summary>Sparse weights, float32 little-endian.</summary>
    [Id(8)] public byte[]? Weights { get; init; }

    /// <summary>BM25 terms.</summary>
    [Id(9)] public string[]? Terms { get; init; }

    /// <summary>BM25 term counts.</summary>
    [Id(10)] public int[]? TermCounts { get; init; }

    /// <summary>A failed response.</summary>
    public static EncodeResponse Fail(EncodeStatus status, string error) => new() { Status = status, Error = error };

    /// <summary>Packs <paramref name="items"/> (all of <paramref name="kind"/>).</summary>
    /// <exception cref="ArgumentException">An item is of another kind, or dense items differ in length.</exception>
    public static EncodeResponse Pack(EncoderKind kind, IReadOnlyList<EncodedText> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var item in items)
        {
            if (item.Kind != kind) throw new ArgumentException($"A {item.Kind} encoding in a {kind} batch.", nameof(items));
        }
        switch (kind)
        {
            case EncoderKind.Dense:
                {
                    int dims = items.Count == 0 ? 0 : items[0].Dense!.Length;
                    var bytes = new byte[checked(items.Count * dims * sizeof(float))];
                    for (int i = 0; i < items.Count; i++)
                    {
                        var row = items[i].Dense!;
                        if (row.Length != dims) throw new ArgumentException($"Dense vectors of {dims} and {row.Length} floats in one batch.", nameof(items));
                        WriteFloats(row, bytes.AsSpan(i * dims * sizeof(float), dims * sizeof(float)));
                    }
                    return new EncodeResponse { Kind = kind, Count = items.Count, Dimensions = dims, Dense = bytes };
                }
            case EncoderKind.Sparse:
                {
                    var offsets = new int[items.Count + 1];
                    for (int i = 0; i < items.Count; i++) offsets[i + 1] = checked(offsets[i] + items[i].Sparse.Count);
                    int total = offsets[^1];
                    var ids = new byte[checked(total * sizeof(int))];
                    var weights = new byte[checked(total * sizeof(float))];
                    for (int i = 0; i < items.Count; i++)
                    {
                        var v = items[i].Sparse;
                        if (v.Count == 0) continue;
                        WriteInts(v.Terms, ids.AsSpan(offsets[i] * sizeof(int), v.Count * sizeof(int)));
                        WriteFloats(v.Weights, weights.AsSpan(offsets[i] * sizeof(float), v.Count * sizeof(float)));
                    }
                    return new EncodeResponse { Kind = kind, Count = items.Count, Offsets = offsets, TermIds = ids, Weights = weights };
                }
            default:
                {
                    var offsets = new int[items.Count + 1];
                    for (int i = 0; i < items.Count; i++) offsets[i + 1] = checked(offsets[i] + items[i].Terms!.Count);
                    var terms = new string[offsets[^1]];
                    var counts = new int[terms.Length];
                    for (int i = 0; i < items.Count; i++)
                    {
                        int at = offsets[i];
                        foreach (var t in items[i].Terms!)
                        {
                            terms[at] = t.Term;
                            counts[at++] = t.Count;
                        }
                    }
                    return new EncodeResponse { Kind = kind, Count = items.Count, Offsets = offsets, Terms = terms, TermCounts = counts };
                }
        }
    }

    /// <summary>Unpacks the payload into a batch (copies out of the packed arrays).</summary>
    /// <exception cref="InvalidOperationException">The status is not Ok, or the payload is inconsistent.</exception>
    public EncodedBatch ToBatch()
    {
        if (Status != EncodeStatus.Ok) throw new InvalidOperationException($"The response is {Status}: {Error}");
        switch (Kind)
        {
            case EncoderKind.Dense:
                {
                    var bytes = Dense ?? [];
                    if (bytes.Length != (long)Count * Dimensions * sizeof(float))
                        throw new InvalidOperationException($"A dense response of {Count} x {Dimensions} carries {bytes.Length} bytes.");
                    var values = new float[Count * Dimensions];
                    ReadFloats(bytes, values);
                    return EncodedBatch.FromDense(values, Count, Dimensions);
                }
            case EncoderKind.Sparse:
                {
                    var offsets = CheckOffsets();
                    var ids = TermIds ?? [];
                    var weights = Weights ?? [];
                    if (ids.Length != offsets[^1] * sizeof(int) || weights.Length != offsets[^1] * sizeof(float))
                        throw new InvalidOperationException($"A sparse response of {offsets[^1]} entries carries {ids.Length} id bytes and {weights.Length} weight bytes.");
                    var vectors = new SparseVector[Count];
                    for (int i = 0; i < Count; i++)
                    {
                        int n = offsets[i + 1] - offsets[i];
                        if (n == 0)
                        {
                            vectors[i] = SparseVector.Empty;
                            continue;
                        }
                        var t = new int[n];
                        var w = new float[n];
                        ReadInts(ids.AsSpan(offsets[i] * sizeof(int), n * sizeof(int)), t);
                        ReadFloats(weights.AsSpan(offsets[i] * sizeof(float), n * sizeof(float)), w);
                        vectors[i] = new SparseVector(t, w);
                    }
                    return EncodedBatch.FromSparse(vectors);
                }
            default:
                {
                    var offsets = CheckOffsets();
                    var terms = Terms ?? [];
                    var counts = TermCounts ?? [];
                    if (terms.Length != offsets[^1] || counts.Length != offsets[^1])
                        throw new InvalidOperationException($"A BM25 response of {offsets[^1]} entries carries {terms.Length} terms and {counts.Length} counts.");
                    var result = new IReadOnlyList<TermCount>[Count];
                    for (int i = 0; i < Count; i++)
                    {
                        var list = new TermCount[offsets[i + 1] - offsets[i]];
                        for (int j = 0; j < list.Length; j++) list[j] = new TermCount(terms[offsets[i] + j], counts[offsets[i] + j]);
                        result[i] = list;
                    }
                    return EncodedBatch.FromTerms(result);
                }
        }
    }

    private int[] CheckOffsets()
    {
        var offsets = Offsets;
        if (offsets is null || offsets.Length != Count + 1 || offsets[0] != 0)
            throw new InvalidOperationException($"A {Kind} response of {Count} texts needs {Count + 1} offsets starting at 0.");
        for (int i = 0; i < Count; i++)
        {
            if (offsets[i + 1] < offsets[i]) throw new InvalidOperationException($"Offsets of a {Kind} response decrease at {i}.");
        }
        return offsets;
    }

    private static void WriteFloats(ReadOnlySpan<float> values, Span<byte> dest)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(dest);
            return;
        }
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(dest[(i * 4)..], values[i]);
    }

    private static void WriteInts(ReadOnlySpan<int> values, Span<byte> dest)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(dest);
            return;
        }
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(dest[(i * 4)..], values[i]);
    }

    private static void ReadFloats(ReadOnlySpan<byte> bytes, Span<float> dest)
    {
        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(MemoryMarshal.AsBytes(dest));
            return;
        }
        for (int i = 0; i < dest.Length; i++) dest[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
    }

    private static void ReadInts(ReadOnlySpan<byte> bytes, Span<int> dest)
    {
        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(MemoryMarshal.AsBytes(dest));
            return;
        }
        for (int i = 0; i < dest.Length; i++) dest[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(i * 4)..]);
    }
}

/// <summary>
/// What an encoder produces, so that an index schema can be checked against it. The same encoder
/// name must mean the same model on every encoder silo.
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.encoders.EncoderDescriptor")]
public sealed class EncoderDescriptor
{
    /// <summary>The encoder's configured name.</summary>
    [Id(0)] public string Name { get; init; } = "";

    /// <summary>What it produces.</summary>
    [Id(1)] public EncoderKind Kind { get; init; }

    /// <summary>Dense: floats per vector; 0 for sparse and BM25 encoders.</summary>
    [Id(2)] public int Dimensions { get; init; }

    /// <summary>Sparse: the term-id space (ids are 0 .. VocabularySize-1, the WordPiece vocabulary); 0 otherwise.</summary>
    [Id(3)] public int VocabularySize { get; init; }

    /// <summary>Dense: whether vectors are L2-normalised (inner product = cosine).</summary>
    [Id(4)] public bool Normalized { get; init; }

    /// <summary>Longest model input in tokens, special tokens included (0 for model-free encoders).</summary>
    [Id(5)] public int MaxSequenceLength { get; init; }

    /// <summary>The model (or IDF) file name, or the analyzer for BM25.</summary>
    [Id(6)] public string Model { get; init; } = "";

    /// <summary>Where the model runs on the describing silo: "cpu", "cuda:N", or "inline" for model-free encoders.</summary>
    [Id(7)] public string ExecutionProvider { get; init; } = "";

    /// <summary>
    /// Throws unless this encoder produces what an index expects: <paramref name="kind"/> and, when
    /// given, <paramref name="dimensions"/> (dense) or <paramref name="vocabularySize"/> (sparse; an
    /// index whose term ids come from this vocabulary must not exceed it).
    /// </summary>
    /// <exception cref="EncoderConfigurationException">A mismatch, naming the encoder and both values.</exception>
    public void EnsureCompatible(EncoderKind kind, int? dimensions = null, int? vocabularySize = null)
    {
        if (Kind != kind)
            throw new EncoderConfigurationException($"Encoder '{Name}' produces {Kind} encodings but the index expects {kind}.");
        if (dimensions is { } d && Kind == EncoderKind.Dense && d != Dimensions)
            throw new EncoderConfigurationException($"Encoder '{Name}' produces {Dimensions}-dimensional vectors but the index expects {d}.");
        if (vocabularySize is { } v && Kind == EncoderKind.Sparse && v != VocabularySize)
            throw new EncoderConfigurationException($"Encoder '{Name}' has a vocabulary of {VocabularySize} terms but the index expects {v}.");
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        EncoderKind.Dense => $"{Name}: dense {Dimensions}d{(Normalized ? " normalised" : "")} ({Model}, {ExecutionProvider})",
        EncoderKind.Sparse => $"{Name}: sparse over {VocabularySize} terms ({Model}, {ExecutionProvider})",
        _ => $"{Name}: BM25 terms ({Model})",
    };
}

/// <summary>Counters of one silo's pool of one encoder.</summary>
[GenerateSerializer, Immutable, Alias("shoal.encoders.EncoderPoolStats")]
public sealed class EncoderPoolStats
{
    /// <summary>The encoder.</summary>
    [Id(0)] public string Encoder { get; init; } = "";

    /// <summary>The silo holding the pool.</summary>
    [Id(1)] public SiloAddress? Silo { get; init; }

    /// <summary>Batches run through the pool (model encoders; 0 for inline ones).</summary>
    [Id(2)] public long BatchesRun { get; init; }

    /// <summary>Texts encoded through batches.</summary>
    [Id(3)] public long ItemsProcessed { get; init; }

    /// <summary>Requests refused because the queue was full.</summary>
    [Id(4)] public long ItemsRejected { get; init; }

    /// <summary>Requests waiting now.</summary>
    [Id(5)] public int QueueLength { get; init; }

    /// <summary>The queue's capacity.</summary>
    [Id(6)] public int QueueCapacity { get; init; }

    /// <summary>Model session runs so far, the startup warm-up included (0 for model-free encoders).</summary>
    [Id(7)] public long SessionRuns { get; init; }
}

/// <summary>An encoder as silo metadata announces it (no model needs to be loaded to know it).</summary>
[GenerateSerializer, Immutable, Alias("shoal.encoders.EncoderSummary")]
public sealed class EncoderSummary
{
    /// <summary>The name.</summary>
    [Id(0)] public string Name { get; init; } = "";

    /// <summary>The kind.</summary>
    [Id(1)] public EncoderKind Kind { get; init; }
}

/// <summary>One active silo of the cluster as the catalog sees it.</summary>
[GenerateSerializer, Immutable, Alias("shoal.encoders.EncoderSiloInfo")]
public sealed class EncoderSiloInfo
{
    /// <summary>The silo.</summary>
    [Id(0)] public SiloAddress Silo { get; init; } = null!;

    /// <summary>Its roles: <c>data</c> on every silo, <c>encoder</c> on those hosting encoders, and any others configured (empty when its metadata is not known yet).</summary>
    [Id(1)] public string[] Roles { get; init; } = [];

    /// <summary>The encoders it hosts (empty unless it holds the encoder role).</summary>
    [Id(2)] public EncoderSummary[] Encoders { get; init; } = [];

    /// <summary>Whether this silo's metadata has been received (false: it is active but not yet known).</summary>
    [Id(3)] public bool Known { get; init; }
}

/// <summary>Which active silos host which encoders, as one silo's metadata cache sees it.</summary>
[GenerateSerializer, Immutable, Alias("shoal.encoders.EncoderCatalog")]
public sealed class EncoderCatalog
{
    /// <summary>Every active silo.</summary>
    [Id(0)] public EncoderSiloInfo[] Silos { get; init; } = [];

    /// <summary>The silo that answered.</summary>
    [Id(1)] public SiloAddress? Source { get; init; }

    /// <summary>Whether the metadata of every active silo is known (else an encoder may be missing for a moment after a silo joins).</summary>
    public bool Settled => Silos.All(s => s.Known);

    /// <summary>The silos hosting <paramref name="encoder"/>.</summary>
    public IEnumerable<SiloAddress> SilosHosting(string encoder) =>
        Silos.Where(s => s.Encoders.Any(e => e.Name == encoder)).Select(s => s.Silo);

    /// <summary>Every encoder name hosted somewhere, sorted.</summary>
    public IReadOnlyList<string> EncoderNames =>
        Silos.SelectMany(s => s.Encoders).Select(e => e.Name).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToList();
}
