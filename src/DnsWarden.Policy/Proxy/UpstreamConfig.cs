using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Policy;

/// <summary>How the resolver talks to one upstream server.</summary>
public enum UpstreamProtocol
{
    /// <summary>Plain DNS over UDP (RFC 1035 §4.2.1); a truncated answer is asked again over TCP.</summary>
    Udp,

    /// <summary>Plain DNS over TCP with two-byte length framing (RFC 1035 §4.2.2, RFC 7766).</summary>
    Tcp,

    /// <summary>DNS over TLS (RFC 7858), port 853 by default.</summary>
    Tls,

    /// <summary>DNS over HTTPS (RFC 8484), POST of application/dns-message over HTTP/2.</summary>
    Https,
}

/// <summary>
/// One upstream as the user wrote it: <c>udp://10.0.0.1</c>, <c>tcp://[fd00::1]:5353</c>, <c>tls://dns.example</c>,
/// <c>https://dns.example/dns-query</c>. A name as host needs a <see cref="Bootstrap"/> address: the resolver never asks
/// the system resolver, so it cannot look the name up itself.
/// </summary>
public sealed record UpstreamConfig
{
    public const int DefaultDnsPort = 53;
    public const int DefaultTlsPort = 853;
    public const int DefaultHttpsPort = 443;

    /// <summary>The URL as written (the upstream's name in logs and metrics).</summary>
    public required string Url { get; init; }

    public required UpstreamProtocol Protocol { get; init; }

    /// <summary>The host part of the URL: an address literal or a name (TLS server name, HTTP authority).</summary>
    public required string Host { get; init; }

    public required int Port { get; init; }

    /// <summary>The HTTP path for DoH (default <c>/dns-query</c>); empty for the others.</summary>
    public string Path { get; init; } = "";

    /// <summary>The address to connect to when <see cref="Host"/> is a name; the host's literal address otherwise.</summary>
    public IPAddress? Bootstrap { get; init; }

    /// <summary>The name the TLS certificate must carry and the SNI sent; defaults to <see cref="Host"/>.</summary>
    public string? ServerName { get; init; }

    /// <summary>SHA-256 digests of acceptable SubjectPublicKeyInfo (RFC 7469 style pins); empty means no pinning.</summary>
    public IReadOnlyList<byte[]> PinsSha256 { get; init; } = [];

    /// <summary>A PEM file of extra trusted certificate authorities (a private resolver's own CA).</summary>
    public string? CaFile { get; init; }

    /// <summary>When false, any certificate is accepted (pins still apply). Off only by explicit choice.</summary>
    public bool VerifyCertificate { get; init; } = true;

    /// <summary>The address the resolver connects to: the literal host, else the bootstrap address.</summary>
    public IPAddress? ConnectAddress => IPAddress.TryParse(Host, out IPAddress? literal) ? literal : Bootstrap;

    /// <summary>The TLS name to verify and send as SNI.</summary>
    public string TlsName => ServerName ?? Host;

    /// <summary>
    /// Parses an upstream URL, with the bootstrap address after the host when the host is a name:
    /// <c>tls://dns.example@10.0.0.2:853</c>, <c>https://dns.example@[fd00::3]/dns-query</c>. <paramref name="error"/>
    /// says what was expected, e.g. <c>unknown scheme 'dns' (expected udp://, tcp://, tls:// or https://)</c>.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out UpstreamConfig? config, [NotNullWhen(false)] out string? error) =>
        TryParse(text, requireBootstrap: true, out config, out error);

    /// <param name="requireBootstrap">False when the bootstrap address may come from elsewhere (the configuration's
    /// <c>bootstrap</c> key); the caller then checks <see cref="ConnectAddress"/>.</param>
    internal static bool TryParse(string text, bool requireBootstrap, [NotNullWhen(true)] out UpstreamConfig? config, [NotNullWhen(false)] out string? error)
    {
        config = null;
        text ??= "";
        int sep = text.IndexOf("://", StringComparison.Ordinal);
        if (sep <= 0)
        {
            error = $"'{text}' is not an upstream URL (expected udp://, tcp://, tls:// or https:// and an address)";
            return false;
        }

        string scheme = text[..sep].ToLowerInvariant();
        UpstreamProtocol protocol;
        int defaultPort;
        switch (scheme)
        {
            case "udp":
                protocol = UpstreamProtocol.Udp;
                defaultPort = DefaultDnsPort;
                break;
            case "tcp":
                protocol = UpstreamProtocol.Tcp;
                defaultPort = DefaultDnsPort;
                break;
            case "tls":
                protocol = UpstreamProtocol.Tls;
                defaultPort = DefaultTlsPort;
                break;
            case "https":
                protocol = UpstreamProtocol.Https;
                defaultPort = DefaultHttpsPort;
                break;
            default:
                error = $"unknown scheme '{scheme}' in '{text}' (expected udp://, tcp://, tls:// or https://)";
                return false;
        }

        string rest = text[(sep + 3)..];
        string path = "";
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            path = rest[slash..];
            rest = rest[..slash];
        }

