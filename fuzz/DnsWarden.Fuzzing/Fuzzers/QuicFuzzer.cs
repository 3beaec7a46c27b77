using DnsWarden.Wire.Quic;
using DnsWarden.Wire.Tls;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// QUIC: long headers (walking coalesced packets), Initial decryption, the frame reader and the CRYPTO
/// assembler over the raw input (as if it were a decrypted payload).
/// </summary>
internal sealed class QuicFuzzer : IFuzzer
{
    private const int PlaintextLength = 2048;

    [ThreadStatic]
    private static byte[]? t_plaintext;

    public string Name => "Quic";

    public IReadOnlyList<byte[]> GetSeeds()
    {
        byte[] initial = SeedCorpus.QuicInitial;
        byte[] crypto = [0x06, 0x00, 0x40, 0xF1, .. SeedCorpus.ClientHello];
        byte[] split = [0x06, 0x40, 0x64, 0x40, 0x8D, .. SeedCorpus.ClientHello.AsSpan(100), 0x01, 0x00, 0x06, 0x00, 0x40, 0x64, .. SeedCorpus.ClientHello.AsSpan(0, 100)];
        byte[] ack = [0x02, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1C, 0x0A, 0x00, 0x00];
        return [initial, [.. initial, .. initial.AsSpan(0, 64)], crypto, split, ack, [0x1D, 0x01, 0x02, 0x00, 0x00, 0x00]];
    }

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        CheckHeaders(bytes);
        CheckDecrypt(bytes);
        CheckFrames(bytes);

        var assembler = new QuicCryptoAssembler(1024);
        QuicCryptoStatus status = assembler.AddFrames(bytes);
        CheckAssembler(assembler, status);

