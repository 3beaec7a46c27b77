using System.Text.Json;

namespace DnsWarden.E2E;

/// <summary>
/// <c>dnsw leak status</c> inside a namespace the test builds, against iproute2's own JSON (<c>ip -j addr</c>,
/// <c>ip -j route show table all</c>, <c>ip -j rule</c>) run in the same namespace, and the resolv.conf written.
/// </summary>
public sealed class CliStatusTests
{

    private const string ResolvConfText =
        "# written by CliStatusTests\n" +
        "nameserver 198.51.100.53\n" +
        "nameserver 10.8.0.1\n" +
        "search corp.test\n" +
        "options timeout:2 attempts:1\n" +
        "bogus line\n";

    [Fact]
    public async Task Json_AgreesWithIproute2_AndTheResolvConf()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip", "dotnet");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await BuildAsync(net);

        CommandResult run = await net.ExecAsync(ns, DnswProgram.Program, [.. DnswProgram.Prefix, "leak", "status", "--format", "json", "--profile", "full-tunnel"], TimeSpan.FromSeconds(60));
        Assert.True(run.Succeeded, run.Describe());
        using JsonDocument doc = JsonDocument.Parse(run.StdOut);
        JsonElement status = doc.RootElement;
        Assert.Equal("status", status.GetProperty("event").GetString());

