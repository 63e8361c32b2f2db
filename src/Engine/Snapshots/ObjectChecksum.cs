using System.Globalization;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// The size and XXH3-64 checksum of an object's bytes, as computed while they were read,
/// sent or received (the same hash a <see cref="SegmentManifest"/> records as hex).
/// </summary>
/// <param name="Bytes">Length in bytes.</param>
/// <param name="Xxh3">XXH3-64 (seed 0) of the content.</param>
public readonly record struct ObjectChecksum(long Bytes, ulong Xxh3)
{
    /// <summary>The checksum as 16 lowercase hex digits, as manifests store it.</summary>
    public string Xxh3Hex => Xxh3.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>What a manifest entry promises; an unparsable checksum is an <see cref="InvalidDataException"/> naming the key.</summary>
    public static ObjectChecksum FromManifest(SegmentManifest segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (segment.Bytes < 0 || !ulong.TryParse(segment.Xxh3, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hash))
            throw new InvalidDataException($"Manifest entry for '{segment.Key}' is invalid: {segment.Bytes} bytes, xxh3 '{segment.Xxh3}' (expected 16 hex digits).");
        return new ObjectChecksum(segment.Bytes, hash);
    }

    /// <inheritdoc />
    public override string ToString() => $"xxh3 {Xxh3Hex} over {Bytes} bytes";
}
