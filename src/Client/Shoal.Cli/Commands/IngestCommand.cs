using System.CommandLine;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary>
/// <c>shoal ingest --index NAME [--corpus PATH] [--sparse-vectors PATH] [--dense-vectors PATH]</c>:
/// builds a new index version on a running gateway and follows it.
/// </summary>
internal static class IngestCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var corpus = new Option<string?>("--corpus") { Description = "Text corpus (bm25 channel, stored fields) as the silos see it." };
        var format = new Option<string?>("--format") { Description = "beir, tsv or msmarco-v2 (default: from the file name)." };
        var shards = new Option<int>("--shards") { Description = "Number of shards.", DefaultValueFactory = _ => 1 };
        var replicas = new Option<int>("--replicas") { Description = "Copies of each shard, served from different silos.", DefaultValueFactory = _ => 1 };
        var noBm25 = new Option<bool>("--no-bm25") { Description = "Do not build the bm25 channel from the corpus (use it only for stored fields or encoders)." };
        var sparseVectors = new Option<string?>("--sparse-vectors") { Description = "Learned-sparse vectors, Anserini JSON vector lines {\"id\",\"contents\",\"vector\":{token: weight}}." };
        var vocab = new Option<string?>("--vocab") { Description = "Vocabulary (vocab.txt) of the sparse channel (default: the cluster's, bert-base-uncased)." };
        var sparseEncoder = new Option<string?>("--sparse-encoder") { Description = "Encoder that makes sparse vectors from text." };
        var denseVectors = new Option<string?>("--dense-vectors") { Description = "Dense vectors: jsonl {\"id\",\"vector\":[...]} or SHOALVEC binary." };
        var denseMetric = new Option<string?>("--dense-metric") { Description = "dot (default) or cosine." };
        var denseStorage = new Option<string?>("--dense-storage") { Description = "fp32 (default), fp16 or int8." };
        var denseIndex = new Option<string?>("--dense-index") { Description = "hnsw (default) or flat." };
        var denseEncoder = new Option<string?>("--dense-encoder") { Description = "Encoder that makes dense vectors from text." };
        var strict = new Option<bool>("--strict-placement") { Description = "Refuse the build when the replicas cannot be placed on distinct silos (otherwise a warning)." };
        var command = new Command("ingest", "Build a new version of an index from a corpus and/or vector files.")
        {
            url, index, corpus, format, shards, replicas, noBm25, sparseVectors, vocab, sparseEncoder, denseVectors, denseMetric, denseStorage, denseIndex, denseEncoder, strict,
        };
        command.SetAction(async (parse, ct) =>
        {
            static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);
            if (parse.GetValue(corpus) is null && parse.GetValue(sparseVectors) is null && parse.GetValue(denseVectors) is null)
                return CommonOptions.Fail("give --corpus, --sparse-vectors or --dense-vectors.", 2);
            var options = new IngestOptions(Full(parse.GetValue(corpus)), parse.GetValue(format), parse.GetValue(shards), Replicas: parse.GetValue(replicas))
            {
                Bm25 = parse.GetValue(noBm25) ? false : null,
                SparseVectors = Full(parse.GetValue(sparseVectors)),
                SparseVocabulary = Full(parse.GetValue(vocab)),
                SparseEncoder = parse.GetValue(sparseEncoder),
                DenseVectors = Full(parse.GetValue(denseVectors)),
                DenseMetric = parse.GetValue(denseMetric),
                DenseStorage = parse.GetValue(denseStorage),
                DenseIndex = parse.GetValue(denseIndex),
                DenseEncoder = parse.GetValue(denseEncoder),
                StrictPlacement = parse.GetValue(strict) ? true : null,
            };
            using var client = parse.CreateClient(url);
            string name = parse.GetValue(index)!;
            try
            {
                var started = await client.StartIngestAsync(name, options, ct);
                foreach (var warning in started.Warnings) Console.Error.WriteLine($"warning: {warning}");
                var line = new LiveLine();
                IngestProgress? last = null;
                try
                {
                    var done = await client.WaitForIngestAsync(name, new InlineProgress<IngestProgress>(p =>
                    {
                        last = p;
                        line.Update(IngestLine(p), p.Phase);
                    }), cancellationToken: ct);
                    line.Complete(IngestLine(done));
                    if (done.State != "succeeded") return CommonOptions.Fail($"build of index '{name}' {done.State}: {done.Error}");
                    Console.WriteLine($"index {name} version {done.Version} published");
                    return 0;
                }
                finally
                {
                    if (last is { IsFinished: false }) line.Complete(IngestLine(last));
                }
            }
            catch (ShoalApiException e) { return CommonOptions.Fail(e.Message); }
            catch (InvalidOperationException e) { return CommonOptions.Fail(e.Message); }
            catch (HttpRequestException e) { return CommonOptions.Fail($"cannot reach {parse.GetUrl(url)}: {e.Message}"); }
            catch (TimeoutException e) { return CommonOptions.Fail(e.Message); }
        });
        return command;
    }

    /// <summary>One line of build progress: phase, documents of that phase, time since the start.</summary>
    internal static string IngestLine(IngestProgress p)
    {
        var elapsed = (p.FinishedUtc ?? DateTimeOffset.UtcNow) - (p.StartedUtc ?? DateTimeOffset.UtcNow);
        string phase = p.State == "succeeded" ? "done" : p.Phase ?? p.State;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{phase,-22} {p.DocumentsRead,12:N0} documents  {(elapsed < TimeSpan.Zero ? TimeSpan.Zero : elapsed):hh\\:mm\\:ss}");
    }
}
