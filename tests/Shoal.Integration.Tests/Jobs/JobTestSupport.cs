using System.Text;
using Orleans.TestingHost;
using Shoal.Grains.Hosting;
using Shoal.Grains.Jobs;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>A generated BEIR corpus with known contents: unique tokens, re-issued ids and malformed lines at known line numbers.</summary>
internal sealed class GeneratedCorpus
{
    private static readonly string[] Words =
    [
        "river", "stone", "market", "signal", "garden", "engine", "harbor", "lantern", "meadow", "copper",
        "orbit", "velvet", "canyon", "tiger", "violet", "summit", "glacier", "ember", "falcon", "maple",
        "quartz", "saddle", "thunder", "willow", "beacon", "cobalt", "dune", "fjord", "grove", "island",
    ];

    private GeneratedCorpus(string path, string cleanPath, long lines, long wellFormed, IReadOnlyList<long> malformed, IReadOnlyDictionary<string, string> finalUnique)
    {
        Path = path;
        CleanPath = cleanPath;
        Lines = lines;
        WellFormed = wellFormed;
        MalformedLines = malformed;
        FinalUnique = finalUnique;
    }

    /// <summary>The corpus (with malformed lines).</summary>
    public string Path { get; }

    /// <summary>The same corpus without its malformed lines (for a reference build by the classic ingest).</summary>
    public string CleanPath { get; }

    public long Lines { get; }

    public long WellFormed { get; }

    public IReadOnlyList<long> MalformedLines { get; }

    /// <summary>Document id → the unique token of its final (last) version.</summary>
    public IReadOnlyDictionary<string, string> FinalUnique { get; }

    /// <summary>
    /// Writes <paramref name="documents"/> documents; every <paramref name="reissueEvery"/>th line re-issues an
    /// earlier id with new text, every <paramref name="malformedEvery"/>th line is broken JSON.
    /// </summary>
    public static GeneratedCorpus Write(string directory, int documents, int reissueEvery = 997, int malformedEvery = 4999, bool gzip = false)
    {
        var rng = new Random(42);
        var final = new Dictionary<string, string>(StringComparer.Ordinal);
        var malformed = new List<long>();
        string path = System.IO.Path.Combine(directory, gzip ? "generated.jsonl.gz" : "generated.jsonl");
        string clean = System.IO.Path.Combine(directory, "generated-clean.jsonl");
        long line = 0, wellFormed = 0;
        using (var file = File.Create(path))
        using (Stream raw = gzip ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest) : file)
        using (var w = new StreamWriter(raw, new UTF8Encoding(false)))
        using (var c = new StreamWriter(clean, false, new UTF8Encoding(false)))
        {
            int next = 0;
            while (next < documents)
            {
                line++;
                if (line % malformedEvery == 0)
                {
                    w.Write("{\"_id\": \"broken-" + line + "\", \"text\": \n");
                    malformed.Add(line);
                    continue;
                }
                string id, unique;
                if (line % reissueEvery == 0 && next > 10)
                {
                    id = $"d{rng.Next(next)}";
                    unique = $"zqr{line}";
                }
                else
                {
                    id = $"d{next++}";
                    unique = $"zq{next - 1}";
                }
                var sb = new StringBuilder();
                int words = 8 + rng.Next(25);
                for (int i = 0; i < words; i++) sb.Append(Words[rng.Next(Words.Length)]).Append(' ');
                sb.Append(unique);
                string json = $$"""{"_id": "{{id}}", "title": "Title {{id}}", "text": "{{sb}}"}""";
                w.Write(json);
                w.Write('\n');
                c.Write(json);
                c.Write('\n');
                final[id] = unique;
                wellFormed++;
            }
        }
        return new GeneratedCorpus(path, clean, line, wellFormed, malformed, final);
    }
}

internal static class JobWaits
{
    /// <summary>Polls a job until <paramref name="until"/> holds (calls that fail while a silo dies are retried).</summary>
    public static async Task<IndexJobStatus> PollAsync(InProcessTestCluster cluster, string id, Func<IndexJobStatus, bool> until, TimeSpan timeout, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        IndexJobStatus? last = null;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await cluster.Client.GetGrain<IIndexJobGrain>(id).GetStatusAsync();
                if (last is not null && until(last)) return last;
            }
            catch (Exception e)
            {
                lastError = e;
            }
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(50));
        }
        throw new TimeoutException($"Job {id}: condition not reached in {timeout}; last status {last}; last error {lastError?.Message}");
    }

    public static Task<IndexJobStatus> FinishedAsync(InProcessTestCluster cluster, string id, TimeSpan? timeout = null) =>
        PollAsync(cluster, id, s => s.IsFinished, timeout ?? TimeSpan.FromMinutes(3), TimeSpan.FromMilliseconds(100));
}

/// <summary>An in-process cluster of <c>silos</c> silos sharing a snapshot directory, with indexing jobs.</summary>
public class JobCluster : IAsyncLifetime
{
    private readonly int _silos;

    public JobCluster() : this(2)
    {
    }

    protected JobCluster(int silos) => _silos = silos;

    public string Data { get; } = Directory.CreateTempSubdirectory("shoal-jobs-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public string Snapshots => Path.Combine(Data, "snapshots");

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder((short)_silos);
        string data = Data;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
            });
            silo.AddShoalJobs(o => o.SupervisorInterval = TimeSpan.FromSeconds(1));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        try { Directory.Delete(Data, recursive: true); }
        catch (IOException) { }
    }
}
