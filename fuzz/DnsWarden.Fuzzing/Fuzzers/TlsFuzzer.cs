using DnsWarden.Wire.Tls;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// <see cref="TlsClientHello.TryRead"/> on the raw input, and <see cref="TlsRecordReader.TryGetClientHello(ReadOnlySpan{byte}, Span{byte}, out int, out TlsStreamStatus, out int)"/>
/// with a full and a small scratch buffer, which must agree with each other.
/// </summary>
internal sealed class TlsFuzzer : IFuzzer
{
    // RFC 8446 §4: a handshake message is at most 2^24 - 1 bytes, but the reader's callers keep 16 KiB.
    private const int ScratchLength = 16 * 1024 + TlsClientHello.HandshakeHeaderLength;

    [ThreadStatic]
    private static byte[]? t_scratch;

    [ThreadStatic]
    private static byte[]? t_smallScratch;

    public string Name => "Tls";

    public IReadOnlyList<byte[]> GetSeeds()
    {
        byte[] hello = SeedCorpus.ClientHello;
        return
        [
            hello,
            SeedCorpus.TlsRecord(hello, split: 0),
            SeedCorpus.TlsRecord(hello, split: 3),
            SeedCorpus.TlsRecord(hello, split: 100),
            SeedCorpus.TlsRecord(hello, split: 0)[..40],
        ];
    }

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        CheckHello(bytes);

        byte[] scratch = t_scratch ??= new byte[ScratchLength];
        byte[] small = t_smallScratch ??= new byte[256];
        int smallLength = bytes.IsEmpty ? 0 : bytes[^1];

        bool complete = TlsRecordReader.TryGetClientHello(bytes, scratch, out int length, out TlsStreamStatus status, out int needed);
        CheckStatus(complete, status, length, needed, scratch.Length, "full scratch");
        bool smallComplete = TlsRecordReader.TryGetClientHello(bytes, small.AsSpan(0, smallLength), out int smallLen, out TlsStreamStatus smallStatus, out int smallNeeded);
        CheckStatus(smallComplete, smallStatus, smallLen, smallNeeded, smallLength, "small scratch");
        _ = TlsRecordReader.TryGetClientHello(bytes, scratch, out _, out TlsStreamStatus shortStatus);
        FuzzAssert.True(shortStatus == status, "the two overloads disagree");

        if (complete)
        {
            FuzzAssert.True(TlsRecordReader.IsLikelyTlsStart(bytes), "a complete ClientHello stream is not IsLikelyTlsStart");
            CheckHello(scratch.AsSpan(0, length));
            if (length <= smallLength)
            {
                FuzzAssert.True(smallComplete && smallLen == length, $"fits in {smallLength} bytes but small scratch says {smallStatus}");
                FuzzAssert.True(small.AsSpan(0, length).SequenceEqual(scratch.AsSpan(0, length)), "scratch contents differ");
            }
            else
            {
                FuzzAssert.True(smallStatus == TlsStreamStatus.TooLarge, $"{length}-byte message in {smallLength}-byte scratch gave {smallStatus}");
            }
        }
        else if (smallComplete)
        {
            throw new FuzzInvariantException($"small scratch completed ({smallLen}) where the full one said {status}");
        }
    }

    private static void CheckStatus(bool complete, TlsStreamStatus status, int length, int needed, int scratchLength, string what)
    {
        FuzzAssert.True(complete == (status == TlsStreamStatus.Complete), $"{what}: returned {complete} with {status}");
        if (complete)
        {
            FuzzAssert.True(length >= TlsClientHello.HandshakeHeaderLength && length <= scratchLength, $"{what}: handshake length {length}");
        }

        if (status == TlsStreamStatus.NeedMoreData)
        {
            FuzzAssert.True(needed >= 1, $"{what}: NeedMoreData with bytesNeeded {needed}");
        }
    }

    private static void CheckHello(ReadOnlySpan<byte> message)
    {
        if (!TlsClientHello.TryRead(message, out ClientHelloInfo info, out TlsError error))
        {
            FuzzAssert.True(error != TlsError.None, "TryRead failed without a reason");
            return;
        }

        int n = message.Length;
        FuzzAssert.True(message[0] == TlsClientHello.HandshakeTypeClientHello, "accepted a non-ClientHello");
        FuzzAssert.True(info.MessageLength >= TlsClientHello.HandshakeHeaderLength && info.MessageLength <= n, $"MessageLength {info.MessageLength}");
        FuzzAssert.InRange(info.SessionIdOffset, info.SessionIdLength, info.MessageLength, "session id");
        FuzzAssert.True(info.SessionIdLength <= 32, "session id over 32 bytes (RFC 8446 §4.1.2)");
        FuzzAssert.InRange(info.CipherSuitesOffset, info.CipherSuitesLength, info.MessageLength, "cipher suites");
        FuzzAssert.True(info.CipherSuitesLength % 2 == 0, "odd cipher suites length");
        FuzzAssert.InRange(info.ExtensionsOffset, info.ExtensionsLength, info.MessageLength, "extensions");
        FuzzAssert.True(info.ExtensionCount >= 0 && info.ExtensionCount * 4 <= info.ExtensionsLength, $"{info.ExtensionCount} extensions");
        if (info.HasServerName)
        {
            FuzzAssert.InRange(info.ServerNameOffset, info.ServerNameLength, info.MessageLength, "server name");
            FuzzAssert.True(info.ServerNameOffset >= info.ExtensionsOffset, "server name before the extensions");
            _ = info.ServerNameString(message);
        }
        else
        {
            FuzzAssert.True(info.ServerNameString(message) is null, "SNI string without SNI");
        }

        if (info.HasAlpn)
        {
            FuzzAssert.InRange(info.AlpnOffset, info.AlpnLength, info.MessageLength, "ALPN");
            int total = 0;
            foreach (ReadOnlySpan<byte> protocol in info.GetAlpnProtocols(message))
            {
                FuzzAssert.True(protocol.Length >= 1, "empty ALPN protocol name (RFC 7301 §3.1)");
                total += 1 + protocol.Length;
                FuzzAssert.True(info.AlpnContains(message, protocol), "AlpnContains misses an enumerated protocol");
            }

            FuzzAssert.True(total <= info.AlpnLength, "ALPN names run past the list");
            _ = info.AlpnList(message);
        }

        _ = info.GetSessionId(message);
        _ = info.GetCipherSuites(message);
    }
}
