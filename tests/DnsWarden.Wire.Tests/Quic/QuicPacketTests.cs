using DnsWarden.Wire.Quic;

namespace DnsWarden.Wire.Tests.Quic;

public sealed class QuicPacketTests
{
    [Theory]
    [InlineData(QuicTestVectors.V1ClientInitialProtected, QuicVersion.V1)]
    [InlineData(QuicTestVectors.V2ClientInitialProtected, QuicVersion.V2)]
    public void Rfc_ClientInitial_Header(string hex, uint version)
    {
        byte[] d = Convert.FromHexString(hex);
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h, out QuicError error));
        Assert.Equal(QuicError.None, error);
        Assert.Equal(version, h.Version);
        Assert.Equal(QuicPacketType.Initial, h.PacketType);
        Assert.True(h.FixedBit);
        Assert.Equal(QuicTestVectors.Dcid, Convert.ToHexStringLower(h.GetDestinationConnectionId(d)));
        Assert.Equal(0, h.SourceConnectionIdLength);
        Assert.Equal(0, h.TokenLength);
        Assert.Equal(1182, h.Length);
        Assert.Equal(18, h.PacketNumberOffset);
        Assert.Equal(1200, h.PacketLength);
        Assert.True(QuicPacket.IsLikelyQuicInitial(d));
    }

    // RFC 9000 §17.2 and RFC 9369 §3.2 type bits.
    [Theory]
    [InlineData(QuicVersion.V1, 0, QuicPacketType.Initial)]
    [InlineData(QuicVersion.V1, 1, QuicPacketType.ZeroRtt)]
    [InlineData(QuicVersion.V1, 2, QuicPacketType.Handshake)]
    [InlineData(QuicVersion.V1, 3, QuicPacketType.Retry)]
    [InlineData(QuicVersion.Draft29, 0, QuicPacketType.Initial)]
    [InlineData(QuicVersion.V2, 0, QuicPacketType.Retry)]
    [InlineData(QuicVersion.V2, 1, QuicPacketType.Initial)]
    [InlineData(QuicVersion.V2, 2, QuicPacketType.ZeroRtt)]
    [InlineData(QuicVersion.V2, 3, QuicPacketType.Handshake)]
    public void TypeBits(uint version, int bits, QuicPacketType expected) => Assert.Equal(expected, QuicPacket.MapType(version, bits));

    [Fact]
    public void V1HandshakeHeader_NoToken()
    {
        // RFC 9000 §17.2.4: Handshake has no token field.
        byte[] d = [0xE0, 0, 0, 0, 1, 2, 0xAA, 0xBB, 1, 0xCC, 0x05, 9, 9, 9, 9, 9, 0xFF];
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h));
        Assert.Equal(QuicPacketType.Handshake, h.PacketType);
        Assert.Equal(0, h.TokenLength);
        Assert.Equal(5, h.Length);
        Assert.Equal(11, h.PacketNumberOffset);
        Assert.Equal(16, h.PacketLength);
        Assert.False(QuicPacket.IsLikelyQuicInitial(d));
    }

    [Fact]
    public void InitialWithToken()
    {
        byte[] d = [0xC0, 0, 0, 0, 1, 1, 0xAA, 0, 3, 7, 8, 9, 0x02, 1, 2];
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h));
        Assert.Equal([7, 8, 9], h.GetToken(d).ToArray());
        Assert.Equal(2, h.Length);
        Assert.Equal(13, h.PacketNumberOffset);
    }

    [Fact]
    public void VersionNegotiation()
    {
        byte[] d = [0x80, 0, 0, 0, 0, 1, 0xAA, 1, 0xBB, 0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf];
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h));
        Assert.Equal(QuicPacketType.VersionNegotiation, h.PacketType);
        Assert.Equal(d.Length, h.PacketLength);
    }

    [Fact]
    public void Retry_TokenBeforeTag()
    {
        byte[] d = [0xF0, 0, 0, 0, 1, 0, 1, 0xBB, 1, 2, 3, .. new byte[16]];
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h));
        Assert.Equal(QuicPacketType.Retry, h.PacketType);
        Assert.Equal(3, h.TokenLength);
    }

    [Fact]
    public void UnknownVersion_InvariantsOnly_LongConnectionIdsAllowed()
    {
        // RFC 8999 §5.1: unknown versions may carry connection IDs up to 255 bytes.
        byte[] d = [0xC0, 0x0a, 0x0a, 0x0a, 0x0a, 30, .. new byte[30], 0, 1, 2, 3];
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h));
        Assert.Equal(QuicPacketType.UnknownVersion, h.PacketType);
        Assert.Equal(30, h.DestinationConnectionIdLength);
        Assert.False(QuicPacket.IsLikelyQuicInitial(d));
    }

    [Fact]
    public void V1ConnectionIdOver20_Rejected()
    {
        byte[] d = [0xC0, 0, 0, 0, 1, 21, .. new byte[21], 0, 0, 1, 0];
        Assert.False(QuicPacket.TryReadLongHeader(d, out _, out QuicError error));
        Assert.Equal(QuicError.ConnectionIdTooLong, error);
    }

    [Fact]
    public void ShortHeader_Rejected()
    {
        Assert.False(QuicPacket.TryReadLongHeader([0x40, 1, 2, 3, 4, 5, 6], out _, out QuicError error));
        Assert.Equal(QuicError.NotLongHeader, error);
        Assert.False(QuicPacket.IsLikelyQuicInitial([0x40, 1, 2, 3, 4, 5, 6]));
    }

    [Fact]
    public void FixedBitClear_Reported()
    {
        // RFC 9287 lets a peer grease the fixed bit; the header still parses.
        byte[] d = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        d[0] &= 0xBF;
        Assert.True(QuicPacket.TryReadLongHeader(d, out QuicLongHeader h));
        Assert.False(h.FixedBit);
    }

    [Fact]
    public void EveryProperPrefix_Truncated()
    {
        byte[] d = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        for (int n = 0; n < d.Length; n++)
        {
            Assert.False(QuicPacket.TryReadLongHeader(d.AsSpan(0, n), out _, out QuicError error));
            Assert.Equal(QuicError.Truncated, error);
        }
    }

    [Fact]
    public void AllocatesNothing()
    {
        byte[] d = Convert.FromHexString(QuicTestVectors.V2ClientInitialProtected);
        int ok = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            if (QuicPacket.TryReadLongHeader(d, out QuicLongHeader h) && h.GetDestinationConnectionId(d).Length == 8)
            {
                ok++;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, ok);
    }

    [Fact]
    public void Mutations_NeverThrow_OffsetsInBounds()
    {
        var rng = new Random(0xC0DE);
        byte[] seed = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected)[..80];
        for (int i = 0; i < 5000; i++)
        {
            byte[] input = Tls.TlsClientHelloTests.Mutate(rng, seed);
            if (i % 3 == 0 && input.Length > 0)
            {
                input[0] |= 0x80;
            }

            if (QuicPacket.TryReadLongHeader(input, out QuicLongHeader h))
            {
                _ = h.GetDestinationConnectionId(input);
                _ = h.GetSourceConnectionId(input);
                _ = h.GetToken(input);
                Assert.InRange(h.PacketLength, 0, input.Length);
                Assert.InRange(h.PacketNumberOffset + h.Length, 0, input.Length);
            }
        }
    }
}
