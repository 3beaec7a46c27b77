using System.Net;
using DnsWarden.Leak.Events;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Classify;

/// <summary>What a flow is, how sure, and the evidence.</summary>
/// <param name="Transport"><c>udp53 tcp53 dot doh doq unknown</c>, or null when the flow is not DNS.</param>
/// <param name="Provider">The known public resolver the name or address belongs to.</param>
public sealed record Classification(string? Transport, Confidence Confidence, IReadOnlyList<string> Evidence, string? Provider)
{
    public static Classification NotDns { get; } = new(null, Confidence.None, [], null);

    public bool IsEncryptedDns => Transport is "dot" or "doh" or "doq";
}

/// <summary>Shape of a TLS session after its handshake, for the DoH heuristic (see <see cref="TransportClassifier.ClassifyShape"/>).</summary>
/// <param name="Exchanges">Server bursts answering a client burst after the handshake flight.</param>
/// <param name="MaxClientBurst">Largest client burst after the ClientHello flight (bytes of TCP payload).</param>
/// <param name="MaxServerBurst">Largest server burst after the server's handshake flight.</param>
/// <param name="ServerBytes">Server bytes after its handshake flight.</param>
/// <param name="Http2Frames">Segments after the handshake that are exactly one TLS record holding an empty HTTP/2 frame.</param>
public readonly record struct TlsShape(int Exchanges, int MaxClientBurst, int MaxServerBurst, long ServerBytes, int Http2Frames = 0);

/// <summary>
/// Classifies encrypted flows from their first packets (ClientHello, QUIC Initial) and, for TLS to an unknown
/// endpoint, from the session's size shape. Plain DNS needs no classifier: the dissector read it as DNS.
/// </summary>
public sealed class TransportClassifier(EncryptedDnsEndpoints endpoints)
{
    public const ushort DotPort = 853;
    public const ushort HttpsPort = 443;

    /// <summary>DoH shape limits: a request (HTTP/2 HEADERS + DATA with a DNS query, in TLS) stays under this.</summary>
    public const int MaxDohClientBurst = 1024;

    /// <summary>A response (HEADERS + DATA with a DNS answer, maybe with session tickets) stays under this.</summary>
    public const int MaxDohServerBurst = 2048;

    /// <summary>A DoH session moves little data; a page or a download does not fit.</summary>
    public const long MaxDohServerBytes = 16 * 1024;

    public EncryptedDnsEndpoints Endpoints => endpoints;

    /// <summary>
    /// A TCP segment holding exactly one TLS application-data record around a 9-byte HTTP/2 frame with no payload
    /// (SETTINGS ACK, the first thing each side sends after the preface exchange, RFC 9113 §6.5.3): 31 bytes in TLS 1.3
    /// (5 header + 9 + 1 content type + 16 tag, RFC 8446 §5.2), 38 in TLS 1.2 AES-GCM (5 + 8 explicit nonce + 9 + 16).
    /// It tells that the session speaks HTTP/2, which the client's ALPN offer alone does not.
    /// </summary>
    public static bool IsEmptyHttp2FrameRecord(int segmentLength) => segmentLength is 31 or 38;

    /// <summary>A TLS ClientHello over TCP.</summary>
    public Classification ClassifyTls(IPAddress destination, ushort port, string? serverName, IReadOnlyList<string> alpn)
    {
        if (alpn.Contains("dot"))
        {
            return new("dot", Confidence.High, ["TLS ALPN \"dot\""], Provider(destination, serverName));
        }

        if (port == DotPort)
        {
            return new("dot", Confidence.High, ["TLS ClientHello on TCP/853 (DNS over TLS, RFC 7858)"], Provider(destination, serverName));
        }

        if (endpoints.TryMatchHost(serverName, out string byName))
        {
            return new("doh", Confidence.High, [$"SNI {serverName} is a known encrypted-DNS endpoint ({byName}, list {endpoints.Version})", AlpnEvidence(alpn)], byName);
        }

        if (port == HttpsPort && endpoints.TryMatchAddress(destination, out string byAddress))
        {
            return new("doh", Confidence.Medium, [$"destination {destination} is a known encrypted-DNS address ({byAddress}, list {endpoints.Version})", AlpnEvidence(alpn)], byAddress);
        }

        return Classification.NotDns;
    }

