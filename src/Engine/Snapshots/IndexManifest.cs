using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// One published version of an index: its schema, collection statistics and every shard's
/// segments with sizes and checksums. Written last, after all segments, so that publishing a
/// version is atomic: a version without a manifest does not exist.
/// </summary>
public sealed record IndexManifest
{
    /// <summary>Manifest format version.</summary>
    public int FormatVersion { get; init; } = 1;

    /// <summary>Index name.</summary>
    public required string Index { get; init; }

    /// <summary>Monotonic version number (1, 2, ...).</summary>
    public required long Version { get; init; }

    /// <summary>When the version was published.</summary>
    public required DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Number of shards.</summary>
    public required int ShardCount { get; init; }

    /// <summary>Copies of each shard to serve (a serving setting, kept with the version).</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>The schema the version was built with.</summary>
    public required IndexSchema Schema { get; init; }

    /// <summary>Documents in the whole index.</summary>
    public required long DocCount { get; init; }

    /// <summary>Sum of analysed lengths (BM25 collection statistic).</summary>
    public long TotalLength { get; init; }

    /// <summary>Per-shard segments, ordered by shard.</summary>
    public required IReadOnlyList<ShardManifest> Shards { get; init; }

    /// <summary>
    /// The version whose update log this version continues: 0 (or its own version) for a version
    /// built from sources, which starts a new log; a merge of online updates keeps the lineage of
    /// the version it merged, and each shard records how far into that log it has folded
    /// (<see cref="ShardManifest.UpdatesThrough"/>).
    /// </summary>
    public long UpdateLineage { get; init; }

    /// <summary>The update log this version continues (<see cref="UpdateLineage"/>, or its own version when 0).</summary>
    [JsonIgnore]
    public long Lineage => UpdateLineage == 0 ? Version : UpdateLineage;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Serialises to UTF-8 JSON.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Parses a manifest; <paramref name="source"/> names it in errors.</summary>
    public static IndexManifest FromJson(ReadOnlySpan<byte> json, string source)
    {
        try
        {
            var m = JsonSerializer.Deserialize<IndexManifest>(json, Json) ?? throw new InvalidDataException("empty manifest");
            if (m.FormatVersion != 1) throw new InvalidDataException($"manifest format {m.FormatVersion} is not supported");
            // Required members may still be given as JSON null; a manifest from the store is checked whole before anyone uses it.
            if (string.IsNullOrEmpty(m.Index)) throw new InvalidDataException("manifest names no index");
            if (m.Schema is null) throw new InvalidDataException("manifest has no schema");
            if (m.Shards is null) throw new InvalidDataException("manifest has no shard list");
            if (m.Version < 1 || m.ShardCount < 1 || m.DocCount < 0 || m.TotalLength < 0 || m.Replicas < 1 || m.UpdateLineage < 0)
                throw new InvalidDataException("manifest has a version, shard count, replica count, document count or lineage out of range");
            if (m.Shards.Count != m.ShardCount) throw new InvalidDataException($"manifest lists {m.Shards.Count} shards but declares {m.ShardCount}");
            for (int s = 0; s < m.Shards.Count; s++)
            {
                var shard = m.Shards[s] ?? throw new InvalidDataException($"shard {s} is null");
                if (shard.Segments is null || shard.DocCount < 0 || shard.UpdatesThrough < 0)
                    throw new InvalidDataException($"shard {s} has no segment list or a negative count");
                foreach (var segment in shard.Segments)
                    if (segment is null || string.IsNullOrEmpty(segment.Key) || segment.Xxh3 is null || segment.Channel is null || segment.Bytes < 0)
                        throw new InvalidDataException($"shard {s} lists a segment without key, checksum, channel or size");
            }
            return m;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"Index manifest '{source}' is invalid: {e.Message}", e);
        }
    }
}

/// <summary>
/// The segments of one shard in a version, and the last batch of the shard's update log folded
/// into them (<paramref name="UpdatesThrough"/>; 0 when none): a shard serving the version replays
/// later batches of the log on top.
/// </summary>
public sealed record ShardManifest(int Shard, long DocCount, IReadOnlyList<SegmentManifest> Segments, long UpdatesThrough = 0);

