namespace Shoal.Gateway;

/// <summary>Settings of the gateway process (command line: --Name value, or SHOAL_ environment variables).</summary>
public sealed class GatewayOptions
{
    /// <summary>Root for snapshots, caches and build scratch (embedded mode).</summary>
    public string DataDirectory { get; set; } = ".shoal";

    /// <summary>Index built at start-up when it has no published version; empty disables it.</summary>
    public string? Index { get; set; }

    /// <summary>Corpus for that index; by default ../shared/data/scifact when present, else the bundled sample.</summary>
    public string? Corpus { get; set; }

    /// <summary>Corpus format ("beir", "tsv", "msmarco-v2"); detected from the file name when empty.</summary>
    public string? Format { get; set; }

    /// <summary>Shards of the start-up index.</summary>
    public int Shards { get; set; } = 4;

    /// <summary>Orleans silo-to-silo port (0 picks a free one).</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans client gateway port (0 picks a free one).</summary>
    public int OrleansGatewayPort { get; set; } = 30000;
}
