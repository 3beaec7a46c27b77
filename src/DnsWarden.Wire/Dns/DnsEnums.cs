namespace DnsWarden.Wire.Dns;

/// <summary>CLASS / QCLASS values (RFC 1035 §3.2.4, §3.2.5; RFC 2136 §1.3 for NONE).</summary>
public enum DnsClass : ushort
{
    IN = 1,
    CH = 3,
    HS = 4,
    NONE = 254,
    ANY = 255,
}

/// <summary>Header OPCODE (RFC 1035 §4.1.1; RFC 1996 NOTIFY, RFC 2136 UPDATE, RFC 8490 DSO).</summary>
public enum DnsOpcode : byte
{
    Query = 0,
    IQuery = 1,
    Status = 2,
    Notify = 4,
    Update = 5,
    Dso = 6,
}

/// <summary>
/// Response codes. Values up to 15 fit the header (RFC 1035 §4.1.1); larger ones need the EDNS
/// extended RCODE (RFC 6891 §6.1.3).
/// </summary>
public enum DnsRcode : ushort
{
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
    YxDomain = 6,
    YxRrSet = 7,
    NxRrSet = 8,
    NotAuth = 9,
    NotZone = 10,
    BadVers = 16,
    BadKey = 17,
    BadTime = 18,
    BadMode = 19,
    BadName = 20,
    BadAlg = 21,
    BadTrunc = 22,
    BadCookie = 23,
}

/// <summary>Single-bit header flags at their place in the 16-bit flags word (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).</summary>
[Flags]
public enum DnsHeaderFlags : ushort
{
    None = 0,
    CheckingDisabled = 0x0010,
    AuthenticData = 0x0020,
    Reserved = 0x0040,
    RecursionAvailable = 0x0080,
    RecursionDesired = 0x0100,
    Truncated = 0x0200,
    AuthoritativeAnswer = 0x0400,
    Response = 0x8000,
}

/// <summary>The message section an item was read from or is written to (RFC 1035 §4.1).</summary>
public enum DnsSection : byte
{
    Question = 0,
    Answer = 1,
    Authority = 2,
    Additional = 3,
}

/// <summary>Why a DNS read or write failed, so callers can count malformed input by cause.</summary>
public enum DnsError : byte
{
    None = 0,

    /// <summary>The input ends before the item does (includes counts larger than the message).</summary>
    Truncated,

    /// <summary>A label length byte has the 0x40 or 0x80 prefix (RFC 6891 §5, RFC 1035 §4.1.4).</summary>
    BadLabelType,

    /// <summary>A label is longer than 63 octets (RFC 1035 §2.3.4).</summary>
    LabelTooLong,

    /// <summary>A name is longer than 255 octets on the wire (RFC 1035 §2.3.4).</summary>
    NameTooLong,

    /// <summary>A compression pointer does not point strictly backwards (loop or forward pointer).</summary>
    ForwardPointer,

    /// <summary>A compression pointer points into the 12-byte header.</summary>
    PointerIntoHeader,

    /// <summary>A name follows more compression pointers than a 255-octet name can need.</summary>
    TooManyPointers,

    /// <summary>A name is compressed where the RFC forbids it (RFC 9460 §2.2 SVCB TargetName).</summary>
    CompressionNotAllowed,

    /// <summary>The RDATA does not match the layout of its TYPE (wrong length, bad field).</summary>
    BadRdata,

    /// <summary>The record is not of the TYPE the accessor reads.</summary>
    WrongType,

    /// <summary>An EDNS OPT record is malformed (RFC 6891 §6.1.2: owner must be root).</summary>
    BadOpt,

    /// <summary>SvcParams are out of order, duplicated or have a malformed value (RFC 9460 §2.2).</summary>
    BadSvcParam,

    /// <summary>Dotted text is not a valid name: empty label, bad escape, non-ASCII char.</summary>
    BadNameText,

    /// <summary>The destination buffer is too small.</summary>
    BufferTooSmall,

    /// <summary>The writer was called out of order (section after a later one, header missing).</summary>
    InvalidState,

    /// <summary>A count would exceed 65535 (RFC 1035 §4.1.1 counts are 16-bit).</summary>
    TooManyRecords,

    /// <summary>The message given as a query is a response, or has no question to echo.</summary>
    NotAQuery,
}

/// <summary>SvcParamKey values (RFC 9460 §14.3.2, RFC 9461 dohpath, RFC 9540 ohttp).</summary>
public enum SvcParamKey : ushort
{
    Mandatory = 0,
    Alpn = 1,
    NoDefaultAlpn = 2,
    Port = 3,
    Ipv4Hint = 4,
    Ech = 5,
    Ipv6Hint = 6,
    DohPath = 7,
    Ohttp = 8,
}

/// <summary>EDNS0 option codes (IANA "DNS EDNS0 Option Codes (OPT)").</summary>
public enum EdnsOptionCode : ushort
{
    Nsid = 3,
    ClientSubnet = 8,
    Expire = 9,
    Cookie = 10,
    TcpKeepalive = 11,
    Padding = 12,
    Chain = 13,
    KeyTag = 14,
    ExtendedDnsError = 15,
}

/// <summary>Extended DNS Error INFO-CODEs (RFC 8914 §4) a resolver puts in the OPT of its answer to say why.</summary>
public enum DnsExtendedError : ushort
{
    Other = 0,
    StaleAnswer = 3,
    ForgedAnswer = 4,
    Blocked = 15,
    Censored = 16,
    Filtered = 17,
    Prohibited = 18,
    NotReady = 14,
    NoReachableAuthority = 22,
    NetworkError = 23,
}
