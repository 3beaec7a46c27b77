using System.CommandLine;
using DnsWarden.Guard;
using DnsWarden.Policy;

namespace DnsWarden.Cli;

/// <summary>
/// <c>--config FILE</c> of the jail and the TUN filter: the proxy's configuration file (docs/RESOLVER.md,
/// "Configuration"), read by the same loader, for the engine those commands run (EngineParts builds all three).
/// </summary>
internal static class EngineConfigOption
{
    public static Option<FileInfo?> Create(string command) => new("--config")
    {
        Description = $"The engine's configuration, the JSON file of dnsw proxy --config (docs/RESOLVER.md): upstreams, strategy, upstream_timeout, cache, ip_tracker TTLs, policy. Flags given as well override it; its listeners, query log and metrics are the proxy's and {command} does not use them.",
    };

    /// <summary>
    /// The file's configuration over <see cref="GuardEngine.Defaults"/> (or those alone without a file), with <paramref name="upstreams"/>
    /// and <paramref name="policy"/> laid over it when given; null and the loader's <c>file:line:col</c> message when the file is wrong.
    /// </summary>
    public static ProxyConfig? Resolve(FileInfo? file, IReadOnlyList<UpstreamConfig> upstreams, ResolverPolicy? policy, out string? error)
    {
        error = null;
        ProxyConfig config = GuardEngine.Defaults;
        if (file is not null)
        {
            // A key the file leaves out keeps the jail's and the filter's default, not the proxy's.
            if (!ProxyConfigLoader.TryLoad(file.FullName, GuardEngine.Defaults, out ProxyConfig? loaded, out PolicyError? e))
            {
                error = e!.ToString();
                return null;
            }

            config = loaded!;
        }

        if (upstreams.Count > 0)
        {
            config = config with { Upstreams = upstreams };
        }

        return policy is null ? config : config with { Policy = policy };
    }
}
