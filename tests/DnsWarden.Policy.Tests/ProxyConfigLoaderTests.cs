using System.Diagnostics;
using System.Net;
using System.Text;
using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

/// <summary>The <c>dnsw proxy</c> configuration file: every key, defaults, broken files with the exact "file:line:column: message", inline and named policies.</summary>
public sealed class ProxyConfigLoaderTests : IDisposable
{
    private const string RootKeys = "version, listen, dot, doh, upstreams, upstream_for, strategy, upstream_timeout, cache, ip_tracker, query_log, metrics, tcp, policy, allow_clients, rate_limit, in_flight, rebind_protection";

    private const string PolicyKeys =
        "version, mode, allow, block, block_action, default_action, sinkhole_v4, sinkhole_v6, sinkhole_ttl, local_records, canaries, exfiltration, private_answers, http";

    private const string Pin = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; // SHA-256 of the empty string: 32 bytes.

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dnsw-config-" + Guid.NewGuid().ToString("N"));

    public ProxyConfigLoaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ProxyConfig Load(string json, string? baseDirectory = null)
    {
        Assert.True(ProxyConfigLoader.TryParse(Encoding.UTF8.GetBytes(json), "c.json", baseDirectory, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        Assert.Null(e);
        return c!;
    }

    private static string Error(string json, string? baseDirectory = null)
    {
        Assert.False(ProxyConfigLoader.TryParse(Encoding.UTF8.GetBytes(json), "c.json", baseDirectory, out ProxyConfig? c, out PolicyError? e));
        Assert.Null(c);
        return e!.ToString();
    }

    /// <summary>The jail and the filter read the same file over their own defaults: a key left out keeps theirs, a key written wins.</summary>
    [Fact]
    public void KeysTheFileLeavesOutKeepTheDefaultsGiven()
    {
        var defaults = new ProxyConfig { TrackerMinTtl = TimeSpan.FromMinutes(5), TrackerMaxTtl = TimeSpan.FromHours(1), UpstreamTimeout = TimeSpan.FromSeconds(7) };
        byte[] json = Encoding.UTF8.GetBytes("""{ "upstreams": ["udp://10.0.0.1"], "ip_tracker": { "min_ttl": "30s" }, "strategy": "race" }""");
        Assert.True(ProxyConfigLoader.TryParse(json, "c.json", null, defaults, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromHours(1), TimeSpan.FromSeconds(7), UpstreamStrategy.Race), (c!.TrackerMinTtl, c.TrackerMaxTtl, c.UpstreamTimeout, c.Strategy));
        Assert.Equal("c.json", c.Source);

        ProxyConfig proxy = Load("""{ "upstreams": ["udp://10.0.0.1"] }""");
        Assert.Equal((TimeSpan.Zero, (TimeSpan?)null, ProxyConfig.DefaultUpstreamTimeout), (proxy.TrackerMinTtl, proxy.TrackerMaxTtl, proxy.UpstreamTimeout));
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void OneUpstream_GivesDefaultsForTheRest()
    {
        ProxyConfig c = Load("""{ "upstreams": ["udp://10.0.0.1"] }""");
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 53), new IPEndPoint(IPAddress.IPv6Loopback, 53)], c.Listen);
        UpstreamConfig u = Assert.Single(c.Upstreams);
        Assert.Equal(UpstreamProtocol.Udp, u.Protocol);
        Assert.Equal(UpstreamStrategy.Failover, c.Strategy);
        Assert.Equal(TimeSpan.FromSeconds(2), c.UpstreamTimeout);
        Assert.True(c.CacheEnabled);
        Assert.Equal(10_000, c.CacheMaxEntries);
        Assert.Equal(16L * 1024 * 1024, c.CacheMaxBytes);
        Assert.Null(c.CacheMaxTtl);
        Assert.Equal(TimeSpan.Zero, c.TrackerMinTtl);
        Assert.Null(c.TrackerMaxTtl);
        Assert.Null(c.TrackerFixedTtl);
        Assert.Equal(64, c.TrackerMaxAddressesPerName);
        Assert.Null(c.QueryLogPath);
        Assert.Equal("redacted", c.QueryLogPrivacy);
        Assert.Null(c.MetricsListen);
        Assert.Equal(1024, c.MaxTcpConnections);
        Assert.Equal(TimeSpan.FromSeconds(10), c.TcpIdleTimeout);
        Assert.Null(c.PolicyPath);
        Assert.Same(ResolverPolicy.Default, c.Policy);
        Assert.Equal("c.json", c.Source);
        Assert.Empty(c.Validate());
    }

