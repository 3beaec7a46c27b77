using System.Net;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Engine;

/// <summary>
/// DNS rebinding protection (docs/RESOLVER.md, "Rebinding"): which addresses an upstream's answer may not hand out
/// (<see cref="IsForbidden"/>, the one place this is judged), and the answer rewritten without them
/// (<see cref="TryStrip"/>). An allowed name whose answer points at loopback, a private network, the host itself
/// or a cloud metadata service would otherwise open exactly those to the client: the jail's address sets, the TUN
/// filter's tracker, a browser's same-origin rule. Immutable; one instance serves every thread.
/// </summary>
public sealed class RebindingGuard
{
    // RFC 8914: option code 15 (Extended DNS Error), 2 bytes of data: INFO-CODE 15, "Blocked" by the operator's policy.

    // Record types whose RDATA holds names a sender may compress (RFC 1035 §3.3, RFC 3597 §4): re-encoded, since a
    // pointer into a removed record would point at something else in the rewritten message.
    private const ushort TypeMd = 3;
    private const ushort TypeMf = 4;
    private const ushort TypeMb = 7;
    private const ushort TypeMg = 8;
    private const ushort TypeMr = 9;
    private const ushort TypeMinfo = 14;
    private const ushort TypeAfsdb = 18;
    private const ushort TypeRt = 21;

    private static readonly byte[] s_edeOption = [0, 15, 0, 2, 0, 15];

    private readonly HashSet<IpAddr> _own;

    /// <param name="ownAddresses">
    /// The addresses of the host (the network namespace dnsw runs in) and of anything it serves (a jail's veth ends):
    /// an answer naming one of them is refused like a private one, even when the address is public.
    /// </param>
    public RebindingGuard(IEnumerable<IPAddress> ownAddresses)
    {
        ArgumentNullException.ThrowIfNull(ownAddresses);
        _own = [.. ownAddresses.Select(IpAddr.FromIPAddress)];
    }

    /// <summary>The special-purpose ranges only, no own addresses.</summary>
    public static RebindingGuard Default { get; } = new([]);

    public IReadOnlyCollection<IpAddr> OwnAddresses => _own;

    /// <summary>True for an address an answer must not hand out: special-purpose (<see cref="IsSpecialPurpose"/>) or one of the host's own.</summary>
    public bool IsForbidden(IpAddr address) => IsSpecialPurpose(address) || _own.Contains(address);

    /// <summary>
    /// Addresses that never name a service on the public internet: IPv4 0/8 (this network), 10/8, 172.16/12 and
    /// 192.168/16 (RFC 1918), 100.64/10 (RFC 6598 shared, carrier-grade NAT), 127/8 (loopback), 169.254/16
    /// (RFC 3927 link-local, with the 169.254.169.254 metadata service), 224/4 (multicast), 240/4 and the broadcast
    /// address (RFC 1112 reserved); IPv6 ::/96 (unspecified, loopback, the old IPv4-compatible form), fc00::/7
    /// (RFC 4193 unique local), fe80::/10 (link-local), fec0::/10 (RFC 3879 site-local), ff00::/8 (multicast),
    /// 64:ff9b:1::/48 (RFC 8215 local-use NAT64). IPv4-mapped addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) and
    /// the well-known NAT64 prefix 64:ff9b::/96 (RFC 6052) are judged by the IPv4 address they carry. Documentation
    /// ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) are not in the list: nothing routes them.
    /// </summary>
    public static bool IsSpecialPurpose(IpAddr address)
    {
        if (address.IsV4)
        {
            return IsSpecialV4(address.V4);
        }

        ulong hi = address.High;
        ulong lo = address.Low;
        if (hi == 0 && lo >> 32 == 0)
        {
            return true;
        }

        if (hi == 0x0064_FF9B_0000_0000UL && lo >> 32 == 0)
        {
            return IsSpecialV4((uint)lo);
        }

        return hi >> 57 == 0x7E            // fc00::/7
            || hi >> 54 == 0x3FA           // fe80::/10
            || hi >> 54 == 0x3FB           // fec0::/10
            || hi >> 56 == 0xFF            // ff00::/8
            || hi >> 16 == 0x0064_FF9B_0001UL; // 64:ff9b:1::/48
    }

    private static bool IsSpecialV4(uint v) =>
        v >> 24 is 0 or 10 or 127
        || (v & 0xFFC0_0000) == 0x6440_0000   // 100.64/10
        || (v & 0xFFFF_0000) == 0xA9FE_0000   // 169.254/16
        || (v & 0xFFF0_0000) == 0xAC10_0000   // 172.16/12
        || (v & 0xFFFF_0000) == 0xC0A8_0000   // 192.168/16
        || v >= 0xE000_0000;                  // 224/4, 240/4, 255.255.255.255

