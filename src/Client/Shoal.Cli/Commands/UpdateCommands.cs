using System.CommandLine;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary>
/// Online updates of a live index on a running gateway: <c>shoal upsert --index NAME --file docs.jsonl
/// [--batch N]</c>, <c>shoal delete --index NAME [ID...] [--file ids.txt]</c> and <c>shoal merge
/// --index NAME [--wait]</c>. Updates are durable and searchable when the command returns.
/// </summary>
internal static class UpdateCommands
{
    /// <summary>Malformed lines listed before <c>upsert</c> gives up (all are counted).</summary>
    private const int MalformedShown = 20;

    /// <summary><c>shoal upsert</c>: inserts or replaces the documents of a jsonl file.</summary>
    public static Command Upsert()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var file = new Option<string>("--file", "-f")
        {
            Description = "Documents, one JSON object a line (plain or .gz): {\"id\",\"title\",\"text\",\"sparse\":{token: weight} or \"sparseTermIds\"+\"sparseWeights\",\"dense\":[...]}; "
                + "BEIR corpus lines {\"_id\",\"title\",\"text\"} are accepted too.",
            Required = true,
        };
        var batch = Batch();
        var command = new Command("upsert", "Insert or replace documents by id on a live index (checks the whole file first; sends nothing if a line is malformed).")
        {
            url, index, file, batch,
        };
        command.SetAction(async (parse, ct) =>
        {
            using var client = parse.CreateClient(url);
            return await RunUpsertAsync(client, parse.GetValue(index)!, parse.GetValue(file)!, parse.GetValue(batch), Console.Out, Console.Error, ct);
        });
        return command;
    }

    /// <summary><c>shoal delete</c>: deletes documents by id.</summary>
    public static Command Delete()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var ids = new Argument<string[]>("ids") { Description = "Ids of the documents to delete.", Arity = ArgumentArity.ZeroOrMore };
        var file = new Option<string?>("--file", "-f") { Description = "File of ids to delete, one a line (blank lines skipped)." };
        var batch = Batch();
        var command = new Command("delete", "Delete documents by id from a live index (ids it does not hold are not an error).") { url, index, ids, file, batch };
        command.SetAction(async (parse, ct) =>
        {
            using var client = parse.CreateClient(url);
            return await RunDeleteAsync(client, parse.GetValue(index)!, parse.GetValue(ids) ?? [], parse.GetValue(file), parse.GetValue(batch), Console.Out, Console.Error, ct);
        });
        return command;
    }

    /// <summary><c>shoal merge</c>: folds pending updates into a new version.</summary>
    public static Command Merge()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var wait = new Option<bool>("--wait", "-w") { Description = "Follow the merge with a live progress line until it ends, and print the new version." };
        var command = new Command("merge", "Merge an index's pending updates into a new snapshotted version.") { url, index, wait };
        command.SetAction(async (parse, ct) =>
        {
            using var client = parse.CreateClient(url);
            return await RunMergeAsync(client, parse.GetValue(index)!, parse.GetValue(wait), Console.Out, Console.Error, ct);
        });
        return command;
    }

    private static Option<int> Batch() => new("--batch")
    {
        Description = $"Operations per request (1..{ShoalClient.MaxOperationsPerRequest:N0}).",
        DefaultValueFactory = _ => ShoalClient.DefaultUpdateBatchSize,
        Validators =
        {
            r =>
            {
                if (r.Tokens.Count > 0 && int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out int n) && n is < 1 or > ShoalClient.MaxOperationsPerRequest)
                    r.AddError($"--batch must be between 1 and {ShoalClient.MaxOperationsPerRequest:N0} (got {n}).");
            },
        },
    };

    /// <summary>
    /// Checks every line of <paramref name="file"/> first (exit code 2 with the malformed lines and
    /// nothing sent), then streams the documents in requests of <paramref name="batch"/> with a
    /// progress count on <paramref name="error"/>. Exit code 1 when the gateway refuses or cannot be reached.
    /// </summary>
    internal static async Task<int> RunUpsertAsync(ShoalClient client, string index, string file, int batch, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (batch is < 1 or > ShoalClient.MaxOperationsPerRequest)
            return Fail(error, $"--batch must be between 1 and {ShoalClient.MaxOperationsPerRequest:N0} (got {batch}).", 2);
        if (!File.Exists(file)) return Fail(error, $"file '{file}' does not exist.", 2);

        long documents = 0, malformed = 0;
        try
        {
            foreach (var (line, document, problem) in ReadDocuments(file))
            {
                if (problem is null)
                {
                    documents++;
                    continue;
                }
                if (++malformed <= MalformedShown) error.WriteLine($"{file}:{line}: {problem}");
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return Fail(error, $"cannot read '{file}': {e.Message}", 2);
        }
        if (malformed > 0)
            return Fail(error, $"{malformed:N0} malformed line{(malformed == 1 ? "" : "s")} in '{file}'{(malformed > MalformedShown ? $" (first {MalformedShown} shown)" : "")}; nothing was sent.", 2);
        if (documents == 0) return Fail(error, $"'{file}' holds no documents.", 2);

        UpdateOutcome? sent = null;
        var live = Progress(error);
        string Sent(UpdateOutcome o) => string.Create(CultureInfo.InvariantCulture, $"{o.Upserted,12:N0} of {documents:N0} documents sent");
        try
        {
            var progress = new SyncProgress<UpdateOutcome>(o =>
            {
                sent = o;
                live.Update(Sent(o));
            });
            var done = await client.UpsertAsync(index, ReadDocuments(file).Select(d => d.Document!), batch, progress, ct);
            live.Complete(Sent(done));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"index {done.Index} version {done.Version}: {done.Upserted:N0} documents upserted in {done.Requests:N0} request{(done.Requests == 1 ? "" : "s")}, {done.PendingOperations:N0} operations pending merge"));
            return 0;
        }
        catch (ShoalApiException e) { return Failed(live, error, e.Message, sent?.Upserted ?? 0, "upserted"); }
        catch (HttpRequestException e) { return Failed(live, error, $"cannot reach the gateway: {e.Message}", sent?.Upserted ?? 0, "upserted"); }
        catch (TimeoutException e) { return Failed(live, error, e.Message, sent?.Upserted ?? 0, "upserted"); }
        catch (Exception e) when (e is IOException or InvalidDataException) { return Failed(live, error, $"cannot read '{file}': {e.Message}", sent?.Upserted ?? 0, "upserted"); }
    }

    /// <summary>Deletes the ids given as arguments and/or listed in <paramref name="file"/>.</summary>
    internal static async Task<int> RunDeleteAsync(ShoalClient client, string index, IReadOnlyList<string> ids, string? file, int batch, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (batch is < 1 or > ShoalClient.MaxOperationsPerRequest)
            return Fail(error, $"--batch must be between 1 and {ShoalClient.MaxOperationsPerRequest:N0} (got {batch}).", 2);
        var all = new List<string>(ids.Where(id => !string.IsNullOrWhiteSpace(id)));
        if (file is not null)
        {
            if (!File.Exists(file)) return Fail(error, $"file '{file}' does not exist.", 2);
            try
            {
                all.AddRange(File.ReadLines(file).Select(l => l.Trim()).Where(l => l.Length > 0));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Fail(error, $"cannot read '{file}': {e.Message}", 2);
            }
        }
        if (all.Count == 0) return Fail(error, "give the ids to delete as arguments or with --file.", 2);

        UpdateOutcome? sent = null;
        var line = Progress(error);
        static string Sent(UpdateOutcome o) => string.Create(CultureInfo.InvariantCulture, $"{o.Requests,6:N0} requests sent, {o.Deleted,12:N0} documents deleted");
        try
        {
            var progress = new SyncProgress<UpdateOutcome>(o =>
            {
                sent = o;
                line.Update(Sent(o));
            });
            var done = await client.DeleteAsync(index, all, batch, progress, ct);
            line.Complete(Sent(done));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"index {done.Index} version {done.Version}: {done.Deleted:N0} of {all.Count:N0} ids deleted{(done.Deleted < all.Count ? $" ({all.Count - done.Deleted:N0} not in the index)" : "")}, {done.PendingOperations:N0} operations pending merge"));
            return 0;
        }
        catch (ShoalApiException e) { return Failed(line, error, e.Message, sent?.Deleted ?? 0, "deleted"); }
        catch (HttpRequestException e) { return Failed(line, error, $"cannot reach the gateway: {e.Message}", sent?.Deleted ?? 0, "deleted"); }
        catch (TimeoutException e) { return Failed(line, error, e.Message, sent?.Deleted ?? 0, "deleted"); }
    }

    /// <summary>Starts a merge; with <paramref name="wait"/>, follows it and prints the new version (exit code 1 when it fails).</summary>
    internal static async Task<int> RunMergeAsync(ShoalClient client, string index, bool wait, TextWriter output, TextWriter error, CancellationToken ct)
    {
        try
        {
            var status = await client.MergeAsync(index, ct);
            if (wait && status.State == "running")
            {
                var line = Progress(error);
                var done = await client.WaitForMergeAsync(index, new SyncProgress<IngestProgress>(p => line.Update(MergeLine(p), p.Phase)), TimeSpan.FromMilliseconds(250), ct);
                if (done is not null)
                {
                    line.Complete(MergeLine(done));
                    status = done;
                }
            }
            if (status.State == "failed") return Fail(error, $"merge of index '{index}' failed: {status.Error}");
            output.WriteLine(status.State switch
            {
                "succeeded" when status.Phase == "nothing to merge" => $"index {index}: nothing to merge (no pending updates); version {status.Version} stays",
                "succeeded" => $"index {index} version {status.Version} published (merge succeeded)",
                "running" => $"index {index}: merge running ({status.Phase}); follow it with shoal merge --index {index} --wait or GET /v1/indexes/{index}",
                _ => $"index {index}: merge {status.State}{(string.IsNullOrEmpty(status.Phase) ? "" : $" ({status.Phase})")}",
            });
            return 0;
        }
        catch (ShoalApiException e) { return Fail(error, e.Message); }
        catch (HttpRequestException e) { return Fail(error, $"cannot reach the gateway: {e.Message}"); }
    }

    /// <summary>One line of merge progress: state, phase, documents and time since it started.</summary>
    internal static string MergeLine(IngestProgress p)
    {
        var elapsed = (p.FinishedUtc ?? DateTimeOffset.UtcNow) - (p.StartedUtc ?? DateTimeOffset.UtcNow);
        return string.Create(CultureInfo.InvariantCulture,
            $"merge {p.State,-9} {p.Phase,-12} {p.DocumentsRead,12:N0} documents {elapsed:hh\\:mm\\:ss}{(p.Version is { } v && p.State == "succeeded" ? $" version {v}" : "")}   ");
    }

    /// <summary>
    /// The documents of a jsonl file (plain or gzip, by its .gz name), each with its 1-based line
    /// number and either the document or what is wrong with the line. Blank lines are skipped.
    /// </summary>
    internal static IEnumerable<(long Line, DocumentInput? Document, string? Problem)> ReadDocuments(string file)
    {
        using var stream = File.OpenRead(file);
        using var input = file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionMode.Decompress) : (Stream)stream;
        using var reader = new StreamReader(input);
        long number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            DocumentInput? document = null;
            string? problem = null;
            try
            {
                document = ParseLine(line);
            }
            catch (FormatException e)
            {
                problem = e.Message;
            }
            yield return (number, document, problem);
        }
    }

    /// <summary>
    /// One document line: the HTTP document shape (<c>id</c>, <c>title</c>, <c>text</c>,
    /// <c>sparse</c> or <c>sparseTermIds</c>+<c>sparseWeights</c>, <c>dense</c>), or a BEIR corpus
    /// line (<c>_id</c>, <c>title</c>, <c>text</c>, <c>metadata</c> ignored). Unknown fields are refused.
    /// </summary>
    /// <exception cref="FormatException">What is wrong with the line.</exception>
    internal static DocumentInput ParseLine(string line)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new FormatException($"not valid JSON: {e.Message}");
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"expected a JSON object, got {Kind(root)}.");
            string? id = null, idField = null, title = null, text = null;
            Dictionary<string, float>? sparse = null;
            int[]? termIds = null;
            float[]? weights = null, dense = null;
            foreach (var p in root.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "id" or "_id":
                        if (idField is not null) throw new FormatException($"has both '{idField}' and '{p.Name}'; give one id.");
                        idField = p.Name;
                        id = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : throw new FormatException($"'{p.Name}' must be a string, got {Kind(p.Value)}.");
                        break;
                    case "title":
                        title = OptionalString(p);
                        break;
                    case "text":
                        text = OptionalString(p);
                        break;
                    case "metadata":
                        break; // BEIR corpus lines carry it; nothing of it is indexed.
                    case "sparse":
                        if (p.Value.ValueKind != JsonValueKind.Object) throw new FormatException($"'sparse' must be an object of token weights, got {Kind(p.Value)}.");
                        sparse = [];
                        foreach (var t in p.Value.EnumerateObject())
                            sparse[t.Name] = Number(t.Value, $"the sparse weight of '{t.Name}'");
                        break;
                    case "sparseTermIds":
                        termIds = [.. Array(p).Select((e, i) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw new FormatException($"'sparseTermIds'[{i}] is not an integer term id."))];
                        break;
                    case "sparseWeights":
                        weights = [.. Array(p).Select((e, i) => Number(e, $"'sparseWeights'[{i}]"))];
                        break;
                    case "dense":
                        dense = [.. Array(p).Select((e, i) => Number(e, $"'dense'[{i}]"))];
                        break;
                    default:
                        throw new FormatException($"unknown field '{p.Name}' (expected id or _id, title, text, sparse, sparseTermIds, sparseWeights, dense).");
                }
            }
            if (string.IsNullOrWhiteSpace(id)) throw new FormatException("has no 'id' (or '_id'): every document needs a non-empty id.");
            if (sparse is not null && (termIds is not null || weights is not null))
                throw new FormatException($"document '{id}': give 'sparse' (token weights) or 'sparseTermIds' with 'sparseWeights', not both.");
            if ((termIds is null) != (weights is null))
                throw new FormatException($"document '{id}': 'sparseTermIds' and 'sparseWeights' go together; give both or neither.");
            if (termIds is not null && termIds.Length != weights!.Length)
                throw new FormatException($"document '{id}': 'sparseTermIds' has {termIds.Length} entries but 'sparseWeights' has {weights.Length}.");
            if (dense is { Length: 0 }) throw new FormatException($"document '{id}': 'dense' is empty.");
            return new DocumentInput(id) { Title = title, Text = text, Sparse = sparse, SparseTermIds = termIds, SparseWeights = weights, Dense = dense };
        }

        static string? OptionalString(JsonProperty p) => p.Value.ValueKind switch
        {
            JsonValueKind.String => p.Value.GetString(),
            JsonValueKind.Null => null,
            _ => throw new FormatException($"'{p.Name}' must be a string, got {Kind(p.Value)}."),
        };

        static JsonElement[] Array(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Array
            ? [.. p.Value.EnumerateArray()]
            : throw new FormatException($"'{p.Name}' must be an array, got {Kind(p.Value)}.");

        static float Number(JsonElement e, string what)
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetSingle(out float v)) throw new FormatException($"{what} is not a number.");
            return float.IsFinite(v) ? v : throw new FormatException($"{what} is not a finite 32-bit number ({e.GetRawText()}).");
        }

        static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();
    }

    private static int Fail(TextWriter error, string message, int code = 1)
    {
        error.WriteLine($"shoal: {message}");
        return code;
    }

    /// <summary>
    /// The progress display on <paramref name="error"/>: rewritten in place on a terminal, plain lines
    /// (at most one every <see cref="LiveLine.PlainInterval"/>) when standard error is redirected or
    /// <paramref name="error"/> is another writer.
    /// </summary>
    private static LiveLine Progress(TextWriter error) => new(ReferenceEquals(error, Console.Error) ? null : error);

    private static int Failed(LiveLine line, TextWriter error, string message, int applied, string what)
    {
        line.End();
        return Fail(error, applied > 0 ? $"{message} ({applied:N0} {(what == "deleted" ? "ids" : "documents")} were {what} by earlier requests and stay so)" : message);
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread, so the last report has been seen when the call returns.</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
