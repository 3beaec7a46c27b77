using DnsWarden.Wire.Quic;
using DnsWarden.Wire.Tests.Tls;
using DnsWarden.Wire.Tls;

namespace DnsWarden.Wire.Tests.Quic;

public sealed class QuicInitialDecryptorTests
{
    private static readonly byte[] s_dcid = Convert.FromHexString(QuicTestVectors.Dcid);

    // RFC 9001 Appendix A.1 and RFC 9369 Appendix A.1.
    [Theory]
    [InlineData(QuicVersion.V1, false, QuicTestVectors.V1ClientInitialSecret, QuicTestVectors.V1ClientKey, QuicTestVectors.V1ClientIv, QuicTestVectors.V1ClientHp)]
    [InlineData(QuicVersion.V1, true, null, QuicTestVectors.V1ServerKey, QuicTestVectors.V1ServerIv, QuicTestVectors.V1ServerHp)]
    [InlineData(QuicVersion.V2, false, QuicTestVectors.V2ClientInitialSecret, QuicTestVectors.V2ClientKey, QuicTestVectors.V2ClientIv, QuicTestVectors.V2ClientHp)]
    [InlineData(QuicVersion.V2, true, null, QuicTestVectors.V2ServerKey, QuicTestVectors.V2ServerIv, QuicTestVectors.V2ServerHp)]
    public void Rfc_A1_Keys(uint version, bool server, string? secretHex, string keyHex, string ivHex, string hpHex)
    {
        byte[] secret = new byte[32], key = new byte[16], iv = new byte[12], hp = new byte[16];
        Assert.True(QuicInitialSecrets.TryDeriveInitialSecret(version, s_dcid, server, secret));
        if (secretHex is not null)
        {
            Assert.Equal(secretHex, Convert.ToHexStringLower(secret));
        }

        Assert.True(QuicInitialSecrets.TryDeriveKeys(version, s_dcid, server, key, iv, hp));
        Assert.Equal(keyHex, Convert.ToHexStringLower(key));
        Assert.Equal(ivHex, Convert.ToHexStringLower(iv));
        Assert.Equal(hpHex, Convert.ToHexStringLower(hp));
    }

    [Fact]
    public void Rfc9001_A1_HkdfLabels()
    {
        // The RFC lists the HkdfLabel bytes; check ExpandLabel builds the same info by deriving through both.
        byte[] secret = Convert.FromHexString(QuicTestVectors.V1ClientInitialSecret);
        byte[] viaLabel = new byte[16];
        QuicInitialSecrets.ExpandLabel(secret, "quic key"u8, viaLabel);
        byte[] viaInfo = new byte[16];
        System.Security.Cryptography.HKDF.Expand(
            System.Security.Cryptography.HashAlgorithmName.SHA256, secret, viaInfo, Convert.FromHexString("00100e746c7331332071756963206b657900"));
        Assert.Equal(viaInfo, viaLabel);
    }

    [Fact]
    public void UnknownVersion_NoKeys() =>
        Assert.False(QuicInitialSecrets.TryDeriveKeys(0x0a0a0a0a, s_dcid, false, new byte[16], new byte[12], new byte[16]));

    [Theory]
    [InlineData(QuicTestVectors.V1ClientInitialProtected, QuicVersion.V1, QuicTestVectors.V1UnprotectedHeader)]
    [InlineData(QuicTestVectors.V2ClientInitialProtected, QuicVersion.V2, QuicTestVectors.V2UnprotectedHeader)]
    public void Rfc_A2_ClientInitial_Decrypts_ToExampleCom(string protectedHex, uint version, string unprotectedHeaderHex)
    {
        byte[] datagram = Convert.FromHexString(protectedHex);
        var plaintext = new byte[1500];
        Assert.True(QuicInitialDecryptor.TryDecryptClientInitial(datagram, plaintext, out QuicInitialResult r, out QuicError error), error.ToString());
        Assert.Equal(version, r.Version);
        Assert.Equal(0, r.PacketOffset);
        Assert.Equal(2u, r.PacketNumber);
        Assert.Equal(4, r.PacketNumberLength);
        Assert.Equal(Convert.FromHexString(unprotectedHeaderHex)[0], r.UnprotectedFirstByte);
        Assert.False(r.ReservedBitsSet);
        Assert.Equal(1162, r.PlaintextLength);
        Assert.Equal(1, r.CryptoFrameCount);
        Assert.False(r.HasAck);
        Assert.Equal(QuicError.None, r.FrameError);

        byte[] frame = Convert.FromHexString(QuicTestVectors.ClientInitialCryptoFrame);
        Assert.True(plaintext.AsSpan(0, frame.Length).SequenceEqual(frame));
        Assert.True(plaintext.AsSpan(frame.Length, 1162 - frame.Length).IndexOfAnyExcept((byte)0) < 0);

        var assembler = new QuicCryptoAssembler();
        Assert.Equal(QuicCryptoStatus.Complete, assembler.AddFrames(plaintext.AsSpan(0, r.PlaintextLength)));
        Assert.True(assembler.TryGetClientHello(out ReadOnlySpan<byte> hello));
        Assert.True(TlsClientHello.TryRead(hello, out ClientHelloInfo info, out _));
        Assert.Equal("example.com", info.ServerNameString(hello));
        Assert.True(info.HasQuicTransportParameters);
        Assert.True(hello.SequenceEqual(TlsTestVectors.Rfc9001ClientHello));
    }

