using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Dns;

/// <summary>
/// One resource record in place (RFC 1035 §4.1.3): owner name, TYPE, CLASS, TTL and where its RDATA
/// lies in the message. Typed accessors parse the RDATA on demand and return false when it is
/// malformed or of another TYPE.
/// </summary>
public readonly ref struct DnsRecord
{
    private const int Ipv4Length = 4;
    private const int Ipv6Length = 16;

    private readonly ReadOnlySpan<byte> _message;

    internal DnsRecord(
        ReadOnlySpan<byte> message, DnsName name, DnsType type, DnsClass @class, uint ttl, int rdataOffset, int rdataLength, DnsSection section)
    {
        _message = message;
        Name = name;
        Type = type;
        Class = @class;
        Ttl = ttl;
        RdataOffset = rdataOffset;
        RdataLength = rdataLength;
        Section = section;
    }

    public ReadOnlySpan<byte> Message => _message;

    public DnsName Name { get; }

    public DnsType Type { get; }

    /// <summary>The CLASS field; for OPT it carries the UDP payload size instead (RFC 6891 §6.1.2).</summary>
    public DnsClass Class { get; }

    /// <summary>The raw TTL; for OPT it carries extended RCODE, version and flags (RFC 6891 §6.1.3).</summary>
    public uint Ttl { get; }

    public int RdataOffset { get; }

    public int RdataLength { get; }

    public DnsSection Section { get; }

    public ReadOnlySpan<byte> Rdata => _message.Slice(RdataOffset, RdataLength);

    /// <summary>A record (RFC 1035 §3.4.1): exactly 4 octets.</summary>
    public bool TryReadA(out IpAddr address)
    {
        if (Type != DnsType.A || RdataLength != Ipv4Length)
        {
            address = default;
            return false;
        }

        address = IpAddr.FromV4(Rdata);
        return true;
    }

    /// <summary>AAAA record (RFC 3596 §2.2): exactly 16 octets.</summary>
    public bool TryReadAaaa(out IpAddr address)
    {
        if (Type != DnsType.AAAA || RdataLength != Ipv6Length)
        {
            address = default;
            return false;
        }

        address = IpAddr.FromV6(Rdata);
        return true;
    }

    /// <summary>Either an A or an AAAA record.</summary>
    public bool TryReadAddress(out IpAddr address) => TryReadA(out address) || TryReadAaaa(out address);

    /// <summary>The single name of a CNAME, NS, PTR or DNAME record; it must fill the RDATA exactly.</summary>
    public bool TryReadName(out DnsName target)
    {
        if (Type is not (DnsType.CNAME or DnsType.NS or DnsType.PTR or DnsType.DNAME))
        {
            target = default;
            return false;
        }

        return DnsRdata.TryReadName(_message, RdataOffset, RdataLength, out target, out _);
    }

    /// <summary>TXT (RFC 1035 §3.3.14): one or more character-strings.</summary>
    public bool TryReadTxt(out DnsCharacterStrings strings)
    {
        if (Type is not (DnsType.TXT or DnsType.SPF))
        {
            strings = default;
            return false;
        }

        return DnsCharacterStrings.TryRead(Rdata, allowEmptyStrings: true, out strings, out _);
    }

    /// <summary>NULL (RFC 1035 §3.3.10): any octets.</summary>
    public bool TryReadNull(out ReadOnlySpan<byte> data)
    {
        data = Type == DnsType.NULL ? Rdata : default;
        return Type == DnsType.NULL;
    }

    public bool TryReadSoa(out DnsSoa soa)
    {
        if (Type != DnsType.SOA)
        {
            soa = default;
            return false;
        }

        return DnsSoa.TryRead(_message, RdataOffset, RdataLength, out soa, out _);
    }

    public bool TryReadMx(out DnsMx mx)
    {
        if (Type != DnsType.MX)
        {
            mx = default;
            return false;
        }

        return DnsMx.TryRead(_message, RdataOffset, RdataLength, out mx, out _);
    }

    public bool TryReadSrv(out DnsSrv srv)
    {
        if (Type != DnsType.SRV)
        {
            srv = default;
            return false;
        }

        return DnsSrv.TryRead(_message, RdataOffset, RdataLength, out srv, out _);
    }

    /// <summary>SVCB or HTTPS (RFC 9460 §2.2).</summary>
    public bool TryReadSvcb(out DnsSvcb svcb)
    {
        if (Type is not (DnsType.SVCB or DnsType.HTTPS))
        {
            svcb = default;
            return false;
        }

        return DnsSvcb.TryRead(_message, RdataOffset, RdataLength, out svcb, out _);
    }

    /// <summary>The EDNS(0) pseudo-record (RFC 6891 §6.1).</summary>
    public bool TryReadOpt(out DnsOpt opt) => DnsOpt.TryRead(this, out opt, out _);

    public override string ToString() => $"{Name.ToString()} {Ttl} {Class} {Type} rdlen={RdataLength} ({Section})";
}
