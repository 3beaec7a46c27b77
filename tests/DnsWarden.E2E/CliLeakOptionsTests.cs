using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using DnsWarden.Capture.Files;
using DnsWarden.Leak.Tests.GeoIp;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.E2E;

/// <summary>
/// <c>dnsw leak watch</c> and <c>leak report</c> options a user reaches for, on small captures written here (the
/// public addresses below exist only as bytes in these files): GeoIP databases, interface naming for classic
/// pcap and Linux "any" captures, policy files good and broken, and damaged events files.
/// </summary>
public sealed class CliLeakOptionsTests : IDisposable
{
    private static readonly IpAddr s_client = IpAddr.Parse("192.168.1.20");
    private const long T0 = 1_767_225_600_000_000_000L; // 2026-01-01T00:00:00Z

    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-cli-opts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task GeoIp_FromTheUsersDatabases_IsOnTheEvent()
    {
        string country = Save("country.mmdb", new MmdbWriter(6, 24, "GeoLite2-Country").Add("8.8.8.0/24", MmdbWriter.CountryRecord("US", "United States")).Build());
        string asn = Save("asn.mmdb", new MmdbWriter(6, 28, "GeoLite2-ASN").Add("8.8.0.0/16", MmdbWriter.AsnRecord(15169, "GOOGLE")).Build());
        string pcap = PcapNg(("eth0", LinkType.Raw, [Udp(s_client, IpAddr.Parse("8.8.8.8"), 40000, 53, Query("a.example.com", 1))]));

        (int exit, List<JsonElement> events, _) = await Watch(["--pcap", pcap, "--profile", "full-tunnel", "--geoip", country, "--geoip", asn]);

        Assert.Equal(2, exit);
        JsonElement e = Assert.Single(events);
        JsonElement geo = e.GetProperty("geoip");
        Assert.Equal("US", geo.GetProperty("country").GetString());
        Assert.Equal("United States", geo.GetProperty("country_name").GetString());
        Assert.Equal(15169, geo.GetProperty("asn").GetInt64());
        Assert.Equal("GOOGLE", geo.GetProperty("as_org").GetString());
        Assert.Equal("Google Public DNS", e.GetProperty("provider").GetString());
    }

