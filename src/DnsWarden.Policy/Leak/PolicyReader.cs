using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace DnsWarden.Policy;

/// <summary>
/// Walks a policy file token by token and stops at the first problem, which it records with the offending
/// token's position. Keys may come in any order, so values gather in a <see cref="PolicyDraft"/> first.
/// </summary>
internal ref struct PolicyReader : IPolicyFileReader<LeakPolicy>
{
    private static readonly string[] s_rootKeys =
    [
        "version", "profile", "safe_route_classes", "safe_interfaces", "interface_classes", "safe_resolvers",
        "allowed_processes", "allowed_ports", "split", "encrypted_dns", "exfiltration",
    ];

    private static readonly string[] s_splitKeys = ["proxy_domains", "direct_domains", "default"];

    private static readonly string[] s_encryptedKeys =
        ["approved_egress", "approved_hosts", "builtin_endpoints", "endpoints", "remove_hosts", "remove_addresses"];

    private static readonly string[] s_endpointKeys = ["name", "hosts", "addresses"];

    private static readonly string[] s_exfiltrationKeys =
    [
        "window", "min_queries", "min_unique_subdomains", "min_entropy", "long_label", "long_name",
        "txt_null_share", "nxdomain_share", "score_threshold",
    ];

    private const string RouteClassNames = "loopback, tunnel, physical, virtual, unknown";

    private PolicyJsonCursor _json;

    public PolicyReader(ReadOnlySpan<byte> data, string file) => _json = new PolicyJsonCursor(data, file, "{ \"version\": 1 }");

    public PolicyError? Error => _json.Error;

    private enum StringKind
    {
        Text,
        RouteClass,
        Interface,
        Domain,
        HostName,
        Endpoint,
        Address,
    }

    public bool TryRead(out LeakPolicy? policy)
    {
        policy = null;
        var draft = new PolicyDraft();
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartObject)
        {
            return _json.Fail($"expected a JSON object at the root, got {_json.Describe()}");
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_rootKeys, null, out string? key))
        {
            bool ok = key switch
            {
                "version" => ReadVersion(draft),
                "profile" => ReadProfile(draft),
                "safe_route_classes" => ReadStrings("safe_route_classes", StringKind.RouteClass, draft.SafeRouteClasses = new List<RouteClass>()),
                "safe_interfaces" => ReadStrings("safe_interfaces", StringKind.Interface, draft.SafeInterfaces),
                "interface_classes" => ReadInterfaceClasses(draft),
                "safe_resolvers" => ReadStrings("safe_resolvers", StringKind.Endpoint, draft.SafeResolvers),
                "allowed_processes" => ReadStrings("allowed_processes", StringKind.Text, draft.AllowedProcesses),
                "allowed_ports" => ReadPorts(draft),
                "split" => ReadSplit(draft),
                "encrypted_dns" => ReadEncryptedDns(draft),
                "exfiltration" => ReadExfiltration(draft),
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null || !_json.AtEnd())
        {
            return false;
        }

        policy = draft.Build(_json.File);
        return true;
    }

    // ---- values ----

    /// <summary>An array of strings, each checked as <paramref name="kind"/> and added to the list that fits it.</summary>
    private bool ReadStrings<T>(string path, StringKind kind, List<T> into)
    {
        string expected = kind switch
        {
            StringKind.Endpoint => "an array of endpoint strings (IP, IP:PORT, [IPv6]:PORT or CIDR)",
            StringKind.Address => "an array of IP address strings",
            _ => "an array of strings",
        };
        if (!_json.BeginArray(path, expected))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            if (_json.Reader.TokenType != JsonTokenType.String)
            {
                return _json.Fail($"{path}: expected {expected}, got {_json.Describe()} at index {i}");
            }

            if (!_json.TryGetString(out string s))
            {
                return false;
            }

            if (!TryConvert($"{path}[{i}]", kind, s, out object? value))
            {
                return false;
            }

            into.Add((T)value!);
        }
    }

    private bool TryConvert(string at, StringKind kind, string s, out object? value)
    {
        value = null;
        string? error;
        switch (kind)
        {
            case StringKind.Text:
                if (s.Length == 0 || s.Any(char.IsControl))
                {
                    return _json.Fail($"{at}: expected a non-empty name without control characters, got {PolicyJsonCursor.Quote(s)}");
                }

                value = s;
                return true;
            case StringKind.RouteClass:
                if (!TryParseRouteClass(s, out RouteClass rc))
                {
                    return _json.Fail($"{at}: {PolicyJsonCursor.Quote(s)} is not a route class (expected one of: {RouteClassNames})");
                }

                value = rc;
                return true;
            case StringKind.Interface:
                if (s.Length == 0 || s.Any(char.IsControl))
                {
                    return _json.Fail($"{at}: expected an interface name or glob such as wg0 or tun*, got {PolicyJsonCursor.Quote(s)}");
                }

                value = new InterfacePattern(s);
                return true;
            case StringKind.Domain:
                if (!DomainSet.IsValidRule(s, out error))
                {
                    return _json.Fail($"{at}: {error}");
                }

                value = s;
                return true;
            case StringKind.HostName:
                if (s.StartsWith('=') || s.StartsWith('*'))
                {
                    return _json.Fail($"{at}: {PolicyJsonCursor.Quote(s)} is a rule, not a server name (expected a name such as dns.example)");
                }

                if (!DomainSet.IsValidRule(s, out error))
                {
                    return _json.Fail($"{at}: {error}");
                }

                value = s;
                return true;
            case StringKind.Endpoint:
                if (!Profiles.TryParseEndpoint(s, out EndpointRule? rule, out error))
                {
                    return _json.Fail($"{at}: {error}");
                }

                value = rule;
                return true;
            case StringKind.Address:
                if (!Profiles.TryParseAddress(s, out IPAddress? address))
                {
                    return _json.Fail($"{at}: {PolicyJsonCursor.Quote(s)} is not an IP address (expected e.g. 198.51.100.53 or 2001:db8::53)");
                }

                value = address;
                return true;
            default:
                return _json.Fail($"{at}: unexpected value");
        }
    }

    // ---- sections ----

    private bool ReadVersion(PolicyDraft draft)
    {
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType != JsonTokenType.Number || !_json.Reader.TryGetInt32(out int v) || v != 1)
        {
            return _json.Fail($"version: expected 1 (the only policy version), got {_json.Describe()}");
        }

        draft.Version = v;
        return true;
    }

    private bool ReadProfile(PolicyDraft draft)
    {
        if (!_json.ReadString("profile", "a profile name (full-tunnel, proxy-stub or split)", out string name))
        {
            return false;
        }

        if (!Profiles.TryParse(name, out PolicyProfile profile))
        {
            return _json.Fail($"profile: {PolicyJsonCursor.Quote(name)} is not a profile (expected one of: full-tunnel, proxy-stub, split)");
        }

        draft.Profile = profile;
        return true;
    }

    private bool ReadInterfaceClasses(PolicyDraft draft)
    {
        if (!_json.BeginObject("interface_classes"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, null, null, out string? pattern))
        {
            if (pattern.Length == 0 || pattern.Any(char.IsControl))
            {
                return _json.Fail($"interface_classes: expected an interface name or glob such as wg0 or tun*, got {PolicyJsonCursor.Quote(pattern)}");
            }

            string at = $"interface_classes.{pattern}";
            if (!_json.ReadString(at, $"a route class ({RouteClassNames})", out string cls))
            {
                return false;
            }

            if (!TryParseRouteClass(cls, out RouteClass rc))
            {
                return _json.Fail($"{at}: {PolicyJsonCursor.Quote(cls)} is not a route class (expected one of: {RouteClassNames})");
            }

            draft.InterfaceClasses.Add(new InterfaceHint(new InterfacePattern(pattern), rc));
        }

        return Error is null;
    }

    private bool ReadPorts(PolicyDraft draft)
    {
        const string Expected = "an array of port numbers (1–65535)";
        if (!_json.BeginArray("allowed_ports", Expected))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            if (_json.Reader.TokenType != JsonTokenType.Number)
            {
                return _json.Fail($"allowed_ports: expected {Expected}, got {_json.Describe()} at index {i}");
            }

            if (!_json.Reader.TryGetInt32(out int port) || port is < 1 or > 65535)
            {
                return _json.Fail($"allowed_ports[{i}]: expected a port number between 1 and 65535, got {_json.Raw()}");
            }

            draft.AllowedPorts.Add((ushort)port);
        }
    }

    private bool ReadSplit(PolicyDraft draft)
    {
        if (!_json.BeginObject("split"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_splitKeys, "split", out string? key))
        {
            bool ok;
            switch (key)
            {
                case "proxy_domains":
                    ok = ReadStrings("split.proxy_domains", StringKind.Domain, draft.ProxyDomains);
                    break;
                case "direct_domains":
                    ok = ReadStrings("split.direct_domains", StringKind.Domain, draft.DirectDomains);
                    break;
                default:
                    ok = _json.ReadString("split.default", "\"direct\" or \"proxy\"", out string d);
                    if (ok)
                    {
                        if (d == "direct")
                        {
                            draft.SplitDefault = SplitDefault.Direct;
                        }
                        else if (d == "proxy")
                        {
                            draft.SplitDefault = SplitDefault.Proxy;
                        }
                        else
                        {
                            ok = _json.Fail($"split.default: {PolicyJsonCursor.Quote(d)} is not a split default (expected one of: direct, proxy)");
                        }
                    }

                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    private bool ReadEncryptedDns(PolicyDraft draft)
    {
        if (!_json.BeginObject("encrypted_dns"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_encryptedKeys, "encrypted_dns", out string? key))
        {
            bool ok = key switch
            {
                "approved_egress" => ReadStrings("encrypted_dns.approved_egress", StringKind.Endpoint, draft.ApprovedEgress),
                "approved_hosts" => ReadStrings("encrypted_dns.approved_hosts", StringKind.Domain, draft.ApprovedHosts),
                "builtin_endpoints" => ReadBuiltin(draft),
                "endpoints" => ReadEndpoints(draft),
                "remove_hosts" => ReadStrings("encrypted_dns.remove_hosts", StringKind.HostName, draft.RemoveHosts),
                _ => ReadStrings("encrypted_dns.remove_addresses", StringKind.Address, draft.RemoveAddresses),
            };
            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    private bool ReadBuiltin(PolicyDraft draft)
    {
        if (!_json.ReadBool("encrypted_dns.builtin_endpoints", out bool b))
        {
            return false;
        }

        draft.BuiltinEndpoints = b;
        return true;
    }

    private bool ReadEndpoints(PolicyDraft draft)
    {
        if (!_json.BeginArray("encrypted_dns.endpoints", "an array of objects { \"name\", \"hosts\", \"addresses\" }"))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            string path = $"encrypted_dns.endpoints[{i}]";
            if (_json.Reader.TokenType != JsonTokenType.StartObject)
            {
                return _json.Fail($"{path}: expected an object {{ \"name\", \"hosts\", \"addresses\" }}, got {_json.Describe()}");
            }

            string name = $"policy endpoint {i + 1}";
            var hosts = new List<string>();
            var addresses = new List<IPAddress>();
            var seen = new Dictionary<string, long>(StringComparer.Ordinal);
            while (_json.NextKey(seen, s_endpointKeys, path, out string? key))
            {
                bool ok = key switch
                {
                    "name" => ReadName(path, ref name),
                    "hosts" => ReadStrings(path + ".hosts", StringKind.HostName, hosts),
                    _ => ReadStrings(path + ".addresses", StringKind.Address, addresses),
                };
                if (!ok)
                {
                    return false;
                }
            }

            if (Error is not null)
            {
                return false;
            }

            draft.Endpoints.Add(new EncryptedDnsProvider(name, hosts, addresses));
        }
    }

    private bool ReadName(string path, ref string name)
    {
        if (!_json.ReadString(path + ".name", "a string", out string n))
        {
            return false;
        }

        if (n.Length == 0)
        {
            return _json.Fail($"{path}.name: expected a non-empty name");
        }

        name = n;
        return true;
    }

    private bool ReadExfiltration(PolicyDraft draft)
    {
        if (!_json.BeginObject("exfiltration"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        ExfiltrationPolicy x = draft.Exfiltration;
        while (_json.NextKey(seen, s_exfiltrationKeys, "exfiltration", out string? key))
        {
            string path = "exfiltration." + key;
            int i;
            double d;
            switch (key)
            {
                case "window":
                    if (!_json.ReadString(path, "a duration such as \"60s\"", out string text))
                    {
                        return false;
                    }

                    if (!PolicyDuration.TryParse(text, out TimeSpan window) || window <= TimeSpan.Zero || window > PolicyDuration.Max)
                    {
                        return _json.Fail($"{path}: {PolicyJsonCursor.Quote(text)} is not a duration above 0 and at most 7 days (expected {PolicyDuration.Expected})");
                    }

                    x = x with { Window = window };
                    break;
                case "min_queries":
                    if (!_json.ReadInt(path, 1, 1_000_000, out i))
                    {
                        return false;
                    }

                    x = x with { MinQueries = i };
                    break;
                case "min_unique_subdomains":
                    if (!_json.ReadInt(path, 1, 1_000_000, out i))
                    {
                        return false;
                    }

                    x = x with { MinUniqueSubdomains = i };
                    break;
                case "min_entropy":
                    // Bits per character; the DNS alphabet (38 symbols) tops out near 5.25.
                    if (!_json.ReadDouble(path, 0, 8, out d))
                    {
                        return false;
                    }

                    x = x with { MinEntropy = d };
                    break;
                case "long_label":
                    // RFC 1035 §2.3.4: labels are at most 63 octets.
                    if (!_json.ReadInt(path, 1, 63, out i))
                    {
                        return false;
                    }

                    x = x with { LongLabel = i };
                    break;
                case "long_name":
                    // RFC 1035 §2.3.4: names are at most 255 octets, 253 characters in text.
                    if (!_json.ReadInt(path, 1, 253, out i))
                    {
                        return false;
                    }

                    x = x with { LongName = i };
                    break;
                case "txt_null_share":
                    if (!_json.ReadDouble(path, 0, 1, out d))
                    {
                        return false;
                    }

                    x = x with { TxtNullShare = d };
                    break;
                case "nxdomain_share":
                    if (!_json.ReadDouble(path, 0, 1, out d))
                    {
                        return false;
                    }

                    x = x with { NxdomainShare = d };
                    break;
                default:
                    if (!_json.ReadInt(path, 0, 100, out i))
                    {
                        return false;
                    }

                    x = x with { ScoreThreshold = i };
                    break;
            }
        }

        draft.Exfiltration = x;
        return Error is null;
    }

    // ---- helpers ----

    private static bool TryParseRouteClass(string s, out RouteClass rc)
    {
        switch (s)
        {
            case "loopback":
                rc = RouteClass.Loopback;
                return true;
            case "tunnel":
                rc = RouteClass.Tunnel;
                return true;
            case "physical":
                rc = RouteClass.Physical;
                return true;
            case "virtual":
                rc = RouteClass.Virtual;
                return true;
            case "unknown":
                rc = RouteClass.Unknown;
                return true;
            default:
                rc = RouteClass.Unknown;
                return false;
        }
    }

    /// <summary>The allowed key closest to a misspelt one, when it is close enough to be a likely typo.</summary>
    internal static string? Nearest(string key, string[] allowed)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in allowed)
        {
            int d = Distance(key, candidate);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = candidate;
            }
        }

        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    /// <summary>Levenshtein distance, case-insensitive: a typo, a missing or doubled letter, a swapped pair costs little.</summary>
    private static int Distance(string a, string b)
    {
        if (a.Length > 64 || b.Length > 64)
        {
            return int.MaxValue;
        }

        Span<int> prev = stackalloc int[b.Length + 1];
        Span<int> cur = stackalloc int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            prev[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }

            Span<int> t = prev;
            prev = cur;
            cur = t;
        }

        return prev[b.Length];
    }
}

/// <summary>Values read from a policy file before they are laid over the profile's.</summary>
internal sealed class PolicyDraft
{
    public int? Version { get; set; }

    public PolicyProfile? Profile { get; set; }

    public List<RouteClass>? SafeRouteClasses { get; set; }

    public List<InterfacePattern> SafeInterfaces { get; } = [];

    public List<InterfaceHint> InterfaceClasses { get; } = [];

    public List<EndpointRule> SafeResolvers { get; } = [];

    public List<string> AllowedProcesses { get; } = [];

    public List<ushort> AllowedPorts { get; } = [];

    public List<string> ProxyDomains { get; } = [];

    public List<string> DirectDomains { get; } = [];

    public SplitDefault? SplitDefault { get; set; }

    public List<EndpointRule> ApprovedEgress { get; } = [];

    public List<string> ApprovedHosts { get; } = [];

    public bool BuiltinEndpoints { get; set; } = true;

    public List<EncryptedDnsProvider> Endpoints { get; } = [];

    public List<string> RemoveHosts { get; } = [];

    public List<IPAddress> RemoveAddresses { get; } = [];

    public ExfiltrationPolicy Exfiltration { get; set; } = ExfiltrationPolicy.Default;

    public LeakPolicy Build(string source)
    {
        LeakPolicy b = Profiles.Create(Profile ?? PolicyProfile.ProxyStub);
        SplitPolicy split = b.Split;
        if (ProxyDomains.Count > 0 || DirectDomains.Count > 0 || SplitDefault is not null)
        {
            split = new SplitPolicy(
                new DomainSet([.. split.ProxyDomains.Rules, .. ProxyDomains]),
                new DomainSet([.. split.DirectDomains.Rules, .. DirectDomains]),
                SplitDefault ?? split.Default);
        }

        EncryptedDnsEndpoints endpoints = BuiltinEndpoints ? b.EncryptedDns.Endpoints : EncryptedDnsEndpoints.Empty;
        if (Endpoints.Count > 0 || RemoveHosts.Count > 0 || RemoveAddresses.Count > 0)
        {
            endpoints = endpoints.With(Endpoints, RemoveHosts, RemoveAddresses);
        }

        return b with
        {
            SafeRouteClasses = SafeRouteClasses is null ? b.SafeRouteClasses : [.. SafeRouteClasses],
            SafeInterfaces = [.. b.SafeInterfaces, .. SafeInterfaces],
            InterfaceClasses = [.. InterfaceClasses, .. b.InterfaceClasses],
            SafeResolvers = [.. b.SafeResolvers, .. SafeResolvers],
            AllowedProcesses = [.. b.AllowedProcesses, .. AllowedProcesses],
            AllowedPorts = [.. b.AllowedPorts, .. AllowedPorts],
            Split = split,
            EncryptedDns = new EncryptedDnsPolicy(
                [.. b.EncryptedDns.ApprovedEgress, .. ApprovedEgress],
                ApprovedHosts.Count == 0 ? b.EncryptedDns.ApprovedHosts : new DomainSet([.. b.EncryptedDns.ApprovedHosts.Rules, .. ApprovedHosts]),
                endpoints),
            Exfiltration = Exfiltration,
            Source = source,
        };
    }
}
