using System.Buffers.Binary;

namespace DnsWarden.Wire.Tls;

/// <summary>
/// Pulls the first handshake message out of the start of a TLS-over-TCP stream (RFC 8446 §5.1). The caller
/// accumulates stream bytes and calls again after <see cref="TlsStreamStatus.NeedMoreData"/>; the message may
/// be split over several handshake records and each record over several TCP segments.
/// </summary>
public static class TlsRecordReader
{
    /// <summary>ContentType handshake (RFC 8446 §5.1).</summary>
    public const byte ContentTypeHandshake = 22;

    /// <summary>type (1) + legacy_record_version (2) + length (2).</summary>
    public const int RecordHeaderLength = 5;

    /// <summary>RFC 8446 §5.1: a TLSPlaintext fragment MUST NOT exceed 2^14 bytes.</summary>
    public const int MaxFragmentLength = 1 << 14;

    /// <inheritdoc cref="TryGetClientHello(ReadOnlySpan{byte}, Span{byte}, out int, out TlsStreamStatus, out int)"/>
    public static bool TryGetClientHello(ReadOnlySpan<byte> stream, Span<byte> scratch, out int handshakeLength, out TlsStreamStatus status) =>
        TryGetClientHello(stream, scratch, out handshakeLength, out status, out _);

    /// <summary>
    /// Copies the first handshake message, record headers stripped, into <paramref name="scratch"/>. On
    /// <see cref="TlsStreamStatus.Complete"/>, <c>scratch[..handshakeLength]</c> is the message including its
    /// 4-byte header, ready for <see cref="TlsClientHello.TryRead"/>. On <see cref="TlsStreamStatus.TooLarge"/>
    /// <paramref name="handshakeLength"/> is the declared length when known. On
    /// <see cref="TlsStreamStatus.NeedMoreData"/>, <paramref name="bytesNeeded"/> is a lower bound on the further
    /// stream bytes required (always at least 1).
    /// </summary>
    public static bool TryGetClientHello(
        ReadOnlySpan<byte> stream,
        Span<byte> scratch,
        out int handshakeLength,
        out TlsStreamStatus status,
        out int bytesNeeded)
    {
        handshakeLength = 0;
        bytesNeeded = 0;
        int position = 0;
        int copied = 0;
        int total = -1;

        while (true)
        {
            int headerBytes = stream.Length - position;
            if (headerBytes < RecordHeaderLength)
            {
                if (!HeaderPrefixValid(stream.Slice(position)))
                {
                    status = position == 0 ? TlsStreamStatus.NotTls : TlsStreamStatus.Malformed;
                    return false;
                }

                bytesNeeded = RecordHeaderLength - headerBytes + (total < 0 ? 1 : total - copied);
                status = TlsStreamStatus.NeedMoreData;
                return false;
            }

            ReadOnlySpan<byte> header = stream.Slice(position, RecordHeaderLength);
            if (!HeaderPrefixValid(header))
            {
                // RFC 8446 §5.1: handshake messages MUST NOT be interleaved with other record types.
                status = position == 0 ? TlsStreamStatus.NotTls : TlsStreamStatus.Malformed;
                return false;
            }

            int recordLength = BinaryPrimitives.ReadUInt16BigEndian(header.Slice(3));
            // RFC 8446 §5.1: zero-length handshake fragments MUST NOT be sent; 2^14 is the ceiling.
            if (recordLength == 0 || recordLength > MaxFragmentLength)
            {
                status = position == 0 ? TlsStreamStatus.NotTls : TlsStreamStatus.Malformed;
                return false;
            }

            int fragmentStart = position + RecordHeaderLength;
            int available = Math.Min(recordLength, stream.Length - fragmentStart);
            ReadOnlySpan<byte> fragment = stream.Slice(fragmentStart, available);

            while (!fragment.IsEmpty && (total < 0 || copied < total))
            {
                int want = total < 0 ? TlsClientHello.HandshakeHeaderLength - copied : total - copied;
                int n = Math.Min(want, fragment.Length);
                if (scratch.Length - copied < n)
                {
                    status = TlsStreamStatus.TooLarge;
                    handshakeLength = total;
                    return false;
                }

                fragment.Slice(0, n).CopyTo(scratch.Slice(copied));
                if (copied == 0 && scratch[0] != TlsClientHello.HandshakeTypeClientHello)
                {
                    status = TlsStreamStatus.NotClientHello;
                    return false;
                }

                copied += n;
                fragment = fragment.Slice(n);
                if (total < 0 && copied == TlsClientHello.HandshakeHeaderLength)
                {
                    total = TlsClientHello.HandshakeHeaderLength + ((scratch[1] << 16) | (scratch[2] << 8) | scratch[3]);
                    if (total > scratch.Length)
                    {
                        status = TlsStreamStatus.TooLarge;
                        handshakeLength = total;
                        return false;
                    }
                }
            }

            if (total >= 0 && copied == total)
            {
                handshakeLength = total;
                status = TlsStreamStatus.Complete;
                return true;
            }

            if (available < recordLength)
            {
                int missingInRecord = recordLength - available;
                int stillMissing = total < 0 ? 0 : total - copied - missingInRecord;
                bytesNeeded = missingInRecord + (stillMissing > 0 ? RecordHeaderLength + stillMissing : 0);
                status = TlsStreamStatus.NeedMoreData;
                return false;
            }

            position = fragmentStart + recordLength;
        }
    }

    /// <summary>
    /// Cheap test that the bytes seen so far could open a TLS connection with a ClientHello: handshake record,
    /// version 3.x, a sane record length and msg_type 1. False for an empty span.
    /// </summary>
    public static bool IsLikelyTlsStart(ReadOnlySpan<byte> stream)
    {
        if (stream.IsEmpty || !HeaderPrefixValid(stream))
        {
            return false;
        }

        if (stream.Length >= RecordHeaderLength)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(stream.Slice(3));
            if (length == 0 || length > MaxFragmentLength)
            {
                return false;
            }
        }

        return stream.Length <= RecordHeaderLength || stream[RecordHeaderLength] == TlsClientHello.HandshakeTypeClientHello;
    }

    /// <summary>
    /// Type and legacy_record_version checks over up to the first 3 header bytes. RFC 8446 §5.1 allows 0x0301
    /// for an initial ClientHello; deployed stacks use 0x0300..0x0304, so any 3.x up to 4 is accepted.
    /// </summary>
    private static bool HeaderPrefixValid(ReadOnlySpan<byte> header)
    {
        if (header.Length >= 1 && header[0] != ContentTypeHandshake)
        {
            return false;
        }

        if (header.Length >= 2 && header[1] != 3)
        {
            return false;
        }

        return header.Length < 3 || header[2] <= 4;
    }
}