/// <summary>
/// One segment object in the store, with its size and XXH3-64 checksum (hex), and the channel it
/// serves: <see cref="IndexChannels.Text"/> (BM25), <see cref="IndexChannels.Sparse"/> or <see cref="IndexChannels.Dense"/>.
/// </summary>
public sealed record SegmentManifest(string Key, long Bytes, string Xxh3, string Channel = IndexChannels.Text);

/// <summary>Names of the retrieval channels an index can have (as used in manifests and the API).</summary>
public static class IndexChannels
{
    /// <summary>BM25 over analysed text.</summary>
    public const string Text = "bm25";
    /// <summary>Learned sparse vectors (SPLADE and kin) over a vocabulary.</summary>
    public const string Sparse = "sparse";
    /// <summary>Dense embeddings.</summary>
    public const string Dense = "dense";

    /// <summary>All channels, in the order responses list them.</summary>
    public static IReadOnlyList<string> All { get; } = [Text, Sparse, Dense];
}

/// <summary>An index schema: the channels a version has. At least one is present.</summary>
public sealed record IndexSchema(TextChannelSchema? Text, SparseChannelSchema? Sparse = null, DenseChannelSchema? Dense = null)
{
    /// <summary>A schema with only a BM25 text channel using default parameters.</summary>
    public static IndexSchema DefaultText { get; } = new(new TextChannelSchema());

    /// <summary>Names of the channels present, in <see cref="IndexChannels.All"/> order.</summary>
    public IReadOnlyList<string> ChannelNames()
    {
        var names = new List<string>(3);
        if (Text is not null) names.Add(IndexChannels.Text);
        if (Sparse is not null) names.Add(IndexChannels.Sparse);
        if (Dense is not null) names.Add(IndexChannels.Dense);
        return names;
    }
}

/// <summary>The BM25 text channel: analyzer and parameters.</summary>
public sealed record TextChannelSchema(
    string Analyzer = "english",
    double K1 = 0.9,
    double B = 0.4,
    [property: JsonPropertyName("luceneLengthNorm")] bool LuceneLengthNorm = true);

/// <summary>
/// The learned-sparse channel. Term ids index a vocabulary (WordPiece <c>vocab.txt</c>, one token
/// per line) stored with the version under <paramref name="VocabularyKey"/>, so any silo can map
/// query tokens to ids. Weights are quantised to u8 levels with the index-wide scale
/// <paramref name="MaxWeight"/>/255 (absolute error at most half a level).
/// </summary>
/// <param name="VocabularyKey">Store key of the vocabulary file.</param>
/// <param name="VocabularyXxh3">XXH3-64 of that file (hex).</param>
/// <param name="VocabularySize">Tokens in the vocabulary.</param>
/// <param name="MaxWeight">Largest document weight; the quantisation scale.</param>
/// <param name="Encoder">Name of the encoder that turns text into query/document vectors, when the index has one.</param>
public sealed record SparseChannelSchema(
    string VocabularyKey,
    string VocabularyXxh3,
    int VocabularySize,
    float MaxWeight,
    string? Encoder = null);

/// <summary>The dense channel: dimensions, metric, storage and the ANN index kind.</summary>
/// <param name="Dims">Dimensions of every vector.</param>
/// <param name="Metric">"dot" or "cosine".</param>
/// <param name="Storage">"fp32", "fp16" or "int8".</param>
/// <param name="Index">"hnsw" (graph + exact rescoring) or "flat" (exact scans only).</param>
/// <param name="M">HNSW links per node (layers above 0).</param>
/// <param name="EfConstruction">HNSW build beam width.</param>
/// <param name="Encoder">Name of the encoder that turns text into vectors, when the index has one.</param>
public sealed record DenseChannelSchema(
    int Dims,
    string Metric = "dot",
    string Storage = "fp32",
    string Index = "hnsw",
    int M = 16,
    int EfConstruction = 200,
    string? Encoder = null);
