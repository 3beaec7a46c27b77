using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Text;

namespace DnsWarden.Wire.Http;

/// <summary>
/// The head of an HTTP/1.x request (RFC 9112 §2–§3, §5–§6) as offsets into the bytes it was read from: what a proxy
/// that decides by host needs (method, target, the host named, path) and how the body that follows is framed.
/// Hand-written rather than through Kestrel's parser because the jail's proxy must see the head before anything is
/// forwarded and keep the exact bytes to replay, over a buffer it owns; it is strict where a lenient reading could
/// let the proxy and the server disagree about the host or about where a body ends (bare LF, obs-fold, space before a
/// colon, Transfer-Encoding other than chunked, Content-Length with Transfer-Encoding): those are refused.
/// </summary>
public readonly struct HttpRequestHead
{
    private static readonly SearchValues<byte> s_tchar = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>No body (no Content-Length, no Transfer-Encoding): a request body is then empty (RFC 9112 §6.3 item 7).</summary>
    public const long NoContentLength = -1;

    /// <summary>Bytes of the head, its closing CRLF CRLF included: the body (if any) starts there.</summary>
    public int Length { get; init; }

    public Range Method { get; init; }

    public Range Target { get; init; }

    /// <summary>The host the request names, port cut off: the Host field, or the target's for CONNECT and absolute form.</summary>
    public Range Host { get; init; }

    /// <summary>The path and query of the target ('/' for CONNECT and an absolute form without a path).</summary>
    public Range Path { get; init; }

    public bool IsConnect { get; init; }

    /// <summary>The target is absolute-form (<c>http://host/…</c>, RFC 9112 §3.2.2), as a client speaking to a proxy writes it.</summary>
    public bool IsAbsoluteForm { get; init; }

    /// <summary>An Upgrade field (WebSocket): after a 101 the connection is no longer HTTP.</summary>
    public bool IsUpgrade { get; init; }

    public bool IsChunked { get; init; }

    /// <summary>The body's length, or <see cref="NoContentLength"/>.</summary>
    public long ContentLength { get; init; }

    public string MethodString(ReadOnlySpan<byte> head) => Encoding.ASCII.GetString(head[Method]);

    public string HostString(ReadOnlySpan<byte> head) => Encoding.ASCII.GetString(head[Host]).ToLowerInvariant();

    public string PathString(ReadOnlySpan<byte> head) => Encoding.ASCII.GetString(head[Path]);

    /// <summary>
    /// Reads a head from the start of <paramref name="source"/>. <see cref="HttpHeadStatus.NeedMoreData"/> for a valid
    /// prefix (the caller bounds how long it waits and how much it buffers); never an exception, no allocation.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out HttpRequestHead head, out HttpHeadStatus status, out HttpHeadError error)
    {
        head = default;
        error = HttpHeadError.None;
        int end = source.IndexOf("\r\n\r\n"u8);
        ReadOnlySpan<byte> seen = end < 0 ? source : source[..(end + 2)];

        // A bare LF (or CR not before LF) anywhere in the head, even before it is complete, is refused at once.
        for (int i = seen.IndexOfAny((byte)'\r', (byte)'\n'); i >= 0; i = NextBreak(seen, i + 2))
        {
            if (seen[i] == '\n' || (i + 1 < seen.Length && seen[i + 1] != '\n'))
            {
                return Fail(HttpHeadError.BadLineEnding, out status, out error);
            }
        }

        if (end < 0)
        {
            // An incomplete request line that can no longer become one is refused before the rest arrives.
            int firstBreak = source.IndexOf((byte)'\r');
            if (!RequestLinePrefixValid(firstBreak < 0 ? source : source[..firstBreak]))
            {
                return Fail(HttpHeadError.BadRequestLine, out status, out error);
            }

            status = HttpHeadStatus.NeedMoreData;
            return false;
        }

        int lineEnd = source.IndexOf("\r\n"u8);
        if (!TryReadRequestLine(source[..lineEnd], out Range method, out Range target, out bool http11))
        {
            return Fail(HttpHeadError.BadRequestLine, out status, out error);
        }

        Range host = default;
        int hosts = 0;
        long contentLength = NoContentLength;
        bool chunked = false, transferEncoding = false, upgrade = false;
        int p = lineEnd + 2;
        while (p < end + 2)
        {
            int next = p + source[p..].IndexOf("\r\n"u8);
            ReadOnlySpan<byte> line = source[p..next];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].IndexOfAnyExcept(s_tchar) >= 0)
            {
                return Fail(HttpHeadError.BadHeader, out status, out error);
            }

            ReadOnlySpan<byte> name = line[..colon];
            int valueStart = colon + 1;
            ReadOnlySpan<byte> value = line[valueStart..].Trim(" \t"u8);
            int lead = line[valueStart..].IndexOfAnyExcept(" \t"u8);
            int valueAt = p + valueStart + Math.Max(lead, 0);
            if (Ascii.EqualsIgnoreCase(name, "host"u8))
            {
                hosts++;
                host = valueAt..(valueAt + value.Length);
            }
            else if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!Utf8Parser.TryParse(value, out long length, out int used) || used != value.Length || length < 0
                    || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0 || (contentLength != NoContentLength && contentLength != length))
                {
                    return Fail(HttpHeadError.BadContentLength, out status, out error);
                }

                contentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                if (transferEncoding || !Ascii.EqualsIgnoreCase(value, "chunked"u8))
                {
                    return Fail(HttpHeadError.BadTransferEncoding, out status, out error);
                }

                transferEncoding = chunked = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "upgrade"u8))
            {
                upgrade = true;
            }

            p = next + 2;
        }

        if (chunked && contentLength != NoContentLength)
        {
            return Fail(HttpHeadError.BadTransferEncoding, out status, out error);
        }

        ReadOnlySpan<byte> m = source[method];
        ReadOnlySpan<byte> t = source[target];
        bool connect = m.SequenceEqual("CONNECT"u8);
        bool absolute = !connect && t.Length > 7 && Ascii.EqualsIgnoreCase(t[..7], "http://"u8);
        if (hosts > 1 || (hosts == 0 && http11) || (hosts == 0 && !connect && !absolute) || (hosts == 1 && source[host].IsEmpty))
        {
            return Fail(HttpHeadError.BadHost, out status, out error);
        }

        Range path;
        Range named = hosts == 1 ? WithoutPort(source, host) : default;
        if (connect || absolute)
        {
            int authorityStart = target.Start.Value + (absolute ? 7 : 0);
            int slash = absolute ? source[authorityStart..target.End.Value].IndexOfAny((byte)'/', (byte)'?') : -1;
            int authorityEnd = slash < 0 ? target.End.Value : authorityStart + slash;
            Range authority = WithoutPort(source, authorityStart..authorityEnd);
            if (source[authority].IsEmpty || source[authority].Contains((byte)'@') || (hosts == 1 && !Ascii.EqualsIgnoreCase(source[authority], source[named])))
            {
                return Fail(HttpHeadError.HostMismatch, out status, out error);
            }

            named = authority;
            path = slash < 0 ? default : authorityEnd..target.End.Value;
        }
        else
        {
            path = target;
        }

        head = new HttpRequestHead
        {
            Length = end + 4,
            Method = method,
            Target = target,
            Host = named,
            Path = path,
            IsConnect = connect,
            IsAbsoluteForm = absolute,
            IsUpgrade = upgrade,
            IsChunked = chunked,
            ContentLength = contentLength,
        };
        status = HttpHeadStatus.Complete;
        return true;
    }

    private static int NextBreak(ReadOnlySpan<byte> s, int from) =>
        from >= s.Length ? -1 : s[from..].IndexOfAny((byte)'\r', (byte)'\n') is int i && i >= 0 ? from + i : -1;

    private static Range WithoutPort(ReadOnlySpan<byte> source, Range hostPort) =>
        hostPort.Start..(hostPort.Start.Value + HostLength(source[hostPort]));

    /// <summary>
    /// How much of <c>host</c>, <c>host:port</c> or <c>[v6]:port</c> is the host: up to the last colon after the last
    /// closing bracket (brackets kept: an IP literal is never an allowed name). The one rule for HTTP/1.1's Host and
    /// request target and HTTP/2's <c>:authority</c>.
    /// </summary>
    public static int HostLength<T>(ReadOnlySpan<T> hostPort)
        where T : IBinaryInteger<T>
    {
        int close = hostPort.LastIndexOf(T.CreateTruncating(']'));
        int colon = hostPort.LastIndexOf(T.CreateTruncating(':'));
        return colon > close ? colon : hostPort.Length;
    }

    private static bool TryReadRequestLine(ReadOnlySpan<byte> line, out Range method, out Range target, out bool http11)
    {
        method = target = default;
        http11 = false;
        int sp1 = line.IndexOf((byte)' ');
        int sp2 = sp1 < 0 ? -1 : line.LastIndexOf((byte)' ');
        if (sp1 <= 0 || sp2 <= sp1 + 1 || line[..sp1].IndexOfAnyExcept(s_tchar) >= 0
            || line[(sp1 + 1)..sp2].IndexOfAnyInRange((byte)0, (byte)' ') >= 0 || line[(sp1 + 1)..sp2].Contains((byte)0x7f))
        {
            return false;
        }

        ReadOnlySpan<byte> version = line[(sp2 + 1)..];
        if (!version.SequenceEqual("HTTP/1.1"u8) && !version.SequenceEqual("HTTP/1.0"u8))
        {
            return false;
        }

        http11 = version[7] == '1';
        method = 0..sp1;
        target = (sp1 + 1)..sp2;
        return true;
    }

    /// <summary>Could these bytes (no CR yet) still start a request line? A method of token characters, a space, then no control byte.</summary>
    private static bool RequestLinePrefixValid(ReadOnlySpan<byte> prefix)
    {
        int sp = prefix.IndexOf((byte)' ');
        ReadOnlySpan<byte> method = sp < 0 ? prefix : prefix[..sp];
        if (method.IndexOfAnyExcept(s_tchar) >= 0 || sp == 0 || method.Length > MaxMethodLength)
        {
            return false;
        }

        return sp < 0 || prefix[(sp + 1)..].IndexOfAnyInRange((byte)0, (byte)0x1f) < 0;
    }

    /// <summary>Longer than any registered method (the longest is 17: VERSION-CONTROL, BASELINE-CONTROL is 16).</summary>
    private const int MaxMethodLength = 24;

    private static bool Fail(HttpHeadError why, out HttpHeadStatus status, out HttpHeadError error)
    {
        status = HttpHeadStatus.Malformed;
        error = why;
        return false;
    }
}
