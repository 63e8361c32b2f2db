namespace Shoal.Encoders;

/// <summary>
/// Model inputs for a batch of texts: row-major <c>[BatchSize, SequenceLength]</c> tensors, right
/// padded to the longest sequence of the batch. Row <c>i</c> holds <c>[CLS] tokens [SEP]</c> in its
/// first <c>Lengths[i]</c> positions (attention mask 1) and the padding id after them (mask 0);
/// token type ids are all 0 (single-segment input).
/// </summary>
public sealed class TokenizedBatch
{
    /// <summary>Wraps existing tensors (taken, not copied) after checking their shapes and the masks.</summary>
    /// <exception cref="ArgumentException">An array does not have <paramref name="batchSize"/> x
    /// <paramref name="sequenceLength"/> elements, or a mask row is not ones followed by zeros.</exception>
    public TokenizedBatch(int batchSize, int sequenceLength, long[] inputIds, long[] attentionMask, long[] tokenTypeIds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceLength);
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(attentionMask);
        ArgumentNullException.ThrowIfNull(tokenTypeIds);
        long size = (long)batchSize * sequenceLength;
        if (inputIds.Length != size || attentionMask.Length != size || tokenTypeIds.Length != size)
            throw new ArgumentException($"Tensors of a {batchSize} x {sequenceLength} batch need {size} elements each (got {inputIds.Length}, {attentionMask.Length}, {tokenTypeIds.Length}).");
        var lengths = new int[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            var row = attentionMask.AsSpan(b * sequenceLength, sequenceLength);
            int n = row.IndexOf(0L);
            if (n < 0) n = sequenceLength;
            for (int s = n; s < sequenceLength; s++)
            {
                if (row[s] != 0) throw new ArgumentException($"Attention mask row {b} is not right-padded (a 1 follows a 0 at position {s}).", nameof(attentionMask));
            }
            for (int s = 0; s < n; s++)
            {
                if (row[s] != 1) throw new ArgumentException($"Attention mask row {b} holds {row[s]} at position {s}; masks are 0 or 1.", nameof(attentionMask));
            }
            lengths[b] = n;
        }
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        TokenTypeIds = tokenTypeIds;
        Lengths = lengths;
    }

    /// <summary>Number of sequences.</summary>
    public int BatchSize { get; }

    /// <summary>Padded length of every row (the longest sequence, special tokens included).</summary>
    public int SequenceLength { get; }

    /// <summary>Token ids, <c>[BatchSize, SequenceLength]</c> row-major.</summary>
    public long[] InputIds { get; }

    /// <summary>1 for real tokens (special tokens included), 0 for padding.</summary>
    public long[] AttentionMask { get; }

    /// <summary>Segment ids (all 0 for single texts).</summary>
    public long[] TokenTypeIds { get; }

    /// <summary>Unpadded length of each row (the number of 1s in its mask).</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary>
    /// Builds a batch from id rows that already include any special tokens: rows are right-padded
    /// with <paramref name="padId"/>; masks are 1 over each row; token types 0.
    /// </summary>
    public static TokenizedBatch FromRows(IReadOnlyList<IReadOnlyList<int>> rows, int padId = 0)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int width = 0;
        foreach (var r in rows) width = Math.Max(width, r.Count);
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        ids.AsSpan().Fill(padId);
        for (int b = 0; b < rows.Count; b++)
        {
            var row = rows[b];
            for (int s = 0; s < row.Count; s++)
            {
                ids[b * width + s] = row[s];
                mask[b * width + s] = 1;
            }
        }
        return new TokenizedBatch(rows.Count, width, ids, mask, new long[ids.Length]);
    }
}
