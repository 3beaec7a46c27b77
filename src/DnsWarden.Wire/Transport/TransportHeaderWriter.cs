using System.Buffers.Binary;

namespace DnsWarden.Wire.Transport;

/// <summary>Writes UDP and TCP headers with a zero checksum; <see cref="Frames.PacketBuilder"/> fills checksums in.</summary>
public static class TransportHeaderWriter
{
    public const int UdpHeaderLength = 8;
    public const int TcpMinHeaderLength = 20;

    /// <summary>TCP options may take the data offset up to 15 words (RFC 9293 §3.1).</summary>
    public const int TcpMaxOptionsLength = 40;

    /// <summary>Writes an 8-byte UDP header (RFC 768) whose length covers <paramref name="payloadLength"/>.</summary>
    public static bool TryWriteUdpHeader(Span<byte> destination, ushort sourcePort, ushort destinationPort, int payloadLength, out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < UdpHeaderLength || payloadLength < 0 || payloadLength > ushort.MaxValue - UdpHeaderLength)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(4), (ushort)(UdpHeaderLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(6), 0);
        bytesWritten = UdpHeaderLength;
        return true;
    }

    public static bool TryWriteTcpHeader(
        Span<byte> destination,
        ushort sourcePort,
        ushort destinationPort,
        uint sequence,
        uint acknowledgment,
        TcpFlags flags,
        ushort window,
        out int bytesWritten) =>
        TryWriteTcpHeader(destination, sourcePort, destinationPort, sequence, acknowledgment, flags, window, default, out bytesWritten);

    /// <summary>
    /// Writes a TCP header (RFC 9293 §3.1). <paramref name="options"/> are copied as given and padded with
    /// End-of-Option-List zeros to a 4-byte boundary; the urgent pointer is zero.
    /// </summary>
    public static bool TryWriteTcpHeader(
        Span<byte> destination,
        ushort sourcePort,
        ushort destinationPort,
        uint sequence,
        uint acknowledgment,
        TcpFlags flags,
        ushort window,
        ReadOnlySpan<byte> options,
        out int bytesWritten)
    {
        bytesWritten = 0;
        int optionsLength = (options.Length + 3) & ~3;
        int headerLength = TcpMinHeaderLength + optionsLength;
        if (options.Length > TcpMaxOptionsLength || destination.Length < headerLength)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(8), acknowledgment);
        destination[12] = (byte)((headerLength >> 2) << 4);
        destination[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(14), window);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(16), 0);
        options.CopyTo(destination.Slice(TcpMinHeaderLength));
        destination.Slice(TcpMinHeaderLength + options.Length, optionsLength - options.Length).Clear();
        bytesWritten = headerLength;
        return true;
    }
}