    [Fact]
    public async Task ABrokenGeoIpDatabase_IsAnInputError_NamingTheFile()
    {
        string bad = Save("bad.mmdb", "not a maxmind database"u8.ToArray());
        string pcap = PcapNg(("eth0", LinkType.Raw, [Udp(s_client, IpAddr.Parse("8.8.8.8"), 40000, 53, Query("a.example.com", 1))]));

        CommandResult run = await Dnsw(["leak", "watch", "--pcap", pcap, "--geoip", bad]);

        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains(bad, run.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.StdOut + run.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyCapture_InterfaceIndexes_AreNamedByIfaceIndex()
    {
        // Linux "any" (SLL2) frames carry the interface index: 2 is the card, 3 the tunnel.
        string path = Path.Combine(_dir, "any.pcap");
        using (var writer = new PcapWriter(File.Create(path), LinkType.LinuxSll2))
        {
            writer.WritePacket(T0, Sll2(2, Udp(s_client, IpAddr.Parse("198.51.100.53"), 40000, 53, Query("leaked.example.com", 1))));
            writer.WritePacket(T0 + 1_000_000, Sll2(3, Udp(IpAddr.Parse("10.8.0.2"), IpAddr.Parse("10.8.0.1"), 40001, 53, Query("tunnelled.example.com", 2))));
        }

        (int exit, List<JsonElement> events, _) = await Watch(["--pcap", path, "--profile", "full-tunnel", "--iface-index", "2=eth0", "--iface-index", "3=wg0"]);

        Assert.Equal(2, exit);
        JsonElement e = Assert.Single(events);
        Assert.Equal("eth0", e.GetProperty("iface").GetString());
        Assert.Equal("leaked.example.com", e.GetProperty("qname").GetString());

        // Unmapped, the same file has no interface names to judge by: the route class says so.
        (_, List<JsonElement> unnamed, _) = await Watch(["--pcap", path, "--profile", "full-tunnel"]);
        Assert.All(unnamed, x => Assert.Equal("unknown", x.GetProperty("route_class").GetString()));
    }

    [Fact]
    public async Task ClassicPcap_TakesItsInterfaceNameFromIface()
    {
        string path = Path.Combine(_dir, "classic.pcap");
        using (var writer = new PcapWriter(File.Create(path), LinkType.Raw))
        {
            writer.WritePacket(T0, Udp(s_client, IpAddr.Parse("198.51.100.53"), 40000, 53, Query("a.example.com", 1)));
        }

        (int exit, List<JsonElement> events, _) = await Watch(["--pcap", path, "--profile", "full-tunnel", "--iface", "wlan0"]);

        Assert.Equal(2, exit);
        JsonElement e = Assert.Single(events);
        Assert.Equal("wlan0", e.GetProperty("iface").GetString());
        Assert.Equal("physical", e.GetProperty("route_class").GetString());
    }

    [Fact]
    public async Task PolicyFile_SplitWithAProxyDomain_GivesLeakB()
    {
        string policy = Save("split.json", """
            {
              // a split tunnel: work names must stay in the tunnel
              "profile": "split",
              "split": { "proxy_domains": ["corp.example"] },
            }
            """u8.ToArray());
        string pcap = PcapNg(("eth0", LinkType.Raw,
        [
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40000, 53, Query("git.corp.example", 1)),
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40001, 53, Query("news.example.org", 2)),
        ]));

        (int exit, List<JsonElement> events, JsonElement summary) = await Watch(["--pcap", pcap, "--policy", policy]);

        Assert.Equal(2, exit);
        JsonElement e = Assert.Single(events);
        Assert.Equal("B", e.GetProperty("leak_type").GetString());
        Assert.Equal("P0", e.GetProperty("severity").GetString());
        Assert.Equal(policy, summary.GetProperty("policy").GetString());
    }

    [Fact]
    public async Task BrokenPolicyFile_IsAnInputError_WithFileLineAndColumn()
    {
        string policy = Save("broken.json", "{\n  \"profile\": \"split\",\n  \"safe_interface\": [\"wg0\"]\n}\n"u8.ToArray());
        string pcap = PcapNg(("eth0", LinkType.Raw, [Udp(s_client, IpAddr.Parse("198.51.100.53"), 40000, 53, Query("a.example.com", 1))]));

        CommandResult run = await Dnsw(["leak", "watch", "--pcap", pcap, "--policy", policy]);

        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains($"{policy}:3:3: unknown key 'safe_interface'", run.StdErr, StringComparison.Ordinal);
        Assert.Contains("safe_interfaces", run.StdErr, StringComparison.Ordinal);
        Assert.Empty(run.StdOut.Trim());
    }

