using System.Buffers.Binary;
using DnsWarden.Wire.Tls;

namespace DnsWarden.Wire.Tests.Tls;

public sealed class TlsClientHelloTests
{
    [Fact]
    public void Rfc9001_ClientHello_Parses()
    {
        byte[] msg = TlsTestVectors.Rfc9001ClientHello;
        Assert.Equal(241, msg.Length);

        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out TlsError error));
        Assert.Equal(TlsError.None, error);
        Assert.Equal(241, info.MessageLength);
        Assert.Equal(0x0303, info.LegacyVersion);
        Assert.Equal("example.com", info.ServerNameString(msg));
        Assert.True(info.GetServerName(msg).SequenceEqual("example.com"u8));
        Assert.Equal(["alpn"], info.AlpnList(msg));
        Assert.True(info.AlpnContains(msg, "alpn"u8));
        Assert.False(info.AlpnContains(msg, "h2"u8));
        Assert.True(info.OffersTls13);
        Assert.True(info.HasQuicTransportParameters);
        Assert.False(info.HasEch);
        Assert.False(info.HasEsni);
        Assert.False(info.HasGrease);
        Assert.Equal(11, info.ExtensionCount);
        Assert.Equal(0, info.SessionIdLength);
        Assert.Equal(4, info.CipherSuitesLength);
    }

    [Fact]
    public void Built_SniAndAlpn()
    {
        byte[] msg = new ClientHelloBuilder()
            .ServerName("doh.example.test")
            .Alpn("h2", "http/1.1")
            .SupportedVersions(0x0304, 0x0303)
            .Build();

        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.Equal("doh.example.test", info.ServerNameString(msg));
        Assert.Equal(["h2", "http/1.1"], info.AlpnList(msg));
        Assert.True(info.AlpnContains(msg, "h2"u8));
        Assert.True(info.AlpnContains(msg, "http/1.1"u8));
        Assert.False(info.AlpnContains(msg, "h3"u8));
        Assert.True(info.OffersTls13);
        Assert.Equal(3, info.ExtensionCount);
        Assert.Equal(32, info.SessionIdLength);
    }

    [Fact]
    public void Built_NoSniNoAlpn()
    {
        byte[] msg = new ClientHelloBuilder().SupportedVersions(0x0303).Build();
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.False(info.HasServerName);
        Assert.False(info.HasAlpn);
        Assert.Null(info.ServerNameString(msg));
        Assert.Empty(info.AlpnList(msg));
        Assert.True(info.GetServerName(msg).IsEmpty);
        Assert.False(info.OffersTls13);
    }

    [Fact]
    public void Built_NoExtensionsBlock_Legacy()
    {
        byte[] msg = new ClientHelloBuilder { OmitExtensionsBlock = true, LegacyVersion = 0x0301 }.Build();
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.Equal(0, info.ExtensionCount);
        Assert.Equal(0x0301, info.LegacyVersion);
        Assert.False(info.HasServerName);
    }

    [Fact]
    public void Built_Ech_OuterNameVisible()
    {
        byte[] msg = new ClientHelloBuilder()
            .ServerName("public.example.test")
            .Extension(0xfe0d, [0, 0, 1, 0, 1, 7, 0, 0, 0, 0])
            .Build();
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.True(info.HasEch);
        Assert.False(info.HasEsni);
        Assert.Equal("public.example.test", info.ServerNameString(msg));
    }

    [Fact]
    public void Built_Esni()
    {
        byte[] msg = new ClientHelloBuilder().Extension(0xffce, [1, 2, 3]).Build();
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.True(info.HasEsni);
        Assert.False(info.HasEch);
    }

    [Theory]
    [InlineData("cipher")]
    [InlineData("extension")]
    [InlineData("version")]
    [InlineData("group")]
    public void Built_Grease(string where)
    {
        var b = new ClientHelloBuilder();
        switch (where)
        {
            case "cipher":
                b.CipherSuites = [0x3a3a, 0x1301];
                break;
            case "extension":
                b.Extension(0xdada, []);
                break;
            case "version":
                b.SupportedVersions(0x7a7a, 0x0304);
                break;
            default:
                b.Extension(0x000a, [0, 4, 0xfa, 0xfa, 0, 0x1d]);
                break;
        }

        b.ServerName("a.example");
        byte[] msg = b.Build();
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
        Assert.True(info.HasGrease);
        Assert.Equal("a.example", info.ServerNameString(msg));
    }

    [Theory]
    [InlineData(0x0a0a, true)]
    [InlineData(0xfafa, true)]
    [InlineData(0x0a1a, false)]
    [InlineData(0x1301, false)]
    [InlineData(0x0b0b, false)]
    public void IsGrease(int value, bool expected) => Assert.Equal(expected, TlsClientHello.IsGrease((ushort)value));

    [Fact]
    public void ServerName_FirstHostNameWins_SkipsOtherTypes()
    {
        // server_name_list (17 bytes): an entry of unknown type 7, then two host_name entries.
        byte[] data = [0, 17, 7, 0, 2, 0xAA, 0xBB, 0, 0, 3, (byte)'a', (byte)'.', (byte)'b', 0, 0, 3, (byte)'c', (byte)'.', (byte)'d'];
        byte[] msg = new ClientHelloBuilder().Extension(0, data).Build();
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out TlsError error), error.ToString());
        Assert.Equal("a.b", info.ServerNameString(msg));
    }

    [Fact]
    public void TrailingBytesAfterMessage_Ignored()
    {
        byte[] msg = TlsTestVectors.Rfc9001ClientHello;
        byte[] longer = [.. msg, 0x16, 0x03, 0x03];
        Assert.True(TlsClientHello.TryRead(longer, out ClientHelloInfo info, out _));
        Assert.Equal(msg.Length, info.MessageLength);
    }

    [Fact]
    public void EveryProperPrefix_Truncated()
    {
        byte[] msg = new ClientHelloBuilder().ServerName("x.example").Alpn("h2").Build();
        foreach (byte[] full in new[] { msg, TlsTestVectors.Rfc9001ClientHello })
        {
            for (int n = 0; n < full.Length; n++)
            {
                Assert.False(TlsClientHello.TryRead(full.AsSpan(0, n), out _, out TlsError error));
                Assert.Equal(TlsError.Truncated, error);
            }
        }
    }

    [Fact]
    public void NotClientHello()
    {
        byte[] msg = TlsTestVectors.Rfc9001ClientHello;
        msg[0] = 2;
        Assert.False(TlsClientHello.TryRead(msg, out _, out TlsError error));
        Assert.Equal(TlsError.NotClientHello, error);
        Assert.False(TlsClientHello.TryRead([2], out _, out error));
        Assert.Equal(TlsError.NotClientHello, error);
    }

    [Fact]
    public void ExtensionLengthPastEnd_BadExtension()
    {
        byte[] msg = new ClientHelloBuilder().ServerName("x.example").Build();
        int ext = ExtensionsStart(msg);
        // Claim the server_name extension is 2 bytes longer than the block holds.
        ushort len = BinaryPrimitives.ReadUInt16BigEndian(msg.AsSpan(ext + 2));
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(ext + 2), (ushort)(len + 2));
        AssertError(msg, TlsError.BadExtension);
    }

    [Fact]
    public void ExtensionHeaderCutShort_BadExtension()
    {
        byte[] msg = new ClientHelloBuilder().Extension(0x0017, []).Build();
        // Drop the last two bytes of the only extension header and fix up all outer lengths.
        AssertError(Shrink(msg, 2), TlsError.BadExtension);
    }

    [Fact]
    public void ExtensionsBlockLengthMismatch()
    {
        byte[] msg = new ClientHelloBuilder().ServerName("x.example").Build();
        int blockLenAt = ExtensionsStart(msg) - 2;
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(blockLenAt), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(msg.AsSpan(blockLenAt)) - 1));
        AssertError(msg, TlsError.BadExtensionsLength);
    }

    [Theory]
    [InlineData(new byte[] { 0, 9, 0, 0, 3, (byte)'a', (byte)'.', (byte)'b' })]        // list length too long
    [InlineData(new byte[] { 0, 5, 0, 0, 3, (byte)'a', (byte)'.', (byte)'b' })]        // list length too short
    [InlineData(new byte[] { 0, 6, 0, 0, 4, (byte)'a', (byte)'.', (byte)'b' })]        // name past list
    [InlineData(new byte[] { 0, 3, 0, 0, 0 })]                                         // empty host name
    [InlineData(new byte[] { 0, 0 })]                                                  // empty list
    [InlineData(new byte[] { 0 })]                                                     // no list length
    [InlineData(new byte[] { 0, 2, 0, 0 })]                                            // entry header cut
    public void ServerName_Inconsistent(byte[] data)
    {
        byte[] msg = new ClientHelloBuilder().Extension(0, data).Build();
        AssertError(msg, TlsError.BadServerName);
    }

    [Theory]
    [InlineData(new byte[] { 0, 3, 2, (byte)'h', (byte)'2', 0 })] // trailing zero-length protocol, list length counts it
    [InlineData(new byte[] { 0, 1, 0 })]                           // only a zero-length protocol
    [InlineData(new byte[] { 0, 3, 0, 1, (byte)'x' })]              // zero-length first
    public void Alpn_ZeroLengthProtocol(byte[] data)
    {
        byte[] msg = new ClientHelloBuilder().Extension(0x0010, data).Build();
        AssertError(msg, TlsError.BadAlpn);
    }

    [Theory]
    [InlineData(new byte[] { 0, 4, 2, (byte)'h', (byte)'2' })]      // list length too long
    [InlineData(new byte[] { 0, 2, 2, (byte)'h', (byte)'2' })]      // list length too short
    [InlineData(new byte[] { 0, 3, 3, (byte)'h', (byte)'2' })]      // name past list
    [InlineData(new byte[] { 0, 0 })]                               // empty list (<2..> minimum)
    [InlineData(new byte[] { 0 })]
    public void Alpn_Inconsistent(byte[] data)
    {
        byte[] msg = new ClientHelloBuilder().Extension(0x0010, data).Build();
        AssertError(msg, TlsError.BadAlpn);
    }

    [Theory]
    [InlineData(new byte[] { 3, 3, 4, 3 })]
    [InlineData(new byte[] { 4, 3, 4 })]
    [InlineData(new byte[] { 0 })]
    [InlineData(new byte[0])]
    public void SupportedVersions_Inconsistent(byte[] data)
    {
        byte[] msg = new ClientHelloBuilder().Extension(0x002b, data).Build();
        AssertError(msg, TlsError.BadSupportedVersions);
    }

    [Fact]
    public void DuplicateServerName_Rejected()
    {
        byte[] msg = new ClientHelloBuilder().ServerName("a.example").ServerName("b.example").Build();
        AssertError(msg, TlsError.DuplicateExtension);
    }

    [Fact]
    public void DuplicateAlpn_Rejected()
    {
        byte[] msg = new ClientHelloBuilder().Alpn("h2").Alpn("doq").Build();
        AssertError(msg, TlsError.DuplicateExtension);
    }

    [Fact]
    public void SessionIdTooLong() =>
        AssertError(new ClientHelloBuilder { SessionId = new byte[33] }.Build(), TlsError.BadSessionId);

    [Fact]
    public void CipherSuitesEmpty() =>
        AssertError(new ClientHelloBuilder { CipherSuites = [] }.Build(), TlsError.BadCipherSuites);

    [Fact]
    public void CipherSuitesOdd()
    {
        byte[] msg = new ClientHelloBuilder().Build();
        int at = 4 + 2 + 32 + 1 + 32;
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(at), 5);
        AssertError(msg, TlsError.BadCipherSuites);
    }

    [Fact]
    public void CompressionEmpty() =>
        AssertError(new ClientHelloBuilder { CompressionMethods = [] }.Build(), TlsError.BadCompressionMethods);

    [Fact]
    public void HandshakeLengthShorterThanFields_BodyTooShort()
    {
        byte[] msg = new ClientHelloBuilder().Build();
        // Declare a body that ends inside the random.
        msg[1] = 0;
        msg[2] = 0;
        msg[3] = 20;
        AssertError(msg, TlsError.BodyTooShort);
    }

    [Fact]
    public void AllocatesNothing()
    {
        byte[] msg = new ClientHelloBuilder().ServerName("doh.example.test").Alpn("h2", "http/1.1").Build();
        int hits = 0;
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1001, hits);

        void Run()
        {
            if (TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _) &&
                info.GetServerName(msg).Length == 16 && info.AlpnContains(msg, "h2"u8))
            {
                hits++;
            }
        }
    }

    [Fact]
    public void Mutations_NeverThrow_ResultsStayInBounds()
    {
        var rng = new Random(0x7153);
        byte[][] seeds =
        [
            TlsTestVectors.Rfc9001ClientHello,
            new ClientHelloBuilder().ServerName("doh.example.test").Alpn("h2", "http/1.1").SupportedVersions(0x0a0a, 0x0304).Build(),
            new ClientHelloBuilder { OmitExtensionsBlock = true }.Build(),
        ];

        int accepted = 0;
        for (int i = 0; i < 5000; i++)
        {
            byte[] input = i % 10 == 0 ? RandomBytes(rng) : Mutate(rng, seeds[rng.Next(seeds.Length)]);
            if (TlsClientHello.TryRead(input, out ClientHelloInfo info, out TlsError error))
            {
                accepted++;
                Assert.Equal(TlsError.None, error);
                Assert.InRange(info.MessageLength, 4, input.Length);
                _ = info.GetServerName(input);
                _ = info.GetSessionId(input);
                _ = info.GetCipherSuites(input);
                int count = 0;
                foreach (ReadOnlySpan<byte> p in info.GetAlpnProtocols(input))
                {
                    Assert.False(p.IsEmpty);
                    count++;
                }

                Assert.True(count <= input.Length);
                if (info.HasServerName)
                {
                    Assert.InRange(info.ServerNameOffset + info.ServerNameLength, 0, info.MessageLength);
                }
            }
            else
            {
                Assert.NotEqual(TlsError.None, error);
            }
        }

        Assert.True(accepted > 0);
    }

    internal static byte[] RandomBytes(Random rng)
    {
        var b = new byte[rng.Next(0, 300)];
        rng.NextBytes(b);
        if (b.Length > 0 && rng.Next(2) == 0)
        {
            b[0] = 1;
        }

        return b;
    }

    internal static byte[] Mutate(Random rng, byte[] seed)
    {
        var list = new List<byte>(seed);
        int edits = rng.Next(1, 4);
        for (int e = 0; e < edits && list.Count > 0; e++)
        {
            int at = rng.Next(list.Count);
            switch (rng.Next(5))
            {
                case 0:
                    list[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    list[at] = (byte)rng.Next(256);
                    break;
                case 2:
                    list.RemoveAt(at);
                    break;
                case 3:
                    list.Insert(at, (byte)rng.Next(256));
                    break;
                default:
                    list.RemoveRange(at, list.Count - at);
                    break;
            }
        }

        return [.. list];
    }

    private static void AssertError(byte[] msg, TlsError expected)
    {
        Assert.False(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out TlsError error));
        Assert.Equal(expected, error);
        Assert.Equal(default, info);
    }

    private static int ExtensionsStart(byte[] msg)
    {
        int p = 4 + 2 + 32;
        p += 1 + msg[p];
        p += 2 + BinaryPrimitives.ReadUInt16BigEndian(msg.AsSpan(p));
        p += 1 + msg[p];
        return p + 2;
    }

    /// <summary>Removes the last <paramref name="n"/> bytes and lowers the handshake and extensions-block lengths to match.</summary>
    private static byte[] Shrink(byte[] msg, int n)
    {
        byte[] r = msg[..^n];
        int body = r.Length - 4;
        r[1] = (byte)(body >> 16);
        r[2] = (byte)(body >> 8);
        r[3] = (byte)body;
        int blockLenAt = ExtensionsStart(r) - 2;
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(blockLenAt), (ushort)(r.Length - blockLenAt - 2));
        return r;
    }
}
