using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Shoal.Engine.Snapshots;

namespace Shoal.Grains.Jobs;

/// <summary>
/// Orleans grain storage over Shoal's <see cref="ISnapshotStore"/> (a local directory or a blob
/// container): each grain state is a JSON object at
/// <c>{prefix}/{stateName}/{grainType}/{grainKey}.json</c>, written atomically by the store. The
/// ETag is the XXH3-64 of the stored bytes; a write or clear whose ETag does not match what is
/// stored fails with <see cref="InconsistentStateException"/>, so a stale activation (one whose
/// silo was declared dead while it still ran) cannot overwrite the state of the live one.
/// </summary>
/// <remarks>
/// The compare and the write are one <see cref="ISnapshotStore.CompareAndSwapAsync"/>, which every
/// store makes atomic, also between processes (a conditional write on blob storage, a lock file
/// beside the object in a local directory).
/// </remarks>
public sealed class SnapshotGrainStorage : IGrainStorage
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private readonly ISnapshotStore _store;
    private readonly string _prefix;

    /// <summary>Storage in <paramref name="store"/> under <paramref name="prefix"/> (no trailing slash).</summary>
    public SnapshotGrainStorage(ISnapshotStore store, string prefix = "jobs/state")
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        _store = store;
        _prefix = prefix.TrimEnd('/');
    }

    /// <summary>The store key of a grain's state.</summary>
    public string KeyOf(string stateName, GrainId grainId) =>
        $"{_prefix}/{Escape(stateName)}/{Escape(grainId.Type.ToString()!)}/{Escape(grainId.Key.ToString()!)}.json";

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var bytes = await _store.GetBytesAsync(KeyOf(stateName, grainId)).ConfigureAwait(false);
        if (bytes is null)
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }
        grainState.State = JsonSerializer.Deserialize<T>(bytes, Json) ?? Activator.CreateInstance<T>();
        grainState.ETag = ETagOf(bytes);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string key = KeyOf(stateName, grainId);
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(grainState.State, Json);
        await SwapAsync(key, grainState.ETag, bytes).ConfigureAwait(false);
        grainState.ETag = ETagOf(bytes);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string key = KeyOf(stateName, grainId);
        await SwapAsync(key, grainState.ETag, null).ConfigureAwait(false);
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>Writes (or, with null, deletes) the state only while the stored ETag is <paramref name="expected"/>; otherwise <see cref="InconsistentStateException"/>.</summary>
    private async Task SwapAsync(string key, string? expected, byte[]? bytes)
    {
        string? stored = null;
        bool swapped = await _store.CompareAndSwapAsync(key, current =>
        {
            stored = current is null ? null : ETagOf(current);
            return string.Equals(stored, expected, StringComparison.Ordinal);
        }, bytes is null ? (ReadOnlyMemory<byte>?)null : bytes).ConfigureAwait(false); // a bare null would convert through byte[] to empty memory
        if (!swapped)
            throw new InconsistentStateException($"Grain state '{key}' in {_store.Description} changed under this activation (stored ETag {stored ?? "none"}, expected {expected ?? "none"}).", stored ?? "", expected ?? "");
    }

    /// <summary>The ETag of stored bytes: their XXH3-64 in hex.</summary>
    public static string ETagOf(ReadOnlySpan<byte> bytes) => XxHash3.HashToUInt64(bytes).ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Keeps a-z, 0-9, '.', '_' and '-' and escapes anything else as <c>%XX</c> (of its UTF-8 bytes).</summary>
    private static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            char c = (char)b;
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '_' or '-' && !(sb.Length == 0 && c == '.')) sb.Append(c);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
