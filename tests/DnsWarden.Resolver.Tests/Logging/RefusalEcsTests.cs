using System.Text;
using System.Text.Json;
using DnsWarden.Guard;
using DnsWarden.Guard.Tun;
using DnsWarden.Resolver.Logging;
using DnsWarden.Wire.Ip;
using DnsWarden.Leak.Tests.Events;

namespace DnsWarden.Resolver.Tests.Logging;

/// <summary>The jail's and the TUN filter's refusals at the end of their query log in ECS (docs/ECS.md).</summary>
public sealed class RefusalEcsTests
{
    private static List<JsonElement> Parse(MemoryStream target) =>
        [.. Encoding.UTF8.GetString(target.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static List<JsonElement> Lines(params (DateTimeOffset Ts, string Kind, string Protocol, string Dst, int Port, string? Src)[] attempts)
    {
        var target = new MemoryStream();
        foreach (var a in attempts)
        {
            RefusalText.WriteLine(QueryLogFormat.Ecs, target, a.Ts, a.Kind, a.Protocol, a.Dst, a.Port, a.Src);
        }

        return Parse(target);
    }

    [Fact]
    public void TunRefusals_InTheQueryLogFormat()
    {
        var refusals = new TunRefusals();
        var packet = new RefusedPacket(RefusedKind.Unresolved, IpProtocol.Tcp, IpAddr.Parse("203.0.113.9"), 80);
        refusals.Record(packet);
        refusals.Record(packet);
        var ecs = new MemoryStream();
        refusals.WriteJsonLines(ecs, QueryLogFormat.Ecs);
        JsonElement line = Assert.Single(Parse(ecs));
        Assert.Equal("blocked_connection", line.GetProperty("event").GetProperty("action").GetString());
        Assert.Equal("203.0.113.9", line.GetProperty("destination").GetProperty("ip").GetString());
        Assert.Equal(80, line.GetProperty("destination").GetProperty("port").GetInt32());
        Assert.Equal(2, line.GetProperty("dnsw").GetProperty("count").GetInt64());
        var json = new MemoryStream();
        refusals.WriteJsonLines(json);
        JsonElement plain = Assert.Single(Parse(json));
        Assert.Equal("blocked_connection", plain.GetProperty("event").GetString());
        Assert.Equal(plain.GetProperty("ts").GetString(), line.GetProperty("@timestamp").GetString());
        Assert.Equal(plain.GetProperty("kind").GetString(), line.GetProperty("event").GetProperty("reason").GetString());
    }

    [Fact]
    public void Refusals_AreDeniedConnections_WithTheRuleAsReason()
    {
        DateTimeOffset t = new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero).AddTicks(12_345_670);
        List<JsonElement> lines = Lines((t, "dot", "tcp", "203.0.113.53", 853, null), (t, "inbound", "tcp", "fd00::2", 22, "fd00::9"));
        Assert.Equal(2, lines.Count);
        JsonElement dot = lines[0];
        Assert.Equal("2026-12-06T10:00:01.234567Z", dot.GetProperty("@timestamp").GetString());
        Assert.Equal("blocked_connection", dot.GetProperty("event").GetProperty("action").GetString());
        Assert.Equal(["connection", "denied"], dot.GetProperty("event").GetProperty("type").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("dnsw.refusal", dot.GetProperty("event").GetProperty("dataset").GetString());
        Assert.Equal("dot", dot.GetProperty("event").GetProperty("reason").GetString());
        Assert.Equal("203.0.113.53", dot.GetProperty("destination").GetProperty("ip").GetString());
        Assert.Equal(853, dot.GetProperty("destination").GetProperty("port").GetInt32());
        Assert.Equal("tcp", dot.GetProperty("network").GetProperty("transport").GetString());
        Assert.False(dot.TryGetProperty("source", out _));
        JsonElement inbound = lines[1];
        Assert.Equal("fd00::9", inbound.GetProperty("source").GetProperty("ip").GetString());
        Assert.Equal("ipv6", inbound.GetProperty("network").GetProperty("type").GetString());

        EcsSchema? schema = EcsSchema.TryGet(out string? missing);
        if (schema is null)
        {
            Assert.Skip(missing!);
        }

        Assert.All(lines, l => Assert.Empty(schema.Problems(l)));
        Assert.All(lines, l => EcsAssert.Clean(l, ""));
    }
}
