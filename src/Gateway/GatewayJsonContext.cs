using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shoal.Gateway;

/// <summary>
/// Source-generated JSON for the answer every search writes: the generated writer serialises a
/// <see cref="SearchResult"/> straight into the response, without the reflection-based metadata
/// of <see cref="ShoalApi.Json"/>. Same shape as those options write (web defaults: camelCase
/// names, nulls written); a test compares the two.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SearchResult))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