    [Fact]
    public async Task Report_OfADamagedEventsFile_NamesTheBadLines_AndSummarisesTheRest()
    {
        string pcap = PcapNg(("eth0", LinkType.Raw,
        [
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40000, 53, Query("a.example.com", 1)),
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40001, 53, Query("b.example.com", 2)),
        ]));
        string events = Path.Combine(_dir, "events.jsonl");
        CommandResult watch = await Dnsw(["leak", "watch", "--pcap", pcap, "--profile", "full-tunnel", "--out", events]);
        Assert.True(watch.ExitCode == 2, watch.Describe());

        string[] lines = await File.ReadAllLinesAsync(events);
        Assert.Equal(3, lines.Length); // two events, the summary
        await File.WriteAllLinesAsync(events, [lines[0], "{\"kind\":\"leak\",\"timestamp\":", "[1,2]", lines[1], lines[2]]);

        CommandResult report = await Dnsw(["leak", "report", events, "--format", "json"]);

        Assert.True(report.ExitCode == 3, report.Describe());
        Assert.Contains($"{events}:2: not JSON", report.StdErr, StringComparison.Ordinal);
        Assert.Contains($"{events}:3: expected a JSON object", report.StdErr, StringComparison.Ordinal);
        JsonElement summary = JsonDocument.Parse(report.StdOut).RootElement;
        Assert.Equal(2, summary.GetProperty("events").GetInt32());
        Assert.Equal(2, summary.GetProperty("by_type").GetProperty("A").GetInt32());

        CommandResult missing = await Dnsw(["leak", "report", Path.Combine(_dir, "nope.jsonl")]);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.DoesNotContain("Exception", missing.StdOut + missing.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Report_ListsAndFilters_ByType_Process_AndTime()
    {
        string pcap = PcapNg(("eth0", LinkType.Raw,
        [
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40000, 53, Query("a.example.com", 1)),
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40001, 53, Query("b.example.com", 1)),
            Udp(s_client, IpAddr.Parse("198.51.100.53"), 40002, 53, Query("c.example.com", 1)),
        ]));
        string events = Path.Combine(_dir, "events.jsonl");
        CommandResult watch = await Dnsw(["leak", "watch", "--pcap", pcap, "--profile", "full-tunnel", "--privacy", "full", "--out", events]);
        Assert.True(watch.ExitCode == 2, watch.Describe());

        // A capture file names no process: the first event is given a sender, the second a stub with the asker behind it.
        string[] lines = await File.ReadAllLinesAsync(events);
        Assert.Equal(4, lines.Length);
        JsonNode first = JsonNode.Parse(lines[0])!;
        first["process"] = JsonNode.Parse("""{"pid":4242,"name":"dig","exe":null,"uid":0,"cmdline":null,"parents":[]}""");
        JsonNode second = JsonNode.Parse(lines[1])!;
        second["process"] = JsonNode.Parse("""{"pid":881,"name":"dnsmasq","exe":null,"uid":0,"cmdline":null,"parents":[]}""");
        second["on_behalf_of"] = JsonNode.Parse("""{"process":{"pid":4343,"name":"curl","exe":null,"uid":0,"cmdline":null,"parents":[]},"attribution":{"confidence":"high","reason":null,"source":"bpf"},"frame":1}""");
        await File.WriteAllLinesAsync(events, [first.ToJsonString(), second.ToJsonString(), lines[2], lines[3]]);

        Assert.Equal(["a.example.com"], await ListedNames(events, "--process", "dig"));
        Assert.Equal(["b.example.com"], await ListedNames(events, "--process", "4343"));
        Assert.Equal(["c.example.com"], await ListedNames(events, "--process", "unattributed"));
        Assert.Equal(["a.example.com", "c.example.com"], await ListedNames(events, "--process", "dig", "--process", "unattributed"));
        Assert.Empty(await ListedNames(events, "--type", "C"));
        Assert.Equal(["a.example.com", "b.example.com", "c.example.com"], await ListedNames(events, "--type", "A"));
        Assert.Equal(["b.example.com"], await ListedNames(events, "--since", "2026-01-01T00:00:00.0015Z", "--until", "2026-01-01T00:00:00.0025Z"));

        CommandResult human = await Dnsw(["leak", "report", events, "--list"]);
        Assert.True(human.ExitCode == 2, human.Describe());
        string[] listed = human.StdOut.Split('\n').Where(l => l.Contains("example.com", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, listed.Length);
        Assert.EndsWith("dig[4242]", listed[0].TrimEnd(), StringComparison.Ordinal);
        Assert.EndsWith("dnsmasq[881] for curl[4343]", listed[1].TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("(no process: capture file: no socket to ask)", listed[2], StringComparison.Ordinal);

        CommandResult badTime = await Dnsw(["leak", "report", events, "--since", "yesterday"]);
        Assert.True(badTime.ExitCode == 1, badTime.Describe());
        Assert.Contains("--since: 'yesterday' is not a time", badTime.StdErr, StringComparison.Ordinal);
    }

    /// <summary>The query names of the events <c>leak report --list --format json</c> keeps under the given filters.</summary>
    [Fact]
    public async Task HumanOutput_IntoAPipe_IsNotWrapped_AndColumnsIsHonoured()
    {
        // A resolver with a long IPv6 address: at 80 columns the table cell it sits in was split across lines.
        const string resolver = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff";
        string pcap = PcapNg(("eth0", LinkType.Raw,
            [Udp(IpAddr.Parse("2001:db8::20"), IpAddr.Parse(resolver), 40000, 53, Query("a-rather-long-label-for-a-column.example.com", 1))]));
        string events = Path.Combine(_dir, "events.jsonl");
        CommandResult watch = await Dnsw(["leak", "watch", "--pcap", pcap, "--profile", "full-tunnel", "--out", events]);
        Assert.True(watch.ExitCode == 2, watch.Describe());

        CommandResult piped = await Dnsw(["leak", "report", events, "--list"]);
        CommandResult narrow = await ProcessRunner.RunAsync("env", ["COLUMNS=40", DnswProgram.Program, .. DnswProgram.Prefix, "leak", "report", events, "--list"]);

        Assert.True(piped.ExitCode == 2 && narrow.ExitCode == 2, piped.Describe() + "\n" + narrow.Describe());
        Assert.True(piped.StdOut.Split('\n').Any(l => l.Contains($"[{resolver}]:53", StringComparison.Ordinal) && l.Contains("*.example.com A", StringComparison.Ordinal)), piped.StdOut);
        Assert.True(narrow.StdOut.Split('\n').Length > piped.StdOut.Split('\n').Length, narrow.StdOut);
    }

    private static async Task<List<string>> ListedNames(string events, params string[] filters)
    {
        CommandResult run = await Dnsw(["leak", "report", events, "--list", "--format", "json", .. filters]);
        Assert.True(run.ExitCode is 0 or 2, run.Describe());
        List<JsonElement> lines = [.. run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.Equal("summary", lines[^1].GetProperty("event").GetString());
        Assert.Equal(lines.Count - 1, lines[^1].GetProperty("events").GetInt32());
        return [.. lines[..^1].Select(e => e.GetProperty("qname").GetString()!)];
    }

    private async Task<(int Exit, List<JsonElement> Events, JsonElement Summary)> Watch(string[] args)
    {
        CommandResult run = await Dnsw(["leak", "watch", "--format", "json", "--privacy", "full", .. args]);
        Assert.True(run.ExitCode is 0 or 2, run.Describe());
        List<JsonElement> lines = [.. run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.Equal("summary", lines[^1].GetProperty("event").GetString());
        return (run.ExitCode, lines[..^1], lines[^1]);
    }

    private static Task<CommandResult> Dnsw(string[] args) =>
        ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(60));

    private string Save(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string PcapNg(params (string Name, LinkType Link, byte[][] Packets)[] interfaces)
    {
        string path = Path.Combine(_dir, $"capture-{Guid.NewGuid():N}.pcapng");
        using var writer = new PcapNgWriter(File.Create(path));
        long t = T0;
        foreach ((string name, LinkType link, byte[][] packets) in interfaces)
        {
            int id = writer.AddInterface(link, name);
            foreach (byte[] p in packets)
            {
                writer.WritePacket(id, t += 1_000_000, p);
            }
        }

        return path;
    }

    /// <summary>A Linux cooked v2 header (pcap-linktype(7), LINKTYPE_LINUX_SLL2) around an IPv4 packet.</summary>
    private static byte[] Sll2(int interfaceIndex, byte[] ipPacket)
    {
        byte[] frame = new byte[20 + ipPacket.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, 0x0800);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), interfaceIndex);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(8), 1); // ARPHRD_ETHER
        frame[10] = 4; // PACKET_OUTGOING
        frame[11] = 6;
        ipPacket.CopyTo(frame, 20);
        return frame;
    }

    private static byte[] Query(string name, ushort id)
    {
        byte[] buffer = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buffer, id, name, DnsType.A, true, null, out int n));
        return buffer[..n];
    }

    private static byte[] Udp(IpAddr src, IpAddr dst, ushort sport, ushort dport, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 64];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, src, dst, sport, dport, payload, out int n));
        return buffer[..n];
    }
}