        // Interfaces and addresses against `ip -j addr`.
        JsonElement ipAddr = await IpJson(net, ns, "addr");
        JsonElement[] interfaces = [.. status.GetProperty("interfaces").EnumerateArray()];
        Assert.Equal(ipAddr.GetArrayLength(), interfaces.Length);
        foreach (JsonElement expected in ipAddr.EnumerateArray())
        {
            string name = expected.GetProperty("ifname").GetString()!;
            JsonElement actual = Assert.Single(interfaces, i => i.GetProperty("name").GetString() == name);
            Assert.Equal(expected.GetProperty("ifindex").GetInt32(), actual.GetProperty("index").GetInt32());
            Assert.Equal(expected.GetProperty("mtu").GetInt32(), actual.GetProperty("mtu").GetInt32());
            Assert.Equal(expected.GetProperty("operstate").GetString(), actual.GetProperty("operstate").GetString());
            bool up = expected.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "UP");
            Assert.Equal(up ? "up" : "down", actual.GetProperty("state").GetString());
            Assert.Equal(
                expected.GetProperty("addr_info").EnumerateArray().Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}").Order(),
                actual.GetProperty("addresses").EnumerateArray().Select(a => $"{a.GetProperty("address").GetString()}/{a.GetProperty("prefix").GetInt32()}").Order());
        }

        JsonElement eth0 = Single(interfaces, "eth0");
        JsonElement wg0 = Single(interfaces, "wg0");
        Assert.Equal("veth", eth0.GetProperty("kind").GetString());
        Assert.Equal("physical", eth0.GetProperty("route_class").GetString());
        Assert.Equal("leak-a", eth0.GetProperty("dns_verdict").GetString());
        Assert.StartsWith("DNS on eth0 would be Leak-A under full-tunnel", eth0.GetProperty("verdict").GetString(), StringComparison.Ordinal);
        Assert.Equal("tunnel", wg0.GetProperty("route_class").GetString());
        Assert.Equal("safe", wg0.GetProperty("dns_verdict").GetString());
        Assert.Equal("loopback", Single(interfaces, "lo").GetProperty("route_class").GetString());

        // Routes of every table against `ip -j -4/-6 route show table all`.
        var expectedRoutes = new List<string>();
        foreach (string family in new[] { "-4", "-6" })
        {
            foreach (JsonElement r in (await IpJson(net, ns, family, "route", "show", "table", "all")).EnumerateArray())
            {
                expectedRoutes.Add(RouteKey(
                    r.TryGetProperty("table", out JsonElement t) ? t.GetString()! : "main",
                    r.GetProperty("dst").GetString()!,
                    Str(r, "gateway"),
                    Str(r, "dev"),
                    r.TryGetProperty("metric", out JsonElement m) ? m.GetInt64() : null,
                    Str(r, "type") ?? "unicast",

                    // iproute2 leaves out the defaults: type unicast, protocol boot.
                    Str(r, "protocol") ?? "boot"));
            }
        }

        JsonElement[] routes = [.. status.GetProperty("routes").EnumerateArray()];
        List<string> actualRoutes = [.. routes.Select(r => RouteKey(
            r.GetProperty("table").GetString()!,
            r.GetProperty("dst").GetString()!,
            Str(r, "gateway"),
            Str(r, "dev"),
            r.GetProperty("metric").ValueKind == JsonValueKind.Null ? null : r.GetProperty("metric").GetInt64(),
            r.GetProperty("type").GetString()!,
            r.GetProperty("protocol").GetString()))];
        Assert.Equal(expectedRoutes.Order(), actualRoutes.Order());
        Assert.Contains("main|default|198.51.100.1|eth0", actualRoutes.Select(k => string.Join('|', k.Split('|')[..4])));
        Assert.Contains("100|10.0.0.0/8||eth0", actualRoutes.Select(k => string.Join('|', k.Split('|')[..4])));
        Assert.All(routes, r => Assert.Equal(r.GetProperty("dst").GetString() == "default", r.GetProperty("default").GetBoolean()));

        // Rules against `ip -j rule` (IPv4) and `ip -j -6 rule`.
        var expectedRules = new List<string>();
        foreach (string family in new[] { "-4", "-6" })
        {
            foreach (JsonElement r in (await IpJson(net, ns, family, "rule")).EnumerateArray())
            {
                expectedRules.Add($"{(family == "-4" ? "inet" : "inet6")}|{r.GetProperty("priority").GetInt64()}|{r.GetProperty("src").GetString()}|{Str(r, "fwmark")}|{Str(r, "table")}");
            }
        }

        List<string> actualRules = [.. status.GetProperty("rules").EnumerateArray().Select(r =>
            $"{r.GetProperty("family").GetString()}|{r.GetProperty("priority").GetInt64()}|{r.GetProperty("from").GetString()}|{Str(r, "fwmark")}|{r.GetProperty("table").GetString()}")];
        Assert.Equal(expectedRules.Order(), actualRules.Order());
        Assert.Contains(actualRules, r => r.StartsWith("inet|", StringComparison.Ordinal) && r.EndsWith("|all|0x1|100", StringComparison.Ordinal));

        // The resolv.conf written, line by line, and what each nameserver's route means.
        JsonElement conf = status.GetProperty("dns").GetProperty("resolv_conf");
        Assert.Equal("/etc/resolv.conf", conf.GetProperty("path").GetString());
        JsonElement[] servers = [.. conf.GetProperty("nameservers").EnumerateArray()];
        Assert.Equal(["198.51.100.53", "10.8.0.1"], servers.Select(s => s.GetProperty("address").GetString()));
        Assert.Equal([2, 3], servers.Select(s => s.GetProperty("line").GetInt32()));
        Assert.Equal(["corp.test"], conf.GetProperty("search").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(["timeout:2", "attempts:1"], conf.GetProperty("options").EnumerateArray().Select(s => s.GetString()));
        JsonElement problem = Assert.Single(conf.GetProperty("problems").EnumerateArray());
        Assert.Equal(6, problem.GetProperty("line").GetInt32());
        Assert.False(conf.GetProperty("systemd_stub").GetBoolean());

        Assert.Equal("eth0", servers[0].GetProperty("route").GetProperty("dev").GetString());
        Assert.Equal("198.51.100.0/24", servers[0].GetProperty("route").GetProperty("dst").GetString());
        Assert.Equal("leak-a", servers[0].GetProperty("dns_verdict").GetString());
        Assert.Equal("wg0", servers[1].GetProperty("route").GetProperty("dev").GetString());
        Assert.Equal("tunnel", servers[1].GetProperty("route").GetProperty("route_class").GetString());
        Assert.Equal("safe", servers[1].GetProperty("dns_verdict").GetString());

        JsonElement policy = status.GetProperty("policy");
        Assert.Equal("full-tunnel", policy.GetProperty("profile").GetString());
        Assert.Equal(["loopback", "tunnel"], policy.GetProperty("safe_route_classes").EnumerateArray().Select(s => s.GetString()));
        Assert.True(policy.GetProperty("encrypted_dns").GetProperty("endpoint_hosts").GetInt32() > 0);
    }

    [Fact]
    public async Task UnderSplit_TheVerdictsAreTheDetectorsOwn_NoLeakAForOrdinaryNames()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip", "dotnet");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await BuildAsync(net);

        async Task<JsonElement> Status(params string[] flags)
        {
            CommandResult run = await net.ExecAsync(ns, DnswProgram.Program, [.. DnswProgram.Prefix, "leak", "status", "--format", "json", "--profile", "split", .. flags], TimeSpan.FromSeconds(60));
            Assert.True(run.Succeeded, run.Describe());
            using JsonDocument doc = JsonDocument.Parse(run.StdOut);
            return doc.RootElement.Clone();
        }

        // No name proxy-required: the detector raises nothing for DNS on eth0, and status says it is direct.
        JsonElement plain = await Status();
        JsonElement eth0 = Single([.. plain.GetProperty("interfaces").EnumerateArray()], "eth0");
        Assert.Equal("direct", eth0.GetProperty("dns_verdict").GetString());
        Assert.DoesNotContain("Leak-A", eth0.GetProperty("verdict").GetString(), StringComparison.Ordinal);
        JsonElement server = plain.GetProperty("dns").GetProperty("resolv_conf").GetProperty("nameservers")[0];
        Assert.Equal("direct", server.GetProperty("dns_verdict").GetString());
        Assert.Equal("safe", Single([.. plain.GetProperty("interfaces").EnumerateArray()], "wg0").GetProperty("dns_verdict").GetString());

        // A proxy-required suffix: those names on eth0 would be Leak-B, the others still direct.
        JsonElement corp = await Status("--proxy-domain", "corp.example");
        JsonElement eth0Corp = Single([.. corp.GetProperty("interfaces").EnumerateArray()], "eth0");
        Assert.Equal("leak-b", eth0Corp.GetProperty("dns_verdict").GetString());
        Assert.Contains("names under corp.example would be Leak-B", eth0Corp.GetProperty("verdict").GetString(), StringComparison.Ordinal);
        Assert.Equal("leak-b", corp.GetProperty("dns").GetProperty("resolv_conf").GetProperty("nameservers")[0].GetProperty("dns_verdict").GetString());
    }

    [Fact]
    public async Task Human_ShowsEveryTable_AndTheVerdicts()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip", "dotnet");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await BuildAsync(net);

        CommandResult run = await net.ExecAsync(
            ns, DnswProgram.Program, [.. DnswProgram.Prefix, "leak", "status", "--profile", "proxy-stub", "--safe-resolver", "10.8.0.1"], TimeSpan.FromSeconds(60));
        Assert.True(run.Succeeded, run.Describe());
        foreach (string title in new[] { "interfaces", "routes (* default)", "policy routing rules", "/etc/resolv.conf", "active policy" })
        {
            Assert.Contains(title, run.StdOut, StringComparison.Ordinal);
        }

        Assert.Contains("DNS on eth0 would be Leak-A under proxy-stub", run.StdOut, StringComparison.Ordinal);
        Assert.Contains("10.8.0.1 is a safe resolver", run.StdOut, StringComparison.Ordinal);
        Assert.Contains("198.51.100.53 is reached via eth0 (physical)", run.StdOut, StringComparison.Ordinal);
        Assert.Contains("fwmark 0x1", run.StdOut, StringComparison.Ordinal);
        Assert.Contains("/etc/resolv.conf:line 6: unknown keyword 'bogus'", run.StdOut, StringComparison.Ordinal);
    }

    /// <summary>A client namespace with a veth named eth0 (v4 + v6, default route), a veth named wg0, table 100 with an fwmark rule, and a resolv.conf.</summary>
    private static async Task<string> BuildAsync(TestNet net)
    {
        string client = await net.AddNamespaceAsync("status");
        string peer = await net.AddNamespaceAsync("peer");
        await net.AddVethAsync(peer, client, interfaceB: "eth0");
        await net.AddVethAsync(peer, client, interfaceB: "wg0");
        await net.AddAddressAsync(client, "eth0", "198.51.100.2/24");
        await net.AddAddressAsync(client, "eth0", "2001:db8:100::2/64");
        await net.AddAddressAsync(client, "wg0", "10.8.0.2/24");
        await net.AddRouteAsync(client, "default", via: "198.51.100.1", device: "eth0");
        (await net.ExecAsync(client, "ip", ["route", "add", "10.0.0.0/8", "dev", "eth0", "table", "100"])).EnsureSuccess();
        (await net.ExecAsync(client, "ip", ["rule", "add", "fwmark", "0x1", "table", "100"])).EnsureSuccess();
        await net.SetResolvConfAsync(client, ["198.51.100.53"]);
        await File.WriteAllTextAsync(Path.Combine("/etc/netns", client, "resolv.conf"), ResolvConfText);

        // Link-local addresses finish duplicate address detection before the snapshot, so dnsw and ip see one state.
        await net.WaitForAddressesAsync(client);

        return client;
    }

    private static async Task<JsonElement> IpJson(TestNet net, string ns, params string[] args)
    {
        CommandResult r = (await net.ExecAsync(ns, "ip", ["-j", .. args])).EnsureSuccess();
        using JsonDocument doc = JsonDocument.Parse(r.StdOut);
        return doc.RootElement.Clone();
    }

    private static string RouteKey(string table, string dst, string? gateway, string? dev, long? metric, string type, string? protocol) =>
        $"{table}|{dst}|{gateway}|{dev}|{metric}|{type}|{protocol}";

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonElement Single(JsonElement[] interfaces, string name) =>
        Assert.Single(interfaces, i => i.GetProperty("name").GetString() == name);
}
