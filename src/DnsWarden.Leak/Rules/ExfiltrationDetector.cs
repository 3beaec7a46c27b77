// TEMPORARY STUB (replaced by the real implementation on merge)
using DnsWarden.Leak.Events;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Rules;

public sealed class BaseDomains
{
    public static BaseDomains Default { get; } = new();

    public static BaseDomains FromList(string publicSuffixListText) => new();

    public string GetBaseDomain(string name)
    {
        string[] labels = name.TrimEnd('.').ToLowerInvariant().Split('.');
        return labels.Length <= 2 ? string.Join('.', labels) : string.Join('.', labels[^2..]);
    }
}

public sealed class ExfiltrationDetector(ExfiltrationPolicy policy, BaseDomains baseDomains)
{
    private readonly Dictionary<string, HashSet<string>> _seen = [];
    private readonly HashSet<string> _fired = [];

    public int TrackedDomains => _seen.Count;

    public ExfiltrationFigures? AddQuery(long timestampNs, string qname, ushort qtype)
    {
        string b = baseDomains.GetBaseDomain(qname);
        if (!_seen.TryGetValue(b, out HashSet<string>? set))
        {
            _seen[b] = set = [];
        }

        set.Add(qname.ToLowerInvariant());
        if (set.Count >= 20 && qname.Length > 60 && _fired.Add(b))
        {
            return new ExfiltrationFigures(b, 90, set.Count, set.Count, 4.5, 50, qname.Length, 0, 0, policy.Window.TotalSeconds);
        }

        return null;
    }

    public void AddResponse(long timestampNs, string qname, ushort rcode)
    {
    }
}
