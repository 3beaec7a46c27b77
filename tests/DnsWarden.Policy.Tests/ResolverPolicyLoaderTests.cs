using System.Net;
using System.Text;
using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

/// <summary>The resolver policy file: defaults, every key, and the exact "file:line:column: message" of broken files.</summary>
public sealed class ResolverPolicyLoaderTests
{
    private const string RootKeys =
        "version, mode, allow, block, block_action, default_action, sinkhole_v4, sinkhole_v6, sinkhole_ttl, local_records, canaries, exfiltration, private_answers, http";

    private static ResolverPolicy Load(string json)
    {
        Assert.True(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "r.json", out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        Assert.Null(e);
        return p!;
    }

    private static string Error(string json)
    {
        Assert.False(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "r.json", out ResolverPolicy? p, out PolicyError? e));
        Assert.Null(p);
        return e!.ToString();
    }

    [Fact]
    public void EmptyObject_GivesDefaults()
    {
        ResolverPolicy p = Load("{}");
        Assert.Equal(ResolverMode.Forward, p.Mode);
        Assert.Equal(0, p.Allow.Count);
        Assert.Equal(0, p.Block.Count);
        Assert.Equal(ResolverBlockAction.NxDomain, p.BlockAction);
        Assert.Equal(ResolverDefaultAction.Block, p.DefaultAction);
        Assert.Null(p.SinkholeV4); // the engine's default: 6.6.6.6 in the jail and the TUN filter, 0.0.0.0 in the proxy
        Assert.Equal(IPAddress.IPv6Any, p.SinkholeV6);
        Assert.Equal(60u, p.SinkholeTtl);
        Assert.Empty(p.LocalRecords);
        Assert.Equal(["use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"], p.Canaries);
        Assert.Null(p.Exfiltration.BlockScore);
        Assert.Equal("r.json", p.Source);
    }

    [Fact]
    public void EveryKey_IsRead()
    {
        ResolverPolicy p = Load("""
            {
              // comments and trailing commas are allowed, as in the leak policy
              "version": 1,
              "mode": "sinkhole-all",
              "allow": ["Example.com.", "=exact.org", "*.below.net"],
              "block": ["ads.example.com"],
              "block_action": "refused",
              "default_action": "allow",
              "sinkhole_v4": "0.0.0.0",
              "sinkhole_v6": "::1",
              "sinkhole_ttl": 5,
              "local_records": [
                { "name": "Printer.LAN.", "type": "A", "value": "192.168.1.9", "ttl": 120 },
                { "type": "AAAA", "value": "fd00::9", "name": "printer.lan" },
                { "name": "alias.lan", "type": "CNAME", "value": "Printer.lan." },
                { "name": "note.lan", "type": "TXT", "value": "hello world" },
              ],
              "canaries": ["canary.example"],
              "exfiltration": { "block_score": 80 },
            }
            """);
        Assert.Equal(ResolverMode.SinkholeAll, p.Mode);
        Assert.True(p.Allow.Matches("www.example.com"));
        Assert.True(p.Allow.Matches("exact.org"));
        Assert.False(p.Allow.Matches("sub.exact.org"));
        Assert.True(p.Block.Matches("x.ads.example.com"));
        Assert.Equal(ResolverBlockAction.Refused, p.BlockAction);
        Assert.Equal(ResolverDefaultAction.Allow, p.DefaultAction);
        Assert.Equal(IPAddress.Any, p.SinkholeV4);
        Assert.Equal(IPAddress.IPv6Loopback, p.SinkholeV6);
        Assert.Equal(5u, p.SinkholeTtl);
        Assert.Equal(4, p.LocalRecords.Count);
        Assert.Equal(new LocalRecord("printer.lan", LocalRecordType.A, "192.168.1.9", 120) { Address = IPAddress.Parse("192.168.1.9") }, p.LocalRecords[0]);
        Assert.Equal(300u, p.LocalRecords[1].Ttl);
        Assert.Equal("printer.lan", p.LocalRecords[2].Value);
        Assert.Equal("hello world", p.LocalRecords[3].Value);
        Assert.Equal(["canary.example"], p.Canaries);
        Assert.Equal(80, p.Exfiltration.BlockScore);
    }

