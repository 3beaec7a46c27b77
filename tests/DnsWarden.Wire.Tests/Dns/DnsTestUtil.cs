using DnsWarden.Wire.Dns;

namespace DnsWarden.Wire.Tests.Dns;

/// <summary>Byte builders and oracle adapters shared by the DNS tests.</summary>
internal static class DnsTestUtil
{
    public static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    /// <summary>Uncompressed wire name, hand-encoded (no code under test involved).</summary>
    public static byte[] WireName(string dotted)
    {
        var bytes = new List<byte>();
        foreach (string label in dotted.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return bytes.ToArray();
    }

    public static byte[] U16(int v) => [(byte)(v >> 8), (byte)v];

    public static byte[] U32(uint v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

    public static byte[] Header(ushort id, ushort flags, int qd, int an, int ns, int ar) =>
        [.. U16(id), .. U16(flags), .. U16(qd), .. U16(an), .. U16(ns), .. U16(ar)];

    /// <summary>Response to "{qname} IN {type}" with one answer whose owner points at the question (offset 12).</summary>
    public static byte[] SingleAnswer(string qname, DnsType type, byte[] rdata, uint ttl = 300) =>
    [
        .. Header(0xBEEF, 0x8180, 1, 1, 0, 0),
        .. WireName(qname), .. U16((int)type), .. U16(1),
        0xC0, 0x0C, .. U16((int)type), .. U16(1), .. U32(ttl), .. U16(rdata.Length), .. rdata,
    ];

    /// <summary>The name at offset 12 of <paramref name="message"/> (the first question).</summary>
    public static string FirstQuestionName(byte[] message)
    {
        var r = new DnsMessageReader(message);
        Assert.True(r.TryReadQuestion(out DnsQuestion q), r.Error.ToString());
        return q.Name.ToString();
    }

    /// <summary>Reads everything, returning the records' owner names, types and rdata as comparable values.</summary>
    public static List<(string Name, DnsType Type, DnsSection Section, uint Ttl, byte[] Rdata)> ReadAll(byte[] message, out DnsHeader header)
    {
        var r = new DnsMessageReader(message);
        Assert.True(r.TryReadHeader(out header));
        var list = new List<(string, DnsType, DnsSection, uint, byte[])>();
        while (r.TryReadRecord(out DnsRecord rec))
        {
            list.Add((rec.Name.ToString(), rec.Type, rec.Section, rec.Ttl, rec.Rdata.ToArray()));
        }

        Assert.True(r.IsComplete, r.Error.ToString());
        return list;
    }
}
