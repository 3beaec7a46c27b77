using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>Checks and rewrites shared by every transport: IDs, the question match, error mapping.</summary>
internal static class DnsExchange
{
    /// <summary>RFC 1035 §4.2.2: TCP messages carry a two-byte length prefix, so 65,535 is the largest message.</summary>
    public const int MaxMessageLength = ushort.MaxValue;

    private const ushort ResponseFlag = 0x8000;
    private const ushort TruncatedFlag = 0x0200;
    private const ushort OpcodeMask = 0x7800;
    private const ushort RcodeMask = 0x000F;

    public static bool IsQuery(ReadOnlySpan<byte> query) =>
        query.Length >= DnsHeader.Length && query.Length <= MaxMessageLength;

    public static ushort ReadId(ReadOnlySpan<byte> message) => BinaryPrimitives.ReadUInt16BigEndian(message);

    public static void WriteId(Span<byte> message, ushort id) => BinaryPrimitives.WriteUInt16BigEndian(message, id);

    public static bool IsTruncated(ReadOnlySpan<byte> reply) =>
        reply.Length >= DnsHeader.Length && (BinaryPrimitives.ReadUInt16BigEndian(reply.Slice(2)) & TruncatedFlag) != 0;

    /// <summary>RCODE of a reply (the low four bits; the EDNS extension is not needed for SERVFAIL/REFUSED).</summary>
    public static DnsRcode ReadRcode(ReadOnlySpan<byte> reply) =>
        (DnsRcode)(BinaryPrimitives.ReadUInt16BigEndian(reply.Slice(2)) & RcodeMask);

    /// <summary>RFC 5452 §4.3: the ID is one of the two unpredictable parts of an exchange, so it comes from a CSPRNG.</summary>
    public static ushort RandomId()
    {
        // Cryptographic random IDs (RFC 5452 §9.2), drawn 64 at a time per thread: one call into the system's
        // generator per query showed up on the forwarding path.
        byte[] pool = s_idPool ??= new byte[IdPoolBytes];
        if (s_idOffset == 0 || s_idOffset >= IdPoolBytes)
        {
            RandomNumberGenerator.Fill(pool);
            s_idOffset = 0;
        }

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(pool.AsSpan(s_idOffset));
        s_idOffset += 2;
        return id;
    }

    private const int IdPoolBytes = 128;

    [ThreadStatic]
    private static byte[]? s_idPool;

    [ThreadStatic]
    private static int s_idOffset;

    /// <summary>
    /// RFC 5452 §9.1: a reply is accepted only when it is a response with the query's opcode and the same
    /// question (name compared case-insensitively, RFC 4343; type; class). IDs are checked by the caller.
    /// </summary>
    public static bool AnswersQuestion(ReadOnlySpan<byte> query, ReadOnlySpan<byte> reply)
    {
        if (query.Length < DnsHeader.Length || reply.Length < DnsHeader.Length)
        {
            return false;
        }

        ushort queryFlags = BinaryPrimitives.ReadUInt16BigEndian(query.Slice(2));
        ushort replyFlags = BinaryPrimitives.ReadUInt16BigEndian(reply.Slice(2));
        if ((replyFlags & ResponseFlag) == 0 || (queryFlags & OpcodeMask) != (replyFlags & OpcodeMask))
        {
            return false;
        }

        ushort queryQd = BinaryPrimitives.ReadUInt16BigEndian(query.Slice(4));
        ushort replyQd = BinaryPrimitives.ReadUInt16BigEndian(reply.Slice(4));
        if (queryQd != replyQd)
        {
            return false;
        }

        if (queryQd == 0)
        {
            return true;
        }

        var q = new DnsMessageReader(query);
        var r = new DnsMessageReader(reply);
        if (!q.TryReadQuestion(out DnsQuestion asked) || !r.TryReadQuestion(out DnsQuestion answered))
        {
            return false;
        }

        return asked.Type == answered.Type && asked.Class == answered.Class && asked.Name.Equals(answered.Name);
    }

    public static UpstreamError FromSocketError(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => UpstreamError.ConnectionRefused,
        SocketError.TimedOut => UpstreamError.Timeout,
        SocketError.OperationAborted => UpstreamError.Canceled,
        _ => UpstreamError.NetworkError,
    };

    /// <summary>Maps an exception from a send, receive or connect to the error the caller sees.</summary>
    public static UpstreamError FromException(Exception exception, CancellationToken caller, bool timedOut)
    {
        if (exception is OperationCanceledException)
        {
            return caller.IsCancellationRequested || !timedOut ? UpstreamError.Canceled : UpstreamError.Timeout;
        }

        return exception switch
        {
            UpstreamException u => u.Error,
            SocketException s => FromSocketError(s.SocketErrorCode),
            IOException { InnerException: SocketException s } => FromSocketError(s.SocketErrorCode),
            ObjectDisposedException => UpstreamError.Canceled,
            _ => UpstreamError.NetworkError,
        };
    }
}

/// <summary>Carries an <see cref="UpstreamError"/> out of connection setup; never escapes an upstream.</summary>
internal sealed class UpstreamException(UpstreamError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public UpstreamError Error { get; } = error;
}
