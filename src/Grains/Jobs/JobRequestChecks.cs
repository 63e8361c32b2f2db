using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Query;

namespace Shoal.Grains.Jobs;

/// <summary>A checked job request: the text format, the sources in reading order, and what its encoders give.</summary>
/// <param name="Format">The text source's format; null without one.</param>
/// <param name="Sources">The sources to read, in order.</param>
/// <param name="DenseDims">The dense encoder's dimensions; null without one.</param>
/// <param name="SparseVocabulary">The sparse encoder's vocabulary size; null without one.</param>
internal sealed record JobRequestCheck(CorpusFormat? Format, List<JobSource> Sources, int? DenseDims, int? SparseVocabulary);

/// <summary>The checks of a submitted job: its settings (by <see cref="IndexSpecification"/>) and its sources, which must exist.</summary>
internal static class JobRequestChecks
{
    /// <summary>
    /// Checks a request; returns the text format (null without a text source), the sources to read,
    /// in order, and what its encoders give: the dense encoder's dimensions and the sparse encoder's
    /// vocabulary size (null without one).
    /// </summary>
    public static async Task<JobRequestCheck> ValidateAsync(IndexJobRequest r, JobFiles files, int maxShards, ITextEncoderClient encoders)
    {
        if (SnapshotCatalog.ValidateIndexName(r.Index) is { } nameError) throw new ArgumentException(nameError);
        bool text = !string.IsNullOrWhiteSpace(r.Source);
        if (!text && r.SparseVectors is null && r.DenseVectors is null)
            throw new ArgumentException("'source' is required: a corpus path readable by the silos, or store:<key> of an object in the snapshot store (or give sparseVectors and/or denseVectors).");
        if (!text && r.Source is { Length: > 0 }) throw new ArgumentException("'source' is blank: give a corpus path or store:<key>, or leave it out for a job of vector sources only.");
        if (r.Bm25 == true && !text) throw new ArgumentException("The bm25 channel needs a text corpus: give 'source'.");
        var spec = r.Specification().Validate(maxShards);
        if (!spec.Text && !spec.Sparse && !spec.Dense)
            throw new ArgumentException("Nothing to index: with bm25 off, the text source needs a sparseEncoder or denseEncoder (or give vector sources).");
        if (r.OnMalformed is not ("skip" or "stop")) throw new ArgumentException($"onMalformed must be 'skip' or 'stop' (got '{r.OnMalformed}').");
        if (r.ChunkLines < 0 || r.ChunkLines > 10_000_000) throw new ArgumentException($"chunkLines must be between 1 and 10000000, or 0 for the default (got {r.ChunkLines}).");
        var (sparseVocabulary, denseDims) = await CheckEncodersAsync(r, text, encoders);

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
        if (!spec.Sparse) spec.Plan(null, denseDims ?? r.DenseDims ?? 1).Validate();
        return new JobRequestCheck(format, sources, denseDims, sparseVocabulary);
    }

    /// <summary>Checks the encoders a request names (each needs a text source, exists and is of its channel's kind); returns the sparse encoder's vocabulary size and the dense encoder's dimensions.</summary>
    private static async Task<(int? SparseVocabulary, int? DenseDims)> CheckEncodersAsync(IndexJobRequest r, bool text, ITextEncoderClient encoders)
    {
        int? sparse = null, dense = null;
        foreach (var (name, kind, vectors) in new[] { (r.SparseEncoder, "sparse", r.SparseVectors), (r.DenseEncoder, "dense", r.DenseVectors) })
        {
            if (name is null) continue;
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"{kind}Encoder is blank: name an encoder, or leave it out.");
            if (vectors is not null) throw new ArgumentException($"Give {kind}Vectors or {kind}Encoder, not both: the {kind} channel is either read or encoded.");
            if (!text) throw new ArgumentException($"Encoder '{name}' needs a text source to encode: give 'source'.");
            var described = await ChannelEncoders.DescribeAsync(encoders, name, kind);
            if (kind == "sparse") sparse = described.Dims;
            else
            {
                ChannelEncoders.CheckDims(described, r.DenseDims);
                dense = described.Dims;
            }
        }
        return (sparse, dense);
    }
}