        if (protocol != UpstreamProtocol.Https && path.Length > 1)
        {
            error = $"'{text}': only https:// upstreams take a path";
            return false;
        }

        if (protocol == UpstreamProtocol.Https && path.Length <= 1)
        {
            path = "/dns-query"; // RFC 8484 §3 leaves the template to the server; this is the common one.
        }
        else if (protocol != UpstreamProtocol.Https)
        {
            path = "";
        }

        string host;
        string? portText;
        IPAddress? bootstrap = null;
        int at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            // NAME@ADDRESS[:PORT]: the name is what TLS verifies and HTTP sends, the address is where to connect.
            host = rest[..at];
            if (rest.IndexOf('@', at + 1) >= 0)
            {
                error = $"'{text}': only one '@' (expected {scheme}://NAME@ADDRESS)";
                return false;
            }

            if (host.Length == 0)
            {
                error = $"'{text}': no host name before '@'";
                return false;
            }

            if (host.Contains(':', StringComparison.Ordinal) || host.Contains('[', StringComparison.Ordinal))
            {
                error = $"'{text}': before '@' goes a host name; the port goes after the bootstrap address, e.g. {scheme}://dns.example@10.0.0.2:{defaultPort}";
                return false;
            }

            if (Profiles.TryParseAddress(host, out _))
            {
                error = $"'{text}': '{host}' is an address already; a bootstrap address after '@' is only for a host name";
                return false;
            }

            if (!TrySplitHostPort(text, scheme, defaultPort, rest[(at + 1)..], out string bootText, out portText, out error))
            {
                return false;
            }

            if (!Profiles.TryParseAddress(bootText, out bootstrap))
            {
                error = $"'{text}': bootstrap '{bootText}' is not an IP address (expected e.g. 10.0.0.2 or [fd00::2] after '@')";
                return false;
            }
        }
        else if (!TrySplitHostPort(text, scheme, defaultPort, rest, out host, out portText, out error))
        {
            return false;
        }

        if (host.Length == 0)
        {
            error = $"'{text}': no host";
            return false;
        }

        bool literal = Profiles.TryParseAddress(host, out _);
        if (!literal && LooksNumeric(host))
        {
            error = $"'{text}': '{host}' is not an IPv4 address (expected four numbers such as 10.0.0.1)";
            return false;
        }

        if (!literal && !IsHostName(host))
        {
            error = $"'{text}': '{host}' is neither an address nor a host name";
            return false;
        }

        int port = defaultPort;
        if (portText is not null
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"'{text}': port '{portText}' is not a number from 1 to 65535";
            return false;
        }

        if (!literal && bootstrap is null && requireBootstrap)
        {
            error = $"'{text}': '{host}' needs a bootstrap address: the resolver never asks the system resolver (write it after the host, e.g. {scheme}://{host}@10.0.0.2)";
            return false;
        }

        config = new UpstreamConfig { Url = text, Protocol = protocol, Host = host, Port = port, Path = path, Bootstrap = bootstrap };
        error = null;
        return true;
    }

    /// <summary>Splits <c>HOST[:PORT]</c> or <c>[IPv6][:PORT]</c>; a bracketed host must be an IPv6 address.</summary>
    private static bool TrySplitHostPort(string text, string scheme, int defaultPort, string authority, out string host, out string? portText, [NotNullWhen(false)] out string? error)
    {
        portText = null;
        error = null;
        if (authority.StartsWith('['))
        {
            host = "";
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}': missing ']' after the IPv6 address";
                return false;
            }

            host = authority[1..close];
            string after = authority[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    error = $"'{text}': expected ':PORT' after ']'";
                    return false;
                }

                portText = after[1..];
            }

            if (!Profiles.TryParseAddress(host, out IPAddress? v6) || v6.AddressFamily != AddressFamily.InterNetworkV6 || host.Contains('.', StringComparison.Ordinal))
            {
                error = $"'{text}': '{host}' is not an IPv6 address";
                return false;
            }

            return true;
        }

        int colon = authority.LastIndexOf(':');
        if (colon >= 0 && authority.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            host = "";
            error = $"'{text}': an IPv6 address must be in brackets, e.g. {scheme}://[fd00::1]:{defaultPort}";
            return false;
        }

        host = colon >= 0 ? authority[..colon] : authority;
        portText = colon >= 0 ? authority[(colon + 1)..] : null;
        return true;
    }

    /// <summary>Digits and dots only: meant as an IPv4 address (<c>10.1</c>), never a host name.</summary>
    private static bool LooksNumeric(string host)
    {
        foreach (char c in host)
        {
            if (!char.IsAsciiDigit(c) && c != '.')
            {
                return false;
            }
        }

        return true;
    }

    // RFC 1123 §2.1 host names: letters, digits, hyphens, dots; labels 1–63, total ≤ 253.
    internal static bool IsHostName(string host)
    {
        if (host.Length > 253)
        {
            return false;
        }

        foreach (string label in host.TrimEnd('.').Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }
        }

        return true;
    }
}
