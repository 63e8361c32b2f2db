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

    /// <summary>Replicas per shard of the start-up index.</summary>
    public int Replicas { get; set; } = 1;

    /// <summary>
    /// Embedded default: the dense encoder whose channel the start-up index gets in the background
    /// (hybrid search once it is built): an encoder configured under Shoal:Encoders, or a built-in
    /// model (default "arctic-xs"). See <see cref="EmbeddedEncoders"/>.
    /// </summary>
    public string DenseEncoder { get; set; } = "arctic-xs";

    /// <summary>Embedded default: start without encoders (BM25 only).</summary>
    public bool Bm25Only { get; set; }

    /// <summary>Where built-in models are extracted; default $SHOAL_MODELS_DIR or ~/.local/share/shoal/models.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>
    /// "embedded" (default): co-host a silo in this process. "client": connect to a cluster of
    /// silo processes (Redis membership via --Redis host:port) and serve only HTTP.
    /// Cluster settings (Redis, SiloPort, GatewayPort, ClusterId) are read by ClusterSettings.
    /// </summary>
    public string Mode { get; set; } = "embedded";
}
