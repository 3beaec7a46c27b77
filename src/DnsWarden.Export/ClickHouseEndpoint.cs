using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace DnsWarden.Export;

/// <summary>
/// Where rows go: <c>clickhouse://HOST[:PORT]/DATABASE</c>, HOST a name, an IPv4 address or <c>[IPv6]</c>, PORT the
/// HTTP interface's (8123 when left out). No user or password in the URL: it would show in <c>ps</c>.
/// </summary>
public sealed record ClickHouseEndpoint(string Host, int Port, string Database)
{
    public const string Scheme = "clickhouse";
    public const int DefaultHttpPort = 8123;

    public Uri HttpBase => new(string.Create(CultureInfo.InvariantCulture, $"http://{(Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)}:{Port}/"));

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Scheme}://{(Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)}:{Port}/{Database}");

    public static bool TryParse(string text, [NotNullWhen(true)] out ClickHouseEndpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        endpoint = null;
        const string Prefix = Scheme + "://";
        if (!text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{text}' is not a ClickHouse URL (expected clickhouse://HOST[:PORT]/DATABASE)";
            return false;
        }

        string rest = text[Prefix.Length..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            error = $"'{text}' names no database (expected clickhouse://HOST[:PORT]/DATABASE)";
            return false;
        }

        string authority = rest[..slash];
        string database = rest[(slash + 1)..];
        if (authority.Contains('@', StringComparison.Ordinal))
        {
            error = $"'{text}': no user or password in the URL (it shows in ps); use --export-user and --export-password-file";
            return false;
        }

        string host;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || !IPAddress.TryParse(authority[1..close], out IPAddress? v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                error = $"'{text}': '{authority}' is not [IPv6] or [IPv6]:PORT";
                return false;
            }

            host = authority[1..close];
            if (close + 1 < authority.Length)
            {
                if (authority[close + 1] != ':')
                {
                    error = $"'{text}': expected ':PORT' after ']'";
                    return false;
                }

                portText = authority[(close + 2)..];
            }
        }
        else
        {
            int colon = authority.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? null : authority[(colon + 1)..];
            if (!IsHostName(host))
            {
                error = $"'{text}': '{host}' is not a host name or address";
                return false;
            }
        }

        int port = DefaultHttpPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"'{text}': port '{portText}' is not 1-65535";
            return false;
        }

        if (!IsIdentifier(database))
        {
            error = $"'{text}': database '{database}' is not a plain name (letters, digits, '_'; not starting with a digit)";
            return false;
        }

        endpoint = new ClickHouseEndpoint(host, port, database);
        error = null;
        return true;
    }

    /// <summary>Database and table names go into SQL as they are, so only plain identifiers are taken.</summary>
    public static bool IsIdentifier(string name) =>
        name.Length is > 0 and <= 64 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static bool IsHostName(string host) =>
        host.Length is > 0 and <= 253 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') && !host.StartsWith('-') && !host.StartsWith('.');
}
