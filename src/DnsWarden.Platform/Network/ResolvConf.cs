using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Platform.Network;

/// <summary>A <c>nameserver</c> line. <paramref name="Ignored"/>: past the third, which glibc never uses (MAXNS = 3, resolv.conf(5)).</summary>
public sealed record ResolvConfNameserver(IPAddress Address, string? Zone, int Line, bool Ignored)
{
    /// <summary>systemd-resolved's stub listeners: 127.0.0.53 and 127.0.0.54 (systemd-resolved.service(8)).</summary>
    public bool IsSystemdStub => Address.Equals(ResolvConf.SystemdStub) || Address.Equals(ResolvConf.SystemdProxyStub);

    public override string ToString() => Zone is null ? Address.ToString() : Address + "%" + Zone;
}

/// <summary>An <c>options</c> entry: <c>ndots:2</c> is name ndots, value 2; <c>rotate</c> has no value.</summary>
public sealed record ResolvConfOption(string Name, int? Value, int Line)
{
    public override string ToString() => Value is { } v ? Name + ":" + v.ToString(CultureInfo.InvariantCulture) : Name;
}

/// <summary>A line the resolver skips or misreads, with its 1-based number.</summary>
public sealed record ResolvConfProblem(int Line, string Text, string Reason)
{
    public override string ToString() => $"line {Line.ToString(CultureInfo.InvariantCulture)}: {Reason}: {Text}";
}

/// <summary>
/// /etc/resolv.conf as the glibc stub resolver reads it (resolv.conf(5)): <c>#</c> or <c>;</c> in the first column
/// starts a comment; <c>nameserver</c> takes one address (IPv6 may carry <c>%zone</c>), the first three count;
/// <c>search</c> and <c>domain</c> exclude each other and the last one wins; <c>options</c> takes words and
/// <c>name:n</c> values. Every line the resolver would skip is kept as a <see cref="ResolvConfProblem"/>.
/// </summary>
public sealed class ResolvConf
{
    /// <summary>MAXNS in resolv.h.</summary>
    public const int MaxNameservers = 3;

    public const string DefaultPath = "/etc/resolv.conf";

    public static readonly IPAddress SystemdStub = IPAddress.Parse("127.0.0.53");
    public static readonly IPAddress SystemdProxyStub = IPAddress.Parse("127.0.0.54");

    /// <summary>Option names glibc knows (resolv.conf(5)); others are reported, as glibc ignores them.</summary>
    private static readonly HashSet<string> s_flagOptions =
    [
        "debug", "rotate", "no-check-names", "inet6", "ip6-bytestring", "ip6-dotint", "no-ip6-dotint", "edns0",
        "single-request", "single-request-reopen", "no-tld-query", "use-vc", "no-reload", "trust-ad", "no-aaaa",
    ];

    private static readonly HashSet<string> s_valueOptions = ["ndots", "timeout", "attempts"];

    private ResolvConf(
        IReadOnlyList<ResolvConfNameserver> nameservers,
        IReadOnlyList<string> search,
        string? searchKeyword,
        IReadOnlyList<ResolvConfOption> options,
        IReadOnlyList<string> sortList,
        IReadOnlyList<ResolvConfProblem> problems)
    {
        Nameservers = nameservers;
        Search = search;
        SearchKeyword = searchKeyword;
        Options = options;
        SortList = sortList;
        Problems = problems;
    }

    /// <summary>Every nameserver line in order, including those past the third (marked ignored).</summary>
    public IReadOnlyList<ResolvConfNameserver> Nameservers { get; }

    /// <summary>The search list in effect (from the last <c>search</c> or <c>domain</c> line).</summary>
    public IReadOnlyList<string> Search { get; }

    /// <summary>Which keyword set <see cref="Search"/>: <c>search</c>, <c>domain</c>, or null.</summary>
    public string? SearchKeyword { get; }

    public IReadOnlyList<ResolvConfOption> Options { get; }

    public IReadOnlyList<string> SortList { get; }

    public IReadOnlyList<ResolvConfProblem> Problems { get; }

    /// <summary>True when a nameserver in use is systemd-resolved's stub: the real upstreams are resolved's own.</summary>
    public bool UsesSystemdStub => Nameservers.Any(n => !n.Ignored && n.IsSystemdStub);

