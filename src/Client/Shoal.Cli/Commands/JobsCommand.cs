using System.CommandLine;
using System.Globalization;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary>
/// <c>shoal jobs</c>: indexing jobs on a running gateway. <c>list</c>, <c>show ID [--follow]</c>,
/// <c>cancel ID</c>, and <c>submit --index NAME [--source PATH] [--sparse-vectors PATH [--vocab PATH]]
/// [--dense-vectors PATH [--dense-metric M] [--dense-storage S] [--dense-index I]]
/// [--sparse-encoder NAME] [--dense-encoder NAME] [--no-bm25]</c> (follows the
/// job with a live progress line unless <c>--no-wait</c>).
/// </summary>
internal static class JobsCommand
{
    public static Command Create()
    {
        var command = new Command("jobs", "Indexing jobs: submit, list, show, cancel.");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Cancel());
        command.Subcommands.Add(Submit());
        return command;
    }

    private static Command List()
    {
        var url = CommonOptions.Url();
        var limit = new Option<int>("--limit") { Description = "Most recent jobs to list.", DefaultValueFactory = _ => 20 };
        var command = new Command("list", "List the most recent jobs.") { url, limit };
        command.SetAction(async (parse, ct) => await RunAsync(parse, url, async client =>
        {
            var jobs = await client.ListJobsAsync(parse.GetValue(limit), ct);
            Console.WriteLine($"{"ID",-34} {"INDEX",-16} {"STATE",-10} {"PHASE",-11} {"DOCS",12} {"MALFORMED",9}");
            foreach (var j in jobs)
                Console.WriteLine($"{j.Id,-34} {j.Request?.Index,-16} {j.State,-10} {j.Phase,-11} {Progress(j).Documents,12:N0} {j.Malformed,9:N0}");
            return 0;
        }));
        return command;
    }

    private static Command Show()
    {
        var url = CommonOptions.Url();
        var id = new Argument<string>("id") { Description = "Job id." };
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow the job with a live progress line until it ends." };
        var command = new Command("show", "Show a job's progress.") { url, id, follow };
        command.SetAction(async (parse, ct) => await RunAsync(parse, url, async client =>
        {
            string jobId = parse.GetValue(id)!;
            var job = await client.GetJobAsync(jobId, ct);
            if (job is null) return CommonOptions.Fail($"job '{jobId}' does not exist.");
            if (parse.GetValue(follow)) job = await FollowAsync(client, jobId, ct);
            Print(job);
            return job.State is "failed" ? 1 : 0;
        }));
        return command;
    }

    private static Command Cancel()
    {
        var url = CommonOptions.Url();
        var id = new Argument<string>("id") { Description = "Job id." };
        var command = new Command("cancel", "Stop a job at its next chunk boundary.") { url, id };
        command.SetAction(async (parse, ct) => await RunAsync(parse, url, async client =>
        {
            string jobId = parse.GetValue(id)!;
            var job = await client.CancelJobAsync(jobId, ct);
            if (job is null) return CommonOptions.Fail($"job '{jobId}' does not exist.");
            Console.WriteLine(job.IsFinished ? $"job {jobId} is {job.State}" : $"job {jobId}: cancellation requested");
            return 0;
        }));
        return command;
    }

    private static Command Submit()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var source = new Option<string?>("--source", "-s") { Description = "Text corpus path as the silos see it, or store:KEY (plain or gzip)." };
        var format = new Option<string?>("--format") { Description = "beir, tsv or msmarco-v2 (default: from the file name)." };
        var shards = new Option<int>("--shards") { Description = "Number of shards.", DefaultValueFactory = _ => 1 };
        var replicas = new Option<int?>("--replicas") { Description = "Copies of each shard." };
        var onMalformed = new Option<string?>("--on-malformed") { Description = "skip (default: count and report malformed lines) or stop (fail at the first)." };
        var chunkLines = new Option<int?>("--chunk-lines") { Description = "Lines (SHOALVEC: records) per chunk, the checkpoint interval." };
        var sparseVectors = new Option<string?>("--sparse-vectors") { Description = "Learned-sparse vectors, Anserini JSON vector lines {\"id\",\"contents\",\"vector\":{token: weight}}: a path or store:KEY." };
        var vocab = new Option<string?>("--vocab") { Description = "Vocabulary (vocab.txt) of the sparse vectors, a path or store:KEY (default: the cluster's, bert-base-uncased)." };
        var denseVectors = new Option<string?>("--dense-vectors") { Description = "Dense vectors, jsonl {\"id\",\"vector\":[...]} or SHOALVEC binary: a path or store:KEY." };
        var denseDims = new Option<int?>("--dense-dims") { Description = "Dense dimensions (default: from the first vector)." };
        var denseMetric = new Option<string?>("--dense-metric") { Description = "dot (default) or cosine." };
        var denseStorage = new Option<string?>("--dense-storage") { Description = "fp32 (default), fp16 or int8." };
        var denseIndex = new Option<string?>("--dense-index") { Description = "hnsw (default) or flat." };
        var sparseEncoder = new Option<string?>("--sparse-encoder") { Description = "Encoder (by name) that encodes the --source documents into the sparse channel, instead of --sparse-vectors." };
        var denseEncoder = new Option<string?>("--dense-encoder") { Description = "Encoder (by name, e.g. a configured arctic-xs) that encodes the --source documents into the dense channel, instead of --dense-vectors." };
        var noBm25 = new Option<bool>("--no-bm25") { Description = "Do not build the bm25 channel: the --source text feeds the encoders only (the sparse channel then stores the text)." };
        var id = new Option<string?>("--id") { Description = "Job id (default: a new one)." };
        var noWait = new Option<bool>("--no-wait") { Description = "Print the job id and return without following it." };
        var strict = new Option<bool>("--strict-placement") { Description = "Refuse the job when the replicas cannot be placed on distinct silos (otherwise a warning)." };
        var command = new Command("submit", "Submit an indexing job (a corpus and/or vector files) and follow it with a live progress line.")
        {
            url, index, source, format, shards, replicas, onMalformed, chunkLines,
            sparseVectors, vocab, denseVectors, denseDims, denseMetric, denseStorage, denseIndex, sparseEncoder, denseEncoder, noBm25, id, noWait, strict,
        };
        command.SetAction(async (parse, ct) =>
        {
            JobSubmission submission;
            try
            {
                submission = Submission(parse);
            }
            catch (FormatException e)
            {
                return CommonOptions.Fail(e.Message, 2);
            }
            return await RunAsync(parse, url, async client =>
            {
                var job = await client.SubmitJobAsync(submission, ct);
                Console.WriteLine(job.Id);
                if (parse.GetValue(noWait))
                    foreach (var w in job.Warnings) Console.Error.WriteLine($"warning: {w}");
                if (parse.GetValue(noWait)) return 0;
                job = await FollowAsync(client, job.Id, ct);
                Print(job);
                return job.State == "succeeded" ? 0 : 1;
            });
        });
        return command;
    }

    /// <summary>
    /// The job a parsed <c>jobs submit</c> command line asks for: local paths made absolute
    /// (<c>store:</c> keys kept as they are).
    /// </summary>
    /// <exception cref="FormatException">No source is given.</exception>
    internal static JobSubmission Submission(ParseResult parse)
    {
        static string? Full(string? path) =>
            path is null || path.StartsWith("store:", StringComparison.Ordinal) ? path : Path.GetFullPath(path);
        string? source = Full(parse.GetValue<string?>("--source"));
        string? sparse = Full(parse.GetValue<string?>("--sparse-vectors"));
        string? dense = Full(parse.GetValue<string?>("--dense-vectors"));
        if (source is null && sparse is null && dense is null) throw new FormatException("give --source, --sparse-vectors or --dense-vectors.");
        return new JobSubmission(parse.GetValue<string>("--index")!, source, parse.GetValue<string?>("--format"), parse.GetValue<int>("--shards"))
        {
            Replicas = parse.GetValue<int?>("--replicas"),
            StrictPlacement = parse.GetValue<bool>("--strict-placement") ? true : null,
            OnMalformed = parse.GetValue<string?>("--on-malformed"),
            ChunkLines = parse.GetValue<int?>("--chunk-lines"),
            Id = parse.GetValue<string?>("--id"),
            SparseVectors = sparse,
            SparseVocabulary = Full(parse.GetValue<string?>("--vocab")),
            DenseVectors = dense,
            DenseDims = parse.GetValue<int?>("--dense-dims"),
            DenseMetric = parse.GetValue<string?>("--dense-metric"),
            DenseStorage = parse.GetValue<string?>("--dense-storage"),
            DenseIndex = parse.GetValue<string?>("--dense-index"),
            SparseEncoder = parse.GetValue<string?>("--sparse-encoder"),
            DenseEncoder = parse.GetValue<string?>("--dense-encoder"),
            Bm25 = parse.GetValue<bool>("--no-bm25") ? false : null,
        };
    }

    private static async Task<JobProgress> FollowAsync(ShoalClient client, string id, CancellationToken ct)
    {
        var line = new LiveLine();
        bool warned = false;
        var done = await client.WaitForJobAsync(id, new InlineProgress<JobProgress>(p =>
        {
            if (!warned && p.Warnings.Count > 0)
            {
                warned = true;
                foreach (var w in p.Warnings) Console.Error.WriteLine($"warning: {w}");
            }
            line.Update(ProgressLine(p), Progress(p).Phase);
        }), TimeSpan.FromMilliseconds(250), ct);
        line.Complete(ProgressLine(done));
        return done;
    }

    /// <summary>
    /// What a job is doing and how many documents that has reached, as an ingest's status reports it
    /// (<c>IngestJobs.StatusOf</c> on the gateway): while reading, the source being read ("reading
    /// text", "reading and encoding text" or "encoding text" when the job encodes it, "reading sparse
    /// vectors", "reading dense vectors") with its own count, which moves while a chunk is encoded;
    /// then the job's phase with the documents indexed, or the largest count of any source. Never the
    /// records summed over sources (a job with text and vectors for 40 documents counts 40, not 80).
    /// </summary>
    internal static (string Phase, long Documents) Progress(JobProgress p)
    {
        ArgumentNullException.ThrowIfNull(p);
        var reading = p.Phase == "reading" ? p.Sources.FirstOrDefault(x => !x.Done) : null;
        bool encoding = p.Request is { SparseEncoder: not null } or { DenseEncoder: not null };
        string phase = reading?.Kind switch
        {
            "text" when encoding => p.Request!.Bm25 == false ? "encoding text" : "reading and encoding text",
            "text" => "reading text",
            "sparse" => "reading sparse vectors",
            "dense" => "reading dense vectors",
            _ => p.Phase,
        };
        long documents = reading is not null ? reading.DocumentsRead
            : p.State == "succeeded" || p.DocumentsIndexed > 0 ? p.DocumentsIndexed
            : p.Sources.Count == 0 ? p.DocumentsRead : p.Sources.Max(x => x.DocumentsRead);
        return (phase, documents);
    }

    /// <summary>One line: a bar of the source read, phase, documents, rate, malformed lines and ETA.</summary>
    internal static string ProgressLine(JobProgress p)
    {
        const int Width = 24;
        double fraction = p.IsFinished && p.State == "succeeded" ? 1 : p.FractionRead;
        int filled = (int)Math.Round(fraction * Width);
        string eta = p.EtaSeconds is { } s && !p.IsFinished ? $" eta {TimeSpan.FromSeconds(Math.Ceiling(s)):hh\\:mm\\:ss}" : "";
        var (phase, documents) = Progress(p);
        if (p.Phase == "building") phase = p.Request is { Shards: > 0 } r ? $"building {p.ShardsBuilt}/{r.Shards} shards" : $"building {p.ShardsBuilt} shards";
        return string.Create(CultureInfo.InvariantCulture,
            $"[{new string('#', filled)}{new string('.', Width - filled)}] {fraction,4:P0} {phase,-25} {documents,12:N0} documents {p.DocsPerSecond,8:N0} docs/s {p.Malformed:N0} malformed{eta}   ");
    }

    private static void Print(JobProgress j)
    {
        Console.WriteLine($"job        {j.Id}");
        Console.WriteLine($"index      {j.Request?.Index} (version {j.Version?.ToString(CultureInfo.InvariantCulture) ?? "-"})");
        if (!string.IsNullOrEmpty(j.Request?.Source)) Console.WriteLine($"source     {j.Request.Source}");
        if (j.Request?.SparseVectors is { } sv) Console.WriteLine($"sparse     {sv}");
        if (j.Request?.DenseVectors is { } dv) Console.WriteLine($"dense      {dv}");
        Console.WriteLine($"state      {j.State} ({j.Phase}){(j.CancelRequested ? ", cancel requested" : "")}");
        Console.WriteLine($"lines      {j.LinesRead:N0} in {j.Chunks:N0} chunks, {j.BytesRead:N0} of {j.TotalBytes:N0} bytes");
        Console.WriteLine($"documents  {(j.Sources.Count == 0 ? j.DocumentsRead : j.Sources.Max(x => x.DocumentsRead)):N0} read, {j.DocumentsIndexed:N0} indexed, {j.DocsPerSecond:N0} docs/s");
        Console.WriteLine($"malformed  {j.Malformed:N0}");
        foreach (var m in j.MalformedLines.Take(20)) Console.WriteLine($"  {(m.Source is null or "text" ? "" : m.Source + " ")}line {m.Line}: {m.Reason}");
        if (j.Sources.Count > 1)
            foreach (var x in j.Sources)
                Console.WriteLine($"  {x.Kind,-6} {x.Format,-10} {x.LinesRead:N0} lines, {x.DocumentsRead:N0} records, {x.Malformed:N0} malformed{(x.Done ? ", done" : "")}");
        Console.WriteLine($"silo       {j.Silo} (attempt {j.Attempts})");
        if (j.Error is not null) Console.WriteLine($"error      {j.Error}");
    }

    private static async Task<int> RunAsync(ParseResult parse, Option<string> url, Func<ShoalClient, Task<int>> action)
    {
        using var client = parse.CreateClient(url);
        try
        {
            return await action(client);
        }
        catch (ShoalApiException e) { return CommonOptions.Fail(e.Message); }
        catch (HttpRequestException e) { return CommonOptions.Fail($"cannot reach {parse.GetUrl(url)}: {e.Message}"); }
        catch (TimeoutException e) { return CommonOptions.Fail(e.Message); }
    }
}
