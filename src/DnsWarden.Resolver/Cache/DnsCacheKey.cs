using System.Buffers.Binary;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Cache;

/// <summary>
/// The cache key of a message: its only question's name as lower-case uncompressed wire labels,
/// QTYPE, QCLASS, the EDNS DO bit (RFC 3225 §3: DNSSEC records only for DO queries) and the CD bit
/// (RFC 4035 §3.2.2: a CD answer may hold data that failed validation).
/// </summary>
internal static class DnsCacheKey
{
    /// <summary>Name (RFC 1035 §2.3.4: ≤ 255 octets) + QTYPE + QCLASS + one byte of DO and CD.</summary>
    public const int MaxLength = DnsName.MaxWireLength + 5;

    public static bool TryBuild(ReadOnlySpan<byte> message, Span<byte> key, out int keyLength, out int questionNameLength)
    {
        keyLength = 0;
        questionNameLength = 0;
        var reader = new DnsMessageReader(message);
        if (!reader.TryReadHeader(out DnsHeader header) || header.QuestionCount != 1 || !reader.TryReadQuestion(out DnsQuestion q))
        {
            return false;
        }

        if (!q.Name.TryWriteUncompressed(key, out int n))
        {
            return false;
        }

        questionNameLength = q.Name.WireLengthInMessage;

        // Label length octets are ≤ 63, below 'A', so the whole span can be folded.
        for (int i = 0; i < n; i++)
        {
            byte b = key[i];
            if (b is >= (byte)'A' and <= (byte)'Z')
            {
                key[i] = (byte)(b | 0x20);
            }
        }

        BinaryPrimitives.WriteUInt16BigEndian(key.Slice(n), (ushort)q.Type);
        BinaryPrimitives.WriteUInt16BigEndian(key.Slice(n + 2), (ushort)q.Class);
        bool dnssecOk = false;
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type == DnsType.OPT && r.Section == DnsSection.Additional && DnsOpt.TryRead(r, out DnsOpt opt, out _))
            {
                dnssecOk = opt.DnssecOk;
            }
        }

        if (!reader.IsComplete)
        {
            return false;
        }

        key[n + 4] = (byte)((dnssecOk ? 1 : 0) | (header.CheckingDisabled ? 2 : 0));
        keyLength = n + 5;
        return true;
    }

    public static int Hash(ReadOnlySpan<byte> key)
    {
        var h = default(HashCode);
        h.AddBytes(key);
        return h.ToHashCode();
    }
}
