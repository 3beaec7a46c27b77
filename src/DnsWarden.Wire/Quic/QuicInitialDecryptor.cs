using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace DnsWarden.Wire.Quic;

/// <summary>
/// Removes Initial packet protection from a client's datagram (RFC 9001 §5) so that its CRYPTO frames, and the
/// ClientHello inside them, can be read.
/// </summary>
/// <remarks>
/// Allocation: each successful call creates one <see cref="Aes"/> (header protection) and one
/// <see cref="AesGcm"/> (payload) object, which also hold native handles; both are disposed before returning.
/// A failed tag check costs one caught <see cref="AuthenticationTagMismatchException"/>, which is how
/// <see cref="AesGcm"/> reports it. Everything else (header parsing, key derivation, nonce, associated data up to
/// <see cref="StackAllocThreshold"/> bytes, frame walk) stays off the heap.
/// </remarks>
public static class QuicInitialDecryptor
{
    /// <summary>RFC 9001 §5.4.2: the header protection sample is 16 bytes taken 4 bytes after the packet number start.</summary>
    public const int SampleLength = 16;

    /// <summary>AEAD_AES_128_GCM tag (RFC 9001 §5.3).</summary>
    public const int TagLength = 16;

    /// <summary>Headers (the AEAD associated data) up to this size go on the stack; longer ones (big tokens) are pooled.</summary>
    public const int StackAllocThreshold = 256;

