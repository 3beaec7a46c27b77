using System.Globalization;
using System.Text;

namespace DnsWarden.Platform;

/// <summary>Pure parsers of /proc text, kept free of platform guards so they are tested anywhere.</summary>
internal static class ProcText
{
    private static ReadOnlySpan<byte> SocketPrefix => "socket:["u8;

    /// <summary>"socket:[12345]" → 12345.</summary>
    public static bool TryParseSocketLink(ReadOnlySpan<byte> link, out ulong inode)
    {
        inode = 0;
        if (!link.StartsWith(SocketPrefix) || link.Length < SocketPrefix.Length + 2 || link[^1] != (byte)']')
        {
            return false;
        }

        foreach (byte b in link[SocketPrefix.Length..^1])
        {
            ulong digit = (ulong)(b - '0');
            if (b is < (byte)'0' or > (byte)'9' || inode > (ulong.MaxValue - digit) / 10)
            {
                inode = 0;
                return false;
            }

            inode = (inode * 10) + digit;
        }

        return true;
    }

    /// <summary>"Name:", "PPid:" and the real uid of "Uid:" from /proc/[pid]/status (fs/proc/array.c).</summary>
    public static bool TryParseStatus(ReadOnlySpan<char> status, out string name, out int ppid, out int? uid)
    {
        name = "";
        ppid = -1;
        uid = null;
        foreach (ReadOnlySpan<char> line in status.EnumerateLines())
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }

            ReadOnlySpan<char> key = line[..colon];
            ReadOnlySpan<char> value = line[(colon + 1)..].TrimStart(" \t");
            if (key.SequenceEqual("Name"))
            {
                name = value.ToString();
            }
            else if (key.SequenceEqual("PPid"))
            {
                ppid = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed : -1;
            }
            else if (key.SequenceEqual("Uid"))
            {
                int end = value.IndexOfAny(" \t");
                if (int.TryParse(end < 0 ? value : value[..end], NumberStyles.None, CultureInfo.InvariantCulture, out int real))
                {
                    uid = real;
                }
            }
        }

        return ppid >= 0;
    }

    /// <summary>NUL-separated arguments joined by spaces; null for kernel threads and zombies (empty cmdline).</summary>
    public static string? FormatCommandLine(ReadOnlySpan<byte> cmdline)
    {
        cmdline = cmdline.TrimEnd((byte)0);
        if (cmdline.IsEmpty)
        {
            return null;
        }

        string text = Encoding.UTF8.GetString(cmdline);
        return text.Replace('\0', ' ');
    }
}