    [Theory]
    [InlineData(QuicTestVectors.V1ClientInitialProtected, QuicVersion.V1)]
    [InlineData(QuicTestVectors.V2ClientInitialProtected, QuicVersion.V2)]
    public void TestProtector_ReproducesRfcPacket(string protectedHex, uint version)
    {
        byte[] built = QuicPacketProtector.BuildClientInitial(
            version, s_dcid, [], Convert.FromHexString(QuicTestVectors.ClientInitialCryptoFrame), packetNumber: 2);
        Assert.Equal(protectedHex, Convert.ToHexStringLower(built));
    }

    [Fact]
    public void EveryProperPrefix_FailsCleanly()
    {
        byte[] datagram = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        var plaintext = new byte[1500];
        for (int n = 0; n < datagram.Length; n++)
        {
            Assert.False(QuicInitialDecryptor.TryDecryptClientInitial(datagram.AsSpan(0, n), plaintext, out _, out QuicError error));
            Assert.Equal(QuicError.Truncated, error);
        }
    }

    [Theory]
    [InlineData(1199)] // last tag byte
    [InlineData(1190)] // inside the tag
    [InlineData(600)]  // ciphertext
    [InlineData(10)]   // DCID: wrong keys
    [InlineData(20)]   // protected packet number
    public void Corruption_DecryptionFailed(int index)
    {
        byte[] datagram = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        datagram[index] ^= 0x01;
        Assert.False(QuicInitialDecryptor.TryDecryptClientInitial(datagram, new byte[1500], out _, out QuicError error));
        Assert.Equal(QuicError.DecryptionFailed, error);
    }

    [Fact]
    public void SmallPlaintextBuffer_BufferTooSmall()
    {
        byte[] datagram = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        Assert.False(QuicInitialDecryptor.TryDecryptClientInitial(datagram, new byte[1161], out _, out QuicError error));
        Assert.Equal(QuicError.BufferTooSmall, error);
    }

    [Fact]
    public void ShortHeaderAndUnknownVersion_Rejected()
    {
        Assert.False(QuicInitialDecryptor.TryDecryptClientInitial([0x41, 1, 2, 3], new byte[64], out _, out QuicError error));
        Assert.Equal(QuicError.NotLongHeader, error);

        byte[] unknown = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        unknown[4] = 0x09;
        Assert.False(QuicInitialDecryptor.TryDecryptClientInitial(unknown, new byte[1500], out _, out error));
        Assert.Equal(QuicError.UnsupportedVersion, error);
    }

    [Fact]
    public void TooShortForSample_PacketTooShort()
    {
        // Length 10: fewer than 4 + 16 bytes after the packet number offset.
        byte[] d = [0xC0, 0, 0, 0, 1, 1, 0xAA, 0, 0, 0x0a, .. new byte[10]];
        Assert.False(QuicInitialDecryptor.TryDecryptClientInitial(d, new byte[64], out _, out QuicError error));
        Assert.Equal(QuicError.PacketTooShort, error);
    }

    [Fact]
    public void Coalesced_InitialAfterHandshake_AndTrailingPadding()
    {
        byte[] initial = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        byte[] handshake = [0xE0, 0, 0, 0, 1, 0, 0, 0x05, 1, 2, 3, 4, 5];
        byte[] datagram = [.. handshake, .. initial, .. new byte[40]];
        Assert.True(QuicInitialDecryptor.TryDecryptClientInitial(datagram, new byte[1500], out QuicInitialResult r, out _));
        Assert.Equal(handshake.Length, r.PacketOffset);
        Assert.Equal(1, r.CryptoFrameCount);

        byte[] onlyHandshake = [.. handshake, 0x41, 9, 9];
        Assert.False(QuicInitialDecryptor.TryDecryptClientInitial(onlyHandshake, new byte[1500], out _, out QuicError error));
        Assert.Equal(QuicError.NoInitialPacket, error);
    }

