using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Orleans.Runtime;
using Shoal.Encoders;

namespace Shoal.Grains.Encoders;

/// <summary>
/// Names shared by the encoder-pool pieces: the silo roles, the silo-metadata keys that publish them,
/// and the key format of <see cref="IEncoderPoolGrain"/> activations.
/// </summary>
public static partial class EncoderRoles
{
    /// <summary>
    /// The role of every Shoal silo: it hosts shard replicas (shard placement does not filter silos
    /// by role, so an encoder silo holds shards too). Always published first in <see cref="RolesMetadataKey"/>.
    /// </summary>
    public const string DataRole = "data";

    /// <summary>The role a silo holds when it hosts encoder pools.</summary>
    public const string EncoderRole = "encoder";

    /// <summary>
    /// Silo-metadata key: the silo's roles, comma-separated (<c>"data"</c>, or e.g. <c>"data,encoder"</c>
    /// on a silo that hosts encoders; see <see cref="EncoderPoolsOptions.EffectiveRoles"/>). Every silo that called <c>AddShoalEncoderPools</c> publishes it, so its presence also tells
    /// that a silo's metadata has reached the local cache.
    /// </summary>
    public const string RolesMetadataKey = "shoal.roles";

    /// <summary>
    /// Silo-metadata key: the encoders the silo hosts, <c>name:Kind</c> comma-separated
    /// (e.g. <c>"minilm:Dense,splade:Sparse"</c>); empty when it hosts none.
    /// </summary>
    public const string EncodersMetadataKey = "shoal.encoders";

    /// <summary>Longest encoder name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>
    /// Whether <paramref name="name"/> is a valid encoder name: 1 to <see cref="MaxNameLength"/>
    /// characters from <c>A-Z a-z 0-9 . _ -</c> (it is part of grain keys and metadata values).
    /// </summary>
    public static bool IsValidName([NotNullWhen(true)] string? name) =>
        name is { Length: > 0 and <= MaxNameLength } && NamePattern().IsMatch(name);

    /// <summary>The key of the pool grain of <paramref name="encoder"/> on <paramref name="silo"/>: <c>"{encoder}@{silo}"</c>.</summary>
    public static string PoolKey(string encoder, SiloAddress silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!IsValidName(encoder)) throw new ArgumentException($"'{encoder}' is not a valid encoder name.", nameof(encoder));
        return encoder + "@" + silo.ToParsableString();
    }

    /// <summary>Splits a pool grain key made by <see cref="PoolKey"/>.</summary>
    public static bool TryParsePoolKey(string? key, [NotNullWhen(true)] out string? encoder, [NotNullWhen(true)] out SiloAddress? silo)
    {
        encoder = null;
        silo = null;
        if (key is null) return false;
        int at = key.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == key.Length - 1) return false;
        string name = key[..at];
        if (!IsValidName(name)) return false;
        try
        {
            silo = SiloAddress.FromParsableString(key[(at + 1)..]);
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
        encoder = name;
        return true;
    }

    /// <summary>Formats the <see cref="EncodersMetadataKey"/> value.</summary>
    public static string FormatEncoders(IEnumerable<KeyValuePair<string, EncoderKind>> encoders) =>
        string.Join(",", encoders.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Key + ":" + e.Value));

    /// <summary>Parses the <see cref="EncodersMetadataKey"/> value (entries that do not parse are skipped).</summary>
    public static IReadOnlyList<(string Name, EncoderKind Kind)> ParseEncoders(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return [];
        var result = new List<(string, EncoderKind)>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = part.LastIndexOf(':');
            if (colon <= 0) continue;
            string name = part[..colon];
            if (IsValidName(name) && Enum.TryParse<EncoderKind>(part[(colon + 1)..], ignoreCase: true, out var kind)) result.Add((name, kind));
        }
        return result;
    }

    /// <summary>Parses the <see cref="RolesMetadataKey"/> value.</summary>
    public static IReadOnlyList<string> ParseRoles(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [GeneratedRegex("^[A-Za-z0-9._-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
