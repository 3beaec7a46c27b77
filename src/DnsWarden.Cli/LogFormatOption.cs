using System.CommandLine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Cli;

/// <summary><c>--log-format json|ecs</c>, the query log's vocabulary, for every command that writes one (proxy, jail, tun).</summary>
internal static class LogFormatOption
{
    public static Option<string?> Create(string logOption)
    {
        var option = new Option<string?>("--log-format")
        {
            Description = $"The vocabulary of {logOption}: json (dnsw's own, the default) or ecs (Elastic Common Schema, docs/ECS.md).",
        };
        option.AcceptOnlyFromAmong("json", "ecs");
        return option;
    }

    /// <summary>The format of a validated value; JSON when the option was not given.</summary>
    public static QueryLogFormat Parse(string? text) => text == "ecs" ? QueryLogFormat.Ecs : QueryLogFormat.Json;
}
