using System.Buffers.Binary;

namespace DnsWarden.Wire.Dns;

/// <summary>
/// Changes to the OPT record of a message already written (a cached or forwarded answer), in place: what a resolver
/// adds to an answer it did not write itself, such as an Extended DNS Error on a stale answer (RFC 8914, RFC 8767).
/// </summary>
public static class DnsOptEdit
{
    /// <summary>
    /// Appends one EDNS option to the message's OPT record when OPT is its last record (where RFC 6891 writers put
    /// it) and <paramref name="message"/> has room; the message's length grows by 4 + <paramref name="data"/>'s.
    /// False, with the message unchanged, when it has no OPT, OPT is not last, the message is malformed or there is
    /// no room.
    /// </summary>
    public static bool TryAppendOption(Span<byte> message, int length, ushort code, ReadOnlySpan<byte> data, out int newLength)
    {
        newLength = length;
        var reader = new DnsMessageReader(message[..length]);
        int optRdlength = -1;
        int optEnd = -1;
        int optRdata = -1;
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type == DnsType.OPT && r.Section == DnsSection.Additional)
            {
                optRdata = r.RdataOffset;
                optRdlength = r.RdataLength;
                optEnd = r.RdataOffset + r.RdataLength;
            }
        }

        int added = 4 + data.Length;
        if (!reader.IsComplete || optEnd != length || optRdlength + added > ushort.MaxValue || length + added > message.Length)
        {
            return false;
        }

        Span<byte> option = message.Slice(length, added);
        BinaryPrimitives.WriteUInt16BigEndian(option, code);
        BinaryPrimitives.WriteUInt16BigEndian(option[2..], (ushort)data.Length);
        data.CopyTo(option[4..]);
        BinaryPrimitives.WriteUInt16BigEndian(message[(optRdata - 2)..], (ushort)(optRdlength + added));
        newLength = length + added;
        return true;
    }

    /// <summary>As <see cref="TryAppendOption"/> with an Extended DNS Error (RFC 8914 §2): INFO-CODE and no EXTRA-TEXT.</summary>
    public static bool TryAppendExtendedError(Span<byte> message, int length, DnsExtendedError code, out int newLength)
    {
        Span<byte> infoCode = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(infoCode, (ushort)code);
        return TryAppendOption(message, length, (ushort)EdnsOptionCode.ExtendedDnsError, infoCode, out newLength);
    }
}