    /// <summary>
    /// True when <paramref name="response"/> carries a forbidden address: an A or AAAA record in any section, or an
    /// address hint of an SVCB/HTTPS record (RFC 9460 §7.3: clients may connect to hints before asking for A/AAAA).
    /// Allocates nothing; a message that does not parse holds nothing (the engine never releases such a reply).
    /// </summary>
    public bool HoldsForbidden(ReadOnlySpan<byte> response)
    {
        var reader = new DnsMessageReader(response);
        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (IsForbiddenRecord(record))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Writes <paramref name="response"/> into <paramref name="destination"/> without its forbidden records (see
    /// <see cref="HoldsForbidden"/>): header, question and RCODE kept, every other record kept with its names
    /// re-encoded, so no compression pointer points into a removed record. When the answer section is left empty
    /// the client gets NOERROR with no answer (docs/DECISIONS.md, "Rebinding"). An OPT record carries Extended DNS
    /// Error 15, "Blocked" (RFC 8914), so a person running dig sees why. False when the response does not parse or
    /// does not fit.
    /// </summary>
    public bool TryStrip(ReadOnlySpan<byte> response, Span<byte> destination, out int written, out int removed)
    {
        written = 0;
        removed = 0;
        var reader = new DnsMessageReader(response);
        if (!reader.TryReadHeader(out DnsHeader header))
        {
            return false;
        }

        var writer = new DnsMessageWriter(destination);
        if (!writer.TryWriteHeader(header.Id, header.Flags, header.Opcode, header.Rcode))
        {
            return false;
        }

        for (int i = 0; i < header.QuestionCount; i++)
        {
            if (!reader.TryReadQuestion(out DnsQuestion q) || !writer.TryWriteQuestion(q.Name, q.Type, q.Class))
            {
                return false;
            }
        }

        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (IsForbiddenRecord(record))
            {
                removed++;
                continue;
            }

            if (!TryCopy(record, ref writer))
            {
                return false;
            }
        }

        return reader.IsComplete && writer.TryFinish(out written);
    }

    private bool IsForbiddenRecord(in DnsRecord record)
    {
        if (record.Type is DnsType.A or DnsType.AAAA)
        {
            return record.TryReadAddress(out IpAddr address) && IsForbidden(address);
        }

        if (record.Type is DnsType.SVCB or DnsType.HTTPS && record.TryReadSvcb(out DnsSvcb svcb))
        {
            if (svcb.Params.TryGetIpv4Hint(out DnsAddressList v4) && AnyForbidden(v4))
            {
                return true;
            }

            return svcb.Params.TryGetIpv6Hint(out DnsAddressList v6) && AnyForbidden(v6);
        }

        return false;
    }

    private bool AnyForbidden(DnsAddressList list)
    {
        foreach (IpAddr a in list)
        {
            if (IsForbidden(a))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryCopy(in DnsRecord record, ref DnsMessageWriter writer)
    {
        ReadOnlySpan<byte> message = record.Message;
        int at = record.RdataOffset;
        int end = at + record.RdataLength;
        if (record.Type == DnsType.OPT)
        {
            // The owner is the root; CLASS is the UDP payload size, TTL the extended RCODE, version and flags.
            return writer.TryBeginRecord(DnsSection.Additional, DnsNameSource.FromUtf8("."u8), DnsType.OPT, record.Class, record.Ttl)
                && writer.TryWriteRdata(record.Rdata)
                && writer.TryWriteRdata(s_edeOption)
                && writer.TryEndRecord();
        }

        if (!writer.TryBeginRecord(record.Section, record.Name, record.Type, record.Class, record.Ttl))
        {
            return false;
        }

        switch ((ushort)record.Type)
        {
            case (ushort)DnsType.CNAME or (ushort)DnsType.NS or (ushort)DnsType.PTR or TypeMb or TypeMd or TypeMf or TypeMg or TypeMr:
                return CopyName(message, ref at, end, ref writer, compress: true) && at == end && writer.TryEndRecord();
            case (ushort)DnsType.MX or TypeAfsdb or TypeRt:
                return CopyFixed(message, ref at, end, 2, ref writer) && CopyName(message, ref at, end, ref writer, compress: record.Type == DnsType.MX)
                    && at == end && writer.TryEndRecord();
            case (ushort)DnsType.SOA:
                return CopyName(message, ref at, end, ref writer, compress: true) && CopyName(message, ref at, end, ref writer, compress: true)
                    && CopyFixed(message, ref at, end, 20, ref writer) && at == end && writer.TryEndRecord();
            case (ushort)DnsType.RP or TypeMinfo:
                return CopyName(message, ref at, end, ref writer, compress: record.Type != DnsType.RP)
                    && CopyName(message, ref at, end, ref writer, compress: record.Type != DnsType.RP) && at == end && writer.TryEndRecord();
            case (ushort)DnsType.SRV:
                // RFC 2782: the target is not compressed, but RFC 3597 §4 asks receivers to expand it if it is.
                return CopyFixed(message, ref at, end, 6, ref writer) && CopyName(message, ref at, end, ref writer, compress: false)
                    && at == end && writer.TryEndRecord();
            default:
                // Every other type carries no compressed name (RFC 3597 §4): its bytes mean the same anywhere.
                return writer.TryWriteRdata(record.Rdata) && writer.TryEndRecord();
        }
    }

    private static bool CopyName(ReadOnlySpan<byte> message, ref int at, int end, ref DnsMessageWriter writer, bool compress)
    {
        if (!DnsName.TryRead(message, at, out DnsName name, out int consumed, out _) || at + consumed > end)
        {
            return false;
        }

        at += consumed;
        return writer.TryWriteRdataName(name, compress);
    }

    private static bool CopyFixed(ReadOnlySpan<byte> message, ref int at, int end, int count, ref DnsMessageWriter writer)
    {
        if (end - at < count)
        {
            return false;
        }

        bool ok = writer.TryWriteRdata(message.Slice(at, count));
        at += count;
        return ok;
    }
}
