namespace DnsWarden.Policy.Http;

/// <summary>
/// The jail's host rules: default deny, each <see cref="HostRule"/> an exception; <see cref="Observe"/> allows
/// everything (and the proxy logs it), to write rules from. The one place a host, method and path, or a name and a port,
/// are judged (the proxy, the DNS policy and the raw-TCP set all ask here).
/// </summary>
public sealed class HostRules
{
    private readonly (HostRule Rule, DomainSet Hosts)[] _http;
    private readonly (HostRule Rule, DomainSet Hosts)[] _tcp;

    public HostRules(IEnumerable<HostRule> rules, bool observe = false)
    {
        ArgumentNullException.ThrowIfNull(rules);
        Rules = [.. rules];
        Observe = observe;
        _http = [.. Rules.Where(r => r.Kind == HostRuleKind.Http).Select(r => (r, new DomainSet([r.HostPattern])))];
        _tcp = [.. Rules.Where(r => r.Kind == HostRuleKind.Tcp).Select(r => (r, new DomainSet([r.HostPattern])))];
        Names = new DomainSet(Rules.Select(r => r.HostPattern).Distinct(StringComparer.Ordinal));
    }

    public static HostRules None { get; } = new([]);

    public IReadOnlyList<HostRule> Rules { get; }

    /// <summary>Allow everything, log it.</summary>
    public bool Observe { get; }

    /// <summary>True when the jail decides TCP by host: any rule, or observe mode.</summary>
    public bool Active => Rules.Count > 0 || Observe;

    /// <summary>Every name some rule mentions: these resolve through the stub, everything else is sinkholed.</summary>
    public DomainSet Names { get; }

    /// <summary>The TCP ports raw rules open for <paramref name="name"/> (empty for most names).</summary>
    public IEnumerable<int> TcpPorts(string name)
    {
        foreach ((HostRule rule, DomainSet hosts) in _tcp)
        {
            if (hosts.Matches(name))
            {
                yield return rule.Port;
            }
        }
    }

    /// <summary>True when some raw rule opens <paramref name="port"/> on <paramref name="name"/>.</summary>
    public bool AllowsTcp(string name, int port) => TcpPorts(name).Contains(port);

    /// <summary>
    /// The first HTTP rule that admits a request for <paramref name="host"/> (method and path null when they cannot be
    /// seen, as inside TLS), or null: denied. Names are compared without case and without a trailing dot.
    /// </summary>
    public HostRule? Match(string host, string? method, string? path)
    {
        ArgumentNullException.ThrowIfNull(host);
        foreach ((HostRule rule, DomainSet hosts) in _http)
        {
            if (hosts.Matches(host) && rule.AdmitsRequest(method, path))
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>The HTTP rules whose host pattern takes <paramref name="host"/>, whatever their method and path.</summary>
    public IEnumerable<HostRule> HttpRulesFor(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return _http.Where(h => h.Hosts.Matches(host)).Select(h => h.Rule);
    }

    /// <summary>Parses each rule in turn; the first bad one ends it with its reason.</summary>
    public static bool TryParse(IEnumerable<string> texts, bool observe, out HostRules? rules, out string? error)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var list = new List<HostRule>();
        foreach (string t in texts)
        {
            if (!HostRule.TryParse(t, out HostRule? rule, out error))
            {
                rules = null;
                return false;
            }

            list.Add(rule!);
        }

        rules = new HostRules(list, observe);
        error = null;
        return true;
    }
}
