using System.Text.Json;

namespace DnsWarden.Leak.Tests.Events;

/// <summary>What every ECS line must be: no null anywhere (ECS leaves out what has no value) and nested objects, never dotted keys.</summary>
internal static class EcsAssert
{
    public static void Clean(JsonElement e, string path)
    {
        Assert.NotEqual(JsonValueKind.Null, e.ValueKind);
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty p in e.EnumerateObject())
            {
                Assert.True(p.Name == "@timestamp" || !p.Name.Contains('.', StringComparison.Ordinal), $"dotted key {path}.{p.Name}");
                Clean(p.Value, path + "." + p.Name);
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in e.EnumerateArray())
            {
                Clean(item, path);
            }
        }
    }
}
