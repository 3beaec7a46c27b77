namespace DnsWarden.E2E;

/// <summary>
/// What tshark decoded in one frame, normalized for comparison with our own reader and decoder.
/// Addresses are <see cref="System.Net.IPAddress.ToString"/> text (IPv6 compressed, lowercase); names are
/// lowercase without the trailing dot (the root is ""). Fields are null where tshark had nothing.
/// </summary>
/// <remarks>
/// tshark reassembles DNS over TCP (and TLS records) and shows the message on the frame where it completes,
/// so a DNS message split over segments appears in <see cref="Dns"/> of its last frame only; earlier segments
/// carry <see cref="TcpReassembledIn"/> pointing at that frame. Our decoder must be compared on the same frame.
/// </remarks>
public sealed record OracleFrame
{
    /// <summary>1-based frame number, as tshark and Wireshark count.</summary>
    public required int Number { get; init; }

    /// <summary>The pcapng interface name of the frame's IDB (<c>frame.interface_name</c>).</summary>
    public string? InterfaceName { get; init; }

    /// <summary>The IDB index (<c>frame.interface_id</c>).</summary>
    public int? InterfaceId { get; init; }

    /// <summary>tshark's protocol chain, e.g. <c>eth:ethertype:ip:udp:dns</c>.</summary>
    public string Protocols { get; init; } = string.Empty;

    /// <summary>4 or 6 for the outermost IP header.</summary>
    public int? IpVersion { get; init; }

    public string? SourceAddress { get; init; }

    public string? DestinationAddress { get; init; }

    /// <summary>IP protocol number of the transport: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, else the IP header's value.</summary>
    public int? IpProtocol { get; init; }

    /// <summary>"tcp", "udp", "icmp", "icmpv6", or null.</summary>
    public string? Transport { get; init; }

    public int? SourcePort { get; init; }

    public int? DestinationPort { get; init; }

    /// <summary>For a TCP segment whose payload tshark reassembled into a later frame: that frame's number.</summary>
    public int? TcpReassembledIn { get; init; }

    /// <summary>DNS messages decoded in this frame (more than one when a TCP segment completes several).</summary>
    public IReadOnlyList<OracleDnsMessage> Dns { get; init; } = [];

    /// <summary>TLS ClientHello messages seen in this frame.</summary>
    public IReadOnlyList<OracleTlsClientHello> TlsClientHellos { get; init; } = [];

    /// <summary>The first DNS message, the common case.</summary>
    public OracleDnsMessage? FirstDns => Dns.Count > 0 ? Dns[0] : null;
}

/// <summary>One DNS message as tshark decoded it.</summary>
/// <param name="Id">Header ID.</param>
/// <param name="IsResponse">The QR bit.</param>
/// <param name="QName">First question's name, lowercase, no trailing dot; null without a question.</param>
/// <param name="QType">First question's type number.</param>
/// <param name="Rcode">Header RCODE; tshark shows it for responses only, so null for queries.</param>
/// <param name="Answers">Answer section as <c>"type:data"</c> (see <see cref="OracleDnsRecord.Normalized"/>).</param>
/// <param name="AnswerRecords">The same answers with their owner names.</param>
public sealed record OracleDnsMessage(
    ushort Id,
    bool IsResponse,
    string? QName,
    int? QType,
    int? Rcode,
    IReadOnlyList<string> Answers,
    IReadOnlyList<OracleDnsRecord> AnswerRecords);

/// <summary>One resource record of the answer section.</summary>
/// <param name="Name">Owner name, lowercase, no trailing dot.</param>
/// <param name="Type">RR type number.</param>
/// <param name="Data">
/// Normalized RDATA: A/AAAA as address text; CNAME, NS, PTR as a name; TXT as its strings concatenated;
/// MX as "preference exchange"; SOA as its MNAME; "" for other types.
/// </param>
public sealed record OracleDnsRecord(string Name, int Type, string Data)
{
    /// <summary><c>"type:data"</c>, e.g. <c>"1:10.0.0.5"</c>, <c>"28:fd00::5"</c>, <c>"5:target.name"</c>, <c>"16:text"</c>.</summary>
    public string Normalized => $"{Type.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{Data}";
}

/// <summary>A TLS ClientHello: the SNI (null when absent) and the ALPN protocol names in offered order.</summary>
public sealed record OracleTlsClientHello(string? ServerName, IReadOnlyList<string> Alpn);
