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
internal ref struct PolicyReader
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

    private const string RouteClassNames = "loopback, tunnel, physical, unknown";

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _file;
    private Utf8JsonReader _reader;
    private bool _started;

    public PolicyReader(ReadOnlySpan<byte> data, string file)
    {
        _data = data;
        _file = file;
        _reader = new Utf8JsonReader(data, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            MaxDepth = PolicyLoader.MaxDepth,
        });
        Error = null;
        _started = false;
    }

    public PolicyError? Error { get; private set; }

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
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail($"expected a JSON object at the root, got {Describe()}");
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextKey(seen, s_rootKeys, null, out string? key))
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

        if (Error is not null || !AtEnd())
        {
            return false;
        }

        policy = draft.Build(_file);
        return true;
    }

    // ---- tokens and errors ----

    private bool Next()
    {
        try
        {
            if (_reader.Read())
            {
                _started = true;
                return true;
            }

            return FailAt(_data.Length, "unexpected end of file");
        }
        catch (JsonException e)
        {
            long offset = PolicyLoader.OffsetOf(_data, e);
            if (!_started)
            {
                _started = true;
                if (offset >= _data.Length)
                {
                    return FailAt(offset, "empty file: only whitespace and comments (expected a JSON object such as { \"version\": 1 })");
                }
            }

            return FailAt(offset, offset >= _data.Length
                ? "unexpected end of file (an object, array or string is not closed)"
                : "invalid JSON: " + StripPosition(e.Message));
        }
    }

    /// <summary>After the root object only whitespace and comments may follow.</summary>
    private bool AtEnd()
    {
        try
        {
            if (_reader.Read())
            {
                return Fail("unexpected content after the policy object");
            }

            return true;
        }
        catch (JsonException e)
        {
            return FailAt(PolicyLoader.OffsetOf(_data, e), "invalid JSON: " + StripPosition(e.Message));
        }
    }

    /// <summary>
    /// Moves to the next property of the current object, or past its end (false, no error). Refuses duplicates and
    /// keys outside <paramref name="allowed"/> (null: any key).
    /// </summary>
    private bool NextKey(Dictionary<string, long> seen, string[]? allowed, string? within, [NotNullWhen(true)] out string? key)
    {
        key = null;
        if (!Next() || _reader.TokenType == JsonTokenType.EndObject)
        {
            return false;
        }

        if (!TryGetString(out string name))
        {
            return false;
        }

        key = name;
        if (seen.TryGetValue(key, out long first))
        {
            return Fail($"duplicate key '{key}' (first at line {PolicyLoader.At(_file, _data, first, "").Line})");
        }

        seen.Add(key, _reader.TokenStartIndex);
        if (allowed is not null && Array.IndexOf(allowed, key) < 0)
        {
            string where = within is null ? "" : $" in {within}";
            string? near = Nearest(key, allowed);
            string hint = near is null ? "" : $"did you mean '{near}'? ";
            return Fail($"unknown key '{key}'{where} ({hint}expected one of: {string.Join(", ", allowed)})");
        }

        return true;
    }

    private bool Fail(string message) => FailAt(_reader.TokenStartIndex, message);

    private bool FailAt(long offset, string message)
    {
        Error ??= PolicyLoader.At(_file, _data, offset, message);
        return false;
    }

    private bool TryGetString(out string value)
    {
        try
        {
            value = _reader.GetString() ?? "";
            return true;
        }
        catch (InvalidOperationException)
        {
            // Escapes that decode to invalid UTF-16 (a lone surrogate such as \uD800).
            value = "";
            return Fail("invalid string: an escape does not form valid Unicode");
        }
    }

    private string Describe() => _reader.TokenType switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "the number " + Raw(),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => _reader.TokenType.ToString(),
    };

    private string Raw()
    {
        string raw = Encoding.UTF8.GetString(_reader.ValueSpan);
        return raw.Length > 40 ? raw[..40] + "…" : raw;
    }

    private static string StripPosition(string message)
    {
        int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return at < 0 ? message : message[..at];
    }

    /// <summary>A value for a message: shortened, with control characters escaped so the message prints on one line.</summary>
    private static string Quote(string value)
    {
        string shown = value.Length > 60 ? value[..60] + "…" : value;
        if (shown.Any(char.IsControl))
        {
            var sb = new StringBuilder(shown.Length + 8);
            foreach (char c in shown)
            {
                if (char.IsControl(c))
                {
                    sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                }
                else
                {
                    sb.Append(c);
                }
            }

            shown = sb.ToString();
        }

        return $"'{shown}'";
    }

    // ---- values ----

    private bool ReadString(string path, string expected, out string value)
    {
        value = "";
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.String)
        {
            return Fail($"{path}: expected {expected}, got {Describe()}");
        }

        return TryGetString(out value);
    }

    private bool ReadInt(string path, int min, int max, out int value)
    {
        value = 0;
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.Number || !_reader.TryGetInt32(out value) || value < min || value > max)
        {
            return Fail($"{path}: expected a whole number between {min} and {max}, got {Describe()}");
        }

        return true;
    }

    private bool ReadDouble(string path, double min, double max, out double value)
    {
        value = 0;
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.Number || !_reader.TryGetDouble(out value) || !double.IsFinite(value)
            || value < min || value > max)
        {
            string range = string.Create(CultureInfo.InvariantCulture, $"between {min} and {max}");
            return Fail($"{path}: expected a number {range}, got {Describe()}");
        }

        return true;
    }

    private bool ReadBool(string path, out bool value)
    {
        value = false;
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
        {
            return Fail($"{path}: expected true or false, got {Describe()}");
        }

        value = _reader.TokenType == JsonTokenType.True;
        return true;
    }

    private bool BeginObject(string path)
    {
        if (!Next())
        {
            return false;
        }

        return _reader.TokenType == JsonTokenType.StartObject || Fail($"{path}: expected an object, got {Describe()}");
    }

    private bool BeginArray(string path, string expected)
    {
        if (!Next())
        {
            return false;
        }

        return _reader.TokenType == JsonTokenType.StartArray || Fail($"{path}: expected {expected}, got {Describe()}");
    }

    /// <summary>An array of strings, each checked as <paramref name="kind"/> and added to the list that fits it.</summary>
    private bool ReadStrings<T>(string path, StringKind kind, List<T> into)
    {
        string expected = kind switch
        {
            StringKind.Endpoint => "an array of endpoint strings (IP, IP:PORT, [IPv6]:PORT or CIDR)",
            StringKind.Address => "an array of IP address strings",
            _ => "an array of strings",
        };
        if (!BeginArray(path, expected))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!Next())
            {
                return false;
            }

            if (_reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            if (_reader.TokenType != JsonTokenType.String)
            {
                return Fail($"{path}: expected {expected}, got {Describe()} at index {i}");
            }

            if (!TryGetString(out string s))
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
                    return Fail($"{at}: expected a non-empty name without control characters, got {Quote(s)}");
                }

                value = s;
                return true;
            case StringKind.RouteClass:
                if (!TryParseRouteClass(s, out RouteClass rc))
                {
                    return Fail($"{at}: {Quote(s)} is not a route class (expected one of: {RouteClassNames})");
                }

                value = rc;
                return true;
            case StringKind.Interface:
                if (s.Length == 0 || s.Any(char.IsControl))
                {
                    return Fail($"{at}: expected an interface name or glob such as wg0 or tun*, got {Quote(s)}");
                }

                value = new InterfacePattern(s);
                return true;
            case StringKind.Domain:
                if (!DomainSet.IsValidRule(s, out error))
                {
                    return Fail($"{at}: {error}");
                }

                value = s;
                return true;
            case StringKind.HostName:
                if (s.StartsWith('=') || s.StartsWith('*'))
                {
                    return Fail($"{at}: {Quote(s)} is a rule, not a server name (expected a name such as dns.example)");
                }

                if (!DomainSet.IsValidRule(s, out error))
                {
                    return Fail($"{at}: {error}");
                }

                value = s;
                return true;
            case StringKind.Endpoint:
                if (!Profiles.TryParseEndpoint(s, out EndpointRule? rule, out error))
                {
                    return Fail($"{at}: {error}");
                }

                value = rule;
                return true;
            case StringKind.Address:
                if (!Profiles.TryParseAddress(s, out IPAddress? address))
                {
                    return Fail($"{at}: {Quote(s)} is not an IP address (expected e.g. 198.51.100.53 or 2001:db8::53)");
                }

                value = address;
                return true;
            default:
                return Fail($"{at}: unexpected value");
        }
    }

    // ---- sections ----

    private bool ReadVersion(PolicyDraft draft)
    {
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.Number || !_reader.TryGetInt32(out int v) || v != 1)
        {
            return Fail($"version: expected 1 (the only policy version), got {Describe()}");
        }

        draft.Version = v;
        return true;
    }

    private bool ReadProfile(PolicyDraft draft)
    {
        if (!ReadString("profile", "a profile name (full-tunnel, proxy-stub or split)", out string name))
        {
            return false;
        }

        if (!Profiles.TryParse(name, out PolicyProfile profile))
        {
            return Fail($"profile: {Quote(name)} is not a profile (expected one of: full-tunnel, proxy-stub, split)");
        }

        draft.Profile = profile;
        return true;
    }

    private bool ReadInterfaceClasses(PolicyDraft draft)
    {
        if (!BeginObject("interface_classes"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextKey(seen, null, null, out string? pattern))
        {
            if (pattern.Length == 0 || pattern.Any(char.IsControl))
            {
                return Fail($"interface_classes: expected an interface name or glob such as wg0 or tun*, got {Quote(pattern)}");
            }

            string at = $"interface_classes.{pattern}";
            if (!ReadString(at, $"a route class ({RouteClassNames})", out string cls))
            {
                return false;
            }

            if (!TryParseRouteClass(cls, out RouteClass rc))
            {
                return Fail($"{at}: {Quote(cls)} is not a route class (expected one of: {RouteClassNames})");
            }

            draft.InterfaceClasses.Add(new InterfaceHint(new InterfacePattern(pattern), rc));
        }

        return Error is null;
    }

    private bool ReadPorts(PolicyDraft draft)
    {
        const string Expected = "an array of port numbers (1–65535)";
        if (!BeginArray("allowed_ports", Expected))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!Next())
            {
                return false;
            }

            if (_reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            if (_reader.TokenType != JsonTokenType.Number)
            {
                return Fail($"allowed_ports: expected {Expected}, got {Describe()} at index {i}");
            }

            if (!_reader.TryGetInt32(out int port) || port is < 1 or > 65535)
            {
                return Fail($"allowed_ports[{i}]: expected a port number between 1 and 65535, got {Raw()}");
            }

            draft.AllowedPorts.Add((ushort)port);
        }
    }

    private bool ReadSplit(PolicyDraft draft)
    {
        if (!BeginObject("split"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextKey(seen, s_splitKeys, "split", out string? key))
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
                    ok = ReadString("split.default", "\"direct\" or \"proxy\"", out string d);
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
                            ok = Fail($"split.default: {Quote(d)} is not a split default (expected one of: direct, proxy)");
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
        if (!BeginObject("encrypted_dns"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextKey(seen, s_encryptedKeys, "encrypted_dns", out string? key))
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
        if (!ReadBool("encrypted_dns.builtin_endpoints", out bool b))
        {
            return false;
        }

        draft.BuiltinEndpoints = b;
        return true;
    }

    private bool ReadEndpoints(PolicyDraft draft)
    {
        if (!BeginArray("encrypted_dns.endpoints", "an array of objects { \"name\", \"hosts\", \"addresses\" }"))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!Next())
            {
                return false;
            }

            if (_reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            string path = $"encrypted_dns.endpoints[{i}]";
            if (_reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail($"{path}: expected an object {{ \"name\", \"hosts\", \"addresses\" }}, got {Describe()}");
            }

            string name = $"policy endpoint {i + 1}";
            var hosts = new List<string>();
            var addresses = new List<IPAddress>();
            var seen = new Dictionary<string, long>(StringComparer.Ordinal);
            while (NextKey(seen, s_endpointKeys, path, out string? key))
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
        if (!ReadString(path + ".name", "a string", out string n))
        {
            return false;
        }

        if (n.Length == 0)
        {
            return Fail($"{path}.name: expected a non-empty name");
        }

        name = n;
        return true;
    }

    private bool ReadExfiltration(PolicyDraft draft)
    {
        if (!BeginObject("exfiltration"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        ExfiltrationPolicy x = draft.Exfiltration;
        while (NextKey(seen, s_exfiltrationKeys, "exfiltration", out string? key))
        {
            string path = "exfiltration." + key;
            int i;
            double d;
            switch (key)
            {
                case "window":
                    if (!ReadString(path, "a duration such as \"60s\"", out string text))
                    {
                        return false;
                    }

                    if (!PolicyDuration.TryParse(text, out TimeSpan window) || window <= TimeSpan.Zero)
                    {
                        return Fail($"{path}: {Quote(text)} is not a duration above 0 (expected a whole number and a unit: 500ms, 60s, 2m, 1h; at most 7 days)");
                    }

                    x = x with { Window = window };
                    break;
                case "min_queries":
                    if (!ReadInt(path, 1, 1_000_000, out i))
                    {
                        return false;
                    }

                    x = x with { MinQueries = i };
                    break;
                case "min_unique_subdomains":
                    if (!ReadInt(path, 1, 1_000_000, out i))
                    {
                        return false;
                    }

                    x = x with { MinUniqueSubdomains = i };
                    break;
                case "min_entropy":
                    // Bits per character; the DNS alphabet (38 symbols) tops out near 5.25.
                    if (!ReadDouble(path, 0, 8, out d))
                    {
                        return false;
                    }

                    x = x with { MinEntropy = d };
                    break;
                case "long_label":
                    // RFC 1035 §2.3.4: labels are at most 63 octets.
                    if (!ReadInt(path, 1, 63, out i))
                    {
                        return false;
                    }

                    x = x with { LongLabel = i };
                    break;
                case "long_name":
                    // RFC 1035 §2.3.4: names are at most 255 octets, 253 characters in text.
                    if (!ReadInt(path, 1, 253, out i))
                    {
                        return false;
                    }

                    x = x with { LongName = i };
                    break;
                case "txt_null_share":
                    if (!ReadDouble(path, 0, 1, out d))
                    {
                        return false;
                    }

                    x = x with { TxtNullShare = d };
                    break;
                case "nxdomain_share":
                    if (!ReadDouble(path, 0, 1, out d))
                    {
                        return false;
                    }

                    x = x with { NxdomainShare = d };
                    break;
                default:
                    if (!ReadInt(path, 0, 100, out i))
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