        // Raw Add: the first two bytes are the offset, the rest the data, into a small buffer.
        if (bytes.Length >= 2)
        {
            var small = new QuicCryptoAssembler(64 + bytes[0]);
            ulong offset = (ulong)(bytes[1] & 0x3F);
            status = small.Add(offset, bytes.Slice(2));
            status = small.Add(0, bytes.Slice(2, Math.Min(bytes.Length - 2, (int)offset)));
            CheckAssembler(small, status);
            small.Reset();
            FuzzAssert.True(small.Status == QuicCryptoStatus.NeedMoreData && small.ContiguousLength == 0, "Reset left state behind");
        }
    }

    private static void CheckHeaders(ReadOnlySpan<byte> datagram)
    {
        int position = 0;
        int packets = 0;
        while (position < datagram.Length && QuicPacket.TryReadLongHeader(datagram.Slice(position), out QuicLongHeader h, out QuicError error))
        {
            ReadOnlySpan<byte> packet = datagram.Slice(position);
            FuzzAssert.True(error == QuicError.None, "success with an error");
            FuzzAssert.InRange(h.DestinationConnectionIdOffset, h.DestinationConnectionIdLength, packet.Length, "DCID");
            FuzzAssert.InRange(h.SourceConnectionIdOffset, h.SourceConnectionIdLength, packet.Length, "SCID");
            FuzzAssert.True(h.DestinationConnectionIdLength <= 255 && h.SourceConnectionIdLength <= 255, "CID length");
            _ = h.GetDestinationConnectionId(packet);
            _ = h.GetSourceConnectionId(packet);
            if (h.TokenLength > 0)
            {
                FuzzAssert.InRange(h.TokenOffset, h.TokenLength, packet.Length, "token");
                _ = h.GetToken(packet);
            }

            FuzzAssert.True(h.PacketLength >= 1 && h.PacketLength <= packet.Length, $"PacketLength {h.PacketLength} of {packet.Length}");
            FuzzAssert.True(h.PacketNumberOffset >= 0 && h.PacketNumberOffset <= h.PacketLength, $"PacketNumberOffset {h.PacketNumberOffset}");
            FuzzAssert.True(h.Length >= 0, "negative Length");
            _ = QuicPacket.IsLikelyQuicInitial(packet);
            position += h.PacketLength;
            FuzzAssert.True(++packets <= datagram.Length, "coalesced packet walk does not advance");
        }

        if (QuicInitialDecryptor.TryGetDestinationConnectionId(datagram, out ReadOnlySpan<byte> dcid))
        {
            FuzzAssert.True(dcid.Length <= datagram.Length, "DCID");
        }
    }

    private static void CheckDecrypt(ReadOnlySpan<byte> datagram)
    {
        byte[] plaintext = t_plaintext ??= new byte[PlaintextLength];
        if (!QuicInitialDecryptor.TryDecryptClientInitial(datagram, plaintext, out QuicInitialResult result, out QuicError error))
        {
            FuzzAssert.True(error != QuicError.None, "decryption failed without a reason");
            return;
        }

        FuzzAssert.True(result.PacketOffset >= 0 && result.PacketOffset < datagram.Length, $"PacketOffset {result.PacketOffset}");
        FuzzAssert.True(result.PlaintextLength >= 0 && result.PlaintextLength <= plaintext.Length, $"PlaintextLength {result.PlaintextLength}");
        FuzzAssert.True(result.PacketNumberLength is >= 1 and <= 4, $"PacketNumberLength {result.PacketNumberLength}");
        ReadOnlySpan<byte> payload = plaintext.AsSpan(0, result.PlaintextLength);
        CheckFrames(payload);
        var assembler = new QuicCryptoAssembler();
        CheckAssembler(assembler, assembler.AddFrames(payload));

        // A payload too big for the plaintext buffer must be refused, not written past it.
        Span<byte> tiny = stackalloc byte[16];
        FuzzAssert.True(
            result.PlaintextLength <= tiny.Length || !QuicInitialDecryptor.TryDecryptClientInitial(datagram, tiny, out _, out _),
            "decrypted into a buffer smaller than the plaintext");
    }

    private static void CheckFrames(ReadOnlySpan<byte> payload)
    {
        var reader = new QuicFrameReader(payload);
        int previous = 0;
        while (reader.TryReadNext(out QuicFrame frame))
        {
            FuzzAssert.True(frame.Offset == previous, $"frame at {frame.Offset}, expected {previous}");
            FuzzAssert.True(frame.Length >= 1, "empty frame");
            FuzzAssert.InRange(frame.Offset, frame.Length, payload.Length, "frame");
            if (frame.Type == QuicFrameType.Crypto)
            {
                FuzzAssert.InRange(frame.DataOffset, frame.DataLength, payload.Length, "CRYPTO data");
                FuzzAssert.True(frame.DataOffset >= frame.Offset && frame.DataOffset + frame.DataLength <= frame.Offset + frame.Length, "CRYPTO data outside its frame");
                FuzzAssert.True(frame.CryptoOffset <= QuicVarInt.MaxValue, "CRYPTO offset beyond 2^62");
                _ = frame.GetData(payload);
            }

            previous = frame.Offset + frame.Length;
            FuzzAssert.True(reader.Position == previous, $"Position {reader.Position} after a frame ending at {previous}");
        }

        FuzzAssert.True(reader.Position <= payload.Length, "reader ran past the payload");
    }

    private static void CheckAssembler(QuicCryptoAssembler assembler, QuicCryptoStatus status)
    {
        FuzzAssert.True(status == assembler.Status, "returned status differs from Status");
        FuzzAssert.True(assembler.ContiguousLength >= 0 && assembler.ContiguousLength <= assembler.Capacity, $"ContiguousLength {assembler.ContiguousLength}");
        if (assembler.TryGetClientHello(out ReadOnlySpan<byte> hello))
        {
            FuzzAssert.True(status == QuicCryptoStatus.Complete, "ClientHello handed out before completion");
            FuzzAssert.True(hello.Length == assembler.MessageLength && hello.Length <= assembler.ContiguousLength, $"ClientHello of {hello.Length}, MessageLength {assembler.MessageLength}");
            FuzzAssert.True(hello.Length >= TlsClientHello.HandshakeHeaderLength && hello[0] == TlsClientHello.HandshakeTypeClientHello, "not a ClientHello");
            if (TlsClientHello.TryRead(hello, out ClientHelloInfo info, out _))
            {
                FuzzAssert.True(info.MessageLength <= hello.Length, "ClientHello longer than assembled");
            }
        }
        else
        {
            FuzzAssert.True(status != QuicCryptoStatus.Complete, "Complete without a ClientHello");
        }
    }
}