    /// <summary>
    /// Finds the first Initial packet in <paramref name="datagram"/> (skipping coalesced 0-RTT or Handshake packets
    /// ahead of it), removes header protection, and decrypts its payload into <paramref name="plaintext"/>.
    /// False with a reason on any failure; never throws for bad input.
    /// </summary>
    public static bool TryDecryptClientInitial(ReadOnlySpan<byte> datagram, Span<byte> plaintext, out QuicInitialResult result, out QuicError error)
    {
        result = default;
        if (datagram.IsEmpty)
        {
            return Fail(QuicError.Truncated, out error);
        }

        int offset = 0;
        QuicLongHeader header;
        while (true)
        {
            if (offset >= datagram.Length)
            {
                return Fail(QuicError.NoInitialPacket, out error);
            }

            if (!QuicPacket.TryReadLongHeader(datagram.Slice(offset), out header, out error))
            {
                // Only the first packet's failure says what the datagram is; later ones may be padding or a short header.
                return offset == 0 ? false : Fail(QuicError.NoInitialPacket, out error);
            }

            if (header.PacketType == QuicPacketType.Initial)
            {
                break;
            }

            if (header.PacketType is QuicPacketType.UnknownVersion)
            {
                return Fail(offset == 0 ? QuicError.UnsupportedVersion : QuicError.NoInitialPacket, out error);
            }

            if (header.PacketType is not (QuicPacketType.ZeroRtt or QuicPacketType.Handshake) || header.PacketLength == 0)
            {
                return Fail(QuicError.NoInitialPacket, out error);
            }

            offset += header.PacketLength;
        }

        ReadOnlySpan<byte> packet = datagram.Slice(offset, header.PacketLength);
        int pnOffset = header.PacketNumberOffset;
        if (packet.Length - pnOffset < 4 + SampleLength)
        {
            return Fail(QuicError.PacketTooShort, out error);
        }

        Span<byte> key = stackalloc byte[QuicInitialSecrets.KeyLength];
        Span<byte> iv = stackalloc byte[QuicInitialSecrets.IvLength];
        Span<byte> hp = stackalloc byte[QuicInitialSecrets.HeaderProtectionKeyLength];
        if (!QuicInitialSecrets.TryDeriveKeys(header.Version, header.GetDestinationConnectionId(packet), server: false, key, iv, hp))
        {
            return Fail(QuicError.UnsupportedVersion, out error);
        }

        // RFC 9001 §5.4.1: mask = AES-ECB(hp, sample); long headers protect the low 4 bits of the first byte.
        Span<byte> mask = stackalloc byte[SampleLength];
        using (Aes aes = Aes.Create())
        {
            aes.SetKey(hp);
            aes.EncryptEcb(packet.Slice(pnOffset + 4, SampleLength), mask, PaddingMode.None);
        }

        byte first = (byte)(packet[0] ^ (mask[0] & 0x0F));
        int pnLength = (first & 0x03) + 1;
        uint packetNumber = 0;
        for (int i = 0; i < pnLength; i++)
        {
            packetNumber = (packetNumber << 8) | (byte)(packet[pnOffset + i] ^ mask[1 + i]);
        }

        int headerLength = pnOffset + pnLength;
        int cipherLength = packet.Length - headerLength - TagLength;
        if (cipherLength < 0)
        {
            return Fail(QuicError.PacketTooShort, out error);
        }

        if (plaintext.Length < cipherLength)
        {
            return Fail(QuicError.BufferTooSmall, out error);
        }

        // RFC 9001 §5.3: nonce = IV XOR packet number, left-padded to the IV length.
        Span<byte> nonce = stackalloc byte[QuicInitialSecrets.IvLength];
        iv.CopyTo(nonce);
        for (int i = 0; i < pnLength; i++)
        {
            nonce[QuicInitialSecrets.IvLength - pnLength + i] ^= (byte)(packetNumber >> (8 * (pnLength - 1 - i)));
        }

        byte[]? rented = null;
        Span<byte> aad = headerLength <= StackAllocThreshold
            ? stackalloc byte[StackAllocThreshold]
            : (rented = ArrayPool<byte>.Shared.Rent(headerLength));
        try
        {
            aad = aad.Slice(0, headerLength);
            packet.Slice(0, headerLength).CopyTo(aad);
            aad[0] = first;
            for (int i = 0; i < pnLength; i++)
            {
                aad[pnOffset + i] = (byte)(packetNumber >> (8 * (pnLength - 1 - i)));
            }

            using var gcm = new AesGcm(key, TagLength);
            try
            {
                gcm.Decrypt(
                    nonce,
                    packet.Slice(headerLength, cipherLength),
                    packet.Slice(headerLength + cipherLength, TagLength),
                    plaintext.Slice(0, cipherLength),
                    aad);
            }
            catch (AuthenticationTagMismatchException)
            {
                return Fail(QuicError.DecryptionFailed, out error);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        int crypto = 0;
        bool ack = false, ping = false, close = false;
        var reader = new QuicFrameReader(plaintext.Slice(0, cipherLength));
        while (reader.TryReadNext(out QuicFrame frame))
        {
            switch (frame.Type)
            {
                case QuicFrameType.Crypto:
                    crypto++;
                    break;
                case QuicFrameType.Ack:
                    ack = true;
                    break;
                case QuicFrameType.Ping:
                    ping = true;
                    break;
                case QuicFrameType.ConnectionClose:
                    close = true;
                    break;
                default:
                    break;
            }
        }

        result = new QuicInitialResult
        {
            PacketOffset = offset,
            Header = header,
            UnprotectedFirstByte = first,
            PacketNumber = packetNumber,
            PacketNumberLength = pnLength,
            PlaintextLength = cipherLength,
            ReservedBitsSet = (first & 0x0C) != 0,
            CryptoFrameCount = crypto,
            HasAck = ack,
            HasPing = ping,
            HasConnectionClose = close,
            FrameError = reader.Error,
        };
        error = QuicError.None;
        return true;
    }

    /// <summary>Reads the Destination Connection ID of the first long header packet, the key a caller files connections under.</summary>
    public static bool TryGetDestinationConnectionId(ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> destinationConnectionId)
    {
        if (QuicPacket.TryReadLongHeader(datagram, out QuicLongHeader h, out _))
        {
            destinationConnectionId = h.GetDestinationConnectionId(datagram);
            return true;
        }

        destinationConnectionId = default;
        return false;
    }

    private static bool Fail(QuicError reason, out QuicError error)
    {
        error = reason;
        return false;
    }
}
