using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace DnsWarden.Platform;

/// <summary>
/// Parser of /proc/net/{tcp,tcp6,udp,udp6} lines (kernel net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv4/udp.c udp4_format_sock,
/// and their ipv6 twins): "sl: local rem st tx:rx tr:when retrnsmt uid timeout inode ...".
/// Addresses are the in-memory words printed with %08X, so each 32-bit word is little-endian on the hosts we run on.
/// </summary>
internal static class ProcNetParser
{
    private const int UidField = 7;
    private const int InodeField = 9;

    /// <summary>False for the header, blank, truncated or malformed lines; never throws.</summary>
    public static bool TryParseLine(ReadOnlySpan<char> line, out SocketEntry entry, out byte state)
    {
        entry = default;
        state = 0;
        Span<Range> fields = stackalloc Range[InodeField + 2];
        int count = Split(line, fields);
        if (count < InodeField + 1)
        {
            return false;
        }

        ReadOnlySpan<char> sl = line[fields[0]];
        if (sl.Length < 2 || sl[^1] != ':' || !uint.TryParse(sl[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return false;
        }

        if (!TryParseEndpoint(line[fields[1]], out IPAddress? local, out ushort localPort)
            || !TryParseEndpoint(line[fields[2]], out IPAddress? remote, out ushort remotePort)
            || local.AddressFamily != remote.AddressFamily)
        {
            return false;
        }

        if (!byte.TryParse(line[fields[3]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out state)
            || !int.TryParse(line[fields[UidField]], NumberStyles.None, CultureInfo.InvariantCulture, out int uid)
            || !ulong.TryParse(line[fields[InodeField]], NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode))
        {
            state = 0;
            return false;
        }

        entry = new SocketEntry(local, localPort, remote, remotePort, inode, uid);
        return true;
    }

    /// <summary>"0100007F:0035" or the 32-hex-digit IPv6 form.</summary>
    public static bool TryParseEndpoint(ReadOnlySpan<char> text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address, out ushort port)
    {
        address = null;
        port = 0;
        int colon = text.IndexOf(':');
        if (colon < 0 || text.Length - colon - 1 != 4
            || !ushort.TryParse(text[(colon + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out port))
        {
            return false;
        }

        ReadOnlySpan<char> hex = text[..colon];
        if (hex.Length != 8 && hex.Length != 32)
        {
            port = 0;
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        for (int w = 0; w < hex.Length / 8; w++)
        {
            if (!uint.TryParse(hex.Slice(w * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint word))
            {
                port = 0;
                return false;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(bytes.Slice(w * 4, 4), word);
        }

        address = new IPAddress(bytes[..(hex.Length / 2)]);
        return true;
    }

    /// <summary>Splits on spaces into at most <paramref name="fields"/>.Length ranges; the last takes no rest.</summary>
    private static int Split(ReadOnlySpan<char> line, Span<Range> fields)
    {
        int count = 0;
        int i = 0;
        while (count < fields.Length)
        {
            while (i < line.Length && line[i] == ' ')
            {
                i++;
            }

            if (i >= line.Length)
            {
                break;
            }

            int start = i;
            while (i < line.Length && line[i] != ' ')
            {
                i++;
            }

            fields[count++] = new Range(start, i);
        }

        return count;
    }
}
