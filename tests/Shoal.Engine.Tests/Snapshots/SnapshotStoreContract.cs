using System.Text;
using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

/// <summary>
/// What every <see cref="ISnapshotStore"/> promises, run against each store: the local directory
/// store (<see cref="LocalDirectoryStoreContractTests"/>, here) and the Azure Blob store on a real
/// Azurite (<c>AzureBlobStoreContractTests</c> in Shoal.Integration.Tests, which links this file).
/// Compare-and-swap is part of the contract: of writers that saw the same content, one wins.
/// </summary>
public abstract class SnapshotStoreContract : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("shoal-store-contract-").FullName;

    /// <summary>
    /// A client of the store named <paramref name="name"/> (empty the first time it is named);
    /// each call returns a new client of the same storage, as another process would open it.
    /// </summary>
    protected abstract ISnapshotStore Open(string name);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Deletes the scratch directory.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        try { Directory.Delete(_scratch, recursive: true); }
        catch (IOException) { }
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string S(byte[]? bytes) => bytes is null ? "<absent>" : Encoding.UTF8.GetString(bytes);

    private string ScratchFile(string name, byte[] content)
    {
        string path = Path.Combine(_scratch, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public async Task Small_objects_read_back_as_written_and_a_missing_key_reads_as_null()
    {
        var store = Open("bytes");
        Assert.Null(await store.GetBytesAsync("a/missing"));
        await store.PutBytesAsync("a/b/one", B("first"));
        await store.PutBytesAsync("a/b/one", B("second"));
        await store.PutBytesAsync("a/empty", Array.Empty<byte>());
        Assert.Equal("second", S(await store.GetBytesAsync("a/b/one")));
        Assert.Equal("second", S(await Open("bytes").GetBytesAsync("a/b/one")));
        Assert.Empty((await store.GetBytesAsync("a/empty"))!);
    }

    [Fact]
    public async Task Files_travel_whole_with_their_checksum_and_a_wrong_checksum_leaves_the_destination_alone()
    {
        var store = Open("files");
        byte[] content = new byte[300_000];
        new Random(7).NextBytes(content);
        var sent = await store.UploadFileAsync("v1/seg", ScratchFile("source", content));
        Assert.Equal(content.Length, sent.Bytes);

        string dest = Path.Combine(_scratch, "copy");
        var received = await store.DownloadFileAsync("v1/seg", dest, sent);
        Assert.Equal(sent, received);
        Assert.Equal(content, await File.ReadAllBytesAsync(dest));

        await File.WriteAllTextAsync(dest, "kept");
        var wrong = new ObjectChecksum(sent.Bytes, sent.Xxh3 ^ 1);
        await Assert.ThrowsAsync<SnapshotChecksumException>(() => store.DownloadFileAsync("v1/seg", dest, wrong));
        Assert.Equal("kept", await File.ReadAllTextAsync(dest));
        Assert.Single(Directory.GetFiles(_scratch, "copy*"));

        await Assert.ThrowsAsync<FileNotFoundException>(() => store.DownloadFileAsync("v1/none", Path.Combine(_scratch, "none")));
        Assert.False(File.Exists(Path.Combine(_scratch, "none")));
    }

    [Fact]
    public async Task Listing_returns_the_keys_under_a_prefix_in_ordinal_order()
    {
        var store = Open("list");
        Assert.Empty(await store.ListAsync("idx/"));
        foreach (var key in new[] { "idx/v2/b", "idx/v10/a", "idx/v1/Z", "idx/v1/a", "other/x" })
            await store.PutBytesAsync(key, B(key));
        Assert.Equal(["idx/v1/Z", "idx/v1/a", "idx/v10/a", "idx/v2/b"], await store.ListAsync("idx/"));
        Assert.Equal(["idx/v1/Z", "idx/v1/a", "idx/v10/a"], await store.ListAsync("idx/v1"));
        Assert.Equal(["idx/v1/Z", "idx/v1/a"], await store.ListAsync("idx/v1/"));
    }

    [Fact]
    public async Task Deleting_removes_exactly_the_key_or_prefix_named()
    {
        var store = Open("delete");
        foreach (var key in new[] { "p/v1/a", "p/v1/b", "p/v10/a", "p/v2/a" })
            await store.PutBytesAsync(key, B(key));
        await store.DeleteAsync("p/v2/a");
        await store.DeleteAsync("p/v2/a"); // already gone: not an error
        await store.DeletePrefixAsync("p/v1/");
        Assert.Equal(["p/v10/a"], await store.ListAsync("p/"));
    }

    [Fact]
    public async Task Compare_and_swap_creates_replaces_and_deletes_only_while_the_check_holds()
    {
        var store = Open("cas");
        Assert.True(await store.CompareAndSwapAsync("s/k", c => c is null, B("v1")));
        Assert.False(await store.CompareAndSwapAsync("s/k", c => c is null, B("again")));
        Assert.Equal("v1", S(await store.GetBytesAsync("s/k")));

        Assert.False(await store.CompareAndSwapAsync("s/k", c => S(c) == "v0", B("v2")));
        Assert.True(await store.CompareAndSwapAsync("s/k", c => S(c) == "v1", B("v2")));
        Assert.Equal("v2", S(await Open("cas").GetBytesAsync("s/k")));

        Assert.False(await store.CompareAndSwapAsync("s/k", c => S(c) == "v1", null));
        Assert.True(await store.CompareAndSwapAsync("s/k", c => S(c) == "v2", null));
        Assert.Null(await store.GetBytesAsync("s/k"));
        Assert.True(await store.CompareAndSwapAsync("s/k", c => c is null, null)); // deleting an absent key
        Assert.Null(await store.GetBytesAsync("s/k"));
    }

    [Fact]
    public async Task A_write_that_lands_while_the_check_runs_makes_the_swap_fail()
    {
        var store = Open("interleave");
        var other = Open("interleave"); // another process's client
        await store.PutBytesAsync("k", B("v1"));
        bool swapped = await store.CompareAndSwapAsync("k", current =>
        {
            other.PutBytesAsync("k", B("theirs")).GetAwaiter().GetResult();
            return S(current) == "v1";
        }, B("mine"));
        Assert.False(swapped);
        Assert.Equal("theirs", S(await store.GetBytesAsync("k")));

        bool created = await store.CompareAndSwapAsync("new", current =>
        {
            other.PutBytesAsync("new", B("theirs")).GetAwaiter().GetResult();
            return current is null;
        }, B("mine"));
        Assert.False(created);
        Assert.Equal("theirs", S(await store.GetBytesAsync("new")));
    }

    [Fact]
    public async Task Of_two_writers_that_race_from_the_same_content_exactly_one_wins()
    {
        var a = Open("race");
        var b = Open("race");
        for (int round = 0; round < 20; round++)
        {
            // Both expect what is stored now (nothing, in round 0) and race to replace it.
            string? before = round == 0 ? null : $"r{round - 1}";
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<bool> Race(ISnapshotStore store, string mine) => Task.Run(async () =>
            {
                await start.Task;
                return await store.CompareAndSwapAsync("race/k", c => (c is null ? null : S(c)) == before, B(mine));
            });
            var first = Race(a, $"a{round}");
            var second = Race(b, $"b{round}");
            start.SetResult();
            bool[] won = await Task.WhenAll(first, second);
            Assert.True(won.Count(w => w) == 1, $"round {round}: a {won[0]}, b {won[1]}");
            string stored = S(await a.GetBytesAsync("race/k"));
            Assert.Equal(won[0] ? $"a{round}" : $"b{round}", stored);
            Assert.True(await a.CompareAndSwapAsync("race/k", c => S(c) == stored, B($"r{round}")));
        }
    }

    [Fact]
    public async Task Concurrent_writers_that_retry_their_swaps_lose_no_update()
    {
        const int Writers = 4, Increments = 10;
        var stores = Enumerable.Range(0, Writers).Select(_ => Open("counter")).ToArray();
        int wins = 0;
        await Task.WhenAll(stores.Select(store => Task.Run(async () =>
        {
            for (int i = 0; i < Increments; i++)
            {
                while (true)
                {
                    var current = await store.GetBytesAsync("n");
                    int value = current is null ? 0 : int.Parse(S(current), System.Globalization.CultureInfo.InvariantCulture);
                    byte[] next = B((value + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    if (await store.CompareAndSwapAsync("n", c => (c is null ? 0 : int.Parse(S(c), System.Globalization.CultureInfo.InvariantCulture)) == value, next))
                    {
                        Interlocked.Increment(ref wins);
                        break;
                    }
                }
            }
        })));
        Assert.Equal(Writers * Increments, wins);
        Assert.Equal((Writers * Increments).ToString(System.Globalization.CultureInfo.InvariantCulture), S(await stores[0].GetBytesAsync("n")));
    }
}