    /// <summary>A decrypted QUIC client Initial.</summary>
    public Classification ClassifyQuic(IPAddress destination, ushort port, string? serverName, IReadOnlyList<string> alpn)
    {
        if (alpn.Contains("doq"))
        {
            return new("doq", Confidence.High, ["QUIC ALPN \"doq\" (DNS over QUIC, RFC 9250)"], Provider(destination, serverName));
        }

        if (port == DotPort)
        {
            return new("doq", Confidence.High, ["QUIC Initial on UDP/853 (DNS over QUIC, RFC 9250)"], Provider(destination, serverName));
        }

        if (endpoints.TryMatchHost(serverName, out string byName))
        {
            return new("doh", Confidence.High, [$"QUIC SNI {serverName} is a known encrypted-DNS endpoint ({byName}, list {endpoints.Version}): DoH over HTTP/3", AlpnEvidence(alpn)], byName);
        }

        if (port == HttpsPort && endpoints.TryMatchAddress(destination, out string byAddress))
        {
            return new("doh", Confidence.Medium, [$"QUIC to known encrypted-DNS address {destination} ({byAddress}, list {endpoints.Version}): DoH over HTTP/3", AlpnEvidence(alpn)], byAddress);
        }

        return Classification.NotDns;
    }

    /// <summary>A TCP/853 connection that ended without a ClientHello being seen (refused, blocked, or capture started late).</summary>
    public Classification ClassifyBareDot(IPAddress destination) =>
        new("dot", Confidence.Medium, ["TCP connection to port 853 (DNS over TLS) without a ClientHello seen"], Provider(destination, null));

    /// <summary>
    /// The DoH heuristic for TLS to an endpoint no list knows: the client offered HTTP/2 (RFC 8484 §5.2), the session
    /// does speak HTTP/2 (an empty-frame record was seen), and every exchange after the handshake is DNS-sized — small
    /// requests answered by small responses, little data overall. A page, an API payload or a download breaks the size
    /// limits and HTTP/1.1 has no empty frames, so neither is DoH. Confidence low: a tiny page served over HTTP/2 has
    /// the same shape as one DoH query.
    /// </summary>
    public static Classification ClassifyShape(ushort port, IReadOnlyList<string> alpn, TlsShape shape)
    {
        if (port != HttpsPort || !alpn.Contains("h2") || shape.Exchanges < 1 || shape.Http2Frames < 1)
        {
            return Classification.NotDns;
        }

        if (shape.MaxClientBurst > MaxDohClientBurst || shape.MaxServerBurst > MaxDohServerBurst || shape.ServerBytes > MaxDohServerBytes)
        {
            return Classification.NotDns;
        }

        return new("doh", Confidence.Low,
        [
            "TLS to an endpoint not on the list, ALPN offers h2",
            $"the session speaks HTTP/2 ({shape.Http2Frames} record(s) holding an empty HTTP/2 frame such as SETTINGS ACK)",
            $"{shape.Exchanges} exchange(s) after the handshake, requests ≤ {shape.MaxClientBurst} B, responses ≤ {shape.MaxServerBurst} B, {shape.ServerBytes} B from the server in all (DNS-sized)",
        ], null);
    }

    private string? Provider(IPAddress destination, string? serverName) =>
        endpoints.TryMatchHost(serverName, out string p) || endpoints.TryMatchAddress(destination, out p) ? p : null;

    private static string AlpnEvidence(IReadOnlyList<string> alpn) =>
        alpn.Count == 0 ? "no ALPN offered" : "ALPN " + string.Join(",", alpn);
}
