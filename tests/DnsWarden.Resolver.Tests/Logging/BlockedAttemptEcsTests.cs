using System.Text;
using System.Text.Json;
using DnsWarden.Guard.Jail;
using DnsWarden.Leak.Tests.Events;

namespace DnsWarden.Resolver.Tests.Logging;

/// <summary>The jail's refusals at the end of <c>--out</c> in ECS (docs/ECS.md).</summary>
public sealed class BlockedAttemptEcsTests
{
    private static List<JsonElement> Lines(params BlockedAttempt[] attempts)
    {
        var target = new MemoryStream();
        BlockedAttemptEcs.WriteLines(attempts, target);
        return [.. Encoding.UTF8.GetString(target.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }

    [Fact]
    public void Refusals_AreDeniedConnections_WithTheRuleAsReason()
    {
        DateTimeOffset t = new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero).AddTicks(12_345_670);
        List<JsonElement> lines = Lines(
            new BlockedAttempt(t, "dot", "tcp", "203.0.113.53", 853),
            new BlockedAttempt(t, "inbound", "tcp", "fd00::2", 22) { Source = "fd00::9" });
        Assert.Equal(2, lines.Count);
        JsonElement dot = lines[0];
        Assert.Equal("2026-12-06T10:00:01.234567Z", dot.GetProperty("@timestamp").GetString());
        Assert.Equal("blocked_connection", dot.GetProperty("event").GetProperty("action").GetString());
        Assert.Equal(["connection", "denied"], dot.GetProperty("event").GetProperty("type").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("dnsw.jail", dot.GetProperty("event").GetProperty("dataset").GetString());
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
