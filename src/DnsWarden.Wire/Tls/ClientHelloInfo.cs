using System.Text;

namespace DnsWarden.Wire.Tls;

/// <summary>
/// What <see cref="TlsClientHello.TryRead"/> learned from a ClientHello. Holds offsets into the handshake
/// message (which starts at the msg_type byte), not spans, so it can be stored and copied freely; pass the
/// same message back to the accessors.
/// </summary>
public readonly struct ClientHelloInfo
{
    /// <summary>Bytes of the whole handshake message including its 4-byte header.</summary>
    public int MessageLength { get; init; }

    /// <summary>legacy_version (0x0303 for TLS 1.2 and 1.3 clients).</summary>
    public ushort LegacyVersion { get; init; }

    public int SessionIdOffset { get; init; }

    public int SessionIdLength { get; init; }

    public int CipherSuitesOffset { get; init; }

    public int CipherSuitesLength { get; init; }

    /// <summary>Offset of the first extension (past the 2-byte block length); 0 when there is no extensions block.</summary>
    public int ExtensionsOffset { get; init; }

    public int ExtensionsLength { get; init; }

    public int ExtensionCount { get; init; }

    /// <summary>Offset of the first host_name entry's bytes in server_name; -1 when absent.</summary>
    public int ServerNameOffset { get; init; }

    public int ServerNameLength { get; init; }

    /// <summary>Offset of the ALPN protocol_name_list contents (past its 2-byte length); -1 when absent.</summary>
    public int AlpnOffset { get; init; }

    public int AlpnLength { get; init; }

    /// <summary>encrypted_client_hello (0xfe0d): the visible SNI is only the outer, public name.</summary>
    public bool HasEch { get; init; }

    /// <summary>The pre-standard encrypted_server_name extension (0xffce).</summary>
    public bool HasEsni { get; init; }

    /// <summary>supported_versions lists TLS 1.3 (0x0304).</summary>
    public bool OffersTls13 { get; init; }

    /// <summary>quic_transport_parameters (0x39, RFC 9001 §8.2): the hello came from a QUIC client.</summary>
    public bool HasQuicTransportParameters { get; init; }

    /// <summary>A GREASE value (RFC 8701) appeared among cipher suites, extension types, versions or groups.</summary>
    public bool HasGrease { get; init; }

    public bool HasServerName => ServerNameOffset >= 0;

    public bool HasAlpn => AlpnOffset >= 0;

    /// <summary>The first host_name as sent (ASCII per RFC 6066 §3); empty when absent.</summary>
    public ReadOnlySpan<byte> GetServerName(ReadOnlySpan<byte> message) =>
        HasServerName ? message.Slice(ServerNameOffset, ServerNameLength) : default;

    public ReadOnlySpan<byte> GetSessionId(ReadOnlySpan<byte> message) => message.Slice(SessionIdOffset, SessionIdLength);

    public ReadOnlySpan<byte> GetCipherSuites(ReadOnlySpan<byte> message) => message.Slice(CipherSuitesOffset, CipherSuitesLength);

    /// <summary>Enumerates ALPN protocol names; usable with <c>foreach</c>.</summary>
    public TlsAlpnEnumerator GetAlpnProtocols(ReadOnlySpan<byte> message) =>
        new(HasAlpn ? message.Slice(AlpnOffset, AlpnLength) : default);

    public bool AlpnContains(ReadOnlySpan<byte> message, ReadOnlySpan<byte> protocol)
    {
        foreach (ReadOnlySpan<byte> p in GetAlpnProtocols(message))
        {
            if (p.SequenceEqual(protocol))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Allocating convenience for tests and display; null when there is no SNI.</summary>
    public string? ServerNameString(ReadOnlySpan<byte> message) =>
        HasServerName ? Encoding.UTF8.GetString(GetServerName(message)) : null;

    /// <summary>Allocating convenience for tests and display.</summary>
    public string[] AlpnList(ReadOnlySpan<byte> message)
    {
        var list = new List<string>();
        foreach (ReadOnlySpan<byte> p in GetAlpnProtocols(message))
        {
            list.Add(Encoding.UTF8.GetString(p));
        }

        return [.. list];
    }
}

/// <summary>Walks an ALPN protocol_name_list (RFC 7301 §3.1) already validated by the reader.</summary>
public ref struct TlsAlpnEnumerator
{
    private readonly ReadOnlySpan<byte> _list;
    private int _position;

    public TlsAlpnEnumerator(ReadOnlySpan<byte> protocolNameList)
    {
        _list = protocolNameList;
        _position = 0;
        Current = default;
    }

    public ReadOnlySpan<byte> Current { get; private set; }

    public readonly TlsAlpnEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_position >= _list.Length)
        {
            return false;
        }

        int length = _list[_position];
        // Defensive: a list not produced by the reader must still end cleanly.
        if (length == 0 || _list.Length - _position - 1 < length)
        {
            _position = _list.Length;
            return false;
        }

        Current = _list.Slice(_position + 1, length);
        _position += 1 + length;
        return true;
    }
}