    [Fact]
    public void FullFile_SetsEveryField()
    {
        Write("ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        Write("policy.json", """{ "block": ["ads.example"], "block_action": "refused" }""");
        string path = Write("proxy.json", $$"""
            // every key, with comments and trailing commas
            {
              "version": 1,
              "listen": ["127.0.0.1:5353", "[::1]:5353",],
              "upstreams": [
                "udp://10.0.0.1",
                "tls://dns.example@10.0.0.2:853",
                "https://dns.example@[fd00::3]/dns-query",
                {
                  "url": "https://doh.example/q",
                  "bootstrap": "10.0.0.3",
                  "server_name": "cert.example",
                  "pin_sha256": ["{{Pin}}"],
                  "ca_file": "ca.pem",
                  "verify_certificate": false,
                },
              ],
              "upstream_for": { "corp.example": ["udp://10.0.0.53", "tcp://10.0.0.54"], "*.Lan.": ["udp://192.168.1.1"] },
              "strategy": "race",
              "upstream_timeout": "1500ms",
              "cache": { "enabled": false, "max_entries": 500, "max_bytes": "2MiB", "max_ttl": "1d", "serve_stale": "2d", "prefetch": true },
              "ip_tracker": { "min_ttl": "30s", "max_ttl": "1h", "fixed_ttl": "5m", "max_addresses_per_name": 16 },
              "query_log": { "path": "-", "privacy": "minimal" },
              "metrics": { "listen": "127.0.0.1:9153" },
              "tcp": { "max_connections": 64, "idle_timeout": "3s" },
              "policy": "policy.json",
            }
            """);

        Assert.True(ProxyConfigLoader.TryLoad(path, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 5353), new IPEndPoint(IPAddress.IPv6Loopback, 5353)], c!.Listen);
        Assert.Equal(4, c.Upstreams.Count);
        Assert.Equal(TimeSpan.FromDays(2), c.CacheServeStale);
        Assert.True(c.CachePrefetch);
        Assert.Equal(["corp.example", "lan"], c.DomainUpstreams.Select(r => r.Suffix));
        Assert.Equal(["udp://10.0.0.53", "tcp://10.0.0.54"], c.DomainUpstreams[0].Upstreams.Select(u => u.Url));
        Assert.Equal("10.0.0.1", c.Upstreams[0].Host);
        Assert.Equal(("dns.example", IPAddress.Parse("10.0.0.2"), 853), (c.Upstreams[1].Host, c.Upstreams[1].Bootstrap, c.Upstreams[1].Port));
        Assert.Equal((UpstreamProtocol.Https, IPAddress.Parse("fd00::3"), "/dns-query"), (c.Upstreams[2].Protocol, c.Upstreams[2].Bootstrap, c.Upstreams[2].Path));

        UpstreamConfig doh = c.Upstreams[3];
        Assert.Equal("https://doh.example/q", doh.Url);
        Assert.Equal("doh.example", doh.Host);
        Assert.Equal("/q", doh.Path);
        Assert.Equal(IPAddress.Parse("10.0.0.3"), doh.ConnectAddress);
        Assert.Equal("cert.example", doh.TlsName);
        Assert.Equal(Convert.FromBase64String(Pin), Assert.Single(doh.PinsSha256));
        Assert.Equal(Path.Combine(_dir, "ca.pem"), doh.CaFile);
        Assert.False(doh.VerifyCertificate);
        Assert.True(c.Upstreams[0].VerifyCertificate);

        Assert.Equal(UpstreamStrategy.Race, c.Strategy);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), c.UpstreamTimeout);
        Assert.False(c.CacheEnabled);
        Assert.Equal(500, c.CacheMaxEntries);
        Assert.Equal(2L * 1024 * 1024, c.CacheMaxBytes);
        Assert.Equal(TimeSpan.FromDays(1), c.CacheMaxTtl);
        Assert.Equal(TimeSpan.FromSeconds(30), c.TrackerMinTtl);
        Assert.Equal(TimeSpan.FromHours(1), c.TrackerMaxTtl);
        Assert.Equal(TimeSpan.FromMinutes(5), c.TrackerFixedTtl);
        Assert.Equal(16, c.TrackerMaxAddressesPerName);
        Assert.Equal("-", c.QueryLogPath);
        Assert.Equal("minimal", c.QueryLogPrivacy);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9153), c.MetricsListen);
        Assert.Equal(64, c.MaxTcpConnections);
        Assert.Equal(TimeSpan.FromSeconds(3), c.TcpIdleTimeout);
        Assert.Equal(Path.Combine(_dir, "policy.json"), c.PolicyPath);
        Assert.True(c.Policy.Block.Matches("x.ads.example"));
        Assert.Equal(ResolverBlockAction.Refused, c.Policy.BlockAction);
        Assert.Equal(Path.Combine(_dir, "policy.json"), c.Policy.Source);
        Assert.Equal(path, c.Source);
    }

    [Theory]
    [InlineData("16777216", 16L * 1024 * 1024)]
    [InlineData("1024", 1024L)]
    [InlineData("\"512KiB\"", 512L * 1024)]
    [InlineData("\"1GiB\"", 1L << 30)]
    [InlineData("\"64GiB\"", 64L << 30)]
    public void Sizes(string json, long bytes) =>
        Assert.Equal(bytes, Load($$"""{ "upstreams": ["udp://10.0.0.1"], "cache": { "max_bytes": {{json}} } }""").CacheMaxBytes);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("\"0s\"", 0)]
    [InlineData("\"250ms\"", 250)]
    [InlineData("\"2m\"", 120_000)]
    [InlineData("\"7d\"", 604_800_000)]
    public void Durations(string json, long milliseconds)
    {
        string value = json == "0" ? "\"0\"" : json;
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Load($$"""{ "upstreams": ["udp://10.0.0.1"], "ip_tracker": { "min_ttl": {{value}} } }""").TrackerMinTtl);
    }

    [Fact]
    public void NullClearsOptionalValues()
    {
        ProxyConfig c = Load("""
            { "upstreams": ["udp://10.0.0.1"], "cache": { "max_ttl": null }, "ip_tracker": { "max_ttl": null, "fixed_ttl": null },
              "query_log": { "path": null }, "metrics": { "listen": null } }
            """);
        Assert.Null(c.CacheMaxTtl);
        Assert.Null(c.TrackerMaxTtl);
        Assert.Null(c.TrackerFixedTtl);
        Assert.Null(c.QueryLogPath);
        Assert.Null(c.MetricsListen);
    }

    [Fact]
    public void SinkholeAllPolicy_NeedsNoUpstream()
    {
        ProxyConfig c = Load("""{ "policy": { "mode": "sinkhole-all" } }""");
        Assert.Empty(c.Upstreams);
        Assert.Equal(ResolverMode.SinkholeAll, c.Policy.Mode);
        Assert.Equal("c.json", c.Policy.Source);
        Assert.Null(c.PolicyPath);
    }

    [Fact]
    public void InlinePolicy_IsReadAndTheCursorContinuesAfterIt()
    {
        ProxyConfig c = Load("""
            {
              "policy": {
                "allow": ["example.com"],
                "local_records": [ { "name": "printer.lan", "type": "A", "value": "192.168.1.9" } ],
                "exfiltration": { "block_score": 70 },
              },
              "strategy": "race",
              "upstreams": ["udp://10.0.0.1"],
            }
            """);
        Assert.True(c.Policy.Allow.Matches("www.example.com"));
        Assert.Equal("192.168.1.9", Assert.Single(c.Policy.LocalRecords).Value);
        Assert.Equal(70, c.Policy.Exfiltration.BlockScore);
        Assert.Equal(UpstreamStrategy.Race, c.Strategy);
        Assert.Single(c.Upstreams);
    }

    public static TheoryData<string, string, string> Broken => new()
    {
        { "empty", " \n ", "c.json:1:1: empty file (expected a JSON object such as { \"upstreams\": [\"udp://10.0.0.1\"] })" },
        { "only a comment", "// nothing", "c.json:1:11: empty file: only whitespace and comments (expected a JSON object such as { \"upstreams\": [\"udp://10.0.0.1\"] })" },
        { "not an object", "[]", "c.json:1:1: expected a JSON object at the root, got an array" },
        { "unknown key with hint", "{\n  \"upstream\": []\n}", $"c.json:2:3: unknown key 'upstream' (did you mean 'upstreams'? expected one of: {RootKeys})" },
        { "duplicate key", "{ \"strategy\": \"race\",\n  \"strategy\": \"race\" }", "c.json:2:3: duplicate key 'strategy' (first at line 1)" },
        { "version 2", "{ \"version\": 2 }", "c.json:1:14: version: expected a whole number between 1 and 1, got the number 2" },
        { "listen not an array", "{ \"listen\": \"127.0.0.1:53\" }", "c.json:1:13: listen: expected an array of addresses such as [\"127.0.0.1:53\", \"[::1]:53\"], got a string" },
        { "listen empty", "{\n  \"listen\": [ ]\n}", "c.json:2:13: listen: expected at least one address such as \"127.0.0.1:53\", got an empty array" },
        { "listen without port", "{ \"listen\": [\"127.0.0.1\"] }", "c.json:1:14: listen[0]: '127.0.0.1' has no port (expected IP:PORT such as 127.0.0.1:53)" },
        { "listen v6 without brackets", "{ \"listen\": [\"127.0.0.1:53\", \"::1:53\"] }", "c.json:1:30: listen[1]: '::1:53': an IPv6 address must be in brackets, e.g. [::1]:53" },
        { "listen port out of range", "{ \"listen\": [\"[::1]:70000\"] }", "c.json:1:14: listen[0]: '[::1]:70000': port '70000' is not a number from 1 to 65535" },
        { "listen twice", "{ \"listen\": [\"127.0.0.1:53\",\n  \"127.0.0.1:53\"] }", "c.json:2:3: listen[1]: 127.0.0.1:53 is listed twice" },
        { "listen number", "{ \"listen\": [53] }", "c.json:1:14: listen[0]: expected an address and port such as \"127.0.0.1:53\" or \"[::1]:53\", got the number 53" },
        { "upstreams not an array", "{ \"upstreams\": \"udp://10.0.0.1\" }", "c.json:1:16: upstreams: expected an array of upstreams such as [\"udp://10.0.0.1\", \"tls://dns.example@10.0.0.2\"], got a string" },
        { "upstream bad scheme", "{ \"upstreams\": [\"dns://10.0.0.1\"] }", "c.json:1:17: upstreams[0]: unknown scheme 'dns' in 'dns://10.0.0.1' (expected udp://, tcp://, tls:// or https://)" },
        {
            "upstream name without bootstrap", "{\n  \"upstreams\": [\n    \"tls://dns.example\"\n  ]\n}",
            "c.json:3:5: upstreams[0]: 'tls://dns.example': 'dns.example' needs a bootstrap address: the resolver never asks the system resolver (write it after the host, e.g. tls://dns.example@10.0.0.2)"
        },
        { "upstream bootstrap is a name", "{ \"upstreams\": [\"tls://dns.example@ns.example\"] }", "c.json:1:17: upstreams[0]: 'tls://dns.example@ns.example': bootstrap 'ns.example' is not an IP address (expected e.g. 10.0.0.2 or [fd00::2] after '@')" },
        { "upstream number", "{ \"upstreams\": [53] }", "c.json:1:17: upstreams[0]: expected a URL such as \"udp://10.0.0.1\" or an object with \"url\", got the number 53" },
        { "upstream twice", "{ \"upstreams\": [\"udp://10.0.0.1\", \"UDP://10.0.0.1\"] }", "c.json:1:35: upstreams[1]: 'UDP://10.0.0.1' is listed twice" },
        { "upstream object without url", "{ \"upstreams\": [\n  { \"bootstrap\": \"10.0.0.3\" }\n] }", "c.json:2:3: upstreams[0]: missing 'url' (an upstream object needs at least \"url\")" },
        {
            "upstream object unknown key", "{ \"upstreams\": [ { \"url\": \"tls://10.0.0.3\", \"boostrap\": \"10.0.0.3\" } ] }",
            "c.json:1:45: unknown key 'boostrap' in upstreams[0] (did you mean 'bootstrap'? expected one of: url, bootstrap, server_name, pin_sha256, ca_file, verify_certificate)"
        },
        {
            "upstream object name without bootstrap", "{ \"upstreams\": [ { \"url\": \"https://dns.example\" } ] }",
            "c.json:1:27: upstreams[0].url: 'dns.example' needs a bootstrap address: the resolver never asks the system resolver (add \"bootstrap\": \"ADDRESS\")"
        },
        { "upstream object bootstrap twice", "{ \"upstreams\": [ { \"url\": \"tls://a.example@10.0.0.2\", \"bootstrap\": \"10.0.0.3\" } ] }", "c.json:1:68: upstreams[0].bootstrap: the url names a bootstrap address already (after '@')" },
        { "upstream object bootstrap for an address", "{ \"upstreams\": [ { \"url\": \"tls://10.0.0.2\", \"bootstrap\": \"10.0.0.3\" } ] }", "c.json:1:58: upstreams[0].bootstrap: '10.0.0.2' is an address already; a bootstrap address is only for a host name" },
        { "upstream object bad bootstrap", "{ \"upstreams\": [ { \"bootstrap\": \"10.0.3\" } ] }", "c.json:1:33: upstreams[0].bootstrap: expected an IP address such as 10.0.0.3 or fd00::3, got '10.0.3'" },
        { "upstream object bad url", "{ \"upstreams\": [ { \"url\": \"udp://10.0.0.1/x\" } ] }", "c.json:1:27: upstreams[0].url: 'udp://10.0.0.1/x': only https:// upstreams take a path" },
        { "tls setting on udp", "{ \"upstreams\": [ { \"url\": \"udp://10.0.0.1\",\n  \"server_name\": \"dns.example\" } ] }", "c.json:2:3: upstreams[0].server_name: only tls:// and https:// upstreams use TLS settings" },
        { "server_name is an address", "{ \"upstreams\": [ { \"server_name\": \"10.0.0.1\" } ] }", "c.json:1:35: upstreams[0].server_name: expected a host name such as dns.example, got '10.0.0.1'" },
        { "pin too short", "{ \"upstreams\": [ { \"pin_sha256\": [\"AAAA\"] } ] }", "c.json:1:35: upstreams[0].pin_sha256[0]: expected the base64 of a 32-byte SHA-256 digest (44 characters ending in '='), got 'AAAA'" },
        { "pin not base64", "{ \"upstreams\": [ { \"pin_sha256\": [\"" + Pin + "\", \"not base64!\"] } ] }", "c.json:1:83: upstreams[0].pin_sha256[1]: expected the base64 of a 32-byte SHA-256 digest (44 characters ending in '='), got 'not base64!'" },
        { "verify not a bool", "{ \"upstreams\": [ { \"verify_certificate\": \"no\" } ] }", "c.json:1:42: upstreams[0].verify_certificate: expected true or false, got a string" },
        { "bad strategy", "{ \"strategy\": \"random\" }", "c.json:1:15: strategy: 'random' is not valid (expected one of: failover, race)" },
        { "timeout not a duration", "{ \"upstream_timeout\": \"2 s\" }", "c.json:1:23: upstream_timeout: '2 s' is not a duration (expected a number and a unit: ms, s, m, h or d, e.g. 500ms, 1.5s, 2m (a number alone is seconds))" },
        { "timeout a number", "{ \"upstream_timeout\": 2 }", "c.json:1:23: upstream_timeout: expected a duration such as \"2s\", got the number 2" },
        { "timeout zero", "{ \"upstream_timeout\": \"0\" }", "c.json:1:23: upstream_timeout: expected a duration from 1ms to 1m, got '0'" },
        { "timeout too long", "{ \"upstream_timeout\": \"90s\" }", "c.json:1:23: upstream_timeout: expected a duration from 1ms to 1m, got '90s'" },
        { "cache not an object", "{ \"cache\": true }", "c.json:1:12: cache: expected an object such as { \"enabled\": true, \"max_entries\": 10000 }, got true" },
        { "cache enabled not a bool", "{ \"cache\": { \"enabled\": 1 } }", "c.json:1:25: cache.enabled: expected true or false, got the number 1" },
        { "cache no entries", "{ \"cache\": { \"max_entries\": 0 } }", "c.json:1:29: cache.max_entries: expected a whole number between 1 and 100000000, got the number 0" },
        { "cache size unit", "{ \"cache\": { \"max_bytes\": \"16MB\" } }", "c.json:1:27: cache.max_bytes: expected a size in bytes such as 16777216 or \"16MiB\" (KiB, MiB, GiB), got '16MB'" },
        { "cache size too small", "{ \"cache\": { \"max_bytes\": 512 } }", "c.json:1:27: cache.max_bytes: expected a size from 1KiB to 64GiB, got the number 512" },
        { "cache size too large", "{ \"cache\": { \"max_bytes\": \"65GiB\" } }", "c.json:1:27: cache.max_bytes: expected a size from 1KiB to 64GiB, got '65GiB'" },
        { "cache size fraction", "{ \"cache\": { \"max_bytes\": 1.5e6 } }", "c.json:1:27: cache.max_bytes: expected a size from 1KiB to 64GiB, got the number 1.5e6" },
        { "cache ttl too long", "{ \"cache\": { \"max_ttl\": \"8d\" } }", "c.json:1:25: cache.max_ttl: expected a duration from 1s to 7d or null, got '8d'" },
        { "cache unknown key", "{ \"cache\": { \"max_entires\": 1 } }", "c.json:1:14: unknown key 'max_entires' in cache (did you mean 'max_entries'? expected one of: enabled, max_entries, max_bytes, max_ttl, serve_stale, prefetch)" },
        { "upstream_for bad suffix", "{ \"upstream_for\": { \"a..b\": [\"udp://10.0.0.1\"] } }", "c.json:1:21: upstream_for: expected a domain suffix such as corp.example, got 'a..b'" },
        { "upstream_for twice", "{ \"upstream_for\": { \"lan\": [\"udp://10.0.0.1\"], \".lan\": [\"udp://10.0.0.2\"] } }", "c.json:1:48: upstream_for: '.lan' names the suffix 'lan' twice" },
        { "upstream_for empty", "{ \"upstream_for\": { \"lan\": [] } }", "c.json:1:29: upstream_for.lan: expected at least one upstream" },
        { "upstream_for not a list", "{ \"upstream_for\": { \"lan\": \"udp://10.0.0.1\" } }", "c.json:1:28: upstream_for.lan: expected an array of upstreams such as [\"udp://10.0.0.1\", \"tls://dns.example@10.0.0.2\"], got a string" },
        { "dot without a key", "{ \"dot\": { \"listen\": [\"127.0.0.1:853\"] } }", "c.json:1:10: dot: expected \"listen\", \"certificate\" and \"key\" together" },
        { "dot empty listen", "{ \"dot\": { \"listen\": [] } }", "c.json:1:22: dot.listen: expected at least one address such as \"127.0.0.1:853\", got an empty array" },
        { "dot missing certificate file", "{ \"dot\": { \"certificate\": \"/nonexistent/cert.pem\" } }", "c.json:1:27: dot.certificate: no such file '/nonexistent/cert.pem'" },
        { "serve_stale too long", "{ \"cache\": { \"serve_stale\": \"8d\" } }", "c.json:1:29: cache.serve_stale: expected a duration from 0 to 7d, got '8d'" },
        { "tracker max below min", "{ \"ip_tracker\": { \"min_ttl\": \"5m\",\n  \"max_ttl\": \"1m\" } }", "c.json:2:14: ip_tracker.max_ttl: 1m is below min_ttl 5m" },
        { "tracker per name zero", "{ \"ip_tracker\": { \"max_addresses_per_name\": 0 } }", "c.json:1:45: ip_tracker.max_addresses_per_name: expected a whole number between 1 and 65536, got the number 0" },
        { "privacy word", "{ \"query_log\": { \"privacy\": \"none\" } }", "c.json:1:29: query_log.privacy: 'none' is not valid (expected one of: full, redacted, minimal)" },
        { "log path empty", "{ \"query_log\": { \"path\": \"\" } }", "c.json:1:26: query_log.path: expected a file path, or \"-\" for standard output or null, got an empty string" },
        { "metrics bad listen", "{ \"metrics\": { \"listen\": \"localhost:9153\" } }", "c.json:1:26: metrics.listen: 'localhost:9153': 'localhost' is not an IPv4 address (expected IP:PORT such as 127.0.0.1:53)" },
        { "metrics on a dns port", "{ \"upstreams\": [\"udp://10.0.0.1\"],\n  \"metrics\": { \"listen\": \"[::1]:53\" } }", "c.json:1:1: metrics.listen: [::1]:53 is also a DNS listening address" },
        { "tcp negative", "{ \"tcp\": { \"max_connections\": -1 } }", "c.json:1:31: tcp.max_connections: expected a whole number between 1 and 1000000, got the number -1" },
        { "tcp idle too long", "{ \"tcp\": { \"idle_timeout\": \"2h\" } }", "c.json:1:28: tcp.idle_timeout: expected a duration from 1ms to 1h, got '2h'" },
        { "policy a number", "{ \"policy\": 1 }", "c.json:1:13: policy: expected a policy file path such as \"policy.json\" or an inline policy object, got the number 1" },
        { "policy empty path", "{ \"policy\": \"\" }", "c.json:1:13: policy: expected a policy file path such as \"policy.json\" or an inline policy object, got an empty string" },
        { "no upstreams", "{ }", "c.json:1:1: upstreams: at least one upstream is needed unless the policy sinkholes everything" },
        { "empty upstreams after a comment", "// forward policy\n{\n  \"upstreams\": []\n}", "c.json:2:1: upstreams: at least one upstream is needed unless the policy sinkholes everything" },
        { "trailing content", "{ \"upstreams\": [\"udp://10.0.0.1\"] } x", "c.json:1:37: invalid JSON: 'x' is invalid after a single JSON value. Expected end of data." },
        { "truncated", "{\n  \"upstreams\": [\"udp://10.0.0.1\"", "c.json:2:33: unexpected end of file (an object, array or string is not closed)" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void BrokenFiles_PointAtTheToken(string why, string json, string expected)
    {
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Equal(expected, Error(json));
    }

    public static TheoryData<string, string, string> BrokenInlinePolicies => new()
    {
        {
            "unknown key", "{ \"upstreams\": [\"udp://10.0.0.1\"],\n  \"policy\": {\n    \"mdoe\": \"forward\"\n  }\n}",
            $"c.json:3:5: unknown key 'mdoe' in policy (did you mean 'mode'? expected one of: {PolicyKeys})"
        },
        { "bad mode", "{\n  \"policy\": { \"mode\": \"sinkhole\" }\n}", "c.json:2:23: policy.mode: 'sinkhole' is not valid (expected one of: forward, sinkhole-all)" },
        { "bad rule", "{ \"policy\": {\n  \"block\": [\"ok.example\", \"bad domain\"] } }", "c.json:2:27: policy.block[1]: 'bad domain' has the character ' ' (expected letters, digits, '-' or '_')" },
        {
            "bad record", "{ \"policy\": { \"local_records\": [\n  { \"name\": \"a.lan\", \"type\": \"A\", \"value\": \"fd00::1\" }\n] } }",
            "c.json:2:44: policy.local_records[0].value: expected an IPv4 address such as 192.168.1.9 for a A record, got 'fd00::1'"
        },
        { "record missing value", "{ \"policy\": { \"local_records\": [\n  { \"name\": \"a.lan\", \"type\": \"A\" } ] } }", "c.json:2:3: policy.local_records[0]: missing 'value' (a local record needs name, type and value)" },
        { "duplicate key", "{ \"policy\": { \"mode\": \"forward\",\n \"mode\": \"forward\" } }", "c.json:2:2: duplicate key 'mode' (first at line 1)" },
        { "exfiltration key", "{ \"policy\": { \"exfiltration\": { \"score\": 1 } } }", "c.json:1:33: unknown key 'score' in policy.exfiltration (expected one of: block_score, burst_base_domains)" },
        { "score", "{ \"policy\": { \"exfiltration\": { \"block_score\": 101 } } }", "c.json:1:48: policy.exfiltration.block_score: expected null or a whole number between 0 and 100, got the number 101" },
        { "canaries", "{ \"policy\": { \"canaries\": \"yes\" } }", "c.json:1:27: policy.canaries: expected true, false or an array of names, got a string" },
        { "forward policy without upstreams", "{ \"policy\": { \"mode\": \"forward\" } }", "c.json:1:1: upstreams: at least one upstream is needed unless the policy sinkholes everything" },
        { "truncated inside", "{ \"policy\": { \"allow\": [", "c.json:1:25: unexpected end of file (an object, array or string is not closed)" },
    };

    [Theory]
    [MemberData(nameof(BrokenInlinePolicies))]
    public void BrokenInlinePolicies_PointIntoTheConfigurationFile(string why, string json, string expected)
    {
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Equal(expected, Error(json));
    }

    [Fact]
    public void PolicyPath_IsResolvedFromTheConfigurationsDirectory()
    {
        Write("sub/policies/p.json", """{ "mode": "sinkhole-all" }""");
        string config = Write("sub/proxy.json", """{ "policy": "policies/p.json" }""");
        string cwd = Environment.CurrentDirectory;
        Assert.NotEqual(Path.Combine(_dir, "sub"), cwd);

        Assert.True(ProxyConfigLoader.TryLoad(config, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        string expected = Path.Combine(_dir, "sub", "policies/p.json");
        Assert.Equal(expected, c!.PolicyPath);
        Assert.Equal(ResolverMode.SinkholeAll, c.Policy.Mode);
        Assert.Equal(expected, c.Policy.Source);

        // TryParse takes the directory from its caller; an absolute path is taken as it is.
        c = Load($$"""{ "policy": "{{expected}}" }""", baseDirectory: "/nonexistent");
        Assert.Equal(expected, c.PolicyPath);
        c = Load("""{ "policy": "policies/p.json" }""", baseDirectory: Path.Combine(_dir, "sub"));
        Assert.Equal(expected, c.PolicyPath);
    }

    [Fact]
    public void PolicyFileErrors_NameThePolicyFileAndItsPosition()
    {
        string policy = Write("p.json", "{\n  \"mode\": \"forward\",\n  \"blok\": []\n}");
        Assert.Equal(
            $"{policy}:3:3: unknown key 'blok' (did you mean 'block'? expected one of: {PolicyKeys})",
            Error("""{ "upstreams": ["udp://10.0.0.1"], "policy": "p.json" }""", _dir));
        Assert.Equal($"{Path.Combine(_dir, "missing.json")}: no such file", Error("""{ "policy": "missing.json" }""", _dir));
        Assert.Equal($"{_dir}: is a directory, not a policy file", Error($$"""{ "policy": "{{_dir}}" }"""));
    }

    [Fact]
    public void CaFile_IsResolvedAndMustExist()
    {
        string ca = Write("certs/ca.pem", "pem");
        ProxyConfig c = Load("""{ "upstreams": [ { "url": "tls://10.0.0.2", "ca_file": "certs/ca.pem" } ] }""", _dir);
        Assert.Equal(ca, c.Upstreams[0].CaFile);
        Assert.Equal(
            $"c.json:1:56: upstreams[0].ca_file: no such file '{Path.Combine(_dir, "nope.pem")}'",
            Error("""{ "upstreams": [ { "url": "tls://10.0.0.2", "ca_file": "nope.pem" } ] }""", _dir));
    }

    [Fact]
    public void TryLoad_BadFiles()
    {
        string missing = Path.Combine(_dir, "none.json");
        Assert.False(ProxyConfigLoader.TryLoad(missing, out ProxyConfig? c, out PolicyError? e));
        Assert.Null(c);
        Assert.Equal($"{missing}: no such file", e!.ToString());

        Assert.False(ProxyConfigLoader.TryLoad("", out _, out e));
        Assert.Equal("no policy file named (expected a path)", e!.ToString());

        Assert.False(ProxyConfigLoader.TryParse([(byte)'{', 0xC0, (byte)'}'], "c.json", null, out _, out e));
        Assert.Equal("c.json:1:2: invalid UTF-8 (byte 0xC0); a policy file is UTF-8 text", e!.ToString());

        Assert.True(ProxyConfigLoader.TryParse([0xEF, 0xBB, 0xBF, .. "{\"upstreams\":[\"udp://10.0.0.1\"]}"u8], "c.json", null, out c, out e), e?.ToString());
    }

    [Fact]
    public void DocsExample_Loads()
    {
        string path = Path.Combine(PolicyLoaderTests.RepoRoot(), "docs", "policies", "proxy.json");
        Assert.True(ProxyConfigLoader.TryLoad(path, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        Assert.Equal(2, c!.Listen.Count);
        Assert.Equal(3, c.Upstreams.Count);
        Assert.All(c.Upstreams, u => Assert.NotNull(u.ConnectAddress));
        Assert.Equal(UpstreamStrategy.Failover, c.Strategy);
        Assert.True(c.Policy.Block.Matches("ads.example"));
        Assert.Null(c.PolicyPath);
        Assert.Empty(c.Validate());
    }

    [Fact]
    public void QueryLogFormat_IsJsonOrEcs()
    {
        Assert.True(ProxyConfigLoader.TryParse("{\"upstreams\":[\"udp://10.0.0.1\"],\"query_log\":{\"path\":\"-\",\"format\":\"ecs\"}}"u8.ToArray(), "c.json", null, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        Assert.Equal("ecs", c!.QueryLogFormat);
        Assert.Equal("json", new ProxyConfig().QueryLogFormat);
        Assert.False(ProxyConfigLoader.TryParse("{\"upstreams\":[\"udp://10.0.0.1\"],\"query_log\":{\"format\":\"cef\"}}"u8.ToArray(), "c.json", null, out _, out e));
        Assert.Contains("query_log.format", e!.ToString(), StringComparison.Ordinal);
        Assert.Contains("query_log.format: 'xml' is not valid (expected one of: json, ecs)", string.Join("; ", (new ProxyConfig { QueryLogFormat = "xml" }).Validate()), StringComparison.Ordinal);
    }

    [Fact]
    public void ResolverMdConfigurationExample_Loads()
    {
        string md = File.ReadAllText(Path.Combine(PolicyLoaderTests.RepoRoot(), "docs", "RESOLVER.md"));
        int section = md.IndexOf("## Configuration", StringComparison.Ordinal);
        Assert.True(section > 0);
        int start = md.IndexOf("```jsonc\n", section, StringComparison.Ordinal) + "```jsonc\n".Length;
        int end = md.IndexOf("```", start, StringComparison.Ordinal);
        Assert.True(start > section && end > start);
        Assert.True(ProxyConfigLoader.TryParse(Encoding.UTF8.GetBytes(md[start..end]), "RESOLVER.md", null, out ProxyConfig? c, out PolicyError? e), e?.ToString());
        Assert.NotEmpty(c!.Upstreams);
    }

    [Fact]
    public void Mutations_NeverThrow()
    {
        byte[] seed = Encoding.UTF8.GetBytes($$"""
            { "listen": ["127.0.0.1:53", "[::1]:53"],
              "upstreams": ["udp://10.0.0.1", "tls://dns.example@10.0.0.2:853",
                { "url": "https://dns.example@[fd00::3]/q", "server_name": "x.example", "pin_sha256": ["{{Pin}}"], "verify_certificate": true } ],
              "strategy": "race", "upstream_timeout": "2s",
              "cache": { "enabled": true, "max_entries": 10, "max_bytes": "16MiB", "max_ttl": "1d" },
              "ip_tracker": { "min_ttl": "0s", "max_ttl": "1h", "fixed_ttl": "5m", "max_addresses_per_name": 64 },
              "query_log": { "path": "-", "privacy": "full" }, "metrics": { "listen": "127.0.0.1:9153" },
              "tcp": { "max_connections": 8, "idle_timeout": "10s" },
              "policy": { "mode": "forward", "block": ["ads.example"], "local_records": [ { "name": "a.lan", "type": "A", "value": "10.0.0.9" } ] } }
            """);
        Assert.True(ProxyConfigLoader.TryParse(seed, "m.json", null, out _, out PolicyError? seedError), seedError?.ToString());

        var rng = new Random(5);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 4000; i++)
        {
            byte[] m = (byte[])seed.Clone();
            for (int f = rng.Next(1, 4); f > 0; f--)
            {
                m[rng.Next(m.Length)] = rng.Next(4) == 0 ? (byte)"{}[]\",:@/"[rng.Next(9)] : (byte)rng.Next(256);
            }

            if (rng.Next(3) == 0)
            {
                m = m.AsSpan(0, rng.Next(m.Length + 1)).ToArray();
            }

            bool ok = ProxyConfigLoader.TryParse(m, "m.json", null, out ProxyConfig? c, out PolicyError? e);
            Assert.Equal(ok, c is not null);
            Assert.Equal(ok, e is null);
            if (ok)
            {
                Assert.Empty(c!.Validate());
            }
            else
            {
                // A mutated policy path names another file, whose error names it.
                Assert.True(e!.File == "m.json" ? e.Line is >= 1 and <= 20 : e.Line == 0, e.ToString());
            }
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"4000 parses took {clock.Elapsed}");
    }

    [Fact]
    public void EveryPrefix_FailsCleanly()
    {
        byte[] seed = Encoding.UTF8.GetBytes("""{ "upstreams": ["tls://dns.example@10.0.0.2"], "policy": { "block": ["a.example"] }, "cache": { "max_bytes": "1MiB" } }""");
        for (int n = 0; n < seed.Length; n++)
        {
            Assert.False(ProxyConfigLoader.TryParse(seed.AsSpan(0, n), "p.json", null, out ProxyConfig? c, out PolicyError? e));
            Assert.Null(c);
            Assert.NotNull(e);
        }

        Assert.True(ProxyConfigLoader.TryParse(seed, "p.json", null, out _, out _));
    }
}
