using System.IO.Hashing;

namespace Shoal.Storage.AzureBlob;

/// <summary>
/// XXH3 over a download whose first range streams in order and whose other ranges finish in
/// any order: a finished range waits (holding its buffer) until every earlier byte is hashed.
/// One thread at a time drains ready ranges and hashes them outside the lock, so finishing
/// ranges never wait for a hash to run.
/// </summary>
internal sealed class OrderedHash(int tailCount, Action<byte[]> release)
{
    private readonly XxHash3 _hash = new();
    private readonly byte[]?[] _done = new byte[]?[tailCount];
    private readonly int[] _lengths = new int[tailCount];
    private readonly object _gate = new();
    private int _next = -1; // -1 while the first range is still streaming
    private bool _draining;

    public bool Complete
    {
        get
        {
            lock (_gate) return _next == tailCount && !_draining;
        }
    }

    public ulong Value
    {
        get
        {
            lock (_gate) return _hash.GetCurrentHashAsUInt64();
        }
    }

    /// <summary>Hashes bytes of the first range (only its own thread calls this, before <see cref="HeadDone"/>).</summary>
    public void AppendHead(ReadOnlySpan<byte> bytes) => _hash.Append(bytes);

    public void HeadDone()
    {
        lock (_gate)
        {
            _next = 0;
            if (_draining) return;
            _draining = true;
        }
        Drain();
    }

    public void TailDone(int index, byte[] buffer, int length)
    {
        lock (_gate)
        {
            _done[index] = buffer;
            _lengths[index] = length;
            if (_draining) return;
            _draining = true;
        }
        Drain();
    }

    private void Drain()
    {
        while (true)
        {
            byte[] ready;
            int length;
            lock (_gate)
            {
                if (_next < 0 || _next >= tailCount || _done[_next] is not { } b)
                {
                    _draining = false;
                    return;
                }
                ready = b;
                length = _lengths[_next];
                _done[_next] = null;
                _next++;
            }
            _hash.Append(ready.AsSpan(0, length));
            release(ready);
        }
    }
}