    [Fact]
    public void Canaries_FalseEmpties_TrueKeepsDefaults_NullScore()
    {
        Assert.Empty(Load("""{ "canaries": false }""").Canaries);
        Assert.Equal(3, Load("""{ "canaries": true }""").Canaries.Count);
        Assert.Null(Load("""{ "exfiltration": { "block_score": null } }""").Exfiltration.BlockScore);
    }

    public static TheoryData<string, string, string> Broken => new()
    {
        { "empty", "  ", "r.json:1:1: empty file (expected a JSON object such as { \"mode\": \"forward\" })" },
        { "not an object", "[]", "r.json:1:1: expected a JSON object at the root, got an array" },
        { "unknown key with hint", "{\n  \"mdoe\": \"forward\"\n}", $"r.json:2:3: unknown key 'mdoe' (did you mean 'mode'? expected one of: {RootKeys})" },
        { "duplicate key", "{ \"mode\": \"forward\",\n  \"mode\": \"forward\" }", "r.json:2:3: duplicate key 'mode' (first at line 1)" },
        { "bad mode", "{\n  \"mode\": \"sinkhole\"\n}", "r.json:2:11: mode: 'sinkhole' is not valid (expected one of: forward, sinkhole-all)" },
        { "mode not a string", "{ \"mode\": 1 }", "r.json:1:11: mode: expected one of: forward, sinkhole-all, got the number 1" },
        { "bad block_action", "{ \"block_action\": \"drop\" }", "r.json:1:19: block_action: 'drop' is not valid (expected one of: nxdomain, refused, sinkhole)" },
        { "bad default_action", "{ \"default_action\": \"deny\" }", "r.json:1:21: default_action: 'deny' is not valid (expected one of: allow, block)" },
        { "bad rule", "{\n  \"block\": [\"ok.example\", \"bad domain\"]\n}", "r.json:2:27: block[1]: 'bad domain' has the character ' ' (expected letters, digits, '-' or '_')" },
        { "allow not an array", "{ \"allow\": \"example.com\" }", "r.json:1:12: allow: expected an array of domain strings, got a string" },
        { "v6 as sinkhole_v4", "{ \"sinkhole_v4\": \"::1\" }", "r.json:1:18: sinkhole_v4: expected an IPv4 address such as 6.6.6.6, got '::1'" },
        { "v4 as sinkhole_v6", "{ \"sinkhole_v6\": \"1.2.3.4\" }", "r.json:1:18: sinkhole_v6: expected an IPv6 address such as ::, got '1.2.3.4'" },
        { "negative ttl", "{ \"sinkhole_ttl\": -1 }", "r.json:1:19: sinkhole_ttl: expected a whole number between 0 and 2147483647, got the number -1" },
        { "record not an object", "{ \"local_records\": [ 1 ] }", "r.json:1:22: local_records[0]: expected an object with name, type and value, got the number 1" },
        { "record missing value", "{ \"local_records\": [\n  { \"name\": \"a.lan\", \"type\": \"A\" }\n] }", "r.json:2:3: local_records[0]: missing 'value' (a local record needs name, type and value)" },
        { "record bad type", "{ \"local_records\": [ { \"name\": \"a.lan\", \"type\": \"MX\", \"value\": \"x\" } ] }", "r.json:1:49: local_records[0].type: 'MX' is not valid (expected one of: A, AAAA, CNAME, TXT)" },
        { "record bad address", "{ \"local_records\": [\n  { \"name\": \"a.lan\", \"type\": \"A\", \"value\": \"fd00::1\" }\n] }", "r.json:2:44: local_records[0].value: expected an IPv4 address such as 192.168.1.9 for a A record, got 'fd00::1'" },
        { "record name is a rule", "{ \"local_records\": [ { \"name\": \"*.lan\" } ] }", "r.json:1:32: local_records[0].name: '*.lan' is a rule, not a name (expected a name such as printer.lan)" },
        { "record unknown key", "{ \"local_records\": [ { \"nmae\": \"a.lan\" } ] }", "r.json:1:24: unknown key 'nmae' in local_records[0] (did you mean 'name'? expected one of: name, type, value, ttl)" },
        { "canaries wrong type", "{ \"canaries\": \"yes\" }", "r.json:1:15: canaries: expected true, false or an array of names, got a string" },
        { "canary is a rule", "{ \"canaries\": [\"=x.example\"] }", "r.json:1:16: canaries[0]: '=x.example' is a rule, not a name (expected a name such as printer.lan)" },
        { "score out of range", "{ \"exfiltration\": { \"block_score\": 101 } }", "r.json:1:36: exfiltration.block_score: expected null or a whole number between 0 and 100, got the number 101" },
        { "exfiltration unknown key", "{ \"exfiltration\": { \"score\": 1 } }", "r.json:1:21: unknown key 'score' in exfiltration (expected one of: block_score, burst_base_domains)" },
        { "version 2", "{ \"version\": 2 }", "r.json:1:14: version: expected a whole number between 1 and 1, got the number 2" },
        { "truncated", "{\n  \"allow\": [\"a.example\"", "r.json:2:24: unexpected end of file (an object, array or string is not closed)" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void BrokenFiles_PointAtTheToken(string why, string json, string expected)
    {
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Equal(expected, Error(json));
    }

    [Fact]
    public void TrailingContent_IsRefusedAtItsFirstToken()
    {
        Assert.StartsWith("r.json:1:4: invalid JSON: ", Error("{} {}"));
    }

    [Fact]
    public void InvalidUtf8_And_MissingFile()
    {
        Assert.False(ResolverPolicyLoader.TryParse([(byte)'{', 0xFF, (byte)'}'], "r.json", out _, out PolicyError? e));
        Assert.Equal("r.json:1:2: invalid UTF-8 (byte 0xFF); a policy file is UTF-8 text", e!.ToString());

        string missing = Path.Combine(Path.GetTempPath(), "dnsw-no-such-" + Guid.NewGuid().ToString("N") + ".json");
        Assert.False(ResolverPolicyLoader.TryLoad(missing, out _, out e));
        Assert.Equal($"{missing}: no such file", e!.ToString());
    }

    [Fact]
    public void TryLoad_ReadsAFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "dnsw-resolver-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            File.WriteAllText(path, """{ "block": ["ads.example"] }""");
            Assert.True(ResolverPolicyLoader.TryLoad(path, out ResolverPolicy? p, out PolicyError? e), e?.ToString());
            Assert.True(p!.Block.Matches("x.ads.example"));
            Assert.Equal(path, p.Source);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Mutations_NeverThrow()
    {
        byte[] seed = Encoding.UTF8.GetBytes("""
            { "mode": "forward", "allow": ["example.com"], "block": ["=ads.example"], "block_action": "sinkhole",
              "local_records": [ { "name": "a.lan", "type": "A", "value": "10.0.0.1", "ttl": 3 } ],
              "canaries": true, "exfiltration": { "block_score": 50 } }
            """);
        var rng = new Random(42);
        for (int i = 0; i < 3000; i++)
        {
            byte[] m = (byte[])seed.Clone();
            for (int f = rng.Next(1, 4); f > 0; f--)
            {
                m[rng.Next(m.Length)] = (byte)rng.Next(256);
            }

            if (rng.Next(3) == 0)
            {
                m = m.AsSpan(0, rng.Next(m.Length + 1)).ToArray();
            }

            bool ok = ResolverPolicyLoader.TryParse(m, "m.json", out ResolverPolicy? p, out PolicyError? e);
            Assert.Equal(ok, p is not null);
            Assert.Equal(ok, e is null);
        }
    }

    [Fact]
    public void DocumentedExampleLoads()
    {
        string path = Path.Combine(PolicyLoaderTests.RepoRoot(), "docs", "policies", "resolver.json");
        Assert.True(ResolverPolicyLoader.TryLoad(path, out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        Assert.Equal(ResolverBlockAction.NxDomain, p!.BlockAction);
        Assert.Equal(70, p.Exfiltration.BlockScore);
        Assert.Equal(3, p.LocalRecords.Count);
        Assert.True(p.Block.Matches("x.tracker.example"));
        Assert.False(p.Block.Matches("tracker.example"));
        Assert.True(p.Block.Matches("telemetry.example.org"));
        Assert.False(p.Block.Matches("a.telemetry.example.org"));
    }
}