    [Fact]
    public void Coalesced_OnlyFirstInitialMatters()
    {
        byte[] first = QuicPacketProtector.BuildClientInitial(QuicVersion.V1, s_dcid, [1], QuicPacketProtector.CryptoFrame(0, [1, 0, 0, 1, 0xAA]), padTo: 0);
        byte[] second = QuicPacketProtector.BuildClientInitial(QuicVersion.V1, s_dcid, [1], [0x01], packetNumber: 1, padTo: 0);
        byte[] datagram = [.. first, .. second];
        var plaintext = new byte[1500];
        Assert.True(QuicInitialDecryptor.TryDecryptClientInitial(datagram, plaintext, out QuicInitialResult r, out _));
        Assert.Equal(0, r.PacketOffset);
        Assert.Equal(first.Length, r.Header.PacketLength);
        Assert.Equal(1, r.CryptoFrameCount);
        Assert.False(r.HasPing);
    }

    [Fact]
    public void LongToken_UsesPooledAssociatedData()
    {
        byte[] token = new byte[400];
        new Random(4).NextBytes(token);
        byte[] datagram = QuicPacketProtector.BuildClientInitial(QuicVersion.V1, s_dcid, [9, 9], [0x01], packetNumber: 7, packetNumberLength: 1, token: token);
        Assert.True(QuicInitialDecryptor.TryDecryptClientInitial(datagram, new byte[1500], out QuicInitialResult r, out QuicError error), error.ToString());
        Assert.Equal(7u, r.PacketNumber);
        Assert.Equal(1, r.PacketNumberLength);
        Assert.True(r.HasPing);
        Assert.Equal(400, r.Header.TokenLength);
    }

    [Theory]
    [InlineData(QuicVersion.V1, "doq", "dns.example.test")]
    [InlineData(QuicVersion.V2, "h3", "www.example.test")]
    [InlineData(QuicVersion.Draft29, "h3-29", "old.example.test")]
    public void ClientHelloAcrossInitials_OutOfOrder_YieldsSniAndAlpn(uint version, string alpn, string host)
    {
        // A hello too big for one packet, as post-quantum key shares make it.
        byte[] hello = new ClientHelloBuilder()
            .ServerName(host)
            .Alpn(alpn)
            .SupportedVersions(0x0304)
            .Extension(0x0039, new byte[40])
            .Extension(0x0033, new byte[1800])
            .Build();
        byte[] dcid = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99];
        int a = 700, b = 1500;
        byte[] packet1 = QuicPacketProtector.BuildClientInitial(
            version, dcid, [], [.. QuicPacketProtector.CryptoFrame((ulong)b, hello.AsSpan(b)), .. QuicPacketProtector.CryptoFrame(0, hello.AsSpan(0, a))], 0);
        byte[] packet2 = QuicPacketProtector.BuildClientInitial(
            version, dcid, [], [0x01, .. QuicPacketProtector.CryptoFrame((ulong)a, hello.AsSpan(a, b - a))], 1);

        var assembler = new QuicCryptoAssembler();
        var plaintext = new byte[1500];
        foreach (byte[] packet in new[] { packet2, packet1 })
        {
            Assert.True(QuicInitialDecryptor.TryDecryptClientInitial(packet, plaintext, out QuicInitialResult r, out QuicError error), error.ToString());
            assembler.AddFrames(plaintext.AsSpan(0, r.PlaintextLength));
        }

        Assert.Equal(QuicCryptoStatus.Complete, assembler.Status);
        Assert.True(assembler.TryGetClientHello(out ReadOnlySpan<byte> msg));
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.Equal(host, info.ServerNameString(msg));
        Assert.True(info.AlpnContains(msg, System.Text.Encoding.ASCII.GetBytes(alpn)));
    }

    [Fact]
    public void Mutations_NeverThrow()
    {
        var rng = new Random(0xA11CE);
        byte[][] seeds =
        [
            Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected),
            Convert.FromHexString(QuicTestVectors.V2ClientInitialProtected),
        ];
        var plaintext = new byte[1500];
        int accepted = 0;
        for (int i = 0; i < 2000; i++)
        {
            byte[] input = TlsClientHelloTests.Mutate(rng, seeds[i & 1]);
            if (QuicInitialDecryptor.TryDecryptClientInitial(input, plaintext, out QuicInitialResult r, out QuicError error))
            {
                accepted++;
                Assert.InRange(r.PlaintextLength, 0, input.Length);
                var assembler = new QuicCryptoAssembler();
                assembler.AddFrames(plaintext.AsSpan(0, r.PlaintextLength));
            }
            else
            {
                Assert.NotEqual(QuicError.None, error);
            }
        }

        // Edits past the packet (trailing bytes) or truncations beyond it leave it valid; most edits must not.
        Assert.InRange(accepted, 0, 1000);
    }
}
