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

    /// <summary>The real gid of "Gid:" in /proc/[pid]/status.</summary>
    public static int? ParseStatusGid(ReadOnlySpan<char> status)
    {
        foreach (ReadOnlySpan<char> line in status.EnumerateLines())
        {
            if (line.StartsWith("Gid:"))
            {
                ReadOnlySpan<char> value = line[4..].TrimStart(" \t");
                int end = value.IndexOfAny(" \t");
                return int.TryParse(end < 0 ? value : value[..end], NumberStyles.None, CultureInfo.InvariantCulture, out int gid) ? gid : null;
            }
        }

        return null;
    }

    /// <summary>The cgroup v2 path of /proc/[pid]/cgroup: the "0::PATH" line (cgroups(7)); null when there is none.</summary>
    public static string? ParseCgroupV2Path(ReadOnlySpan<char> text)
    {
        foreach (ReadOnlySpan<char> line in text.EnumerateLines())
        {
            if (line.StartsWith("0::") && line.Length > 3)
            {
                return line[3..].ToString();
            }
        }

        return null;
    }

    /// <summary>
    /// The mount point of the cgroup2 file system in /proc/self/mountinfo (proc(5): field 5 is the mount point, the
    /// file system type follows the " - " separator; spaces and other bytes in paths are written as \ooo).
    /// </summary>
    public static string? FindCgroup2Mount(ReadOnlySpan<char> mountinfo)
    {
        foreach (ReadOnlySpan<char> line in mountinfo.EnumerateLines())
        {
            int separator = line.IndexOf(" - ");
            if (separator < 0 || !line[(separator + 3)..].StartsWith("cgroup2 "))
            {
                continue;
            }

            ReadOnlySpan<char> fields = line[..separator];
            for (int i = 0; i < 4; i++)
            {
                int space = fields.IndexOf(' ');
                if (space < 0)
                {
                    fields = default;
                    break;
                }

                fields = fields[(space + 1)..];
            }

            int end = fields.IndexOf(' ');
            ReadOnlySpan<char> mountPoint = end < 0 ? fields : fields[..end];
            if (!mountPoint.IsEmpty)
            {
                return UnescapeOctal(mountPoint);
            }
        }

        return null;
    }

    /// <summary>User names by uid from passwd(5) text ("name:password:uid:gid:…"); the first line for a uid wins.</summary>
    public static Dictionary<int, string> ParsePasswd(ReadOnlySpan<char> passwd)
    {
        var names = new Dictionary<int, string>();
        foreach (ReadOnlySpan<char> line in passwd.EnumerateLines())
        {
            int first = line.IndexOf(':');
            if (first <= 0 || line.StartsWith("#"))
            {
                continue;
            }

            ReadOnlySpan<char> rest = line[(first + 1)..];
            int second = rest.IndexOf(':');
            if (second < 0)
            {
                continue;
            }

            rest = rest[(second + 1)..];
            int third = rest.IndexOf(':');
            if (third >= 0 && int.TryParse(rest[..third], NumberStyles.None, CultureInfo.InvariantCulture, out int uid))
            {
                names.TryAdd(uid, line[..first].ToString());
            }
        }

        return names;
    }

    private static string UnescapeOctal(ReadOnlySpan<char> text)
    {
        if (text.IndexOf('\\') < 0)
        {
            return text.ToString();
        }

        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && IsOctal(text[i + 1]) && IsOctal(text[i + 2]) && IsOctal(text[i + 3]))
            {
                sb.Append((char)(((text[i + 1] - '0') * 64) + ((text[i + 2] - '0') * 8) + (text[i + 3] - '0')));
                i += 3;
            }
            else
            {
                sb.Append(text[i]);
            }
        }

        return sb.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
