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

    /// <summary>
    /// The state (field 3) and start time (field 22) of /proc/[pid]/stat. The command name (field 2) is in parentheses
    /// and may hold spaces and parentheses itself, so the fields are counted from the last ')' (fs/proc/array.c).
    /// </summary>
    public static bool TryParseStatStateAndStart(ReadOnlySpan<char> stat, out char state, out ulong startTime)
    {
        state = '\0';
        startTime = 0;
        int close = stat.LastIndexOf(')');
        if (close < 0 || close + 2 >= stat.Length || stat[close + 1] != ' ')
        {
            return false;
        }

        ReadOnlySpan<char> rest = stat[(close + 2)..];
        state = rest[0];
        for (int field = 3; field < 22; field++)
        {
            int space = rest.IndexOf(' ');
            if (space < 0)
            {
                return false;
            }

            rest = rest[(space + 1)..];
        }

        int end = rest.IndexOf(' ');
        return ulong.TryParse(end < 0 ? rest.TrimEnd() : rest[..end], NumberStyles.None, CultureInfo.InvariantCulture, out startTime);
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
