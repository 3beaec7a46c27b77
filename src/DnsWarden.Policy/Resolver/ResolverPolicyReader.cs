using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DnsWarden.Policy.Http;

namespace DnsWarden.Policy;

/// <summary>Walks a resolver policy file token by token and stops at the first problem, with the offending token's position.</summary>
internal ref struct ResolverPolicyReader : IPolicyFileReader<ResolverPolicy>
{
    private static readonly string[] s_rootKeys =
    [
        "version", "mode", "allow", "block", "block_action", "default_action", "sinkhole_v4", "sinkhole_v6",
        "sinkhole_ttl", "local_records", "canaries", "exfiltration", "private_answers", "http",
    ];

    private static readonly string[] s_httpKeys = ["allow", "observe"];

    private static readonly string[] s_recordKeys = ["name", "type", "value", "ttl"];

    private static readonly string[] s_exfiltrationKeys = ["block_score", "burst_base_domains"];

    /// <summary>More base domains first seen in one window than any host has a use for: past it a typo.</summary>
    private const int MaxBurstBaseDomains = 1_000_000;

    /// <summary>RFC 1035 §3.3.14: TXT data is a series of 255-octet strings; a local note needs far less than a message.</summary>
    private const int MaxTxtBytes = 4096;

    private PolicyJsonCursor _json;

    /// <summary>Null for a policy file; the key (<c>policy</c>) for a policy written inside another file.</summary>
    private readonly string? _within;

    /// <summary>Put before every key path in messages: empty for a policy file, <c>policy.</c> inside another file.</summary>
    private readonly string _prefix;

    public ResolverPolicyReader(ReadOnlySpan<byte> data, string file)
    {
        _json = new PolicyJsonCursor(data, file, "{ \"mode\": \"forward\" }");
        _within = null;
        _prefix = "";
    }

    /// <summary>
    /// Continues another file's cursor (a copy of it: <see cref="Utf8JsonReader"/> state copies by value) to read a
    /// policy object written under <paramref name="within"/>; take the cursor back from <see cref="Cursor"/> afterwards.
    /// </summary>
    public ResolverPolicyReader(PolicyJsonCursor json, string within)
    {
        _json = json;
        _within = within;
        _prefix = within + ".";
    }

    public readonly PolicyError? Error => _json.Error;

    /// <summary>The cursor after the policy object: its end, or the first error.</summary>
    public readonly PolicyJsonCursor Cursor => _json;

    /// <summary>Reads a whole policy file: one object, then nothing but whitespace and comments.</summary>
    public bool TryRead(out ResolverPolicy? policy)
    {
        policy = null;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartObject)
        {
            return _json.Fail($"expected a JSON object at the root, got {_json.Describe()}");
        }

        if (!TryReadObject(out policy) || !_json.AtEnd())
        {
            policy = null;
            return false;
        }

        return true;
    }

    /// <summary>Reads the policy object whose <c>{</c> is the current token, up to and including its <c>}</c>.</summary>
    public bool TryReadObject(out ResolverPolicy? policy)
    {
        policy = null;

        ResolverMode mode = ResolverMode.Forward;
        List<string> allow = [];
        List<string> block = [];
        List<string> privateAnswers = [];
        ResolverBlockAction blockAction = ResolverBlockAction.NxDomain;
        ResolverDefaultAction defaultAction = ResolverDefaultAction.Block;
        IPAddress? v4 = null;
        IPAddress v6 = ResolverPolicy.DefaultSinkholeV6;
        uint sinkholeTtl = ResolverPolicy.DefaultSinkholeTtl;
        List<LocalRecord> records = [];
        IReadOnlyList<string> canaries = ResolverPolicy.DefaultCanaries;
        ResolverExfiltrationPolicy exfiltration = ResolverExfiltrationPolicy.Default;
        HostRules http = HostRules.None;

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_rootKeys, _within, out string? key))
        {
            int i;
            bool ok;
            switch (key)
            {
                case "version":
                    ok = _json.ReadInt(_prefix + key, 1, 1, out _);
                    break;
                case "mode":
                    ok = _json.ReadEnum(_prefix + key, ["forward", "sinkhole-all"], out i);
                    mode = (ResolverMode)i;
                    break;
                case "allow":
                    ok = ReadDomains(_prefix + key, allow, rulesAllowed: true);
                    break;
                case "block":
                    ok = ReadDomains(_prefix + key, block, rulesAllowed: true);
                    break;
                case "block_action":
                    ok = _json.ReadEnum(_prefix + key, ["nxdomain", "refused", "sinkhole"], out i);
                    blockAction = (ResolverBlockAction)i;
                    break;
                case "default_action":
                    ok = _json.ReadEnum(_prefix + key, ["allow", "block"], out i);
                    defaultAction = (ResolverDefaultAction)i;
                    break;
                case "sinkhole_v4":
                    ok = _json.ReadAddress(_prefix + key, "an IPv4 address such as 6.6.6.6", AddressFamily.InterNetwork, out IPAddress? given);
                    v4 = given;
                    break;
                case "sinkhole_v6":
                    ok = _json.ReadAddress(_prefix + key, "an IPv6 address such as ::", AddressFamily.InterNetworkV6, out IPAddress? given6);
                    v6 = given6 ?? v6;
                    break;
                case "sinkhole_ttl":
                    ok = _json.ReadInt(_prefix + key, 0, int.MaxValue, out i);
                    sinkholeTtl = (uint)i;
                    break;
                case "local_records":
                    ok = ReadLocalRecords(records);
                    break;
                case "canaries":
                    ok = ReadCanaries(out canaries);
                    break;
                case "private_answers":
                    ok = ReadDomains(_prefix + key, privateAnswers, rulesAllowed: true);
                    break;
                case "http":
                    ok = ReadHttp(out http);
                    break;
                default:
                    ok = ReadExfiltration(out exfiltration);
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null)
        {
            return false;
        }

        policy = new ResolverPolicy
        {
            Mode = mode,
            Allow = new DomainSet(allow),
            Block = new DomainSet(block),
            BlockAction = blockAction,
            DefaultAction = defaultAction,
            SinkholeV4 = v4,
            SinkholeV6 = v6,
            SinkholeTtl = sinkholeTtl,
            LocalRecords = records,
            Canaries = canaries,
            Exfiltration = exfiltration,
            PrivateAnswers = new DomainSet(privateAnswers),
            Http = http,
            Source = _json.File,
        };
        return true;
    }

    // ---- sections ----

    private bool ReadLocalRecords(List<LocalRecord> into)
    {
        if (!_json.BeginArray(_prefix + "local_records", "an array of records such as { \"name\": \"printer.lan\", \"type\": \"A\", \"value\": \"192.168.1.9\" }"))
        {
            return false;
        }

        for (int index = 0; ; index++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            string path = $"{_prefix}local_records[{index}]";
            if (_json.Reader.TokenType != JsonTokenType.StartObject)
            {
                return _json.Fail($"{path}: expected an object with name, type and value, got {_json.Describe()}");
            }

            long start = _json.Reader.TokenStartIndex;
            string? name = null;
            LocalRecordType? type = null;
            string? value = null;
            long valueAt = 0;
            uint ttl = LocalRecord.DefaultTtl;
            var seen = new Dictionary<string, long>(StringComparer.Ordinal);
            while (_json.NextKey(seen, s_recordKeys, path, out string? key))
            {
                bool ok;
                switch (key)
                {
                    case "name":
                        ok = _json.ReadString(path + ".name", "a name such as printer.lan", out string n);
                        if (ok && !IsHostName(n, out string? why))
                        {
                            ok = _json.Fail($"{path}.name: {why}");
                        }

                        name = n.TrimEnd('.').ToLowerInvariant();
                        break;
                    case "type":
                        ok = _json.ReadEnum(path + ".type", ["A", "AAAA", "CNAME", "TXT"], out int t);
                        type = (LocalRecordType)t;
                        break;
                    case "value":
                        ok = _json.ReadString(path + ".value", "a string", out string v);
                        value = v;
                        valueAt = _json.Reader.TokenStartIndex;
                        break;
                    default:
                        ok = _json.ReadInt(path + ".ttl", 0, int.MaxValue, out int i);
                        ttl = (uint)i;
                        break;
                }

                if (!ok)
                {
                    return false;
                }
            }

            if (Error is not null)
            {
                return false;
            }

            string? missing = name is null ? "name" : type is null ? "type" : value is null ? "value" : null;
            if (missing is not null)
            {
                return _json.FailAt(start, $"{path}: missing '{missing}' (a local record needs name, type and value)");
            }

            if (!TryRecord(path, name!, type!.Value, value!, ttl, valueAt, out LocalRecord? record))
            {
                return false;
            }

            into.Add(record);
        }
    }

    private bool TryRecord(string path, string name, LocalRecordType type, string value, uint ttl, long valueAt, [NotNullWhen(true)] out LocalRecord? record)
    {
        record = null;
        switch (type)
        {
            case LocalRecordType.A:
            case LocalRecordType.AAAA:
                AddressFamily family = type == LocalRecordType.A ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if (!IPAddress.TryParse(value, out IPAddress? address) || address.AddressFamily != family || value.Contains('%'))
                {
                    string expected = type == LocalRecordType.A ? "an IPv4 address such as 192.168.1.9" : "an IPv6 address such as fd00::9";
                    return _json.FailAt(valueAt, $"{path}.value: expected {expected} for a {type} record, got {PolicyJsonCursor.Quote(value)}");
                }

                record = new LocalRecord(name, type, address.ToString(), ttl) { Address = address };
                return true;
            case LocalRecordType.CNAME:
                if (!IsHostName(value, out string? why))
                {
                    return _json.FailAt(valueAt, $"{path}.value: {why}");
                }

                record = new LocalRecord(name, type, value.TrimEnd('.').ToLowerInvariant(), ttl);
                return true;
            default:
                if (Encoding.UTF8.GetByteCount(value) > MaxTxtBytes)
                {
                    return _json.FailAt(valueAt, $"{path}.value: TXT text is at most {MaxTxtBytes} bytes");
                }

                record = new LocalRecord(name, type, value, ttl);
                return true;
        }
    }

    private bool ReadCanaries(out IReadOnlyList<string> canaries)
    {
        canaries = ResolverPolicy.DefaultCanaries;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType is JsonTokenType.True or JsonTokenType.False)
        {
            canaries = _json.Reader.TokenType == JsonTokenType.True ? ResolverPolicy.DefaultCanaries : [];
            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartArray)
        {
            return _json.Fail($"{_prefix}canaries: expected true, false or an array of names, got {_json.Describe()}");
        }

        var list = new List<string>();
        canaries = list;
        return ReadDomainItems(_prefix + "canaries", list, rulesAllowed: false);
    }

    private bool ReadExfiltration(out ResolverExfiltrationPolicy exfiltration)
    {
        exfiltration = ResolverExfiltrationPolicy.Default;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartObject)
        {
            return _json.Fail($"{_prefix}exfiltration: expected an object such as {{ \"block_score\": 80 }}, got {_json.Describe()}");
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_exfiltrationKeys, _prefix + "exfiltration", out string? key))
        {
            if (!_json.Next())
            {
                return false;
            }

            bool isNull = _json.Reader.TokenType == JsonTokenType.Null;
            int value = 0;
            (int min, int max, string what) = key == "block_score" ? (0, 100, "between 0 and 100") : (1, MaxBurstBaseDomains, $"from 1 to {MaxBurstBaseDomains}");
            if (!isNull && (_json.Reader.TokenType != JsonTokenType.Number || !_json.Reader.TryGetInt32(out value) || value < min || value > max))
            {
                return _json.Fail($"{_prefix}exfiltration.{key}: expected null or a whole number {what}, got {_json.Describe()}");
            }

            int? v = isNull ? null : value;
            exfiltration = key == "block_score" ? exfiltration with { BlockScore = v } : exfiltration with { BurstBaseDomains = v };
        }

        return Error is null;
    }

    /// <summary><c>"http": { "allow": ["api.example.com", "GET *.example.org/v1/", "tcp:git.example.com:22"], "observe": false }</c> (docs/JAIL.md).</summary>
    private bool ReadHttp(out HostRules http)
    {
        http = HostRules.None;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartObject)
        {
            return _json.Fail($"{_prefix}http: expected an object such as {{ \"allow\": [\"api.example.com\"] }}, got {_json.Describe()}");
        }

        var rules = new List<HostRule>();
        bool observe = false;
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_httpKeys, _prefix + "http", out string? key))
        {
            string path = _prefix + "http." + key;
            if (key == "observe")
            {
                if (!_json.ReadBool(path, out observe))
                {
                    return false;
                }

                continue;
            }

            if (!_json.BeginArray(path, "an array of rules such as \"api.example.com\", \"GET *.example.org/v1/\" or \"tcp:git.example.com:22\""))
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
                    break;
                }

                if (_json.Reader.TokenType != JsonTokenType.String)
                {
                    return _json.Fail($"{path}: expected an array of rule strings, got {_json.Describe()} at index {i}");
                }

                if (!_json.TryGetString(out string s))
                {
                    return false;
                }

                if (!HostRule.TryParse(s, out HostRule? rule, out string? error))
                {
                    return _json.Fail($"{path}[{i}]: {error}");
                }

                rules.Add(rule!);
            }
        }

        if (Error is not null)
        {
            return false;
        }

        http = new HostRules(rules, observe);
        return true;
    }

    // ---- values ----

    private bool ReadDomains(string path, List<string> into, bool rulesAllowed) =>
        _json.BeginArray(path, "an array of domain strings") && ReadDomainItems(path, into, rulesAllowed);

    private bool ReadDomainItems(string path, List<string> into, bool rulesAllowed)
    {
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
                return _json.Fail($"{path}: expected an array of domain strings, got {_json.Describe()} at index {i}");
            }

            if (!_json.TryGetString(out string s))
            {
                return false;
            }

            string? error;
            bool valid = rulesAllowed ? DomainSet.IsValidRule(s, out error) : IsHostName(s, out error);
            if (!valid)
            {
                return _json.Fail($"{path}[{i}]: {error}");
            }

            into.Add(rulesAllowed ? s : s.TrimEnd('.').ToLowerInvariant());
        }
    }

    private static bool IsHostName(string s, out string? error)
    {
        if (s.StartsWith('=') || s.StartsWith('*'))
        {
            error = $"{PolicyJsonCursor.Quote(s)} is a rule, not a name (expected a name such as printer.lan)";
            return false;
        }

        return DomainSet.IsValidRule(s, out error);
    }

}
