using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Jobs;

/// <summary>The checks of a submitted job: its settings (by <see cref="IndexSpecification"/>) and its sources, which must exist.</summary>
internal static class JobRequestChecks
{
    /// <summary>Checks a request; returns the text format (null without a text source) and the sources to read, in order.</summary>
    public static async Task<(CorpusFormat? Format, List<JobSource> Sources)> ValidateAsync(IndexJobRequest r, JobFiles files, int maxShards)
    {
        if (SnapshotCatalog.ValidateIndexName(r.Index) is { } nameError) throw new ArgumentException(nameError);
        bool text = !string.IsNullOrWhiteSpace(r.Source);
        if (!text && r.SparseVectors is null && r.DenseVectors is null)
            throw new ArgumentException("'source' is required: a corpus path readable by the silos, or store:<key> of an object in the snapshot store (or give sparseVectors and/or denseVectors).");
        if (!text && r.Source is { Length: > 0 }) throw new ArgumentException("'source' is blank: give a corpus path or store:<key>, or leave it out for a job of vector sources only.");
        var spec = r.Specification().Validate(maxShards);
        if (r.OnMalformed is not ("skip" or "stop")) throw new ArgumentException($"onMalformed must be 'skip' or 'stop' (got '{r.OnMalformed}').");
        if (r.ChunkLines < 0 || r.ChunkLines > 10_000_000) throw new ArgumentException($"chunkLines must be between 1 and 10000000, or 0 for the default (got {r.ChunkLines}).");

        var sources = new List<JobSource>(3);
        CorpusFormat? format = null;
        if (text)
        {
            var (local, bytes) = await files.ResolveAsync(r.Source, "Source");
            if (local is null && r.Format is null)
            {
                string key = r.Source[JobFiles.StorePrefix.Length..];
                string ext = Path.GetExtension(key.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? key[..^3] : key).ToLowerInvariant();
                format = ext switch
                {
                    ".tsv" or ".txt" => CorpusFormat.Tsv,
                    ".jsonl" or ".json" => CorpusFormat.BeirJsonl,
                    _ => throw new ArgumentException($"Cannot detect the format of '{key}' from its name: give 'format' ({string.Join(", ", CorpusFormats.Names)})."),
                };
            }
            else format = r.Format is null ? CorpusFormats.Detect(local!) : CorpusFormats.Parse(r.Format);
            sources.Add(new JobSource { Kind = IndexJobSources.Text, Source = r.Source, Format = CorpusFormats.Name(format.Value), TotalBytes = bytes });
        }
        if (r.SparseVectors is not null)
        {
            var (_, bytes) = await files.ResolveAsync(r.SparseVectors, "Sparse vectors");
            sources.Add(new JobSource { Kind = IndexJobSources.Sparse, Source = r.SparseVectors, Format = "anserini", TotalBytes = bytes });
        }
        if (r.DenseVectors is not null)
        {
            var (local, bytes) = await files.ResolveAsync(r.DenseVectors, "Dense vectors");
            string denseFormat = "";
            if (local is not null)
            {
                try
                {
                    denseFormat = DenseChunkReader.IsBinary(local, out _) ? "shoalvec" : "jsonl";
                }
                catch (DenseVectorException e)
                {
                    throw new ArgumentException(e.Message, e);
                }
            }
            sources.Add(new JobSource { Kind = IndexJobSources.Dense, Source = r.DenseVectors, Format = denseFormat, TotalBytes = bytes });
        }
        if (!spec.Sparse) spec.Plan(null, r.DenseDims ?? 1).Validate();
        return (format, sources);
    }
}
