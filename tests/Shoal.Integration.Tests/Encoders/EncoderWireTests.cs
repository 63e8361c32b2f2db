using Orleans.Runtime;
using Shoal.Encoders;
using Shoal.Engine.Sparse;
using Shoal.Grains.Encoders;

namespace Shoal.Integration.Tests.Encoders;

/// <summary>Packing of encodings into <see cref="EncodeResponse"/> and the pool key format.</summary>
public sealed class EncoderWireTests
{
    [Fact]
    public void Dense_rows_pack_into_little_endian_bytes_and_back()
    {
        var rows = new[] { new[] { 1f, -2.5f, float.Epsilon }, new[] { 0f, 3.25f, -0f } };
        var response = EncodeResponse.Pack(EncoderKind.Dense, rows.Select(EncodedText.FromDense).ToArray());
        Assert.Equal(2 * 3 * 4, response.Dense!.Length);
        Assert.Equal(BitConverter.GetBytes(-2.5f), response.Dense[4..8]); // little-endian on this machine
        var batch = response.ToBatch();
        Assert.Equal((2, 3), (batch.Count, batch.Dimensions));
        Assert.Equal(rows[0], batch.DenseRow(0).ToArray());
        Assert.Equal(rows[1], batch.DenseRow(1).ToArray());
    }

    [Fact]
    public void Sparse_vectors_pack_into_flat_arrays_with_offsets_and_back()
    {
        var vectors = new[]
        {
            new SparseVector([3, 17, 30521], [0.5f, 1.25f, 2f]),
            SparseVector.Empty,
            new SparseVector([0], [9f]),
        };
        var response = EncodeResponse.Pack(EncoderKind.Sparse, vectors.Select(EncodedText.FromSparse).ToArray());
        Assert.Equal([0, 3, 3, 4], response.Offsets!);
        Assert.Equal(16, response.TermIds!.Length);
        var batch = response.ToBatch();
        for (int i = 0; i < vectors.Length; i++)
        {
            Assert.Equal(vectors[i].Terms, batch.Sparse![i].Terms);
            Assert.Equal(vectors[i].Weights, batch.Sparse![i].Weights);
        }
    }

    [Fact]
    public void Bm25_terms_pack_and_a_failed_response_carries_only_its_error()
    {
        var terms = new IReadOnlyList<TermCount>[] { [new("dog", 2), new("cat", 1)], [] };
        var batch = EncodeResponse.Pack(EncoderKind.Bm25, terms.Select(EncodedText.FromTerms).ToArray()).ToBatch();
        Assert.Equal(terms[0], batch.Terms![0]);
        Assert.Empty(batch.Terms![1]);

        var failed = EncodeResponse.Fail(EncodeStatus.QueueFull, "full");
        Assert.Null(failed.Dense);
        Assert.Throws<InvalidOperationException>(failed.ToBatch);
        Assert.Throws<ArgumentException>(() => EncodeResponse.Pack(EncoderKind.Dense, [EncodedText.FromDense([1f]), EncodedText.FromDense([1f, 2f])]));
    }

    [Fact]
    public void Pool_keys_name_the_encoder_and_the_silo()
    {
        var silo = SiloAddress.FromParsableString("10.1.2.3:11111@123456789");
        string key = EncoderRoles.PoolKey("minilm-v2", silo);
        Assert.Equal("minilm-v2@10.1.2.3:11111@123456789", key);
        Assert.True(EncoderRoles.TryParsePoolKey(key, out var name, out var parsed));
        Assert.Equal(("minilm-v2", silo), (name, parsed));
        Assert.False(EncoderRoles.TryParsePoolKey("minilm", out _, out _));
        Assert.False(EncoderRoles.TryParsePoolKey("@10.1.2.3:11111@1", out _, out _));
        Assert.False(EncoderRoles.TryParsePoolKey("x@not-a-silo", out _, out _));
        Assert.Throws<ArgumentException>(() => EncoderRoles.PoolKey("a@b", silo));
        Assert.Equal([("a", EncoderKind.Dense), ("b", EncoderKind.Sparse)], EncoderRoles.ParseEncoders("a:Dense, b:Sparse,junk"));
    }
}
