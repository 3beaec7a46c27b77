using System.Buffers;
using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;

namespace DnsWarden.Leak.Tests.Events;

/// <summary>The ECS mapping of leak events and the summary (docs/ECS.md): every field where the table puts it, privacy as in JSON, nothing null.</summary>
public sealed class LeakEventEcsTests
{
    private static readonly BaseDomains s_domains = BaseDomains.Fallback;

    /// <summary>Every field of the model set, live attribution included.</summary>
    internal static LeakEvent Full() => Samples.LeakD() with
    {
        Process = Samples.LeakD().Process! with
        {
            Tid = 4243,
            Thread = "DNS Resolver #1",
            Gid = 1000,
            User = "alice",
            Cgroup = new CgroupInfo(77, "/system.slice/docker-abc.scope", "docker-abc.scope", new ContainerInfo("docker", "abc123", "pod-1")),
        },
        Attribution = new Attribution(Confidence.High, null) { Source = "bpf" },
        OnBehalfOf = new OnBehalfOf(new ProcessInfo(5000, "dig", "/usr/bin/dig", 0, "dig www.example.test", [new ProcessAncestor(100, "bash")]) { Tid = 5001, Thread = "isc-net-0000", User = "root" }, new Attribution(Confidence.High, null) { Source = "bpf" }, 3) { File = "caps/lo.pcapng" },
        Path = ["veth1", "br0", "wg0"],
        PathRouteClasses = ["virtual", "virtual", "tunnel"],
        File = "caps/leak-d.pcapng",
        Connection = Samples.LeakD().Connection! with { File = "caps/leak-d2.pcapng" },
    };

