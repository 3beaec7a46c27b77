using System.Globalization;

namespace DnsWarden.Policy.Http;

/// <summary>Whether a <see cref="HostRule"/> allows HTTP(S) to a host, or raw TCP to a name and one port.</summary>
public enum HostRuleKind
{
    Http,
    Tcp,
}

/// <summary>
/// One allow rule of the jail's host proxy, as written: <c>api.example.com</c> (that host), <c>*.example.com</c> (hosts
/// under it, not the name itself), optionally with a method and a path prefix (<c>GET api.example.com/v1/</c>), or
/// <c>tcp:NAME:PORT</c> (raw TCP to that port of the addresses the stub answered for NAME).
/// </summary>
public sealed record HostRule
{
    /// <summary>Methods are tokens (RFC 9110 §9.1); dnsw accepts the upper-case letters every registered one uses.</summary>
    private const int MaxMethodLength = 20;

    public required HostRuleKind Kind { get; init; }

    /// <summary>The rule as written (method upper-cased, host lower-cased): what logs and summaries name.</summary>
    public required string Text { get; init; }

    /// <summary>The host pattern in <see cref="DomainSet"/> syntax: <c>=name</c> for an exact host, <c>*.suffix</c>.</summary>
    public required string HostPattern { get; init; }

    /// <summary>Null: any method.</summary>
    public string? Method { get; init; }

    /// <summary>Null: any path. Otherwise it starts with '/'.</summary>
    public string? PathPrefix { get; init; }

    /// <summary>The port of a <see cref="HostRuleKind.Tcp"/> rule; 0 for HTTP rules.</summary>
    public int Port { get; init; }

    /// <summary>Parses one rule; false with a one-line reason (what was expected) on anything else.</summary>
    public static bool TryParse(string text, out HostRule? rule, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        rule = null;
        string s = text.Trim();
        if (s.StartsWith("tcp:", StringComparison.OrdinalIgnoreCase))
        {
            return TryParseTcp(s, out rule, out error);
        }

        string? method = null;
        int space = s.IndexOf(' ', StringComparison.Ordinal);
        if (space >= 0)
        {
            method = s[..space];
            s = s[(space + 1)..].TrimStart();
            if (method.Length is 0 or > MaxMethodLength || !method.All(char.IsAsciiLetterUpper))
            {
                error = $"'{text}': '{method}' is not a method (expected upper-case letters such as GET, then a host)";
                return false;
            }
        }

        string? path = null;
        int slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            path = s[slash..];
            s = s[..slash];
            if (path.Any(c => c <= ' ' || c >= 0x7f))
            {
                error = $"'{text}': the path prefix has a space or a control or non-ASCII character";
                return false;
            }
        }

        if (!TryHost(text, s, out string? pattern, out error))
        {
            return false;
        }

        rule = new HostRule
        {
            Kind = HostRuleKind.Http,
            Text = (method is null ? "" : method + " ") + s.ToLowerInvariant() + path,
            HostPattern = pattern!,
            Method = method,
            PathPrefix = path,
        };
        return true;
    }

    private static bool TryParseTcp(string text, out HostRule? rule, out string? error)
    {
        rule = null;
        string rest = text[4..];
        int colon = rest.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(rest.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            error = $"'{text}': expected tcp:NAME:PORT with a port from 1 to 65535, such as tcp:github.com:22";
            return false;
        }

        string host = rest[..colon];
        if (!TryHost(text, host, out string? pattern, out error))
        {
            return false;
        }

        rule = new HostRule
        {
            Kind = HostRuleKind.Tcp,
            Text = "tcp:" + host.ToLowerInvariant() + ":" + port.ToString(CultureInfo.InvariantCulture),
            HostPattern = pattern!,
            Port = port,
        };
        return true;
    }

    private static bool TryHost(string text, string host, out string? pattern, out string? error)
    {
        pattern = null;
        if (host.StartsWith('=') || (host.Contains('*', StringComparison.Ordinal) && !host.StartsWith("*.", StringComparison.Ordinal)))
        {
            error = $"'{text}': expected a host such as api.example.com or *.example.com";
            return false;
        }

        string candidate = host.StartsWith("*.", StringComparison.Ordinal) ? host.ToLowerInvariant() : "=" + host.ToLowerInvariant();
        if (!DomainSet.IsValidRule(candidate, out string? why))
        {
            error = $"'{text}': {why!.Replace("'" + candidate + "'", "the host", StringComparison.Ordinal)}";
            return false;
        }

        pattern = candidate.TrimEnd('.');
        error = null;
        return true;
    }

    /// <summary>True when this HTTP rule admits the method and path (null: not visible, e.g. inside TLS — the host decides).</summary>
    public bool AdmitsRequest(string? method, string? path) =>
        (Method is null || method is null || string.Equals(Method, method, StringComparison.Ordinal))
        && (PathPrefix is null || path is null || path.StartsWith(PathPrefix, StringComparison.Ordinal));

    public override string ToString() => Text;
}
