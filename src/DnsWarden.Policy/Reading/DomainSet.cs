namespace DnsWarden.Policy;

/// <summary>
/// A list of domain rules, matched case-insensitively and ignoring a trailing dot:
/// <c>example.com</c> matches the name and every name under it; <c>=example.com</c> only the name itself;
/// <c>*.example.com</c> only names under it. Lookup walks the name's label boundaries: O(labels) set probes.
/// </summary>
public sealed class DomainSet
{
    private readonly HashSet<string> _suffixes = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _below = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _rules = [];

    public static DomainSet Empty { get; } = new([]);

    public DomainSet(IEnumerable<string> rules)
    {
        foreach (string rule in rules)
        {
            if (!TryAdd(rule, out string? error))
            {
                throw new ArgumentException(error, nameof(rules));
            }
        }
    }

    /// <summary>The rules as written (normalised), for summaries and round trips.</summary>
    public IReadOnlyList<string> Rules => _rules;

    public int Count => _rules.Count;

    /// <summary>Checks a rule's syntax without building a set; the error says what was expected.</summary>
    public static bool IsValidRule(string rule, out string? error)
    {
        error = null;
        string body = rule.StartsWith('=') ? rule[1..] : rule.StartsWith("*.", StringComparison.Ordinal) ? rule[2..] : rule;
        body = body.TrimEnd('.');
        if (body.Length == 0 || body.Length > 253)
        {
            error = $"'{rule}' is not a domain (expected a name such as example.com, =example.com or *.example.com)";
            return false;
        }

        foreach (string label in body.Split('.'))
        {
            if (label.Length is 0 or > 63)
            {
                error = $"'{rule}' has an empty or over-long label (labels are 1–63 characters)";
                return false;
            }

            foreach (char c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    error = $"'{rule}' has the character '{c}' (expected letters, digits, '-' or '_')";
                    return false;
                }
            }
        }

        return true;
    }

    private bool TryAdd(string rule, out string? error)
    {
        if (!IsValidRule(rule, out error))
        {
            return false;
        }

        string r = rule.TrimEnd('.').ToLowerInvariant();
        if (r.StartsWith('='))
        {
            _exact.Add(r[1..]);
        }
        else if (r.StartsWith("*.", StringComparison.Ordinal))
        {
            _below.Add(r[2..]);
        }
        else
        {
            _suffixes.Add(r);
        }

        _rules.Add(r);
        return true;
    }

    public bool Matches(string name)
    {
        if (_rules.Count == 0)
        {
            return false;
        }

        ReadOnlySpan<char> n = name.AsSpan().TrimEnd('.');
        var suffixes = _suffixes.GetAlternateLookup<ReadOnlySpan<char>>();
        var below = _below.GetAlternateLookup<ReadOnlySpan<char>>();
        if (_exact.GetAlternateLookup<ReadOnlySpan<char>>().Contains(n) || suffixes.Contains(n))
        {
            return true;
        }

        for (int dot = n.IndexOf('.'); dot >= 0; dot = n.IndexOf('.'))
        {
            n = n[(dot + 1)..];
            if (suffixes.Contains(n) || below.Contains(n))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => string.Join(", ", _rules);
}
