using System.Text.Json.Serialization;

namespace Shoal.Client;

/// <summary>
/// System.Text.Json source generation for every type the SDK sends or receives: no reflection
/// at run time, so the SDK is safe to trim and to compile with native AOT. Web defaults (camelCase,
/// case-insensitive reading); nulls are not written.
/// </summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SearchQuery))]
[JsonSerializable(typeof(SearchResults))]
[JsonSerializable(typeof(IndexListResponse))]
[JsonSerializable(typeof(IndexDescription))]
[JsonSerializable(typeof(IngestOptions))]
[JsonSerializable(typeof(IngestProgress))]
[JsonSerializable(typeof(JobSubmission))]
[JsonSerializable(typeof(JobProgress))]
[JsonSerializable(typeof(JobListResponse))]
[JsonSerializable(typeof(UpdateBody))]
[JsonSerializable(typeof(UpdateOutcome))]
[JsonSerializable(typeof(ClusterDescription))]
[JsonSerializable(typeof(IndexVersionListResponse))]
[JsonSerializable(typeof(ShoalProblem))]
internal sealed partial class ShoalJsonContext : JsonSerializerContext
{
}