    internal static string Ecs(LeakEvent e)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, EcsJson.WriterOptions))
        {
            LeakEventEcs.Write(w, e, s_domains);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Json(LeakEvent e)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, LeakEventJson.WriterOptions))
        {
            LeakEventJson.Write(w, e);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static JsonElement At(JsonElement root, string dotted)
    {
        JsonElement e = root;
        foreach (string part in dotted.Split('.'))
        {
            Assert.True(e.ValueKind == JsonValueKind.Object && e.TryGetProperty(part, out e), $"{dotted} is missing in {root}");
        }

        return e;
    }

    private static bool Has(JsonElement root, string dotted)
    {
        JsonElement e = root;
        foreach (string part in dotted.Split('.'))
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e))
            {
                return false;
            }
        }

        return true;
    }

    private static string Str(JsonElement root, string dotted) => At(root, dotted).GetString()!;

    [Fact]
    public void FullyPopulated_EveryFieldLandsWhereTheTableSays()
    {
        LeakEvent e = Full();
        using JsonDocument doc = JsonDocument.Parse(Ecs(e));
        JsonElement r = doc.RootElement;

        Assert.Equal(LeakEventJson.FormatTime(e.Timestamp), Str(r, "@timestamp"));
        Assert.EndsWith("Z", Str(r, "@timestamp"), StringComparison.Ordinal);
        Assert.Equal(EcsJson.Version, Str(r, "ecs.version"));
        Assert.Equal("alert", Str(r, "event.kind"));
        Assert.Equal(["network"], At(r, "event.category").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(["protocol"], At(r, "event.type").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("leak-d", Str(r, "event.action"));
        Assert.Equal("dnsw.leak", Str(r, "event.dataset"));
        Assert.Equal("dnsw", Str(r, "event.module"));
        Assert.Equal(2, At(r, "event.severity").GetInt32());
        Assert.Equal(73, At(r, "event.risk_score").GetInt32());
        Assert.Equal("first reason", Str(r, "event.reason"));
        Assert.Equal("Leak-D", Str(r, "rule.name"));
        Assert.Equal("dnsw", Str(r, "rule.ruleset"));
        Assert.Equal("wg0", Str(r, "observer.ingress.interface.name"));

        Assert.Equal("10.1.2.3", Str(r, "source.address"));
        Assert.Equal("10.1.2.3", Str(r, "source.ip"));
        Assert.Equal(5353, At(r, "source.port").GetInt32());
        Assert.Equal("10.8.0.1", Str(r, "destination.address"));
        Assert.Equal("10.8.0.1", Str(r, "destination.ip"));
        Assert.Equal(53, At(r, "destination.port").GetInt32());
        Assert.Equal("DE", Str(r, "destination.geo.country_iso_code"));
        Assert.Equal("Germany", Str(r, "destination.geo.country_name"));
        Assert.Equal(64496, At(r, "destination.as.number").GetInt64());
        Assert.Equal("Example AS", Str(r, "destination.as.organization.name"));
        Assert.Equal("udp", Str(r, "network.transport"));
        Assert.Equal("dns", Str(r, "network.protocol"));
        Assert.Equal("ipv4", Str(r, "network.type"));

        Assert.Equal("query", Str(r, "dns.type"));
        Assert.Equal("a1.b.example.co.uk", Str(r, "dns.question.name"));
        Assert.Equal("AAAA", Str(r, "dns.question.type"));
        Assert.Equal("example.co.uk", Str(r, "dns.question.registered_domain"));
        Assert.Equal("www.example.org", Str(r, "tls.client.server_name"));

        Assert.Equal(4242, At(r, "process.pid").GetInt32());
        Assert.Equal("firefox", Str(r, "process.name"));
        Assert.Equal("/usr/lib/firefox/firefox", Str(r, "process.executable"));
        Assert.Equal("firefox --private \"x y\"", Str(r, "process.command_line"));
        Assert.Equal(100, At(r, "process.parent.pid").GetInt32());
        Assert.Equal("bash", Str(r, "process.parent.name"));
        Assert.Equal("1000", Str(r, "process.user.id"));
        Assert.Equal("alice", Str(r, "process.user.name"));
        Assert.Equal(4243, At(r, "process.thread.id").GetInt32());
        Assert.Equal("DNS Resolver #1", Str(r, "process.thread.name"));
        Assert.Equal("abc123", Str(r, "container.id"));
        Assert.Equal("docker", Str(r, "container.runtime"));
        Assert.Equal(["10.1.2.3", "10.8.0.1"], At(r, "related.ip").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("caps/leak-d.pcapng", Str(r, "log.file.path"));

        Assert.Equal("leak", Str(r, "dnsw.kind"));
        Assert.Equal("D", Str(r, "dnsw.leak_type"));
        Assert.Equal("P1", Str(r, "dnsw.severity"));
        Assert.Equal("udp53", Str(r, "dnsw.transport"));
        Assert.Equal("high", Str(r, "dnsw.confidence"));
        Assert.Equal("tunnel", Str(r, "dnsw.route_class"));
        Assert.Equal(e.Evidence, At(r, "dnsw.evidence").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(1234, At(r, "dnsw.frame").GetInt64());
        Assert.Equal("Google Public DNS", Str(r, "dnsw.provider"));
        Assert.Equal("q77", Str(r, "dnsw.correlation_id"));
        Assert.Equal(["veth1", "br0", "wg0"], At(r, "dnsw.path").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(["virtual", "virtual", "tunnel"], At(r, "dnsw.path_route_classes").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("high", Str(r, "dnsw.attribution.confidence"));
        Assert.Equal("bpf", Str(r, "dnsw.attribution.source"));
        Assert.False(Has(r, "dnsw.attribution.reason"));
        Assert.Equal(1000, At(r, "dnsw.process.gid").GetInt32());
        Assert.Equal([100, 1], At(r, "dnsw.process.parents").EnumerateArray().Select(x => x.GetProperty("pid").GetInt32()));
        Assert.Equal(77UL, At(r, "dnsw.process.cgroup.id").GetUInt64());
        Assert.Equal("/system.slice/docker-abc.scope", Str(r, "dnsw.process.cgroup.path"));
        Assert.Equal("docker-abc.scope", Str(r, "dnsw.process.cgroup.unit"));
        Assert.Equal("pod-1", Str(r, "dnsw.process.cgroup.pod"));
        Assert.Equal("tcp-syn", Str(r, "dnsw.connection.kind"));
        Assert.Equal("eth0", Str(r, "dnsw.connection.iface"));
        Assert.Equal("physical", Str(r, "dnsw.connection.route_class"));
        Assert.Equal("2001:db8::80", Str(r, "dnsw.connection.dst"));
        Assert.Equal(443, At(r, "dnsw.connection.dport").GetInt32());
        Assert.Equal("cdn.sub.example.net", Str(r, "dnsw.connection.server_name"));
        Assert.Equal(1240, At(r, "dnsw.connection.frame").GetInt64());
        Assert.Equal("caps/leak-d2.pcapng", Str(r, "dnsw.connection.file"));
        Assert.Equal("caps/lo.pcapng", Str(r, "dnsw.on_behalf_of.file"));
        Assert.Equal(5000, At(r, "dnsw.on_behalf_of.process.pid").GetInt32());
        Assert.Equal("dig", Str(r, "dnsw.on_behalf_of.process.name"));
        Assert.Equal("isc-net-0000", Str(r, "dnsw.on_behalf_of.process.thread.name"));
        Assert.Equal("bpf", Str(r, "dnsw.on_behalf_of.attribution.source"));
        Assert.Equal(3, At(r, "dnsw.on_behalf_of.frame").GetInt64());
    }

    [Fact]
    public void Exfiltration_IsAnAlertWithItsFiguresAndBaseDomain()
    {
        using JsonDocument doc = JsonDocument.Parse(Ecs(Samples.Exfiltration()));
        JsonElement r = doc.RootElement;
        Assert.Equal("alert", Str(r, "event.kind"));
        Assert.Equal("exfiltration", Str(r, "event.action"));
        Assert.Equal("exfiltration", Str(r, "rule.name"));
        Assert.Equal(3, At(r, "event.severity").GetInt32());
        Assert.Equal(47, At(r, "event.risk_score").GetInt32());
        Assert.Equal("example.com", Str(r, "dns.question.registered_domain"));
        Assert.Equal("2001:db8:1:2::5", Str(r, "source.ip"));
        Assert.Equal(40000, At(r, "source.port").GetInt32());
        Assert.Equal("2001:db8::53", Str(r, "destination.ip"));
        Assert.Equal("ipv6", Str(r, "network.type"));
        Assert.Equal(72, At(r, "dnsw.exfiltration.score").GetInt32());
        Assert.Equal(4.125, At(r, "dnsw.exfiltration.mean_entropy").GetDouble());
        Assert.Equal(12.5, At(r, "dnsw.exfiltration.window_seconds").GetDouble());
        Assert.False(Has(r, "dnsw.leak_type"));
        Assert.False(Has(r, "process"));
        Assert.False(Has(r, "tls"));
    }

    [Theory]
    [InlineData(Severity.P0, 1, 99)]
    [InlineData(Severity.P1, 2, 73)]
    [InlineData(Severity.P2, 3, 47)]
    [InlineData(Severity.P3, 4, 21)]
    public void Severity_MapsAsDocumented(Severity severity, int number, int risk)
    {
        using JsonDocument doc = JsonDocument.Parse(Ecs(Samples.LeakD() with { Severity = severity }));
        Assert.Equal(number, At(doc.RootElement, "event.severity").GetInt32());
        Assert.Equal(risk, At(doc.RootElement, "event.risk_score").GetInt32());
    }

    [Theory]
    [InlineData(PrivacyMode.Full)]
    [InlineData(PrivacyMode.Redacted)]
    [InlineData(PrivacyMode.Minimal)]
    public void Privacy_EcsKeepsExactlyWhatJsonKeeps(PrivacyMode mode)
    {
        foreach (LeakEvent raw in new[] { Full(), Samples.Exfiltration() })
        {
            LeakEvent e = new PrivacyFilter(mode, s_domains).Apply(raw);
            using JsonDocument ecsDoc = JsonDocument.Parse(Ecs(e));
            using JsonDocument jsonDoc = JsonDocument.Parse(Json(e));
            JsonElement ecs = ecsDoc.RootElement;
            JsonElement json = jsonDoc.RootElement;

            AssertSame(json, "qname", ecs, "dns.question.name");
            AssertSame(json, "src", ecs, "source.address");
            AssertSame(json, "server_name", ecs, "tls.client.server_name");
            AssertSame(json, "process.cmdline", ecs, "process.command_line");
            AssertSame(json, "process.exe", ecs, "process.executable");
            AssertSame(json, "geoip.country_name", ecs, "destination.geo.country_name");
            AssertSame(json, "geoip.as_org", ecs, "destination.as.organization.name");
            AssertSame(json, "connection.server_name", ecs, "dnsw.connection.server_name");
            AssertSame(json, "on_behalf_of.process.cmdline", ecs, "dnsw.on_behalf_of.process.command_line");

            string text = Ecs(e);
            if (mode == PrivacyMode.Minimal)
            {
                Assert.False(Has(ecs, "source"), text);
                Assert.False(Has(ecs, "process.user"), text);
                Assert.False(Has(ecs, "process.parent"), text);
                Assert.False(Has(ecs, "dnsw.process"), text);
                // Not derived from a name the mode removed; an exfiltration event's base domain is evidence and stays.
                Assert.Equal(raw.Exfiltration is null ? null : "example.com", Has(ecs, "dns.question.registered_domain") ? Str(ecs, "dns.question.registered_domain") : null);
                Assert.DoesNotContain("a1.b", text, StringComparison.Ordinal);
                Assert.DoesNotContain("10.1.2.3", text, StringComparison.Ordinal);
            }

            if (mode == PrivacyMode.Redacted)
            {
                Assert.False(Has(ecs, "source.ip"), text);
                Assert.False(Has(ecs, "source.port"), text);
                Assert.DoesNotContain("10.1.2.3", text, StringComparison.Ordinal);
                Assert.DoesNotContain("--private", text, StringComparison.Ordinal);
            }
        }
    }

    private static void AssertSame(JsonElement json, string jsonPath, JsonElement ecs, string ecsPath)
    {
        JsonElement j = json;
        bool present = true;
        foreach (string part in jsonPath.Split('.'))
        {
            if (j.ValueKind != JsonValueKind.Object || !j.TryGetProperty(part, out j) || j.ValueKind == JsonValueKind.Null)
            {
                present = false;
                break;
            }
        }

        Assert.Equal(present, Has(ecs, ecsPath));
        if (present)
        {
            Assert.Equal(j.GetString(), Str(ecs, ecsPath));
        }
    }

    [Fact]
    public void NoNulls_NoDottedKeys_OneLine()
    {
        foreach (PrivacyMode mode in Enum.GetValues<PrivacyMode>())
        {
            foreach (LeakEvent raw in new[] { Full(), Samples.Exfiltration(), Samples.LeakD() with { Process = null, GeoIp = null, ServerName = null, QName = null, QType = null, Source = null } })
            {
                string text = Ecs(new PrivacyFilter(mode, s_domains).Apply(raw));
                Assert.DoesNotContain('\n', text);
                using JsonDocument doc = JsonDocument.Parse(text);
                EcsAssert.Clean(doc.RootElement, "");
            }
        }
    }

    [Fact]
    public void EveryKey_IsAnEcsFieldOrUnderDnsw()
    {
        EcsSchema? schema = EcsSchema.TryGet(out string? missing);
        if (schema is null)
        {
            Assert.Skip(missing!);
        }

        foreach (PrivacyMode mode in Enum.GetValues<PrivacyMode>())
        {
            foreach (LeakEvent raw in new[] { Full(), Samples.Exfiltration() })
            {
                string text = Ecs(new PrivacyFilter(mode, s_domains).Apply(raw));
                using JsonDocument doc = JsonDocument.Parse(text);
                Assert.Empty(schema.Problems(doc.RootElement));
            }
        }

        using JsonDocument summary = JsonDocument.Parse(SummaryLine());
        Assert.Empty(schema.Problems(summary.RootElement));
    }

    [Fact]
    public void Oracle_RejectsWhatIsNotEcs()
    {
        // The oracle itself can fail: a made-up field, a wrong type and a value outside the allowed list are all caught.
        EcsSchema? schema = EcsSchema.TryGet(out string? missing);
        if (schema is null)
        {
            Assert.Skip(missing!);
        }

        Assert.True(schema.Count > 1000);
        using JsonDocument doc = JsonDocument.Parse("""{"source":{"interface":"eth0","port":"53"},"event":{"kind":"leak"},"dnsw":{"anything":1}}""");
        IReadOnlyList<string> problems = schema.Problems(doc.RootElement);
        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("source.interface:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("source.port:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("event.kind:", StringComparison.Ordinal));
    }

    private static string SummaryLine()
    {
        var summary = new LeakSummary();
        summary.Add(Full());
        summary.Add(Samples.Exfiltration());
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, EcsJson.WriterOptions))
        {
            // Live capture figures with send-time attribution on: the JSON summary writes its "reason" as null there.
            var capture = new CaptureTotals(10, 8, 1, 0, 0, new Dictionary<string, long> { ["dns:truncated"] = 1 }, [("eth0", 0, 0)]) { AttributionSource = "bpf", SendRecords = 4, SendRecordsLost = 0 };
            LeakSummaryEcs.Write(w, summary, "profile full-tunnel", "redacted", capture, Samples.Time.AddMinutes(1));
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void Summary_IsAMetricCarryingTheJsonSummary()
    {
        using JsonDocument doc = JsonDocument.Parse(SummaryLine());
        JsonElement r = doc.RootElement;
        Assert.Equal("metric", Str(r, "event.kind"));
        Assert.Equal("leak-summary", Str(r, "event.action"));
        Assert.Equal("dnsw.leak", Str(r, "event.dataset"));
        Assert.Equal(LeakEventJson.FormatTime(Samples.Time.AddMinutes(1)), Str(r, "@timestamp"));
        Assert.Equal(LeakEventJson.FormatTime(Samples.Time), Str(r, "event.start"));
        Assert.Equal(2, At(r, "dnsw.summary.events").GetInt32());
        Assert.Equal(1, At(r, "dnsw.summary.by_type.D").GetInt32());
        Assert.Equal(1, At(r, "dnsw.summary.by_type.exfiltration").GetInt32());
        Assert.Equal("profile full-tunnel", Str(r, "dnsw.summary.policy"));
        Assert.Equal(10, At(r, "dnsw.summary.frames").GetInt64());
        Assert.Equal("bpf", Str(r, "dnsw.summary.attribution.source"));
        Assert.False(Has(r, "dnsw.summary.attribution.reason"));
        EcsAssert.Clean(r, "");
    }

    [Theory]
    [InlineData("10.0.0.2:40112", "10.0.0.2", "10.0.0.2", 40112)]
    [InlineData("[fd00::2]:53", "fd00::2", "fd00::2", 53)]
    [InlineData("10.0.0.0/24", "10.0.0.0/24", null, null)]
    [InlineData("2001:db8:1::/48", "2001:db8:1::/48", null, null)]
    [InlineData("2001:db8::1", "2001:db8::1", "2001:db8::1", null)]
    [InlineData("not an address", "not an address", null, null)]
    public void Endpoint_SplitsIntoAddressIpPort(string text, string address, string? ip, int? port)
    {
        EcsEndpoint ep = EcsJson.ParseEndpoint(text);
        Assert.Equal(address, ep.Address);
        Assert.Equal(ip, ep.Ip?.ToString());
        Assert.Equal(port, ep.Port);
    }
}
