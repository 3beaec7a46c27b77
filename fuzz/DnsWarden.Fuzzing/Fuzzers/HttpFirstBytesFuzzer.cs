using System.Text;
using DnsWarden.Wire.Http;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// The jail proxy's first-bytes parsers: <see cref="FirstBytes.Classify"/>, <see cref="HttpRequestHead.TryRead"/> and
/// <see cref="HttpChunkedBody.Advance"/>, with the chunked body fed whole and cut at a point the last byte picks.
/// </summary>
internal sealed class HttpFirstBytesFuzzer : IFuzzer
{
    public string Name => "HttpFirstBytes";

    public IReadOnlyList<byte[]> GetSeeds() =>
    [
        Encoding.ASCII.GetBytes("GET /v1/items?x=1 HTTP/1.1\r\nHost: api.example.test:8080\r\nAccept: */*\r\n\r\n"),
        Encoding.ASCII.GetBytes("POST http://a.example.test/p HTTP/1.1\r\nHost: a.example.test\r\nContent-Length: 5\r\n\r\nhello"),
        Encoding.ASCII.GetBytes("CONNECT a.example.test:443 HTTP/1.1\r\nHost: a.example.test:443\r\n\r\n"),
        Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\n"),
        Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00],
    ];

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        FirstBytesKind kind = FirstBytes.Classify(bytes);
        FuzzAssert.True(kind != FirstBytesKind.NeedMoreData || bytes.Length <= 25, $"undecided after {bytes.Length} bytes");

        bool complete = HttpRequestHead.TryRead(bytes, out HttpRequestHead head, out HttpHeadStatus status, out HttpHeadError error);
        FuzzAssert.True(complete == (status == HttpHeadStatus.Complete), $"returned {complete} with {status}");
        FuzzAssert.True((status == HttpHeadStatus.Malformed) == (error != HttpHeadError.None), $"{status} with {error}");
        if (complete)
        {
            FuzzAssert.True(head.Length >= 4 && head.Length <= bytes.Length, $"head length {head.Length} of {bytes.Length}");
            FuzzAssert.True(bytes[..head.Length].EndsWith("\r\n\r\n"u8), "a head that does not end with an empty line");
            foreach (Range r in (Range[])[head.Method, head.Target, head.Host, head.Path])
            {
                (int offset, int length) = r.GetOffsetAndLength(head.Length);
                FuzzAssert.InRange(offset, length, head.Length, "a field");
            }

            FuzzAssert.True(!head.IsChunked || head.ContentLength == HttpRequestHead.NoContentLength, "chunked with a Content-Length");
            FuzzAssert.True(!head.HostString(bytes).Contains('\r', StringComparison.Ordinal), "a host with a CR");

            // The same head with one byte fewer is never complete.
            FuzzAssert.True(!HttpRequestHead.TryRead(bytes[..(head.Length - 1)], out _, out _, out _), "complete one byte early");
            if (head.IsChunked)
            {
                CheckChunked(bytes[head.Length..]);
            }
        }
        else
        {
            CheckChunked(bytes);
        }
    }

    private static void CheckChunked(ReadOnlySpan<byte> body)
    {
        var whole = default(HttpChunkedBody);
        HttpBodyStatus wholeStatus = whole.Advance(body, out int wholeConsumed);
        FuzzAssert.True(wholeConsumed >= 0 && wholeConsumed <= body.Length, $"consumed {wholeConsumed} of {body.Length}");
        FuzzAssert.True(wholeStatus != HttpBodyStatus.NeedMoreData || wholeConsumed == body.Length, "needs more before the end");

        int cut = body.IsEmpty ? 0 : body[^1] % (body.Length + 1);
        var split = default(HttpChunkedBody);
        HttpBodyStatus first = split.Advance(body[..cut], out int firstConsumed);
        if (first != HttpBodyStatus.NeedMoreData)
        {
            FuzzAssert.True(first == wholeStatus && firstConsumed == wholeConsumed, $"cut at {cut}: {first}/{firstConsumed} vs {wholeStatus}/{wholeConsumed}");
            return;
        }

        HttpBodyStatus second = split.Advance(body[cut..], out int secondConsumed);
        FuzzAssert.True(second == wholeStatus, $"cut at {cut}: {second} vs {wholeStatus}");
        if (second == HttpBodyStatus.Complete)
        {
            FuzzAssert.True(cut + secondConsumed == wholeConsumed, $"cut at {cut}: ends at {cut + secondConsumed}, whole at {wholeConsumed}");
        }
    }
}