    public static ResolvConf Parse(string text)
    {
        var nameservers = new List<ResolvConfNameserver>();
        var options = new List<ResolvConfOption>();
        var problems = new List<ResolvConfProblem>();
        IReadOnlyList<string> search = [];
        IReadOnlyList<string> sortList = [];
        string? searchKeyword = null;
        int lineNumber = 0;
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            ReadOnlySpan<char> line = raw.TrimEnd();
            if (line.IsEmpty || line[0] is '#' or ';')
            {
                continue;
            }

            if (!TryParseLine(line, out ReadOnlySpan<char> keyword, out ReadOnlySpan<char> rest))
            {
                problems.Add(new(lineNumber, line.ToString(), "no keyword at the start of the line"));
                continue;
            }

            string[] words = rest.ToString().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            switch (keyword)
            {
                case "nameserver":
                    if (words.Length == 0)
                    {
                        problems.Add(new(lineNumber, line.ToString(), "nameserver without an address"));
                    }
                    else if (TryParseNameserver(words[0], out IPAddress? address, out string? zone))
                    {
                        nameservers.Add(new(address!, zone, lineNumber, Ignored: nameservers.Count >= MaxNameservers));
                        if (words.Length > 1 && words[1][0] is not ('#' or ';'))
                        {
                            problems.Add(new(lineNumber, line.ToString(), "text after the address is ignored"));
                        }
                    }
                    else
                    {
                        problems.Add(new(lineNumber, line.ToString(), "not an IP address"));
                    }

                    break;
                case "search":
                case "domain":
                    if (words.Length == 0)
                    {
                        problems.Add(new(lineNumber, line.ToString(), keyword.ToString() + " without a domain"));
                        break;
                    }

                    searchKeyword = keyword.ToString();
                    search = keyword is "domain" ? [words[0].TrimEnd('.')] : [.. words.Select(w => w.TrimEnd('.'))];
                    break;
                case "options":
                    foreach (string w in words)
                    {
                        if (TryParseOption(w, lineNumber, out ResolvConfOption? option, out string? reason))
                        {
                            options.Add(option!);
                        }
                        else
                        {
                            problems.Add(new(lineNumber, line.ToString(), reason!));
                        }
                    }

                    break;
                case "sortlist":
                    sortList = words;
                    break;
                default:
                    problems.Add(new(lineNumber, line.ToString(), $"unknown keyword '{keyword}'"));
                    break;
            }
        }

        return new ResolvConf(nameservers, search, searchKeyword, options, sortList, problems);
    }

    /// <summary>Reads a file; null with the reason when it cannot be read.</summary>
    public static ResolvConf? TryLoad(string path, out string? error)
    {
        try
        {
            error = null;
            return Parse(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = ex.Message;
            return null;
        }
    }

    /// <summary>Splits a non-comment line into its keyword and the rest; false when it starts with blanks (glibc matches keywords at column 1).</summary>
    public static bool TryParseLine(ReadOnlySpan<char> line, out ReadOnlySpan<char> keyword, out ReadOnlySpan<char> rest)
    {
        keyword = default;
        rest = default;
        if (line.IsEmpty || line[0] is ' ' or '\t')
        {
            return false;
        }

        int end = line.IndexOfAny(' ', '\t');
        keyword = end < 0 ? line : line[..end];
        rest = end < 0 ? [] : line[end..].Trim();
        return true;
    }

    /// <summary>An IPv4 or IPv6 address; IPv6 may end in <c>%zone</c> (an interface name or index).</summary>
    public static bool TryParseNameserver(string text, out IPAddress? address, out string? zone)
    {
        zone = null;
        address = null;
        int percent = text.IndexOf('%', StringComparison.Ordinal);
        string bare = percent < 0 ? text : text[..percent];
        if (!IPAddress.TryParse(bare, out IPAddress? parsed) || (parsed.AddressFamily == AddressFamily.InterNetwork && !IsDottedQuad(bare)))
        {
            return false;
        }

        if (percent >= 0)
        {
            zone = text[(percent + 1)..];
            if (parsed.AddressFamily != AddressFamily.InterNetworkV6 || zone.Length == 0)
            {
                return false;
            }
        }

        address = parsed;
        return true;
    }

    /// <summary>IPAddress.TryParse also takes "10", "10.1" and hex parts, which the resolver config does not mean.</summary>
    private static bool IsDottedQuad(string s)
    {
        string[] parts = s.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));
    }

    private static bool TryParseOption(string word, int line, out ResolvConfOption? option, out string? reason)
    {
        option = null;
        reason = null;
        int colon = word.IndexOf(':', StringComparison.Ordinal);
        string name = colon < 0 ? word : word[..colon];
        if (s_valueOptions.Contains(name))
        {
            if (colon < 0 || !int.TryParse(word.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                reason = $"option {name} needs a number ({name}:n)";
                return false;
            }

            option = new ResolvConfOption(name, value, line);
            return true;
        }

        if (colon < 0 && s_flagOptions.Contains(name))
        {
            option = new ResolvConfOption(name, null, line);
            return true;
        }

        reason = $"unknown option '{word}'";
        return false;
    }
}
