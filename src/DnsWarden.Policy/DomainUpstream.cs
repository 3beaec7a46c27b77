namespace DnsWarden.Policy;

/// <summary>
/// Conditional forwarding (<c>upstream_for</c>, <c>--upstream-for SUFFIX=URL</c>): names at or below
/// <see cref="Suffix"/> go to <see cref="Upstreams"/> and nowhere else; the longest matching suffix wins, and names
/// no suffix matches go to the default upstreams.
/// </summary>
/// <param name="Suffix">Lower case, no trailing dot, e.g. <c>corp.example</c>.</param>
public sealed record DomainUpstream(string Suffix, IReadOnlyList<UpstreamConfig> Upstreams)
{
    /// <summary>
    /// Reads a suffix as users write it (<c>corp.example</c>, <c>.corp.example</c>, <c>*.corp.example</c>,
    /// <c>corp.example.</c>): lower case, dots at the ends taken off, each label 1–63 characters of letters, digits,
    /// hyphens and underscores, 253 at most in all.
    /// </summary>
    public static bool TryParseSuffix(string text, out string suffix, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        suffix = "";
        string t = text.Trim();
        if (t.StartsWith("*.", StringComparison.Ordinal))
        {
            t = t[2..];
        }

        t = t.Trim('.').ToLowerInvariant();
        if (t.Length is 0 or > 253)
        {
            error = $"expected a domain suffix such as corp.example, got {PolicyJsonCursor.Quote(text)}";
            return false;
        }

        foreach (string label in t.Split('.'))
        {
            if (label.Length is 0 or > 63 || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                error = $"expected a domain suffix such as corp.example, got {PolicyJsonCursor.Quote(text)}";
                return false;
            }
        }

        suffix = t;
        error = null;
        return true;
    }
}
