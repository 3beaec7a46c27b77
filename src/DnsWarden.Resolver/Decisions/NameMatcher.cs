using DnsWarden.Policy;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Decisions;

/// <summary>
/// <see cref="DomainSet"/> semantics over a span, so matching a name read from a packet allocates nothing: suffix
/// rules match the name and names under it, <c>=name</c> only the name, <c>*.name</c> only names under it.
/// </summary>
internal sealed class NameMatcher
{
    /// <summary>A wire name (RFC 1035 §3.1, at most 255 octets) never needs more characters in <see cref="TryGetKey"/> form.</summary>
    public const int MaxKeyLength = DnsName.MaxWireLength;

    private readonly HashSet<string> _suffixes = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _below = new(StringComparer.OrdinalIgnoreCase);

    public NameMatcher(DomainSet set)
    {
        foreach (string rule in set.Rules)
        {
            if (rule.StartsWith('='))
            {
                _exact.Add(rule[1..]);
            }
            else if (rule.StartsWith("*.", StringComparison.Ordinal))
            {
                _below.Add(rule[2..]);
            }
            else
            {
                _suffixes.Add(rule);
            }
        }

        IsEmpty = set.Count == 0;
    }

    public bool IsEmpty { get; }

    /// <summary>
    /// The name as dotted text without the trailing dot (empty for the root). An octet outside the rule alphabet
    /// (letters, digits, '-', '_') becomes '?', which no rule contains: such a label matches nothing, and a '.'
    /// inside a label cannot pose as a label boundary (a\.allowed.com is not under allowed.com).
    /// </summary>
    public static bool TryGetKey(DnsName name, Span<char> destination, out int length)
    {
        length = 0;
        foreach (ReadOnlySpan<byte> label in name)
        {
            if (length + (length == 0 ? 0 : 1) + label.Length > destination.Length)
            {
                return false;
            }

            if (length != 0)
            {
                destination[length++] = '.';
            }

            foreach (byte b in label)
            {
                destination[length++] = char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' ? (char)b : '?';
            }
        }

        return true;
    }

    public bool Matches(ReadOnlySpan<char> name)
    {
        if (IsEmpty || name.IsEmpty)
        {
            return false;
        }

        var suffixes = _suffixes.GetAlternateLookup<ReadOnlySpan<char>>();
        if (_exact.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name) || suffixes.Contains(name))
        {
            return true;
        }

        var below = _below.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int dot = name.IndexOf('.'); dot >= 0; dot = name.IndexOf('.'))
        {
            name = name[(dot + 1)..];
            if (suffixes.Contains(name) || below.Contains(name))
            {
                return true;
            }
        }

        return false;
    }
}
