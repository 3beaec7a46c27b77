using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using DnsWarden.Cli.Export;
using DnsWarden.Export;
using DnsWarden.Guard;
using DnsWarden.Guard.Tun;
using DnsWarden.Indicators;
using DnsWarden.Policy;
using DnsWarden.Platform.Users;
using DnsWarden.Resolver.Logging;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Cli.Tun;

/// <summary><c>dnsw tun --netns NAME</c>: the TUN packet filter for an existing namespace (docs/TUN.md).</summary>
internal static class TunCommand
{
    public static Command Build()
    {
        var netns = new Option<string>("--netns") { Description = "The network namespace (ip netns) whose traffic goes through the filter.", Required = true };
        var mode = new Option<string>("--mode") { Description = "firewall (default): every packet meets the filter, only what DNS handed out gets through, and the namespace stays closed if dnsw dies; dns-only: only the virtual DNS addresses are routed to it.", DefaultValueFactory = _ => "firewall" };
        mode.AcceptOnlyFromAmong("firewall", "dns-only");
        Option<string[]> upstream = UpstreamOption.Create("Where names are resolved (repeatable; as for dnsw proxy), reached from the namespace dnsw runs in, not through the filter.");
        var policy = new Option<FileInfo?>("--policy") { Description = "The resolver policy (docs/RESOLVER.md)." };
        var queryLog = new Option<FileInfo?>("--query-log") { Description = "Append every query as a JSON line to this file (--log-format)." };
        Option<string?> privacy = PrivacyOption.Create("What --query-log keeps");
        Option<string?> logLimit = LogLimitOption.Create("--query-log");
        Option<string?> logFormat = LogFormatOption.Create("--query-log");
        var noOffload = new Option<bool>("--no-offload") { Description = "Open the TUNs without virtio headers and offloads: one read per 1500-byte packet (by default TCP moves in 64 KiB super-packets, several times faster)." };
        var setMode = new Option<string?>("--set-mode") { Description = "Switch the running instance for --netns to firewall or dns-only, then exit." };
        setMode.AcceptOnlyFromAmong("firewall", "dns-only");
        var virtualDns = new Option<string[]>("--virtual-dns") { Description = "An address of the virtual DNS service, IPv4 or IPv6 (repeatable; default 10.30.30.30 and fd00:7475:6e::53): the addresses dns-only mode routes to the filter. In firewall mode DNS to any address is answered anyway.", Arity = ArgumentArity.ZeroOrMore };
        virtualDns.Validators.Add(r =>
        {
            if (!VirtualDnsAddresses.TryParse(r.GetValueOrDefault<string[]>() ?? [], out _, out string? error))
            {
                r.AddError($"--virtual-dns {error}");
            }
        });
        var minTtl = new Option<string?>("--min-ttl") { Description = "Shortest time an address DNS handed out stays open to new connections, whatever the answer's TTL (0 to 1h; default 5m, as the jail): a TTL of 0 is not refused right after it was given." };
        minTtl.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !AddressHold.TryParseMinimum(text, out _, out string? error))
            {
                r.AddError($"--min-ttl: {error}");
            }
        });
        Option<FileInfo?> config = EngineConfigOption.Create("the filter");
        var cleanup = new Option<bool>("--cleanup") { Description = "Only remove what a killed instance for --netns left (its fail-closed rules and routes, nftables tables), then exit." };

        var export = new ExportOptions("tun");
        var command = new Command("tun", "Run the TUN packet filter for a network namespace: a virtual DNS service, and in firewall mode egress only to addresses DNS handed out.")
        {
            netns, mode, upstream, virtualDns, minTtl, policy, config, queryLog, privacy, logLimit, logFormat, noOffload, setMode, cleanup,
        };
        export.AddTo(command);
        command.SetAction((parse, _) => RunAsync(
            export.TryBuild(parse, out ExportSettings? exportSettings, out string? exportError) ? new ExportRequest(exportSettings) : new ExportRequest(null, exportError),
            parse.GetValue(netns)!,
            parse.GetValue(mode)!,
            parse.GetValue(upstream) ?? [],
            new TunEngineChoices(parse.GetValue(virtualDns) ?? [], parse.GetValue(minTtl), parse.GetValue(config)),
            parse.GetValue(policy),
            parse.GetValue(queryLog),
            parse.GetValue(privacy)!,
            LogLimitOption.BytesPerMinute(parse.GetValue(logLimit)),
            LogFormatOption.Parse(parse.GetValue(logFormat)),
            !parse.GetValue(noOffload),
            parse.GetValue(setMode),
            parse.GetValue(cleanup),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>What the engine and filter are built with: <c>--virtual-dns</c> and <c>--min-ttl</c> (validated by the parser), <c>--config</c>.</summary>
    private readonly record struct TunEngineChoices(string[] VirtualDns, string? MinTtl, FileInfo? Config);

    private static async Task<int> RunAsync(ExportRequest export, string netns, string mode, string[] upstreams, TunEngineChoices choices, FileInfo? policyFile, FileInfo? queryLog, string privacy, long logLimit, QueryLogFormat logFormat, bool offload, string? setMode, bool cleanupOnly, TextWriter stdout, TextWriter stderr)
    {
        if (!OperatingSystem.IsLinux())
        {
            await stderr.WriteLineAsync("dnsw tun: Linux only (TUN devices, network namespaces, nftables)").ConfigureAwait(false);
            return ExitCodes.StartError;
        }

        if (!Environment.IsPrivilegedProcess)
        {
            await stderr.WriteLineAsync("dnsw tun: must run as root (it makes TUN devices, routes and nftables rules); try sudo").ConfigureAwait(false);
            return ExitCodes.StartError;
        }

        if (netns.Length == 0 || netns.Contains('/', StringComparison.Ordinal) || netns.StartsWith('.'))
        {
            await stderr.WriteLineAsync($"dnsw tun: '{netns}' is not a namespace name").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        return await RunLinuxAsync(export, netns, mode, upstreams, choices, policyFile, queryLog, privacy, logLimit, logFormat, offload, setMode, cleanupOnly, stdout, stderr).ConfigureAwait(false);
    }

    [SupportedOSPlatform("linux")]
    private static async Task<int> RunLinuxAsync(ExportRequest export, string netns, string mode, string[] upstreams, TunEngineChoices choices, FileInfo? policyFile, FileInfo? queryLog, string privacy, long logLimit, QueryLogFormat logFormat, bool offload, string? setMode, bool cleanupOnly, TextWriter stdout, TextWriter stderr)
    {
        if (cleanupOnly)
        {
            if (TunNetwork.LiveOwner(netns) is int pid)
            {
                await stderr.WriteLineAsync($"dnsw tun: '{netns}' is served by a live instance (pid {pid.ToString(CultureInfo.InvariantCulture)}); nothing removed").ConfigureAwait(false);
                return ExitCodes.StartError;
            }

            bool recorded = File.Exists(TunNetwork.OwnerFileOf(netns));
            try
            {
                TunNetwork.CleanupStale(netns);
            }
            catch (InvalidOperationException e)
            {
                await stderr.WriteLineAsync($"dnsw tun: {e.Message}").ConfigureAwait(false);
                return ExitCodes.StartError;
            }

            await stderr.WriteLineAsync(recorded
                ? $"dnsw tun: removed what a dead instance for '{netns}' left"
                : $"dnsw tun: no instance for '{netns}' on record; removed whatever fail-closed rules and tables one could have left").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        if (setMode is not null)
        {
            string answer;
            if (!File.Exists(TunNetwork.ControlSocketOf(netns)))
            {
                await stderr.WriteLineAsync($"dnsw tun: no running instance for '{netns}' (no control socket at {TunNetwork.ControlSocketOf(netns)})").ConfigureAwait(false);
                return ExitCodes.StartError;
            }

            try
            {
                answer = await TunControlClient.SendAsync(TunNetwork.ControlSocketOf(netns), "mode " + setMode, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                await stderr.WriteLineAsync($"dnsw tun: no running instance for '{netns}' answers ({e.Message})").ConfigureAwait(false);
                return ExitCodes.StartError;
            }

            bool ok = answer.StartsWith("ok", StringComparison.Ordinal);
            await (ok ? stdout : stderr).WriteLineAsync("dnsw tun: " + answer).ConfigureAwait(false);
            return ok ? ExitCodes.Ok : ExitCodes.StartError;
        }

        ResolverPolicy? policy = null;
        if (policyFile is not null)
        {
            if (!ResolverPolicyLoader.TryLoad(policyFile.FullName, out ResolverPolicy? loaded, out PolicyError? e))
            {
                await stderr.WriteLineAsync($"dnsw tun: {e}").ConfigureAwait(false);
                return ExitCodes.InputError;
            }

            policy = loaded!;
        }

        if (EngineConfigOption.Resolve(choices.Config, UpstreamOption.Parse(upstreams), policy, out string? configError) is not { } engine)
        {
            await stderr.WriteLineAsync($"dnsw tun: {configError}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }

        if (choices.MinTtl is { } text && AddressHold.TryParseMinimum(text, out TimeSpan floor, out _))
        {
            engine = engine with { TrackerMinTtl = floor };
        }

        PrivacyRedactor.TryParse(privacy, out PrivacyMode privacyMode);
        TunRunner.TryParseMode(mode, out TunFilterMode filterMode);
        var options = new TunRunOptions
        {
            Namespace = netns,
            Mode = filterMode,
            Engine = engine,
            QueryLogPath = queryLog?.FullName,
            OutputOwner = UserAccount.Invoking(),
            Privacy = privacyMode,
            QueryLogLimit = logLimit,
            QueryLogFormat = logFormat,
            VnetHeader = offload,
        };
        if (choices.VirtualDns.Length > 0 && VirtualDnsAddresses.TryParse(choices.VirtualDns, out IReadOnlyList<IpAddr> addresses, out _))
        {
            options = options with { VirtualDns = addresses };
        }


        if (!export.TryStart(stderr, "dnsw tun", out ClickHouseExporter? exporter))
        {
            return ExitCodes.InputError;
        }

        if (exporter is not null)
        {
            options = options with
            {
                QueryExport = new QueryExport(exporter, "tun", privacyMode, BaseDomains.Default),
                OnRefused = p => exporter.TryAdd(DecisionRows.FromTun(p, DateTimeOffset.UtcNow)),
            };
        }

        try
        {
            return await TunRunner.RunAsync(options, stderr).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            await stderr.WriteLineAsync($"dnsw tun: {e.Message}").ConfigureAwait(false);
            return ExitCodes.StartError;
        }
        finally
        {
            if (exporter is not null)
            {
                ExportOptions.Finish(exporter, stderr);
            }
        }
    }
}
