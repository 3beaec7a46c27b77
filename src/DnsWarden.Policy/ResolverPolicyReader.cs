using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DnsWarden.Policy;

/// <summary>Walks a resolver policy file token by token and stops at the first problem, with the offending token's position.</summary>
internal ref struct ResolverPolicyReader
{
    private static readonly string[] s_rootKeys =
    [
        "version", "mode", "allow", "block", "block_action", "default_action", "sinkhole_v4", "sinkhole_v6",
        "sinkhole_ttl", "local_records", "canaries", "exfiltration",
    ];

    private static readonly string[] s_recordKeys = ["name", "type", "value", "ttl"];

    private static readonly string[] s_exfiltrationKeys = ["block_score"];

    /// <summary>RFC 1035 §3.3.14: TXT data is a series of 255-octet strings; a local note needs far less than a message.</summary>
    private const int MaxTxtBytes = 4096;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _file;
    private Utf8JsonReader _reader;
    private bool _started;

    public ResolverPolicyReader(ReadOnlySpan<byte> data, string file)
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

    public bool TryRead(out ResolverPolicy? policy)
    {
        policy = null;
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail($"expected a JSON object at the root, got {Describe()}");
        }

        ResolverMode mode = ResolverMode.Forward;
        List<string> allow = [];
        List<string> block = [];
        ResolverBlockAction blockAction = ResolverBlockAction.NxDomain;
        ResolverDefaultAction defaultAction = ResolverDefaultAction.Block;
        IPAddress v4 = ResolverPolicy.DefaultSinkholeV4;
        IPAddress v6 = ResolverPolicy.DefaultSinkholeV6;
        uint sinkholeTtl = ResolverPolicy.DefaultSinkholeTtl;
        List<LocalRecord> records = [];
        IReadOnlyList<string> canaries = ResolverPolicy.DefaultCanaries;
        int? blockScore = null;

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextKey(seen, s_rootKeys, null, out string? key))
        {
            int i;
            bool ok;
            switch (key)
            {
                case "version":
                    ok = ReadInt(key, 1, 1, out _);
                    break;
                case "mode":
                    ok = ReadEnum(key, ["forward", "sinkhole-all"], out i);
                    mode = (ResolverMode)i;
                    break;
                case "allow":
                    ok = ReadDomains(key, allow, rulesAllowed: true);
                    break;
                case "block":
                    ok = ReadDomains(key, block, rulesAllowed: true);
                    break;
                case "block_action":
                    ok = ReadEnum(key, ["nxdomain", "refused", "sinkhole"], out i);
                    blockAction = (ResolverBlockAction)i;
                    break;
                case "default_action":
                    ok = ReadEnum(key, ["allow", "block"], out i);
                    defaultAction = (ResolverDefaultAction)i;
                    break;
                case "sinkhole_v4":
                    ok = ReadAddress(key, AddressFamily.InterNetwork, out v4);
                    break;
                case "sinkhole_v6":
                    ok = ReadAddress(key, AddressFamily.InterNetworkV6, out v6);
                    break;
                case "sinkhole_ttl":
                    ok = ReadInt(key, 0, int.MaxValue, out i);
                    sinkholeTtl = (uint)i;
                    break;
                case "local_records":
                    ok = ReadLocalRecords(records);
                    break;
                case "canaries":
                    ok = ReadCanaries(out canaries);
                    break;
                default:
                    ok = ReadExfiltration(out blockScore);
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null || !AtEnd())
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
            Exfiltration = new ResolverExfiltrationPolicy(blockScore),
            Source = _file,
        };
        return true;
    }

    // ---- sections ----

    private bool ReadLocalRecords(List<LocalRecord> into)
    {
        if (!BeginArray("local_records", "an array of records such as { \"name\": \"printer.lan\", \"type\": \"A\", \"value\": \"192.168.1.9\" }"))
        {
            return false;
        }

        for (int index = 0; ; index++)
        {
            if (!Next())
            {
                return false;
            }

            if (_reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            string path = $"local_records[{index}]";
            if (_reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail($"{path}: expected an object with name, type and value, got {Describe()}");
            }

            long start = _reader.TokenStartIndex;
            string? name = null;
            LocalRecordType? type = null;
            string? value = null;
            long valueAt = 0;
            uint ttl = LocalRecord.DefaultTtl;
            var seen = new Dictionary<string, long>(StringComparer.Ordinal);
            while (NextKey(seen, s_recordKeys, path, out string? key))
            {
                bool ok;
                switch (key)
                {
                    case "name":
                        ok = ReadString(path + ".name", "a name such as printer.lan", out string n);
                        if (ok && !IsHostName(n, out string? why))
                        {
                            ok = Fail($"{path}.name: {why}");
                        }

                        name = n.TrimEnd('.').ToLowerInvariant();
                        break;
                    case "type":
                        ok = ReadEnum(path + ".type", ["A", "AAAA", "CNAME", "TXT"], out int t);
                        type = (LocalRecordType)t;
                        break;
                    case "value":
                        ok = ReadString(path + ".value", "a string", out string v);
                        value = v;
                        valueAt = _reader.TokenStartIndex;
                        break;
                    default:
                        ok = ReadInt(path + ".ttl", 0, int.MaxValue, out int i);
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
                return FailAt(start, $"{path}: missing '{missing}' (a local record needs name, type and value)");
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
                    return FailAt(valueAt, $"{path}.value: expected {expected} for a {type} record, got {Quote(value)}");
                }

                record = new LocalRecord(name, type, address.ToString(), ttl) { Address = address };
                return true;
            case LocalRecordType.CNAME:
                if (!IsHostName(value, out string? why))
                {
                    return FailAt(valueAt, $"{path}.value: {why}");
                }

                record = new LocalRecord(name, type, value.TrimEnd('.').ToLowerInvariant(), ttl);
                return true;
            default:
                if (Encoding.UTF8.GetByteCount(value) > MaxTxtBytes)
                {
                    return FailAt(valueAt, $"{path}.value: TXT text is at most {MaxTxtBytes} bytes");
                }

                record = new LocalRecord(name, type, value, ttl);
                return true;
        }
    }

    private bool ReadCanaries(out IReadOnlyList<string> canaries)
    {
        canaries = ResolverPolicy.DefaultCanaries;
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType is JsonTokenType.True or JsonTokenType.False)
        {
            canaries = _reader.TokenType == JsonTokenType.True ? ResolverPolicy.DefaultCanaries : [];
            return true;
        }

        if (_reader.TokenType != JsonTokenType.StartArray)
        {
            return Fail($"canaries: expected true, false or an array of names, got {Describe()}");
        }

        var list = new List<string>();
        canaries = list;
        return ReadDomainItems("canaries", list, rulesAllowed: false);
    }

    private bool ReadExfiltration(out int? blockScore)
    {
        blockScore = null;
        if (!Next())
        {
            return false;
        }

        if (_reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail($"exfiltration: expected an object such as {{ \"block_score\": 80 }}, got {Describe()}");
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (NextKey(seen, s_exfiltrationKeys, "exfiltration", out _))
        {
            if (!Next())
            {
                return false;
            }

            if (_reader.TokenType == JsonTokenType.Null)
            {
                blockScore = null;
                continue;
            }

            if (_reader.TokenType != JsonTokenType.Number || !_reader.TryGetInt32(out int score) || score is < 0 or > 100)
            {
                return Fail($"exfiltration.block_score: expected null or a whole number between 0 and 100, got {Describe()}");
            }

            blockScore = score;
        }

        return Error is null;
    }

    // ---- values ----

    private bool ReadDomains(string path, List<string> into, bool rulesAllowed) =>
        BeginArray(path, "an array of domain strings") && ReadDomainItems(path, into, rulesAllowed);

    private bool ReadDomainItems(string path, List<string> into, bool rulesAllowed)
    {
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
                return Fail($"{path}: expected an array of domain strings, got {Describe()} at index {i}");
            }

            if (!TryGetString(out string s))
            {
                return false;
            }

            string? error;
            bool valid = rulesAllowed ? DomainSet.IsValidRule(s, out error) : IsHostName(s, out error);
            if (!valid)
            {
                return Fail($"{path}[{i}]: {error}");
            }

            into.Add(rulesAllowed ? s : s.TrimEnd('.').ToLowerInvariant());
        }
    }

    private static bool IsHostName(string s, out string? error)
    {
        if (s.StartsWith('=') || s.StartsWith('*'))
        {
            error = $"{Quote(s)} is a rule, not a name (expected a name such as printer.lan)";
            return false;
        }

        return DomainSet.IsValidRule(s, out error);
    }

    private bool ReadEnum(string path, string[] names, out int index)
    {
        index = 0;
        if (!ReadString(path, "one of: " + string.Join(", ", names), out string s))
        {
            return false;
        }

        index = Array.IndexOf(names, s);
        return index >= 0 || Fail($"{path}: {Quote(s)} is not valid (expected one of: {string.Join(", ", names)})");
    }

    private bool ReadAddress(string path, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        string expected = family == AddressFamily.InterNetwork ? "an IPv4 address such as 6.6.6.6" : "an IPv6 address such as ::";
        if (!ReadString(path, expected, out string s))
        {
            return false;
        }

        if (!IPAddress.TryParse(s, out IPAddress? parsed) || parsed.AddressFamily != family || s.Contains('%'))
        {
            return Fail($"{path}: expected {expected}, got {Quote(s)}");
        }

        address = parsed;
        return true;
    }

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

    private bool BeginArray(string path, string expected)
    {
        if (!Next())
        {
            return false;
        }

        return _reader.TokenType == JsonTokenType.StartArray || Fail($"{path}: expected {expected}, got {Describe()}");
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
            if (!_started && offset >= _data.Length)
            {
                _started = true;
                return FailAt(offset, "empty file: only whitespace and comments (expected a JSON object such as { \"mode\": \"forward\" })");
            }

            _started = true;
            return FailAt(offset, offset >= _data.Length
                ? "unexpected end of file (an object, array or string is not closed)"
                : "invalid JSON: " + StripPosition(e.Message));
        }
    }

    private bool AtEnd()
    {
        try
        {
            return !_reader.Read() || Fail("unexpected content after the policy object");
        }
        catch (JsonException e)
        {
            return FailAt(PolicyLoader.OffsetOf(_data, e), "invalid JSON: " + StripPosition(e.Message));
        }
    }

    private bool NextKey(Dictionary<string, long> seen, string[] allowed, string? within, [NotNullWhen(true)] out string? key)
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
        if (Array.IndexOf(allowed, key) < 0)
        {
            string where = within is null ? "" : $" in {within}";
            string? near = PolicyReader.Nearest(key, allowed);
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

    private static string Quote(string value)
    {
        string shown = value.Length > 60 ? value[..60] + "…" : value;
        var sb = new StringBuilder(shown.Length + 2);
        sb.Append('\'');
        foreach (char c in shown)
        {
            if (char.IsControl(c))
            {
                sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.Append('\'').ToString();
    }
}
