using Shoal.Grains.Contracts;

namespace Shoal.Gateway;

/// <summary>Body of <c>POST /v1/indexes/{name}/search</c>.</summary>
public sealed record SearchBody(string? Text, int? K, int? DeadlineMs, bool? IncludeStored);

/// <summary>Body of <c>POST /v1/indexes/{name}/ingest</c>.</summary>
public sealed record IngestBody(string? Corpus, string? Format, int? Shards, double? K1, double? B, int? Replicas);

/// <summary>A hit in an HTTP response.</summary>
public sealed record HitDto(string Id, float Score, string? Title, string? Snippet);

/// <summary>Response of a search.</summary>
public sealed record SearchResult(string Index, long Version, IReadOnlyList<HitDto> Hits, Coverage Coverage, double TookMs);

/// <summary>Response of <c>GET /v1/indexes</c>.</summary>
public sealed record IndexList(IReadOnlyList<string> Indexes);
