namespace Shoal.Engine.Dense;

/// <summary>
/// Per-thread buffers of dense searches (query copy, HNSW visited marks, heaps), reused across
/// queries and segments so that a search allocates only its result in steady state.
/// </summary>
internal sealed class DenseSearchScratch
{
    [ThreadStatic]
    private static DenseSearchScratch? t_current;

    private ushort _epoch;

    public float[] Query { get; private set; } = new float[1024];

    public ushort[] Visited { get; private set; } = [];

    public ScoreHeap Candidates { get; } = new(256);

    public ScoreHeap Results { get; } = new(256);

    public int[] Pending { get; private set; } = new int[64];

    public float[] Scores { get; private set; } = new float[64];

    public int[] SortDocs { get; private set; } = new int[256];

    public float[] SortScores { get; private set; } = new float[256];

    public ulong[] SortKeys { get; private set; } = new ulong[256];

    /// <summary>The calling thread's scratch.</summary>
    public static DenseSearchScratch Current => t_current ??= new DenseSearchScratch();

    public void EnsureQuery(int dims)
    {
        if (Query.Length < dims) Query = new float[Math.Max(dims, Query.Length * 2)];
    }

    public void EnsureGraph(int count, int maxLinks)
    {
        if (Visited.Length < count)
        {
            Visited = new ushort[count];
            _epoch = 0;
        }
        if (Pending.Length < maxLinks)
        {
            Pending = new int[maxLinks];
            Scores = new float[maxLinks];
        }
    }

    public void EnsureSort(int n)
    {
        if (SortDocs.Length >= n) return;
        int size = Math.Max(n, SortDocs.Length * 2);
        SortDocs = new int[size];
        SortScores = new float[size];
        SortKeys = new ulong[size];
    }

    public ushort NextEpoch()
    {
        if (++_epoch == 0)
        {
            Array.Clear(Visited);
            _epoch = 1;
        }
        return _epoch;
    }
}
