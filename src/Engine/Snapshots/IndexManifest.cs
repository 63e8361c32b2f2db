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
            if (m.Shards.Count != m.ShardCount) throw new InvalidDataException($"manifest lists {m.Shards.Count} shards but declares {m.ShardCount}");
            return m;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"Index manifest '{source}' is invalid: {e.Message}", e);
        }
    }
}

/// <summary>The segments of one shard in a version.</summary>
public sealed record ShardManifest(int Shard, long DocCount, IReadOnlyList<SegmentManifest> Segments);

/// <summary>One segment object in the store, with its size and XXH3-64 checksum (hex).</summary>
public sealed record SegmentManifest(string Key, long Bytes, string Xxh3);

/// <summary>An index schema. This version has the BM25 text channel; sparse and dense channels join it.</summary>
public sealed record IndexSchema(TextChannelSchema? Text)
{
    /// <summary>A schema with only a BM25 text channel using default parameters.</summary>
    public static IndexSchema DefaultText { get; } = new(new TextChannelSchema());
}

/// <summary>The BM25 text channel: analyzer and parameters.</summary>
public sealed record TextChannelSchema(
    string Analyzer = "english",
    double K1 = 0.9,
    double B = 0.4,
    [property: JsonPropertyName("luceneLengthNorm")] bool LuceneLengthNorm = true);
